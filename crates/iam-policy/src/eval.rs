//! Policy evaluation and its explanation.

use crate::condition::{self, ConditionMiss};
use crate::context::{effective_context, Context, Principal, PrincipalKind};
use crate::parse::{
    Policy, PolicyType, PrincipalEntry, PrincipalList, Statement, StatementEffect, Version,
};
use crate::pattern::{compile_resource, glob, matches};
use crate::warnings::PolicyWarning;
use serde::Serialize;
use std::fmt;

/// One request to authorize.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Who calls.
    pub principal: &'a Principal,
    /// The IAM action, e.g. `cloudtrail-data:PutAuditEvents`.
    pub action: &'a str,
    /// The resource ARN (or `*` for actions without a resource).
    pub resource: &'a str,
    /// The account that owns the resource.
    pub resource_account: &'a str,
    /// Request condition keys (e.g. `cloudtrail:ExternalId`, `aws:SourceIp`).
    /// The engine adds the principal keys and `aws:ResourceAccount` itself.
    pub context: &'a Context,
}

/// A policy with a human-readable name for explanations, e.g.
/// `"channel resource policy"` or `"user/alice inline policy p1"`.
#[derive(Debug, Clone, Copy)]
pub struct NamedPolicy<'a> {
    /// Name used in explanations.
    pub name: &'a str,
    /// The policy.
    pub policy: &'a Policy,
}

/// All policies that apply to one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicySet<'a> {
    /// The caller's identity-based policies (inline, attached managed, group).
    pub identity: &'a [NamedPolicy<'a>],
    /// The resource's resource-based policy.
    pub resource: Option<NamedPolicy<'a>>,
    /// The caller's permissions boundary; `None` when it has none.
    pub permissions_boundary: Option<NamedPolicy<'a>>,
    /// Session policies of a role session; `None` when the session has none.
    pub session: Option<&'a [NamedPolicy<'a>]>,
}

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Effect {
    /// Allowed.
    Allow,
    /// Denied by a matching `Deny` statement.
    ExplicitDeny,
    /// Denied because nothing allows it.
    ImplicitDeny,
}

/// Where a policy comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Side {
    /// Identity-based policies of the caller.
    Identity,
    /// The resource's resource-based policy.
    Resource,
    /// The caller's permissions boundary.
    PermissionsBoundary,
    /// Session policies.
    SessionPolicy,
}

impl Side {
    /// AWS's name of the policy type in AccessDenied messages.
    fn describe(self, trust: bool) -> &'static str {
        match self {
            Side::Identity => "identity-based policy",
            Side::Resource if trust => "role trust policy",
            Side::Resource => "resource-based policy",
            Side::PermissionsBoundary => "permissions boundary",
            Side::SessionPolicy => "session policy",
        }
    }

    /// With its article, as in `with an explicit deny in an identity-based policy`.
    fn with_article(self, trust: bool) -> &'static str {
        match self {
            Side::Identity => "an identity-based policy",
            Side::Resource if trust => "the role trust policy",
            Side::Resource => "a resource-based policy",
            Side::PermissionsBoundary => "a permissions boundary",
            Side::SessionPolicy => "a session policy",
        }
    }
}

/// How a resource policy's principal element matched the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
pub enum PrincipalMatch {
    /// The account (root ARN or account id) of the caller is named: this
    /// delegates to the account, whose own policies must allow the caller.
    Account,
    /// `"*"` (or a `NotPrincipal` that does not exclude the caller).
    Everyone,
    /// The caller's role is named (the caller is a session of it).
    Role,
    /// The caller itself is named.
    Exact,
}

/// A statement reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementRef {
    /// Policy name.
    pub policy: String,
    /// Which side the policy is on.
    pub side: Side,
    /// Statement index (zero-based).
    pub index: usize,
    /// Statement Sid.
    pub sid: Option<String>,
    /// Statement effect.
    pub effect: StatementEffect,
    /// For resource-policy statements: how the principal matched.
    pub principal_match: Option<PrincipalMatch>,
}

impl fmt::Display for StatementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "statement {}", self.index)?;
        if let Some(s) = &self.sid {
            write!(f, " (Sid \"{s}\")")?;
        }
        write!(f, " of the {}", self.policy)
    }
}

