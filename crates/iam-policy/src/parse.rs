//! Policy documents: grammar, parsing and validation.

use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;

/// Which kind of document a policy is; validation differs per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PolicyType {
    /// Identity-based (user/group/role inline or managed, permissions boundary,
    /// session policy): no `Principal`/`NotPrincipal`.
    Identity,
    /// Resource-based (e.g. a channel's resource policy): `Principal` or
    /// `NotPrincipal` required.
    Resource,
    /// A role trust policy: `Principal` required, no `Resource`, only `sts:`
    /// actions.
    Trust,
}

/// Policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Version {
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
    /// `2008-10-17` (also the default when `Version` is absent): `${...}` is literal text.
    V2008_10_17,
}

/// A `MalformedPolicyDocument` error. `Display` is AWS's message; the
/// statement index and Sid (when the error belongs to a statement) are extra
/// precision available through [`MalformedPolicy::detailed`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct MalformedPolicy {
    /// AWS's message text, e.g. `Syntax errors in policy.`
    pub message: String,
    /// Zero-based index of the offending statement, if any.
    pub statement: Option<usize>,
    /// Sid of the offending statement, if it has one.
    pub sid: Option<String>,
    /// What exactly is wrong, beyond AWS's message (for logs and `cairn explain`).
    pub detail: Option<String>,
}

impl MalformedPolicy {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            statement: None,
            sid: None,
            detail: None,
        }
    }

    fn at(mut self, index: usize, stmt: &Map<String, Value>) -> Self {
        self.statement = Some(index);
        self.sid = stmt.get("Sid").and_then(Value::as_str).map(str::to_string);
        self
    }

    fn because(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// AWS's message followed by where and why, e.g.
    /// `Syntax errors in policy. (statement 1, Sid "X": unknown field "Actions")`.
    pub fn detailed(&self) -> String {
        let mut loc = Vec::new();
        if let Some(i) = self.statement {
            loc.push(format!("statement {i}"));
        }
        if let Some(s) = &self.sid {
            loc.push(format!("Sid \"{s}\""));
        }
        let mut out = self.message.clone();
        match (loc.is_empty(), &self.detail) {
            (true, None) => {}
            (true, Some(d)) => out.push_str(&format!(" ({d})")),
            (false, None) => out.push_str(&format!(" ({})", loc.join(", "))),
            (false, Some(d)) => out.push_str(&format!(" ({}: {d})", loc.join(", "))),
        }
        out
    }
}

/// AWS message texts.
pub mod messages {
    /// Invalid JSON, wrong types, unknown or conflicting elements.
    pub const SYNTAX: &str = "Syntax errors in policy.";
    /// Identity policy with `Principal`/`NotPrincipal`.
    pub const SHOULD_NOT_SPECIFY_PRINCIPAL: &str =
        "Policy document should not specify a principal.";
    /// Resource or trust policy statement without `Principal`/`NotPrincipal`.
    pub const MISSING_PRINCIPAL: &str = "Missing required field Principal";
    /// Trust policy statement with `Resource`/`NotResource`.
    pub const PROHIBITED_RESOURCE: &str = "Has prohibited field Resource";
    /// Trust policy statement with a non-STS action.
    pub const TRUST_ACTIONS: &str = "AssumeRole policy may only specify STS AssumeRole actions.";
    /// Statement without actions.
    pub const MUST_CONTAIN_ACTIONS: &str = "Policy statement must contain actions.";
    /// Statement without resources.
    pub const MUST_CONTAIN_RESOURCES: &str = "Policy statement must contain resources.";
    /// Duplicate Sid.
    pub const SID_UNIQUE: &str = "Statement IDs (SID) in a single policy must be unique.";
    /// Non-alphanumeric Sid in an IAM (identity or trust) policy.
    pub const SID_ALNUM: &str = "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*";
    /// Effect not exactly `Allow`/`Deny`, or an unparsable date condition value.
    pub const LEGACY: &str = "The policy failed legacy parsing";
    /// Action without a vendor prefix.
    pub const ACTION_VENDOR: &str =
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
    /// Action with more than one colon.
    pub const ACTION_ONE_COLON: &str = "Actions/Condition can contain only one colon.";
    /// From [`super::Policy::require_current_version`].
    pub const VERSION: &str = "Policy document must be version 2012-10-17 or greater.";
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StatementEffect {
    /// `"Effect": "Allow"`
    Allow,
    /// `"Effect": "Deny"`
    Deny,
}

/// A list of patterns, possibly negated (`NotAction`, `NotResource`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatternList {
    /// `true` for the `Not…` form.
    pub negated: bool,
    /// The patterns as written.
    pub patterns: Vec<String>,
}

