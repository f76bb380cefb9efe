//! One-sentence hints for denied requests, from the explanation.
//!
//! Two audiences: [`Explanation::hint`] is for the operator (`cairn explain`)
//! and may quote any policy; [`Explanation::caller_hint`] is what a caller is
//! told, and never quotes another account's policy: for a caller from
//! another account, the resource's policy (which belongs to the resource's
//! account) is described only by what kind of thing is missing, never by its
//! values, statement ids or principals.

use crate::eval::{Basis, Explanation, MissCause, MissingAllow, NamedWarning, Side, StatementMiss};
use crate::parse::{PolicyType, StatementEffect};
use crate::pattern::glob;
use crate::warnings::{ActionElement, WarningKind};

impl Explanation {
    /// One short sentence on what to change, for a denied request; `None`
    /// for an allowed one or when nothing specific can be said. For example:
    /// "The identity policy 'p' grants cloudtrail:PutEvent, which is not an
    /// action; the action for PutAuditEvents is cloudtrail-data:PutAuditEvents."
    /// or "The channel resource policy requires cloudtrail:ExternalId 'abc';
    /// the request's externalId was 'abd'." The whole story stays in the
    /// explanation itself. This sentence may quote every policy considered,
    /// including the resource's policy of another account: it is for the
    /// operator; show a caller [`Explanation::caller_hint`].
    pub fn hint(&self) -> Option<String> {
        self.hint_for(false)
    }

    /// The hint a caller may be shown. For a caller of the resource's own
    /// account it is [`Explanation::hint`]. For a caller from another
    /// account, nothing of the resource's policy is quoted (no condition
    /// values, Sids, statement numbers, principals or resources): it says
    /// only what kind of thing is missing, e.g. "A statement of the
    /// channel's resource policy that would allow you requires a
    /// cloudtrail:ExternalId that your request does not match; ask its
    /// owner for the external id."
    pub fn caller_hint(&self) -> Option<String> {
        self.hint_for(!self.same_account)
    }

    /// `private`: the resource-side policy belongs to another account than
    /// the caller's and may not be quoted.
    fn hint_for(&self, private: bool) -> Option<String> {
        match self.basis {
            Basis::ExplicitDeny => self.deny_hint(private),
            Basis::NoAllow => self.implicit_hint(private),
            _ => None,
        }
    }