/// A statement that did not apply, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementMiss {
    /// Policy name.
    pub policy: String,
    /// Statement index.
    pub index: usize,
    /// Statement Sid.
    pub sid: Option<String>,
    /// Statement effect.
    pub effect: StatementEffect,
    /// Why it did not apply, e.g. `its Action does not include …`.
    pub reason: String,
    /// The same as data: which element did not match.
    pub cause: MissCause,
}

/// Which element of a statement did not match the request (checked in this
/// order: action, resource, principal, conditions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "element")]
pub enum MissCause {
    /// `Action` does not include the action, or `NotAction` excludes it.
    Action {
        /// The patterns.
        patterns: Vec<String>,
        /// `NotAction`.
        negated: bool,
    },
    /// `Resource` does not cover the resource, or `NotResource` excludes it.
    Resource {
        /// The patterns.
        patterns: Vec<String>,
        /// `NotResource`.
        negated: bool,
    },
    /// `Principal` does not name the caller, or `NotPrincipal` excludes it.
    Principal {
        /// The entries, as written (account ids as root ARNs).
        named: Vec<String>,
        /// `NotPrincipal`.
        negated: bool,
    },
    /// One or more condition tests failed.
    Condition {
        /// The failed tests.
        failed: Vec<ConditionMiss>,
    },
}

/// What was missing on one side for an allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingAllow {
    /// The side that did not allow.
    pub side: Side,
    /// One sentence.
    pub message: String,
    /// The Allow statements of that side that did not apply, with reasons.
    pub statements: Vec<StatementMiss>,
}

/// A policy that took part in the evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsideredPolicy {
    /// Policy name.
    pub name: String,
    /// Side.
    pub side: Side,
    /// Number of statements.
    pub statements: usize,
    /// The kind the policy was validated as (a role trust policy is a
    /// resource-side policy of kind `Trust`).
    pub policy_type: PolicyType,
}

/// A warning about a policy that took part in a denied request (see
/// [`Policy::warnings`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedWarning {
    /// Policy name.
    pub policy: String,
    /// Which side the policy is on.
    pub side: Side,
    /// The warning.
    pub warning: PolicyWarning,
}

/// Which rule decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Basis {
    /// A `Deny` statement matched.
    ExplicitDeny,
    /// The caller is the root user of the resource's account.
    AccountRoot,
    /// Same account, an identity-based policy allows.
    IdentityPolicy,
    /// Same account, the resource-based policy allows the caller directly.
    ResourcePolicy,
    /// Cross-account: the caller's side and the resource policy both allow.
    CrossAccount,
    /// Nothing allowed.
    NoAllow,
}

/// Why a decision was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// Caller ARN.
    pub principal: String,
    /// The caller's account (empty for services and anonymous callers).
    pub principal_account: String,
    /// Action.
    pub action: String,
    /// Resource.
    pub resource: String,
    /// The account that owns the resource.
    pub resource_account: String,
    /// Whether the caller belongs to the resource's account.
    pub same_account: bool,
    /// Policies considered.
    pub considered: Vec<ConsideredPolicy>,
    /// Every statement that applied to the request.
    pub matched: Vec<StatementRef>,
    /// The deciding statement (none for implicit denies and root-user allows
    /// without any statement).
    pub deciding: Option<StatementRef>,
    /// The deciding rule.
    pub basis: Basis,
    /// For an implicit deny: what each required side lacked.
    pub missing: Vec<MissingAllow>,
    /// Notes that do not change the decision (e.g. account-level grants).
    pub notes: Vec<String>,
    /// For a denial: warnings about the actions the considered policies name
    /// (unknown actions, likely confusions), used by [`Explanation::hint`].
    pub warnings: Vec<NamedWarning>,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Allow, explicit deny or implicit deny.
    pub effect: Effect,
    /// Why.
    pub explanation: Explanation,
}

