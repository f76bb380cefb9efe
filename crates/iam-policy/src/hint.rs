//! One-sentence hints for denied requests, from the explanation.

use crate::eval::{Basis, Explanation, MissCause, MissingAllow, NamedWarning, Side, StatementMiss};
use crate::parse::StatementEffect;
use crate::pattern::glob;
use crate::warnings::{ActionElement, WarningKind};

impl Explanation {
    /// One short sentence on what to change, for a denied request; `None`
    /// for an allowed one or when nothing specific can be said. For example:
    /// "The identity policy 'p' grants cloudtrail:PutEvent, which is not an
    /// action; the action for PutAuditEvents is cloudtrail-data:PutAuditEvents."
    /// or "The channel resource policy requires cloudtrail:ExternalId 'abc';
    /// the request's externalId was 'abd'." The whole story stays in the
    /// explanation itself.
    pub fn hint(&self) -> Option<String> {
        match self.basis {
            Basis::ExplicitDeny => self.deny_hint(),
            Basis::NoAllow => self.implicit_hint(),
            _ => None,
        }
    }

    fn deny_hint(&self) -> Option<String> {
        let d = self.deciding.as_ref()?;
        let mut h = format!(
            "{} of {} explicitly denies {}; no Allow can override it",
            statement_name(d.index, d.sid.as_deref()),
            policy_phrase(d.side, &d.policy),
            self.action
        );
        if self
            .notes
            .iter()
            .any(|n| n.contains("NotPrincipal with Deny"))
        {
            h.push_str(" (a Deny with NotPrincipal always applies to a principal that has a permissions boundary)");
        }
        h.push('.');
        Some(h)
    }

    fn implicit_hint(&self) -> Option<String> {
        if let Some(h) = self.confusion_hint() {
            return Some(h);
        }
        let m = self.missing.first()?;
        match m.side {
            Side::PermissionsBoundary | Side::SessionPolicy => {
                let name = self
                    .considered
                    .iter()
                    .find(|c| c.side == m.side)
                    .map_or("", |c| c.name.as_str());
                let closest = closest(&m.statements);
                let detail = closest.and_then(|s| self.miss_detail(s, m.side));
                Some(match detail {
                    Some(d) => d,
                    None => format!(
                        "{} does not allow {}.",
                        capitalize(&policy_phrase(m.side, name)),
                        self.action
                    ),
                })
            }
            Side::Identity => self.identity_hint(m),
            Side::Resource => self.resource_hint(m),
        }
    }

    /// An `Allow` statement names a non-existent action (or a confusable
    /// wildcard) whose suggestion is the requested action.
    fn confusion_hint(&self) -> Option<String> {
        let sides: Vec<Side> = self.missing.iter().map(|m| m.side).collect();
        let (op, _) = split_action(&self.action);
        let hit = |w: &&NamedWarning| {
            w.warning.effect == StatementEffect::Allow
                && w.warning.element == ActionElement::Action
                && sides.contains(&w.side)
                && w.warning
                    .suggestion
                    .as_deref()
                    .is_some_and(|s| glob(s, &self.action, true))
        };
        let w = self.warnings.iter().find(hit)?;
        let what = match w.warning.kind {
            WarningKind::UnknownAction => "which is not an action".to_string(),
            WarningKind::NoMatchingAction => "which matches no action".to_string(),
            WarningKind::LikelyConfusion => {
                format!("which covers only {}", w.warning.matches.join(", "))
            }
        };
        Some(format!(
            "{} grants {}, {what}; the action for {op} is {}.",
            capitalize(&policy_phrase(w.side, &w.policy)),
            w.warning.pattern,
            self.action
        ))
    }