/// One entry of a `Principal`/`NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`: everyone, including anonymous callers.
    Everyone,
    /// `{"AWS": ...}`: an account id (normalised to its root ARN) or an IAM/STS ARN or unique id.
    Aws(String),
    /// `{"Service": ...}`
    Service(String),
    /// `{"Federated": ...}`
    Federated(String),
    /// `{"CanonicalUser": ...}`
    CanonicalUser(String),
}

impl fmt::Display for PrincipalEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrincipalEntry::Everyone => write!(f, "*"),
            PrincipalEntry::Aws(a) => write!(f, "{a}"),
            PrincipalEntry::Service(s) => write!(f, "service {s}"),
            PrincipalEntry::Federated(s) => write!(f, "federated {s}"),
            PrincipalEntry::CanonicalUser(s) => write!(f, "canonical user {s}"),
        }
    }
}

/// `Principal` or `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrincipalList {
    /// `true` for `NotPrincipal`.
    pub negated: bool,
    /// The entries.
    pub entries: Vec<PrincipalEntry>,
}

/// Set qualifier of a condition operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SetQualifier {
    /// `ForAnyValue:`
    ForAnyValue,
    /// `ForAllValues:`
    ForAllValues,
}

/// Base condition operator (without qualifier / `IfExists`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub enum BaseOperator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

impl BaseOperator {
    fn from_name(s: &str) -> Option<Self> {
        use BaseOperator::*;
        Some(match s {
            "StringEquals" => StringEquals,
            "StringNotEquals" => StringNotEquals,
            "StringEqualsIgnoreCase" => StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => StringNotEqualsIgnoreCase,
            "StringLike" => StringLike,
            "StringNotLike" => StringNotLike,
            "NumericEquals" => NumericEquals,
            "NumericNotEquals" => NumericNotEquals,
            "NumericLessThan" => NumericLessThan,
            "NumericLessThanEquals" => NumericLessThanEquals,
            "NumericGreaterThan" => NumericGreaterThan,
            "NumericGreaterThanEquals" => NumericGreaterThanEquals,
            "DateEquals" => DateEquals,
            "DateNotEquals" => DateNotEquals,
            "DateLessThan" => DateLessThan,
            "DateLessThanEquals" => DateLessThanEquals,
            "DateGreaterThan" => DateGreaterThan,
            "DateGreaterThanEquals" => DateGreaterThanEquals,
            "Bool" => Bool,
            "BinaryEquals" => BinaryEquals,
            "IpAddress" => IpAddress,
            "NotIpAddress" => NotIpAddress,
            "ArnEquals" => ArnEquals,
            "ArnLike" => ArnLike,
            "ArnNotEquals" => ArnNotEquals,
            "ArnNotLike" => ArnNotLike,
            "Null" => Null,
            _ => return None,
        })
    }

    /// Negated operators (`…Not…`, `NotIpAddress`) are true when no value matches.
    pub fn is_negated(self) -> bool {
        use BaseOperator::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    /// Operators whose policy values may hold policy variables: the string,
    /// ARN and Bool operators
    /// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>).
    pub fn takes_variables(self) -> bool {
        use BaseOperator::*;
        matches!(
            self,
            StringEquals
                | StringNotEquals
                | StringEqualsIgnoreCase
                | StringNotEqualsIgnoreCase
                | StringLike
                | StringNotLike
                | ArnEquals
                | ArnLike
                | ArnNotEquals
                | ArnNotLike
                | Bool
        )
    }

    fn is_date(self) -> bool {
        use BaseOperator::*;
        matches!(
            self,
            DateEquals
                | DateNotEquals
                | DateLessThan
                | DateLessThanEquals
                | DateGreaterThan
                | DateGreaterThanEquals
        )
    }
}

/// A full condition operator such as `ForAllValues:StringLikeIfExists`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operator {
    /// The operator as written.
    pub name: String,
    /// `ForAnyValue:`/`ForAllValues:` qualifier.
    pub qualifier: Option<SetQualifier>,
    /// The base operator.
    pub base: BaseOperator,
    /// `…IfExists` suffix.
    pub if_exists: bool,
}