impl Decision {
    /// `true` for [`Effect::Allow`].
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }

    /// AWS's AccessDenied reason: `with an explicit deny in a resource-based
    /// policy` / `because no identity-based policy allows the ACTION action`
    /// (empty when allowed). The policy types are AWS's (identity-based
    /// policy, resource-based policy, role trust policy, permissions
    /// boundary, session policy), from
    /// <https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html>.
    pub fn aws_reason(&self) -> String {
        let e = &self.explanation;
        match self.effect {
            Effect::Allow => String::new(),
            Effect::ExplicitDeny => {
                let (side, trust) = e
                    .deciding
                    .as_ref()
                    .map_or((Side::Identity, false), |d| (d.side, e.is_trust(d.side)));
                format!("with an explicit deny in {}", side.with_article(trust))
            }
            Effect::ImplicitDeny => {
                let side = e.missing.first().map_or(Side::Identity, |m| m.side);
                format!(
                    "because no {} allows the {} action",
                    side.describe(e.is_trust(side)),
                    e.action
                )
            }
        }
    }

    /// The whole AWS-style AccessDenied message: `User: ARN is not authorized
    /// to perform: ACTION on resource: RESOURCE REASON`; AWS leaves out
    /// `on resource: …` for actions without a resource (here: resource `*`).
    pub fn aws_access_denied_message(&self) -> String {
        let e = &self.explanation;
        let on = if e.resource.is_empty() || e.resource == "*" {
            String::new()
        } else {
            format!(" on resource: {}", e.resource)
        };
        format!(
            "User: {} is not authorized to perform: {}{on} {}",
            e.principal,
            e.action,
            self.aws_reason()
        )
    }

    /// One short sentence on what to change for a denied request, when the
    /// explanation tells (see [`Explanation::hint`]); `None` when allowed.
    /// It may quote any policy considered: for the operator, not the caller.
    pub fn hint(&self) -> Option<String> {
        if self.effect == Effect::Allow {
            return None;
        }
        self.explanation.hint()
    }

    /// The hint a caller may be shown (see [`Explanation::caller_hint`]):
    /// nothing of another account's policies; `None` when allowed.
    pub fn caller_hint(&self) -> Option<String> {
        if self.effect == Effect::Allow {
            return None;
        }
        self.explanation.caller_hint()
    }
}

impl Explanation {
    /// Whether the resource-side policy is a role trust policy.
    fn is_trust(&self, side: Side) -> bool {
        side == Side::Resource
            && self
                .considered
                .iter()
                .any(|c| c.side == Side::Resource && c.policy_type == PolicyType::Trust)
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.explanation;
        let what = format!("{} on {} for {}", e.action, e.resource, e.principal);
        match (self.effect, &e.deciding) {
            (Effect::Allow, _) if e.basis == Basis::AccountRoot => write!(
                f,
                "Allowed: {what}: the caller is the root user of the resource's account."
            )?,
            (Effect::Allow, Some(d)) if e.basis == Basis::CrossAccount => write!(
                f,
                "Allowed: {what}: {d} grants the caller's account access, and the caller's own account allows it."
            )?,
            (Effect::Allow, Some(d)) => write!(f, "Allowed: {what} by {d}.")?,
            (Effect::Allow, None) => write!(f, "Allowed: {what}.")?,
            (Effect::ExplicitDeny, Some(d)) => {
                write!(f, "Denied: {d} explicitly denies {what}.")?
            }
            (Effect::ExplicitDeny, None) => write!(f, "Denied: an explicit deny applies to {what}.")?,
            (Effect::ImplicitDeny, _) => {
                write!(f, "Denied: nothing allows {what}.")?;
                for m in &e.missing {
                    write!(f, " {}", m.message)?;
                    let reasons: Vec<String> = m
                        .statements
                        .iter()
                        .map(|s| {
                            let sid = s.sid.as_ref().map(|x| format!(" (Sid \"{x}\")")).unwrap_or_default();
                            format!("statement {}{sid} {}", s.index, s.reason)
                        })
                        .collect();
                    if !reasons.is_empty() {
                        write!(f, ": {}.", reasons.join("; "))?;
                    } else if !m.message.ends_with('.') {
                        write!(f, ".")?;
                    }
                }
            }
        }
        for n in &e.notes {
            write!(f, " {n}")?;
        }
        // Warnings about Allow statements of the sides that did not allow.
        let mut shown: Vec<&str> = Vec::new();
        for w in &e.warnings {
            let relevant = w.warning.effect == StatementEffect::Allow
                && e.missing.iter().any(|m| m.side == w.side);
            if relevant && shown.len() < 3 && !shown.contains(&w.warning.message.as_str()) {
                shown.push(&w.warning.message);
                write!(f, " Note: {}", w.warning.message)?;
            }
        }
        Ok(())
    }
}

/// Evaluate a request against the caller's identity policies and the
/// resource's policy (no permissions boundary, no session policies).
pub fn evaluate(
    req: &Request,
    identity_policies: &[NamedPolicy],
    resource_policy: Option<NamedPolicy>,
) -> Decision {
    evaluate_set(
        req,
        &PolicySet {
            identity: identity_policies,
            resource: resource_policy,
            permissions_boundary: None,
            session: None,
        },
    )
}