    fn identity_hint(&self, m: &MissingAllow) -> Option<String> {
        let has_identity = self.considered.iter().any(|c| c.side == Side::Identity);
        let cross = if self.same_account {
            String::new()
        } else {
            format!(
                "; a caller from account {} needs its own account's policy to allow {} too",
                self.principal_account, self.action
            )
        };
        if !has_identity {
            return Some(format!(
                "No policy is attached to {}{cross}.",
                describe_principal(&self.principal)
            ));
        }
        if let Some(d) = closest(&m.statements).and_then(|s| self.miss_detail(s, Side::Identity)) {
            if cross.is_empty() {
                return Some(d);
            }
            return Some(format!("{}{cross}.", d.trim_end_matches('.')));
        }
        Some(format!(
            "No identity policy of {} allows {}{cross}.",
            describe_principal(&self.principal),
            self.action
        ))
    }

    fn resource_hint(&self, m: &MissingAllow) -> Option<String> {
        let Some(rp) = self.considered.iter().find(|c| c.side == Side::Resource) else {
            return Some(format!(
                "{} has no resource-based policy, so a caller from account {} cannot be allowed; its owner, account {}, must add one that allows {}.",
                self.resource,
                self.principal_account,
                self.resource_account,
                self.action
            ));
        };
        if let Some(d) = closest(&m.statements).and_then(|s| self.miss_detail(s, Side::Resource)) {
            return Some(d);
        }
        Some(format!(
            "{} has no statement that allows {} for {}.",
            capitalize(&policy_phrase(Side::Resource, &rp.name)),
            self.action,
            self.principal
        ))
    }

    /// The sentence for the statement that came closest to applying.
    fn miss_detail(&self, s: &StatementMiss, side: Side) -> Option<String> {
        let policy = policy_phrase(side, &s.policy);
        let stmt = statement_name(s.index, s.sid.as_deref());
        match &s.cause {
            MissCause::Condition { failed } => {
                let f = failed.first()?;
                let key = f.key.to_ascii_lowercase();
                let field = match key.as_str() {
                    "cloudtrail:externalid" => Some("externalId"),
                    "sts:externalid" => Some("ExternalId"),
                    _ => None,
                };
                let op = if f.operator == "StringEquals" {
                    String::new()
                } else {
                    format!(" {}", f.operator)
                };
                let requires = format!("requires {}{op} {}", f.key, quote_list(&f.values));
                let (name, subject) = match field {
                    Some(field) => (field.to_string(), capitalize(&policy)),
                    None => (f.key.clone(), format!("{stmt} of {policy}")),
                };
                let had = match &f.actual {
                    Some(v) if !v.is_empty() => {
                        format!("the request's {name} was {}", quote_list(v))
                    }
                    _ => format!("the request had no {name}"),
                };
                if f.operator.starts_with("Null") {
                    return Some(format!("{subject} {}.", f.reason));
                }
                Some(format!("{subject} {requires}; {had}."))
            }
            MissCause::Principal { named, negated } => {
                let caller = if self.principal == "*" {
                    "an anonymous caller".to_string()
                } else {
                    self.principal.clone()
                };
                if *negated {
                    return Some(format!(
                        "{stmt} of {policy} excludes {caller} with NotPrincipal."
                    ));
                }
                let accounts: Vec<&str> = named.iter().filter_map(|n| root_account(n)).collect();
                let shown: Vec<String> = named
                    .iter()
                    .map(|n| root_account(n).map_or_else(|| n.clone(), str::to_string))
                    .collect();
                let caller_acct = &self.principal_account;
                if !caller_acct.is_empty()
                    && !accounts.contains(&caller_acct.as_str())
                    && named.iter().all(|n| !n.contains(caller_acct.as_str()))
                {
                    Some(format!(
                        "{} allows principal {}, but the caller is in account {caller_acct}.",
                        capitalize(&policy),
                        shown.join(", ")
                    ))
                } else {
                    Some(format!(
                        "{} allows principal {}, not {caller}.",
                        capitalize(&policy),
                        shown.join(", ")
                    ))
                }
            }
            MissCause::Resource { patterns, negated } => Some(if *negated {
                format!(
                    "{stmt} of {policy} excludes {} with NotResource.",
                    self.resource
                )
            } else {
                format!(
                    "{stmt} of {policy} allows {} on a different resource ({}).",
                    self.action,
                    patterns.join(", ")
                )
            }),
            MissCause::Action { .. } => None,
        }
    }
}

