//! Warnings about the actions a policy names. AWS accepts a policy that
//! names actions that do not exist ("policies allowing invalid actions ...
//! AWS does not have a validation yet"), and so does [`Policy::parse`]: a
//! warning never makes a policy invalid. Only the services Cairn catalogues
//! (see [`crate::catalog`]) are judged; `s3:…` and other prefixes are not.

use crate::catalog::{self, Service};
use crate::parse::{Policy, StatementEffect};
use crate::pattern::glob;
use serde::Serialize;
use std::fmt;

/// The one action that sends events into CloudTrail Lake.
const PUT_AUDIT_EVENTS: &str = "cloudtrail-data:PutAuditEvents";

/// What is wrong with an action pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum WarningKind {
    /// The pattern (without wildcards) names no action of its service, e.g.
    /// `cloudtrail:PutEvent`.
    UnknownAction,
    /// The wildcard pattern matches no action of its service, e.g.
    /// `cloudtrail:PutLog*`.
    NoMatchingAction,
    /// The pattern matches real actions, but reads like an attempt at another
    /// one, e.g. `cloudtrail:PutEvent*` (trail event selectors and
    /// configuration, not sending events).
    LikelyConfusion,
}

/// Which element the pattern is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ActionElement {
    /// `Action`
    Action,
    /// `NotAction`
    NotAction,
}

/// The verdict on one action pattern (see [`check_action`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionIssue {
    /// What is wrong.
    pub kind: WarningKind,
    /// The catalogued service the pattern names (`cloudtrail`).
    pub service: String,
    /// What was probably meant (an action, or a pattern with another prefix).
    pub suggestion: Option<String>,
    /// For [`WarningKind::LikelyConfusion`]: the actions the pattern does match.
    pub matches: Vec<String>,
}

/// A warning about one action pattern of one statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyWarning {
    /// What is wrong.
    pub kind: WarningKind,
    /// Zero-based statement index.
    pub statement: usize,
    /// Statement Sid.
    pub sid: Option<String>,
    /// The statement's effect.
    pub effect: StatementEffect,
    /// `Action` or `NotAction`.
    pub element: ActionElement,
    /// The pattern as written.
    pub pattern: String,
    /// What was probably meant.
    pub suggestion: Option<String>,
    /// For [`WarningKind::LikelyConfusion`]: the actions the pattern does match.
    pub matches: Vec<String>,
    /// One short sentence for people.
    pub message: String,
}

impl fmt::Display for PolicyWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Policy {
    /// Warnings about the actions this policy names: an `Action` or
    /// `NotAction` entry of a catalogued service that names no existing
    /// action, a wildcard that matches none, and likely confusions, each with
    /// a suggestion when one is plausible (`cloudtrail:PutAuditEvents` →
    /// `cloudtrail-data:PutAuditEvents`, `cloudtrail:GetChanel` →
    /// `cloudtrail:GetChannel`). Empty for a policy without such entries.
    pub fn warnings(&self) -> Vec<PolicyWarning> {
        let mut out = Vec::new();
        for s in self.statements() {
            let element = if s.action.negated {
                ActionElement::NotAction
            } else {
                ActionElement::Action
            };
            for pattern in &s.action.patterns {
                let Some(issue) = check_action(pattern) else {
                    continue;
                };
                let message = message(pattern, element, &issue);
                out.push(PolicyWarning {
                    kind: issue.kind,
                    statement: s.index,
                    sid: s.sid.clone(),
                    effect: s.effect,
                    element,
                    pattern: pattern.clone(),
                    suggestion: issue.suggestion,
                    matches: issue.matches,
                    message,
                });
            }
        }
        out
    }
}

fn message(pattern: &str, element: ActionElement, issue: &ActionIssue) -> String {
    let svc = &issue.service;
    let mut m = match issue.kind {
        WarningKind::UnknownAction => format!("{pattern} is not a {svc} action"),
        WarningKind::NoMatchingAction => format!("{pattern} matches no {svc} action"),
        WarningKind::LikelyConfusion => format!(
            "{pattern} matches only {}, not an action that sends events",
            issue.matches.join(", ")
        ),
    };
    if element == ActionElement::NotAction && issue.kind != WarningKind::LikelyConfusion {
        m.push_str(", so this NotAction entry excludes nothing");
    }
    match (&issue.suggestion, issue.kind) {
        (Some(s), WarningKind::LikelyConfusion) => {
            m.push_str(&format!("; to send events the action is {s}"))
        }
        (Some(s), _) => {
            let (_, name) = pattern.split_once(':').unwrap_or(("", pattern));
            let (_, sname) = s.split_once(':').unwrap_or(("", s));
            if name.eq_ignore_ascii_case(sname) {
                m.push_str(&format!("; {sname} is {s}"));
            } else {
                m.push_str(&format!("; did you mean {s}?"));
                return m;
            }
        }
        (None, _) => {}
    }
    m.push('.');
    m
}