struct Outcome {
    side: Side,
    policy: String,
    stmt_index: usize,
    sid: Option<String>,
    effect: StatementEffect,
    result: Result<Option<PrincipalMatch>, Fail>,
    /// A `NotPrincipal` Deny that applied only because the caller has a
    /// permissions boundary.
    boundary_quirk: bool,
}

/// Why a statement did not apply.
struct Fail {
    reason: String,
    cause: MissCause,
}

impl Outcome {
    fn as_ref(&self) -> StatementRef {
        StatementRef {
            policy: self.policy.clone(),
            side: self.side,
            index: self.stmt_index,
            sid: self.sid.clone(),
            effect: self.effect,
            principal_match: self.result.as_ref().ok().copied().flatten(),
        }
    }

    fn as_miss(&self) -> Option<StatementMiss> {
        self.result.as_ref().err().map(|f| StatementMiss {
            policy: self.policy.clone(),
            index: self.stmt_index,
            sid: self.sid.clone(),
            effect: self.effect,
            reason: f.reason.clone(),
            cause: f.cause.clone(),
        })
    }
}

/// Evaluate a request against a full [`PolicySet`], by AWS's rules:
/// an applicable `Deny` anywhere wins; otherwise the request is allowed when
/// (same account) an identity policy — within the permissions boundary and
/// session policies — or the resource policy naming the caller allows it, or
/// (cross-account) both the caller's side and the resource policy allow it;
/// otherwise it is implicitly denied.
pub fn evaluate_set(req: &Request, set: &PolicySet) -> Decision {
    let p = req.principal;
    let ctx = effective_context(p, req.resource_account, req.context);
    // An empty list of session policies is no session policy.
    let session = set.session.filter(|s| !s.is_empty());
    let has_boundary = set.permissions_boundary.is_some();
    let mut considered = Vec::new();
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut run = |side: Side, np: &NamedPolicy| {
        considered.push(ConsideredPolicy {
            name: np.name.to_string(),
            side,
            statements: np.policy.statements().len(),
            policy_type: np.policy.policy_type(),
        });
        let vars = np.policy.version() == Version::V2012_10_17;
        for s in np.policy.statements() {
            let quirk = has_boundary
                && s.effect == StatementEffect::Deny
                && s.principal.as_ref().is_some_and(|pl| pl.negated);
            let result = statement_applies(s, req, &ctx, vars, quirk);
            let boundary_quirk = quirk
                && result.is_ok()
                && s.principal
                    .as_ref()
                    .is_some_and(|pl| principal_applies(pl, p).is_err());
            outcomes.push(Outcome {
                side,
                policy: np.name.to_string(),
                stmt_index: s.index,
                sid: s.sid.clone(),
                effect: s.effect,
                result,
                boundary_quirk,
            });
        }
    };
    for np in set.identity {
        run(Side::Identity, np);
    }
    if let Some(np) = &set.resource {
        run(Side::Resource, np);
    }
    if let Some(np) = &set.permissions_boundary {
        run(Side::PermissionsBoundary, np);
    }
    for np in session.unwrap_or(&[]) {
        run(Side::SessionPolicy, np);
    }

    let same_account = !p.account_id.is_empty() && p.account_id == req.resource_account;
    let matched: Vec<StatementRef> = outcomes
        .iter()
        .filter(|o| o.result.is_ok())
        .map(Outcome::as_ref)
        .collect();
    let mut explanation = Explanation {
        principal: p.arn.clone(),
        principal_account: p.account_id.clone(),
        action: req.action.to_string(),
        resource: req.resource.to_string(),
        resource_account: req.resource_account.to_string(),
        same_account,
        considered,
        matched: matched.clone(),
        deciding: None,
        basis: Basis::NoAllow,
        missing: Vec::new(),
        notes: Vec::new(),
        warnings: Vec::new(),
    };
    let warnings = |explanation: &mut Explanation| {
        let mut all = Vec::new();
        let mut add = |side: Side, np: &NamedPolicy| {
            for w in np.policy.warnings() {
                all.push(NamedWarning {
                    policy: np.name.to_string(),
                    side,
                    warning: w,
                });
            }
        };
        set.identity.iter().for_each(|np| add(Side::Identity, np));
        set.resource.iter().for_each(|np| add(Side::Resource, np));
        set.permissions_boundary
            .iter()
            .for_each(|np| add(Side::PermissionsBoundary, np));
        session
            .unwrap_or(&[])
            .iter()
            .for_each(|np| add(Side::SessionPolicy, np));
        explanation.warnings = all;
    };

    // 1. Explicit deny anywhere.
    if let Some(o) = outcomes
        .iter()
        .find(|o| o.result.is_ok() && o.effect == StatementEffect::Deny)
    {
        let d = o.as_ref();
        if o.boundary_quirk {
            explanation.notes.push(format!(
                "{d} uses NotPrincipal with Deny, which always applies to a principal that has a permissions boundary, whatever NotPrincipal lists."
            ));
        }
        explanation.deciding = Some(d);
        explanation.basis = Basis::ExplicitDeny;
        warnings(&mut explanation);
        return Decision {
            effect: Effect::ExplicitDeny,
            explanation,
        };
    }

    let allow_on = |side: Side| {
        matched
            .iter()
            .find(|m| m.side == side && m.effect == StatementEffect::Allow)
            .cloned()
    };
    let identity_allow = allow_on(Side::Identity);
    let boundary_ok = !has_boundary || allow_on(Side::PermissionsBoundary).is_some();
    let session_ok = session.is_none() || allow_on(Side::SessionPolicy).is_some();
    let mut resource_allows: Vec<&StatementRef> = matched
        .iter()
        .filter(|m| m.side == Side::Resource && m.effect == StatementEffect::Allow)
        .collect();
    // Best principal match first.
    resource_allows.sort_by_key(|r| std::cmp::Reverse(r.principal_match));
    let is_root = p.kind == PrincipalKind::Root;
    let identity_side_ok = identity_allow.is_some() && boundary_ok && session_ok;

    let allow = |explanation: &mut Explanation, basis: Basis, by: Option<StatementRef>| {
        explanation.basis = basis;
        explanation.deciding = by;
    };
    if same_account {
        if is_root {
            let by = resource_allows
                .first()
                .map(|r| (*r).clone())
                .or(identity_allow.clone());
            allow(&mut explanation, Basis::AccountRoot, by);
            return Decision {
                effect: Effect::Allow,
                explanation,
            };
        }
        if identity_side_ok {
            allow(
                &mut explanation,
                Basis::IdentityPolicy,
                identity_allow.clone(),
            );
            return Decision {
                effect: Effect::Allow,
                explanation,
            };
        }
        // A resource policy that grants to the caller itself (user, role
        // session or federated user ARN), or to `*`, is not limited by an
        // implicit deny in identity policies, the boundary or session
        // policies; one naming the caller's role is limited by the boundary
        // and session policies (not by identity policies); one naming only
        // the account delegates to the account's identity policies
        // (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html>).
        let grants = |m: PrincipalMatch| match m {
            PrincipalMatch::Exact | PrincipalMatch::Everyone => true,
            PrincipalMatch::Role => boundary_ok && session_ok,
            PrincipalMatch::Account => false,
        };
        if let Some(r) = resource_allows
            .iter()
            .find(|r| r.principal_match.is_some_and(grants))
        {
            allow(&mut explanation, Basis::ResourcePolicy, Some((*r).clone()));
            return Decision {
                effect: Effect::Allow,
                explanation,
            };
        }
        for r in &resource_allows {
            match r.principal_match {
                Some(PrincipalMatch::Account) => explanation.notes.push(format!(
                    "Statement {} of the {} names the account {}, which only delegates to the account's identity-based policies.",
                    r.index, r.policy, p.account_id
                )),
                Some(PrincipalMatch::Role) => explanation.notes.push(format!(
                    "Statement {} of the {} names the caller's role, which the permissions boundary or session policies limit.",
                    r.index, r.policy
                )),
                _ => {}
            }
        }
    } else {
        let no_identity_side = matches!(p.kind, PrincipalKind::Service | PrincipalKind::Anonymous);
        let caller_ok = is_root || no_identity_side || identity_side_ok;
        if caller_ok {
            if let Some(r) = resource_allows.first() {
                allow(&mut explanation, Basis::CrossAccount, Some((*r).clone()));
                return Decision {
                    effect: Effect::Allow,
                    explanation,
                };
            }
        }
    }

    // Implicit deny: say what each required side lacked.
    let misses = |side: Side| -> Vec<StatementMiss> {
        outcomes
            .iter()
            .filter(|o| o.side == side && o.effect == StatementEffect::Allow)
            .filter_map(Outcome::as_miss)
            .collect()
    };
    let subject = format!("{} for {}", req.action, p.arn);
    let names = |list: &[NamedPolicy]| -> String {
        list.iter().map(|n| n.name).collect::<Vec<_>>().join(", ")
    };
    let need_identity = !(is_root
        || (!same_account && matches!(p.kind, PrincipalKind::Service | PrincipalKind::Anonymous)));
    if need_identity && identity_allow.is_none() {
        let mut message = if set.identity.is_empty() {
            format!("No identity-based policy is attached to {}", p.arn)
        } else {
            format!(
                "No statement of the identity-based policies ({}) allows {subject}",
                names(set.identity)
            )
        };
        if !same_account {
            message.push_str(&format!(
                " (a caller from account {} also needs its own account's identity-based policy to allow the action)",
                p.account_id
            ));
        }
        explanation.missing.push(MissingAllow {
            side: Side::Identity,
            message,
            statements: misses(Side::Identity),
        });
    }
    if need_identity && identity_allow.is_some() && !boundary_ok {
        if let Some(b) = &set.permissions_boundary {
            explanation.missing.push(MissingAllow {
                side: Side::PermissionsBoundary,
                message: format!(
                    "The permissions boundary ({}) does not allow {subject}",
                    b.name
                ),
                statements: misses(Side::PermissionsBoundary),
            });
        }
    }
    if need_identity && identity_allow.is_some() && !session_ok {
        explanation.missing.push(MissingAllow {
            side: Side::SessionPolicy,
            message: format!(
                "The session policies ({}) do not allow {subject}",
                names(session.unwrap_or(&[]))
            ),
            statements: misses(Side::SessionPolicy),
        });
    }
    let resource_needed = !same_account || set.resource.is_some();
    if resource_needed && resource_allows.is_empty() {
        let message = match &set.resource {
            None => format!(
                "{} has no resource-based policy that applies to {}, so only principals of its account {} can be allowed",
                req.resource, req.action, req.resource_account
            ),
            Some(np) => format!("No statement of the {} allows {subject}", np.name),
        };
        let missing = MissingAllow {
            side: Side::Resource,
            message,
            statements: misses(Side::Resource),
        };
        // Cross-account, the resource side is what the caller usually lacks: list it first
        // when the identity side is fine.
        if !same_account && explanation.missing.is_empty() {
            explanation.missing.insert(0, missing);
        } else {
            explanation.missing.push(missing);
        }
    }
    if explanation.missing.is_empty() {
        // Same account, the identity side fails only through the boundary or
        // session policies and a resource policy names the caller's role or
        // account: report the limiting side.
        explanation.missing.push(MissingAllow {
            side: Side::Identity,
            message: format!("No policy allows {subject}"),
            statements: misses(Side::Identity),
        });
    }
    warnings(&mut explanation);
    Decision {
        effect: Effect::ImplicitDeny,
        explanation,
    }
}