/// The `Allow` statement that came closest to applying: one that failed on a
/// condition (everything else matched), then on the principal, then on the
/// resource.
fn closest(misses: &[StatementMiss]) -> Option<&StatementMiss> {
    let rank = |m: &StatementMiss| match m.cause {
        MissCause::Action { .. } => 0,
        MissCause::Resource { .. } => 1,
        MissCause::Principal { .. } => 2,
        MissCause::Condition { .. } => 3,
    };
    let best = misses.iter().map(rank).max()?;
    if best == 0 {
        return None;
    }
    misses.iter().find(|m| rank(m) == best)
}

fn split_action(action: &str) -> (&str, &str) {
    match action.split_once(':') {
        Some((prefix, name)) => (name, prefix),
        None => (action, ""),
    }
}

fn root_account(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:aws:iam::")
        .and_then(|r| r.strip_suffix(":root"))
}

fn quote_list(v: &[String]) -> String {
    let q: Vec<String> = v.iter().map(|x| format!("'{x}'")).collect();
    match q.as_slice() {
        [one] => one.clone(),
        _ => format!("one of {}", q.join(", ")),
    }
}

fn statement_name(index: usize, sid: Option<&str>) -> String {
    match sid {
        Some(s) if !s.is_empty() => format!("Statement '{s}'"),
        _ => format!("Statement {index}"),
    }
}

/// "the identity policy 'p'", "the channel resource policy", ….
fn policy_phrase(side: Side, name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match side {
        Side::Identity => format!("the identity policy '{name}'"),
        Side::Resource if lower.ends_with("policy") => format!("the {name}"),
        Side::Resource => format!("the resource policy '{name}'"),
        Side::PermissionsBoundary if lower.starts_with("permissions boundary") => {
            format!("the {name}")
        }
        Side::PermissionsBoundary => format!("the permissions boundary '{name}'"),
        Side::SessionPolicy if lower.contains("session policy") => format!("the {name}"),
        Side::SessionPolicy => format!("the session policy '{name}'"),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// "user alice", "role Ingest (session s1)", … from a principal ARN.
fn describe_principal(arn: &str) -> String {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, _, _, account, resource] = parts.as_slice() else {
        return arn.to_string();
    };
    let (ty, rest) = resource.split_once('/').unwrap_or((resource, ""));
    let last = rest.rsplit('/').next().unwrap_or(rest);
    match ty {
        "user" => format!("user {last}"),
        "role" => format!("role {last}"),
        "assumed-role" => match rest.split_once('/') {
            Some((role, session)) => format!("role {role} (session {session})"),
            None => format!("role {rest}"),
        },
        "federated-user" => format!("federated user {rest}"),
        "root" => format!("the root user of account {account}"),
        _ => arn.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn principals() {
        assert_eq!(
            describe_principal("arn:aws:iam::111122223333:user/dev/alice"),
            "user alice"
        );
        assert_eq!(
            describe_principal("arn:aws:sts::111122223333:assumed-role/R/s1"),
            "role R (session s1)"
        );
        assert_eq!(
            describe_principal("cloudtrail.amazonaws.com"),
            "cloudtrail.amazonaws.com"
        );
    }

    #[test]
    fn phrases() {
        assert_eq!(
            policy_phrase(Side::Resource, "channel resource policy"),
            "the channel resource policy"
        );
        assert_eq!(
            policy_phrase(Side::Identity, "p0"),
            "the identity policy 'p0'"
        );
        assert_eq!(quote_list(&["a".into(), "b".into()]), "one of 'a', 'b'");
        assert_eq!(statement_name(2, None), "Statement 2");
    }
}