impl Operator {
    /// Parse an operator name; `None` if unknown.
    pub fn parse(name: &str) -> Option<Self> {
        let (qualifier, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (Some(SetQualifier::ForAllValues), r)
        } else {
            (None, name)
        };
        let (if_exists, rest) = match rest.strip_suffix("IfExists") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let base = BaseOperator::from_name(rest)?;
        // "You can add IfExists to the end of any condition operator name
        // except the Null condition."
        if if_exists && base == BaseOperator::Null {
            return None;
        }
        Some(Self {
            name: name.into(),
            qualifier,
            base,
            if_exists,
        })
    }
}

/// One `operator: {key: values}` test of a `Condition` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    /// The operator.
    pub operator: Operator,
    /// The condition key as written (matched case-insensitively).
    pub key: String,
    /// The policy's values (numbers and booleans in JSON become strings).
    pub values: Vec<String>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    /// Position in the policy (zero-based).
    pub index: usize,
    /// `Sid`, if any.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: StatementEffect,
    /// `Action` / `NotAction`.
    pub action: PatternList,
    /// `Resource` / `NotResource` (absent in trust policies).
    pub resource: Option<PatternList>,
    /// `Principal` / `NotPrincipal` (absent in identity policies).
    pub principal: Option<PrincipalList>,
    /// All condition tests (all must hold).
    pub conditions: Vec<Condition>,
}

/// A parsed and validated policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    version: Version,
    id: Option<String>,
    policy_type: PolicyType,
    statements: Vec<Statement>,
}

impl Policy {
    /// Parse and validate a policy document of kind `ty`.
    pub fn parse(json: &str, ty: PolicyType) -> Result<Policy, MalformedPolicy> {
        let value: Value = serde_json::from_str(json).map_err(|e| {
            MalformedPolicy::new(messages::SYNTAX).because(format!("invalid JSON: {e}"))
        })?;
        Self::from_value(&value, ty)
    }

    /// Parse and validate an already-decoded JSON document.
    pub fn from_value(value: &Value, ty: PolicyType) -> Result<Policy, MalformedPolicy> {
        let syntax = || MalformedPolicy::new(messages::SYNTAX);
        let obj = value
            .as_object()
            .ok_or_else(|| syntax().because("the document is not a JSON object"))?;
        for k in obj.keys() {
            if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
                return Err(syntax().because(format!("unknown top-level element \"{k}\"")));
            }
        }
        let version = match obj.get("Version") {
            None => Version::V2008_10_17,
            Some(Value::String(s)) if s == "2012-10-17" => Version::V2012_10_17,
            Some(Value::String(s)) if s == "2008-10-17" => Version::V2008_10_17,
            Some(v) => {
                return Err(syntax().because(format!(
                    "Version must be \"2012-10-17\" or \"2008-10-17\", not {v}"
                )))
            }
        };
        let id = match obj.get("Id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(syntax().because("Id must be a string")),
        };
        let raw: Vec<&Map<String, Value>> = match obj.get("Statement") {
            Some(Value::Object(m)) => vec![m],
            Some(Value::Array(a)) if !a.is_empty() => {
                let mut v = Vec::with_capacity(a.len());
                for (i, s) in a.iter().enumerate() {
                    match s.as_object() {
                        Some(m) => v.push(m),
                        None => {
                            let mut e = syntax().because("a statement must be a JSON object");
                            e.statement = Some(i);
                            return Err(e);
                        }
                    }
                }
                v
            }
            Some(Value::Array(_)) => return Err(syntax().because("Statement is empty")),
            Some(_) => return Err(syntax().because("Statement must be an object or a list")),
            None => return Err(syntax().because("missing Statement")),
        };