/// Does `s` apply to the request? `Ok(principal match)` or why not.
/// `boundary_quirk`: the statement is a `NotPrincipal` Deny and the caller has
/// a permissions boundary, which AWS documents always denies ("The
/// `NotPrincipal` element with a `Deny` effect will always deny any IAM
/// principal that has a permissions boundary policy attached, regardless of
/// the values specified in the `NotPrincipal` element",
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html>).
fn statement_applies(
    s: &Statement,
    req: &Request,
    ctx: &Context,
    vars: bool,
    boundary_quirk: bool,
) -> Result<Option<PrincipalMatch>, Fail> {
    // Action (case-insensitive, wildcards).
    let hit = s.action.patterns.iter().any(|a| glob(a, req.action, true));
    if hit == s.action.negated {
        return Err(Fail {
            reason: if s.action.negated {
                format!("excludes {} with NotAction", req.action)
            } else {
                format!(
                    "does not include {} in its Action ({})",
                    req.action,
                    list(&s.action.patterns)
                )
            },
            cause: MissCause::Action {
                patterns: s.action.patterns.clone(),
                negated: s.action.negated,
            },
        });
    }
    // Resource (case-sensitive, wildcards within ARN segments, policy variables).
    if let Some(r) = &s.resource {
        let hit = r
            .patterns
            .iter()
            .any(|pat| match compile_resource(pat, vars.then_some(ctx)) {
                Ok(t) => matches(&t, req.resource, false),
                Err(_) => false,
            });
        if hit == r.negated {
            return Err(Fail {
                reason: if r.negated {
                    format!("excludes {} with NotResource", req.resource)
                } else {
                    format!(
                        "does not cover {} in its Resource ({})",
                        req.resource,
                        list(&r.patterns)
                    )
                },
                cause: MissCause::Resource {
                    patterns: r.patterns.clone(),
                    negated: r.negated,
                },
            });
        }
    }
    // Principal.
    let pm = match &s.principal {
        None => None,
        Some(_) if boundary_quirk => Some(PrincipalMatch::Everyone),
        Some(pl) => Some(principal_applies(pl, req.principal).map_err(|reason| Fail {
            reason,
            cause: MissCause::Principal {
                named: pl.entries.iter().map(|e| e.to_string()).collect(),
                negated: pl.negated,
            },
        })?),
    };
    // Conditions: all must hold.
    let failures: Vec<ConditionMiss> = s
        .conditions
        .iter()
        .filter_map(|c| condition::eval(c, ctx, vars).err().map(|b| *b))
        .collect();
    if !failures.is_empty() {
        return Err(Fail {
            reason: failures
                .iter()
                .map(|f| f.reason.as_str())
                .collect::<Vec<_>>()
                .join(", and "),
            cause: MissCause::Condition { failed: failures },
        });
    }
    Ok(pm)
}

