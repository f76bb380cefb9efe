//! Placeholder, replaced below.
mod condition;
mod context;
mod eval;
mod parse;
mod pattern;

pub use context::{Context, Principal, PrincipalKind};
pub use eval::{
    evaluate, evaluate_set, Basis, ConsideredPolicy, Decision, Effect, Explanation, MissingAllow,
    NamedPolicy, PolicySet, PrincipalMatch, Request, Side, StatementMiss, StatementRef,
};
pub use parse::{
    messages, BaseOperator, Condition, MalformedPolicy, Operator, PatternList, Policy, PolicyType,
    PrincipalEntry, PrincipalList, SetQualifier, Statement, StatementEffect, Version,
};