        // Phase 1: syntax of every statement.
        let mut statements = Vec::with_capacity(raw.len());
        for (i, m) in raw.iter().enumerate() {
            statements.push(parse_statement(i, m).map_err(|d| syntax().because(d).at(i, m))?);
        }
        // Phase 2: legacy parsing (exact Effect, date values).
        for (i, m) in raw.iter().enumerate() {
            if let Some(Value::String(e)) = m.get("Effect") {
                if e != "Allow" && e != "Deny" {
                    return Err(MalformedPolicy::new(messages::LEGACY)
                        .because(format!(
                            "Effect must be exactly \"Allow\" or \"Deny\", not \"{e}\""
                        ))
                        .at(i, m));
                }
            }
            for c in &statements[i].conditions {
                if c.operator.base.is_date() {
                    for v in &c.values {
                        if crate::condition::parse_date(v).is_none() {
                            return Err(MalformedPolicy::new(messages::LEGACY)
                                .because(format!(
                                    "\"{v}\" is not a date for {} on {}",
                                    c.operator.name, c.key
                                ))
                                .at(i, m));
                        }
                    }
                }
            }
        }
        // Phase 3: per-kind rules.
        for (i, (s, m)) in statements.iter().zip(raw.iter()).enumerate() {
            match ty {
                PolicyType::Identity => {
                    if s.principal.is_some() {
                        return Err(
                            MalformedPolicy::new(messages::SHOULD_NOT_SPECIFY_PRINCIPAL).at(i, m)
                        );
                    }
                }
                PolicyType::Resource | PolicyType::Trust => {
                    if s.principal.is_none() {
                        return Err(MalformedPolicy::new(messages::MISSING_PRINCIPAL).at(i, m));
                    }
                }
            }
            if ty == PolicyType::Trust && s.resource.is_some() {
                let field = if m.contains_key("NotResource") {
                    "NotResource"
                } else {
                    "Resource"
                };
                return Err(MalformedPolicy::new(format!("Has prohibited field {field}")).at(i, m));
            }
        }
        // Phase 4: Sids.
        let mut seen = std::collections::HashSet::new();
        for (s, m) in statements.iter().zip(raw.iter()) {
            if let Some(sid) = s.sid.as_deref().filter(|x| !x.is_empty()) {
                if ty != PolicyType::Resource && !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(MalformedPolicy::new(messages::SID_ALNUM).at(s.index, m));
                }
                if !seen.insert(sid.to_string()) {
                    return Err(MalformedPolicy::new(messages::SID_UNIQUE)
                        .because(format!("Sid \"{sid}\" is used twice"))
                        .at(s.index, m));
                }
            }
        }
        // Phase 5: actions and resources exist.
        for (s, m) in statements.iter().zip(raw.iter()) {
            if s.action.patterns.is_empty() {
                return Err(MalformedPolicy::new(messages::MUST_CONTAIN_ACTIONS).at(s.index, m));
            }
        }
        if ty != PolicyType::Trust {
            for (s, m) in statements.iter().zip(raw.iter()) {
                if s.resource.as_ref().is_none_or(|r| r.patterns.is_empty()) {
                    return Err(
                        MalformedPolicy::new(messages::MUST_CONTAIN_RESOURCES).at(s.index, m)
                    );
                }
            }
        }
        // Phase 6: resource formats, action formats, principals, trust actions.
        for (s, m) in statements.iter().zip(raw.iter()) {
            for r in s.resource.iter().flat_map(|r| r.patterns.iter()) {
                if r != "*" && !r.contains(':') {
                    return Err(MalformedPolicy::new(format!(
                        "Resource {r} must be in ARN format or \"*\"."
                    ))
                    .at(s.index, m));
                }
            }
            for a in &s.action.patterns {
                check_action(a).map_err(|e| e.at(s.index, m))?;
            }
            if let Some(p) = &s.principal {
                check_principals(p).map_err(|e| e.at(s.index, m))?;
            }
            if ty == PolicyType::Trust && !s.action.negated {
                for a in &s.action.patterns {
                    let l = a.to_ascii_lowercase();
                    if !(l.starts_with("sts:") || l == "*") {
                        return Err(MalformedPolicy::new(messages::TRUST_ACTIONS)
                            .because(format!("action \"{a}\" is not an sts: action"))
                            .at(s.index, m));
                    }
                }
            }
        }
        Ok(Policy {
            version,
            id,
            policy_type: ty,
            statements,
        })
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// The policy language version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// `Id`, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The kind this policy was validated as.
    pub fn policy_type(&self) -> PolicyType {
        self.policy_type
    }

    /// AWS requires `2012-10-17` for managed policies (CreatePolicy,
    /// CreatePolicyVersion): call this there.
    pub fn require_current_version(&self) -> Result<(), MalformedPolicy> {
        if self.version == Version::V2012_10_17 {
            Ok(())
        } else {
            Err(MalformedPolicy::new(messages::VERSION))
        }
    }

    /// The document in AWS's grammar (`Version`, `Id`, `Statement` as a list;
    /// lists for every element; account ids as root ARNs; condition values as
    /// strings). Parsing it again gives an equal `Policy`.
    pub fn to_document(&self) -> Value {
        let mut doc = Map::new();
        doc.insert(
            "Version".into(),
            Value::String(
                match self.version {
                    Version::V2012_10_17 => "2012-10-17",
                    Version::V2008_10_17 => "2008-10-17",
                }
                .into(),
            ),
        );
        if let Some(id) = &self.id {
            doc.insert("Id".into(), Value::String(id.clone()));
        }
        let strings = |v: &[String]| Value::Array(v.iter().cloned().map(Value::String).collect());
        let statements = self
            .statements
            .iter()
            .map(|s| {
                let mut m = Map::new();
                if let Some(sid) = &s.sid {
                    m.insert("Sid".into(), Value::String(sid.clone()));
                }
                m.insert(
                    "Effect".into(),
                    Value::String(
                        match s.effect {
                            StatementEffect::Allow => "Allow",
                            StatementEffect::Deny => "Deny",
                        }
                        .into(),
                    ),
                );
                let action = if s.action.negated {
                    "NotAction"
                } else {
                    "Action"
                };
                m.insert(action.into(), strings(&s.action.patterns));
                if let Some(r) = &s.resource {
                    let key = if r.negated { "NotResource" } else { "Resource" };
                    m.insert(key.into(), strings(&r.patterns));
                }
                if let Some(pl) = &s.principal {
                    let key = if pl.negated {
                        "NotPrincipal"
                    } else {
                        "Principal"
                    };
                    m.insert(key.into(), principal_document(&pl.entries));
                }
                if !s.conditions.is_empty() {
                    let mut block = Map::new();
                    for c in &s.conditions {
                        let ops = block
                            .entry(c.operator.name.clone())
                            .or_insert_with(|| Value::Object(Map::new()));
                        if let Value::Object(keys) = ops {
                            keys.insert(c.key.clone(), strings(&c.values));
                        }
                    }
                    m.insert("Condition".into(), Value::Object(block));
                }
                Value::Object(m)
            })
            .collect();
        doc.insert("Statement".into(), Value::Array(statements));
        Value::Object(doc)
    }

    /// Every action pattern the policy names (`Action` elements only), for
    /// warnings about unknown actions.
    pub fn action_patterns(&self) -> impl Iterator<Item = &str> {
        self.statements
            .iter()
            .filter(|s| !s.action.negated)
            .flat_map(|s| s.action.patterns.iter().map(String::as_str))
    }
}