/// Judge one action pattern (`prefix:Name`, wildcards allowed). `None` when
/// nothing is wrong or the service is not catalogued (or the prefix has a
/// wildcard, or the pattern is `*`).
pub fn check_action(pattern: &str) -> Option<ActionIssue> {
    let (prefix, name) = pattern.split_once(':')?;
    if prefix.contains(['*', '?']) {
        return None;
    }
    let svc = catalog::service(prefix)?;
    let issue = |kind, suggestion: Option<String>, matches: Vec<String>| {
        Some(ActionIssue {
            kind,
            service: svc.prefix.to_string(),
            suggestion,
            matches,
        })
    };
    if !name.contains(['*', '?']) {
        if svc.find(name).is_some() {
            return None;
        }
        return issue(
            WarningKind::UnknownAction,
            suggest_name(svc, name),
            Vec::new(),
        );
    }
    let matched: Vec<String> = svc
        .actions()
        .filter(|a| glob(name, a, true))
        .map(|a| format!("{}:{a}", svc.prefix))
        .collect();
    if matched.is_empty() {
        // The same wildcard under another catalogued prefix?
        let elsewhere = catalog::SERVICES
            .iter()
            .find(|o| o.prefix != svc.prefix && o.actions().any(|a| glob(name, a, true)));
        let suggestion = match elsewhere {
            Some(o) => Some(format!("{}:{name}", o.prefix)),
            None => sends_events(svc, name).then(|| PUT_AUDIT_EVENTS.to_string()),
        };
        return issue(WarningKind::NoMatchingAction, suggestion, Vec::new());
    }
    if svc.prefix == "cloudtrail" && sends_events(svc, name) {
        return issue(
            WarningKind::LikelyConfusion,
            Some(PUT_AUDIT_EVENTS.to_string()),
            matched,
        );
    }
    None
}

/// Does `name` read like "put events/logs/metrics into CloudTrail"? (The
/// actions a popular troubleshooting article grants for CloudTrail Lake
/// ingestion: `cloudtrail:PutEvent`, `cloudtrail:PutLog`,
/// `cloudtrail:PutMetric`.)
fn sends_events(svc: &Service, name: &str) -> bool {
    if !svc.prefix.starts_with("cloudtrail") {
        return false;
    }
    let n: String = name
        .chars()
        .filter(|c| !matches!(c, '*' | '?'))
        .collect::<String>()
        .to_ascii_lowercase();
    let verb = ["put", "send", "write", "post", "ingest", "push"]
        .iter()
        .any(|v| n.starts_with(v));
    let noun = ["event", "log", "metric", "audit", "record"]
        .iter()
        .any(|w| n.contains(w));
    verb && noun
}

/// A suggestion for an exact action name that does not exist.
fn suggest_name(svc: &Service, name: &str) -> Option<String> {
    // 1. The same action in another catalogued service (`cloudtrail:PutAuditEvents`,
    //    `iam:AssumeRole`, `sts:PassRole`).
    for o in catalog::SERVICES {
        if o.prefix != svc.prefix {
            if let Some(a) = o.find(name) {
                return Some(format!("{}:{a}", o.prefix));
            }
        }
    }
    // 2. A close misspelling within the service.
    if let Some(a) = closest(svc, name) {
        return Some(format!("{}:{a}", svc.prefix));
    }
    // 3. Something that reads like sending events.
    if sends_events(svc, name) {
        return Some(PUT_AUDIT_EVENTS.to_string());
    }
    // 4. A close misspelling in another service.
    catalog::SERVICES
        .iter()
        .filter(|o| o.prefix != svc.prefix)
        .find_map(|o| closest(o, name).map(|a| format!("{}:{a}", o.prefix)))
}

