//! A pure AWS IAM policy engine: parse and validate policy documents, evaluate
//! requests by AWS's rules, and explain every decision.
//!
//! # Documents
//! [`Policy::parse`] accepts the IAM grammar
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html>):
//! `Version` (`2012-10-17`, or `2008-10-17`, the default when absent), `Id`,
//! `Statement` as one object or a non-empty list, and per statement `Sid`,
//! `Effect`, `Action`/`NotAction`, `Resource`/`NotResource`,
//! `Principal`/`NotPrincipal` and `Condition` (each pair mutually exclusive).
//! Errors are [`MalformedPolicy`] whose `Display` is AWS's
//! `MalformedPolicyDocument` message (see [`messages`]); the statement index,
//! Sid and the precise cause are in its fields and [`MalformedPolicy::detailed`].
//! The [`PolicyType`] decides the per-kind rules: identity policies must not
//! name a principal, resource policies must, trust policies must name one, have
//! no `Resource` and only `sts:` actions.
//!
//! # Matching
//! * Actions are matched case-insensitively with `*` and `?`
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html>).
//! * Resource ARNs are matched case-sensitively with `*` and `?` within the
//!   colon-separated segments; a `*` that ends a segment may run past colons,
//!   and in the resource part (after the fifth colon) `*` and `?` match
//!   anything (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html>).
//! * Principals (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html>):
//!   `"*"`/`{"AWS":"*"}` is everyone; an account id or `…:root` names the
//!   account (it *delegates* to that account's own policies); a user, role,
//!   or role-session ARN names that identity (a role ARN matches its sessions);
//!   `{"Service": …}` a service. `NotPrincipal` excludes a caller only when every
//!   identity of its chain (account, role, session/user) is listed
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html>);
//!   a `NotPrincipal` Deny always applies to a caller with a permissions
//!   boundary (<https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html>).
//! * Conditions (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>):
//!   all operators of a block and all keys of an operator must hold (AND); the
//!   values of one key are alternatives (OR); negated operators (`…Not…`,
//!   `NotIpAddress`) hold when no value matches (NOR). A key missing from the
//!   request makes positive operators false, negated ones true, `…IfExists` true;
//!   `ForAllValues:` is true and `ForAnyValue:` false for a missing key or an
//!   empty set, whatever the operator; `Null` tests presence
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html>).
//!   Key names are case-insensitive; values are case-sensitive except with
//!   `…IgnoreCase` and `Bool`. IP operators take IPv4 and IPv6 addresses and
//!   CIDR blocks (a bare address is `/32` or `/128`); `Arn…` operators match
//!   segment by segment; dates are ISO 8601 or epoch seconds.
//! * Policy variables `${aws:username}`, `${aws:PrincipalTag/k}`, any
//!   single-valued request key, `${*}`, `${?}`, `${$}` and defaults
//!   `${key, 'default'}` are substituted under `2012-10-17` only: in
//!   `Resource`/`NotResource` after the fifth colon, and in the values of
//!   string, ARN and `Bool` operators (not numeric, date, binary, IP or
//!   `Null`). An unresolvable variable makes that value match nothing
//!   (negated operators then hold)
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html>).
//! * The request's condition keys come from the caller ([`Context`], with
//!   builders for the global keys: [`Context::with_current_time`],
//!   [`Context::with_source_ip`], …); the engine adds the principal's keys
//!   ([`Context::for_principal`]) and `aws:ResourceAccount` itself.
//!
//! # Evaluation
//! Following <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>
//! and <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html>:
//! 1. An applicable `Deny` in any policy (identity, resource, permissions
//!    boundary, session) → [`Effect::ExplicitDeny`], even for the owner's root user.
//! 2. Same account: the root user is allowed; otherwise allowed when an identity
//!    policy allows *and* the permissions boundary and session policies (when
//!    present) allow, or when the resource policy allows the caller by its own
//!    ARN or by `*` (not limited by the boundary or session policies), or by
//!    its role (limited by them). A resource policy naming only the account
//!    grants nothing by itself.
//! 3. Cross-account: the caller's side must allow (the root user of the
//!    caller's account implicitly; service principals have no identity side)
//!    *and* the resource policy must allow the caller (account, role, ARN or `*`).
//! 4. Otherwise [`Effect::ImplicitDeny`].
//!
//! Every [`Decision`] carries an [`Explanation`]: the policies considered, each
//! statement that applied, the deciding statement, and for an implicit deny
//! what each required side lacked, with the reason every `Allow` statement did
//! not apply (action, resource, principal, or which condition, also as data in
//! [`StatementMiss::cause`]). Its `Display` is a few plain sentences; it is
//! `Serialize` for logs and `cairn explain`. [`Decision::hint`] is one
//! sentence on what to change, for the operator (it may quote any policy);
//! [`Decision::caller_hint`] is the one a caller may see, which quotes
//! nothing of another account's policies (condition values, Sids,
//! principals); [`Decision::aws_access_denied_message`] is AWS's
//! `AccessDenied` text.
//!
//! # Warnings
//! [`Policy::warnings`] flags `Action`/`NotAction` entries of the services Cairn
//! serves ([`catalog`]: every operation of the CloudTrail, CloudTrail Data, IAM
//! and STS models plus the permission-only actions such as `iam:PassRole` and
//! `sts:TagSession`) that name no action, wildcards that match none, and likely
//! confusions, with suggestions (`cloudtrail:PutEvent` →
//! `cloudtrail-data:PutAuditEvents`). Warnings never make a policy invalid.
//!
//! ```
//! use iam_policy::*;
//! let chan = "arn:aws:cloudtrail:us-east-1:111122223333:channel/EXAMPLE";
//! let rp = Policy::parse(r#"{"Version":"2012-10-17","Statement":[{"Sid":"Partner",
//!   "Effect":"Allow","Principal":{"AWS":"444455556666"},
//!   "Action":"cloudtrail-data:PutAuditEvents","Resource":"*",
//!   "Condition":{"StringEquals":{"cloudtrail:ExternalId":"abc"}}}]}"#,
//!   PolicyType::Resource).unwrap();
//! let caller = Principal::root("444455556666");
//! let ctx = Context::new().with("cloudtrail:ExternalId", "abc");
//! let req = Request { principal: &caller, action: "cloudtrail-data:PutAuditEvents",
//!   resource: chan, resource_account: "111122223333", context: &ctx };
//! let d = evaluate(&req, &[], Some(NamedPolicy { name: "channel resource policy", policy: &rp }));
//! assert_eq!(d.effect, Effect::Allow);
//! ```

#![warn(missing_docs)]

#[allow(missing_docs)]
mod actions_generated;
pub mod catalog;
mod condition;
mod context;
mod eval;
mod hint;
mod parse;
mod pattern;
mod warnings;

pub use condition::ConditionMiss;
pub use context::{format_iso8601, keys, Context, Principal, PrincipalKind};
pub use eval::{
    evaluate, evaluate_set, Basis, ConsideredPolicy, Decision, Effect, Explanation, MissCause,
    MissingAllow, NamedPolicy, NamedWarning, PolicySet, PrincipalMatch, Request, Side,
    StatementMiss, StatementRef,
};
pub use parse::{
    messages, BaseOperator, Condition, MalformedPolicy, Operator, PatternList, Policy, PolicyType,
    PrincipalEntry, PrincipalList, SetQualifier, Statement, StatementEffect, Version,
};
pub use warnings::{check_action, ActionElement, ActionIssue, PolicyWarning, WarningKind};