fn principal_document(entries: &[PrincipalEntry]) -> Value {
    if let [PrincipalEntry::Everyone] = entries {
        return Value::String("*".into());
    }
    let mut m = Map::new();
    for e in entries {
        let (ty, v) = match e {
            PrincipalEntry::Everyone => ("AWS", "*"),
            PrincipalEntry::Aws(a) => ("AWS", a.as_str()),
            PrincipalEntry::Service(s) => ("Service", s.as_str()),
            PrincipalEntry::Federated(s) => ("Federated", s.as_str()),
            PrincipalEntry::CanonicalUser(s) => ("CanonicalUser", s.as_str()),
        };
        if let Value::Array(a) = m
            .entry(ty.to_string())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            a.push(Value::String(v.to_string()));
        }
    }
    Value::Object(m)
}

fn string_or_list(v: &Value, field: &str) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{field} must contain only strings"))
            })
            .collect(),
        _ => Err(format!("{field} must be a string or a list of strings")),
    }
}

fn parse_statement(index: usize, m: &Map<String, Value>) -> Result<Statement, String> {
    for k in m.keys() {
        if !matches!(
            k.as_str(),
            "Sid"
                | "Effect"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Principal"
                | "NotPrincipal"
                | "Condition"
        ) {
            return Err(format!("unknown field \"{k}\""));
        }
    }
    for (a, b) in [
        ("Action", "NotAction"),
        ("Resource", "NotResource"),
        ("Principal", "NotPrincipal"),
    ] {
        if m.contains_key(a) && m.contains_key(b) {
            return Err(format!("a statement cannot have both {a} and {b}"));
        }
    }
    let sid = match m.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("Sid must be a string".into()),
    };
    let effect = match m.get("Effect") {
        Some(Value::String(s)) if s.eq_ignore_ascii_case("allow") => StatementEffect::Allow,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("deny") => StatementEffect::Deny,
        Some(v) => return Err(format!("Effect must be \"Allow\" or \"Deny\", not {v}")),
        None => return Err("missing Effect".into()),
    };
    let action = match (m.get("Action"), m.get("NotAction")) {
        (Some(v), _) => PatternList {
            negated: false,
            patterns: string_or_list(v, "Action")?,
        },
        (None, Some(v)) => PatternList {
            negated: true,
            patterns: string_or_list(v, "NotAction")?,
        },
        (None, None) => PatternList {
            negated: false,
            patterns: Vec::new(),
        },
    };
    let resource = match (m.get("Resource"), m.get("NotResource")) {
        (Some(v), _) => Some(PatternList {
            negated: false,
            patterns: string_or_list(v, "Resource")?,
        }),
        (None, Some(v)) => Some(PatternList {
            negated: true,
            patterns: string_or_list(v, "NotResource")?,
        }),
        (None, None) => None,
    };
    let principal = match (m.get("Principal"), m.get("NotPrincipal")) {
        (Some(v), _) => Some(PrincipalList {
            negated: false,
            entries: parse_principal(v)?,
        }),
        (None, Some(v)) => Some(PrincipalList {
            negated: true,
            entries: parse_principal(v)?,
        }),
        (None, None) => None,
    };
    let conditions = match m.get("Condition") {
        None => Vec::new(),
        Some(v) => parse_conditions(v)?,
    };
    Ok(Statement {
        index,
        sid,
        effect,
        action,
        resource,
        principal,
        conditions,
    })
}