/// The action of `svc` closest to `name` by edit distance, if close enough
/// (at most a quarter of the name's length, between 1 and 3 edits).
fn closest(svc: &Service, name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 128 {
        return None;
    }
    let limit = (name.chars().count() / 4).clamp(1, 3);
    let lname = name.to_ascii_lowercase();
    svc.actions()
        .filter_map(|a| {
            let d = edit_distance(&lname, &a.to_ascii_lowercase());
            (d <= limit).then_some((d, a))
        })
        .min()
        .map(|(_, a)| a)
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("getchanel", "getchannel"), 1);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn checks() {
        assert_eq!(check_action("s3:GetObjekt"), None);
        assert_eq!(check_action("*"), None);
        assert_eq!(check_action("*:PutEvent"), None);
        assert_eq!(check_action("cloudtrail:StartQuery"), None);
        assert_eq!(check_action("CloudTrail:startquery"), None);
        assert_eq!(check_action("cloudtrail:*Query"), None);
        assert_eq!(check_action("cloudtrail:Put*"), None);
        let i = check_action("cloudtrail:PutEvent").unwrap();
        assert_eq!(i.kind, WarningKind::UnknownAction);
        assert_eq!(i.suggestion.as_deref(), Some(PUT_AUDIT_EVENTS));
        let i = check_action("cloudtrail:PutAuditEvents").unwrap();
        assert_eq!(i.suggestion.as_deref(), Some(PUT_AUDIT_EVENTS));
        let i = check_action("cloudtrail:GetChanel").unwrap();
        assert_eq!(i.suggestion.as_deref(), Some("cloudtrail:GetChannel"));
        let i = check_action("cloudtrail-data:PutAuditEvent").unwrap();
        assert_eq!(i.suggestion.as_deref(), Some(PUT_AUDIT_EVENTS));
        let i = check_action("iam:AssumeRole").unwrap();
        assert_eq!(i.suggestion.as_deref(), Some("sts:AssumeRole"));
        let i = check_action("sts:PassRole").unwrap();
        assert_eq!(i.suggestion.as_deref(), Some("iam:PassRole"));
        let i = check_action("cloudtrail:PutLog*").unwrap();
        assert_eq!(i.kind, WarningKind::NoMatchingAction);
        assert_eq!(i.suggestion.as_deref(), Some(PUT_AUDIT_EVENTS));
        let i = check_action("cloudtrail:PutAudit*").unwrap();
        assert_eq!(i.suggestion.as_deref(), Some("cloudtrail-data:PutAudit*"));
        let i = check_action("iam:Frobnicate*").unwrap();
        assert_eq!(i.kind, WarningKind::NoMatchingAction);
        assert_eq!(i.suggestion, None);
        let i = check_action("cloudtrail:PutEvent*").unwrap();
        assert_eq!(i.kind, WarningKind::LikelyConfusion);
        assert_eq!(
            i.matches,
            [
                "cloudtrail:PutEventConfiguration",
                "cloudtrail:PutEventSelectors"
            ]
        );
        assert_eq!(check_action("iam:Nothing").unwrap().suggestion, None);
    }

    #[test]
    fn policy_warnings() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[
              {"Sid":"Article","Effect":"Allow","Action":["cloudtrail:PutEvent","cloudtrail:PutLog","cloudtrail:PutMetric","s3:PutObject","cloudtrail:StartQuery"],"Resource":"*"},
              {"Effect":"Deny","NotAction":["cloudtrail:PutAuditEvents"],"Resource":"*"},
              {"Effect":"Allow","Action":"cloudtrail:PutEvent*","Resource":"*"}]}"#,
            crate::PolicyType::Identity,
        )
        .unwrap();
        let w = p.warnings();
        let got: Vec<(&str, WarningKind, Option<&str>)> = w
            .iter()
            .map(|w| (w.pattern.as_str(), w.kind, w.suggestion.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "cloudtrail:PutEvent",
                    WarningKind::UnknownAction,
                    Some(PUT_AUDIT_EVENTS)
                ),
                (
                    "cloudtrail:PutLog",
                    WarningKind::UnknownAction,
                    Some(PUT_AUDIT_EVENTS)
                ),
                (
                    "cloudtrail:PutMetric",
                    WarningKind::UnknownAction,
                    Some(PUT_AUDIT_EVENTS)
                ),
                (
                    "cloudtrail:PutAuditEvents",
                    WarningKind::UnknownAction,
                    Some(PUT_AUDIT_EVENTS)
                ),
                (
                    "cloudtrail:PutEvent*",
                    WarningKind::LikelyConfusion,
                    Some(PUT_AUDIT_EVENTS)
                ),
            ]
        );
        assert_eq!(w[0].sid.as_deref(), Some("Article"));
        assert_eq!(
            w[0].message,
            "cloudtrail:PutEvent is not a cloudtrail action; did you mean cloudtrail-data:PutAuditEvents?"
        );
        assert_eq!(
            w[3].message,
            "cloudtrail:PutAuditEvents is not a cloudtrail action, so this NotAction entry excludes nothing; PutAuditEvents is cloudtrail-data:PutAuditEvents."
        );
        assert_eq!(w[3].element, ActionElement::NotAction);
        assert_eq!(
            w[4].message,
            "cloudtrail:PutEvent* matches only cloudtrail:PutEventConfiguration, cloudtrail:PutEventSelectors, not an action that sends events; to send events the action is cloudtrail-data:PutAuditEvents."
        );
        let json = serde_json::to_value(&w[0]).unwrap();
        assert_eq!(json["kind"], "UnknownAction");
        assert_eq!(json["message"], w[0].message);
    }
}