    fn deny_hint(&self, private: bool) -> Option<String> {
        let d = self.deciding.as_ref()?;
        if private && d.side == Side::Resource {
            let (kind, _) = self.resource_kind();
            return Some(format!(
                "{} has an explicit Deny for you, which no Allow overrides; only the {kind}'s owner can change it.",
                capitalize(&self.owner_policy()),
            ));
        }
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

    fn implicit_hint(&self, private: bool) -> Option<String> {
        if let Some(h) = self.confusion_hint(private) {
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
            Side::Resource if private => Some(self.private_resource_hint(m)),
            Side::Resource => self.resource_hint(m),
        }
    }

    /// `Allow` statements name non-existent actions (or confusable
    /// wildcards) whose suggestion is the requested action: all of them,
    /// policy by policy. With `private`, the resource's policy is left out.
    fn confusion_hint(&self, private: bool) -> Option<String> {
        let sides: Vec<Side> = self.missing.iter().map(|m| m.side).collect();
        let (op, _) = split_action(&self.action);
        let hit = |w: &&NamedWarning| {
            w.warning.effect == StatementEffect::Allow
                && w.warning.element == ActionElement::Action
                && sides.contains(&w.side)
                && !(private && w.side == Side::Resource)
                && w.warning
                    .suggestion
                    .as_deref()
                    .is_some_and(|s| glob(s, &self.action, true))
        };
        let hits: Vec<&NamedWarning> = self.warnings.iter().filter(hit).collect();
        if hits.is_empty() {
            return None;
        }
        // Group by policy, in the order they were found; each pattern once.
        let mut groups: Vec<(Side, &str, Vec<&NamedWarning>)> = Vec::new();
        for w in hits {
            match groups
                .iter_mut()
                .find(|(side, policy, _)| *side == w.side && *policy == w.policy)
            {
                Some((_, _, ws)) => {
                    if !ws.iter().any(|x| x.warning.pattern == w.warning.pattern) {
                        ws.push(w);
                    }
                }
                None => groups.push((w.side, w.policy.as_str(), vec![w])),
            }
        }
        let parts: Vec<String> = groups
            .iter()
            .map(|(side, policy, ws)| {
                format!(
                    "{} grants {}",
                    policy_phrase(*side, policy),
                    granted_patterns(ws)
                )
            })
            .collect();
        Some(format!(
            "{}; the action for {op} is {}.",
            capitalize(&parts.join(", and ")),
            self.action
        ))
    }

    fn identity_hint(&self, m: &MissingAllow) -> Option<String> {
        let has_identity = self.considered.iter().any(|c| c.side == Side::Identity);
        let cross = if self.same_account {
            String::new()
        } else {
            // The caller's account is named already (in the message's
            // principal ARN), so it is not repeated.
            format!(
                "; a caller from another account needs its own account's policy to allow {} too",
                self.action
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
                "{} has no resource-based policy that applies to {}, so a caller from account {} cannot be allowed; its owner, account {}, must add one that allows it.",
                self.resource,
                self.action,
                self.principal_account,
                self.resource_account,
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

    /// The resource side's hint for a caller from another account: what
    /// kind of thing is missing, nothing of the policy itself. Whether the
    /// resource has a policy at all, names other principals, covers other
    /// resources or does not exist is not told apart; only a statement that
    /// would allow the caller but for its conditions is mentioned, by the
    /// condition keys alone.
    fn private_resource_hint(&self, m: &MissingAllow) -> String {
        let policy = self.owner_policy();
        if let Some(StatementMiss {
            cause: MissCause::Condition { failed },
            ..
        }) = closest(&m.statements)
        {
            let mut keys: Vec<String> = Vec::new();
            for f in failed {
                let key = canonical_key(&f.key);
                if !keys.iter().any(|k| k.eq_ignore_ascii_case(&key)) {
                    keys.push(key);
                }
            }
            let external = |k: &str| {
                k.eq_ignore_ascii_case("cloudtrail:ExternalId")
                    || k.eq_ignore_ascii_case("sts:ExternalId")
            };
            let null = failed.iter().any(|f| f.operator.starts_with("Null"));
            if let ([key], false) = (keys.as_slice(), null) {
                if external(key) {
                    let (article, field) = if key.starts_with("sts:") {
                        ("an", "ExternalId")
                    } else {
                        ("a", "externalId")
                    };
                    let had = failed.iter().any(|f| {
                        f.actual
                            .as_ref()
                            .is_some_and(|v| v.iter().any(|x| !x.is_empty()))
                    });
                    return if had {
                        format!(
                            "A statement of {policy} that would allow you requires {article} {key} that your request does not match; ask its owner for the external id."
                        )
                    } else {
                        format!(
                            "A statement of {policy} that would allow you requires {article} {key}, and the request has none; pass the external id its owner gave you as {field} (--external-id in the AWS CLI)."
                        )
                    };
                }
            }
            return format!(
                "A statement of {policy} that would allow you has a condition on {} that the request does not meet; ask its owner what it requires.",
                and_list(&keys)
            );
        }
        // The message already says the caller is not allowed: say only
        // what would allow it.
        let (kind, word) = self.resource_kind();
        format!(
            "The {kind}'s owner must add a statement to its {word} with your account id or principal ARN as Principal and {} as Action.",
            self.action
        )
    }

    /// "the channel's resource policy", "the role's trust policy", … named
    /// by the resource, the same whether the resource has a policy or not.
    fn owner_policy(&self) -> String {
        let (kind, word) = self.resource_kind();
        format!("the {kind}'s {word}")
    }

    /// What the resource is ("channel", "role", …) and what its policy is
    /// called ("resource policy", "trust policy").
    fn resource_kind(&self) -> (&'static str, &'static str) {
        let trust = self
            .considered
            .iter()
            .any(|c| c.side == Side::Resource && c.policy_type == PolicyType::Trust);
        let kind = self
            .resource
            .splitn(6, ':')
            .nth(5)
            .and_then(|r| r.split('/').next())
            .unwrap_or("");
        match kind {
            _ if trust => ("role", "trust policy"),
            "role" => ("role", "trust policy"),
            "channel" => ("channel", "resource policy"),
            "eventdatastore" => ("event data store", "resource policy"),
            "dashboard" => ("dashboard", "resource policy"),
            _ => ("resource", "resource-based policy"),
        }
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

/// A condition key in its documented spelling when it is one Cairn knows
/// well (keys are case-insensitive; the policy's own spelling is not shown
/// to other accounts).
fn canonical_key(key: &str) -> String {
    for known in ["cloudtrail:ExternalId", "sts:ExternalId"] {
        if key.eq_ignore_ascii_case(known) {
            return known.to_string();
        }
    }
    key.to_string()
}

/// "A", "A and B", "A, B and C".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The patterns one policy grants instead of the requested action, with
/// what is wrong with them: "cloudtrail:PutEvent, which is not an action",
/// "cloudtrail:PutEvent, cloudtrail:PutLog and cloudtrail:PutMetric, which
/// are not actions", ….
fn granted_patterns(ws: &[&NamedWarning]) -> String {
    let what = |kind: WarningKind, w: &NamedWarning, plural: bool| match (kind, plural) {
        (WarningKind::UnknownAction, false) => "which is not an action".to_string(),
        (WarningKind::UnknownAction, true) => "which are not actions".to_string(),
        (WarningKind::NoMatchingAction, false) => "which matches no action".to_string(),
        (WarningKind::NoMatchingAction, true) => "which match no action".to_string(),
        (WarningKind::LikelyConfusion, _) => {
            format!("which covers only {}", w.warning.matches.join(", "))
        }
    };
    let patterns: Vec<String> = ws.iter().map(|w| w.warning.pattern.clone()).collect();
    match ws {
        [] => String::new(),
        [w] => format!("{}, {}", w.warning.pattern, what(w.warning.kind, w, false)),
        [first, ..]
            if first.warning.kind != WarningKind::LikelyConfusion
                && ws.iter().all(|w| w.warning.kind == first.warning.kind) =>
        {
            format!(
                "{}, {}",
                and_list(&patterns),
                what(first.warning.kind, first, true)
            )
        }
        _ => {
            let each: Vec<String> = ws
                .iter()
                .map(|w| format!("{} ({})", w.warning.pattern, what(w.warning.kind, w, false)))
                .collect();
            and_list(&each)
        }
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