fn parse_principal(v: &Value) -> Result<Vec<PrincipalEntry>, String> {
    match v {
        Value::String(s) if s == "*" => Ok(vec![PrincipalEntry::Everyone]),
        Value::String(s) => Err(format!(
            "Principal must be \"*\" or an object such as {{\"AWS\": ...}}, not \"{s}\""
        )),
        Value::Object(m) if !m.is_empty() => {
            let mut out = Vec::new();
            for (k, v) in m {
                let values = string_or_list(v, &format!("Principal {k}"))?;
                if values.is_empty() {
                    return Err(format!("Principal {k} is empty"));
                }
                for val in values {
                    out.push(match k.as_str() {
                        "AWS" if val == "*" => PrincipalEntry::Everyone,
                        "AWS" if val.len() == 12 && val.bytes().all(|b| b.is_ascii_digit()) => {
                            PrincipalEntry::Aws(format!("arn:aws:iam::{val}:root"))
                        }
                        "AWS" => PrincipalEntry::Aws(val),
                        "Service" => PrincipalEntry::Service(val),
                        "Federated" => PrincipalEntry::Federated(val),
                        "CanonicalUser" => PrincipalEntry::CanonicalUser(val),
                        other => return Err(format!("unknown principal type \"{other}\"")),
                    });
                }
            }
            Ok(out)
        }
        _ => Err("Principal must be \"*\" or a non-empty object".into()),
    }
}