fn list(v: &[String]) -> String {
    v.iter()
        .map(|x| format!("\"{x}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn principal_applies(pl: &PrincipalList, p: &Principal) -> Result<PrincipalMatch, String> {
    if pl.negated {
        // The caller is excluded only if every identity of its chain (account,
        // role, session/user) is listed.
        let mut chain: Vec<String> = Vec::new();
        if let Some(root) = p.account_root_arn() {
            chain.push(root);
        }
        if let PrincipalKind::AssumedRole { role_arn } = &p.kind {
            chain.push(role_arn.clone());
        }
        if !chain.contains(&p.arn) {
            chain.push(p.arn.clone());
        }
        let listed = |id: &str| {
            pl.entries.iter().any(|e| match e {
                PrincipalEntry::Everyone => true,
                PrincipalEntry::Aws(a) => a == id,
                PrincipalEntry::Service(sv) | PrincipalEntry::Federated(sv) => sv == id,
                PrincipalEntry::CanonicalUser(_) => false,
            })
        };
        return if chain.iter().all(|id| listed(id)) {
            Err(format!("excludes {} with NotPrincipal", p.arn))
        } else {
            Ok(PrincipalMatch::Everyone)
        };
    }
    let best = pl.entries.iter().filter_map(|e| entry_match(e, p)).max();
    best.ok_or_else(|| {
        let named: Vec<String> = pl.entries.iter().map(|e| e.to_string()).collect();
        format!("names principal {} and not {}", named.join(", "), p.arn)
    })
}

fn entry_match(e: &PrincipalEntry, p: &Principal) -> Option<PrincipalMatch> {
    match e {
        PrincipalEntry::Everyone => Some(PrincipalMatch::Everyone),
        PrincipalEntry::Aws(a) => {
            if matches!(p.kind, PrincipalKind::Service | PrincipalKind::Anonymous) {
                None
            } else if *a == p.arn || *a == p.user_id {
                Some(PrincipalMatch::Exact)
            } else if p.role_arn() == Some(a.as_str())
                || (matches!(p.kind, PrincipalKind::AssumedRole { .. })
                    && p.user_id.split_once(':').map(|(id, _)| id) == Some(a.as_str()))
            {
                Some(PrincipalMatch::Role)
            } else if p.account_root_arn().as_deref() == Some(a.as_str()) {
                Some(PrincipalMatch::Account)
            } else {
                None
            }
        }
        PrincipalEntry::Service(s) => {
            (p.kind == PrincipalKind::Service && *s == p.arn).then_some(PrincipalMatch::Exact)
        }
        PrincipalEntry::Federated(s) => {
            (p.kind == PrincipalKind::FederatedUser && *s == p.arn).then_some(PrincipalMatch::Exact)
        }
        PrincipalEntry::CanonicalUser(_) => None,
    }
}