fn parse_conditions(v: &Value) -> Result<Vec<Condition>, String> {
    let m = v.as_object().ok_or("Condition must be an object")?;
    let mut out = Vec::new();
    for (op_name, body) in m {
        let body = body
            .as_object()
            .ok_or_else(|| format!("Condition operator {op_name} must map to an object"))?;
        let Some(operator) = Operator::parse(op_name) else {
            if body.is_empty() {
                continue;
            }
            return Err(format!("unknown condition operator \"{op_name}\""));
        };
        for (key, vals) in body {
            let values = match vals {
                Value::Array(a) => a.iter().map(scalar).collect::<Result<Vec<_>, _>>()?,
                other => vec![scalar(other)?],
            };
            if operator.base == BaseOperator::Null {
                for v in &values {
                    if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") {
                        return Err(format!("Null on {key} takes true or false, not \"{v}\""));
                    }
                }
            }
            out.push(Condition {
                operator: operator.clone(),
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}

fn scalar(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(format!(
            "condition value {v} must be a string, number or boolean"
        )),
    }
}

fn check_action(a: &str) -> Result<(), MalformedPolicy> {
    if a == "*" {
        return Ok(());
    }
    let parts: Vec<&str> = a.split(':').collect();
    match parts.as_slice() {
        [_] => {
            Err(MalformedPolicy::new(messages::ACTION_VENDOR).because(format!("action \"{a}\"")))
        }
        [vendor, _] => {
            if *vendor != "*"
                && !vendor
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                Err(MalformedPolicy::new(format!(
                    "Vendor {vendor} is not valid"
                )))
            } else {
                Ok(())
            }
        }
        _ => {
            Err(MalformedPolicy::new(messages::ACTION_ONE_COLON).because(format!("action \"{a}\"")))
        }
    }
}

/// Accepts `arn:aws:iam::ACCOUNT:(root|user/…|role/…)`, `arn:aws:sts::ACCOUNT:(assumed-role/…|federated-user/…)`
/// and unique ids (`AIDA…`, `AROA…`), as AWS does for `{"AWS": …}`.
fn valid_aws_principal(s: &str) -> bool {
    if s.len() >= 16
        && s.starts_with('A')
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return true;
    }
    // "You cannot use a wildcard to match part of a principal name or ARN."
    if s.contains(['*', '?']) {
        return false;
    }
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts.as_slice() else {
        return false;
    };
    if *arn != "arn" || !partition.starts_with("aws") || !region.is_empty() {
        return false;
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    match *service {
        "iam" => {
            *resource == "root"
                || ["user/", "role/"]
                    .iter()
                    .any(|p| resource.starts_with(p) && resource.len() > p.len())
        }
        "sts" => ["assumed-role/", "federated-user/"]
            .iter()
            .any(|p| resource.starts_with(p) && resource.len() > p.len()),
        _ => false,
    }
}

fn check_principals(p: &PrincipalList) -> Result<(), MalformedPolicy> {
    for e in &p.entries {
        let bad = match e {
            PrincipalEntry::Everyone => None,
            PrincipalEntry::Aws(a) => (!valid_aws_principal(a)).then(|| format!("\"AWS\":\"{a}\"")),
            PrincipalEntry::Service(s) => s.is_empty().then(|| "\"Service\":\"\"".to_string()),
            PrincipalEntry::Federated(s) => s.is_empty().then(|| "\"Federated\":\"\"".to_string()),
            PrincipalEntry::CanonicalUser(s) => {
                s.is_empty().then(|| "\"CanonicalUser\":\"\"".to_string())
            }
        };
        if let Some(b) = bad {
            return Err(MalformedPolicy::new(format!(
                "Invalid principal in policy: {b}"
            )));
        }
    }
    Ok(())
}
