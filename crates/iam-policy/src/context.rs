//! The request side: who is calling ([`Principal`]) and the condition keys
//! ([`Context`]).

use serde::Serialize;
use std::collections::BTreeMap;

/// Condition keys of a request: case-insensitive names, each with one or more
/// string values (typed interpretation is up to the condition operator).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Context {
    /// lower-case name → (name as first given, values)
    entries: BTreeMap<String, (String, Vec<String>)>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder: set `key` to the single value `value`.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.set(key, vec![value.into()]);
        self
    }

    /// Builder: set a multi-valued key (e.g. `aws:TagKeys`).
    #[must_use]
    pub fn with_values<I, S>(mut self, key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.set(key, values.into_iter().map(Into::into).collect());
        self
    }

    /// Set (replace) a key.
    pub fn set(&mut self, key: &str, values: Vec<String>) {
        self.entries
            .insert(key.to_ascii_lowercase(), (key.to_string(), values));
    }

    /// Remove a key.
    pub fn remove(&mut self, key: &str) {
        self.entries.remove(&key.to_ascii_lowercase());
    }

    /// Values of a key (case-insensitive name); `None` when absent.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.entries
            .get(&key.to_ascii_lowercase())
            .map(|(_, v)| v.as_slice())
    }

    /// All keys with their values, names as given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries
            .values()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}

/// What kind of identity a [`Principal`] is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum PrincipalKind {
    /// The account's root user (`arn:aws:iam::ACCOUNT:root`).
    Root,
    /// An IAM user.
    User,
    /// An IAM role itself (rarely a caller; sessions are [`PrincipalKind::AssumedRole`]).
    Role,
    /// A role session; `role_arn` is the role's ARN (`arn:aws:iam::ACCOUNT:role/PATH/NAME`).
    AssumedRole {
        /// ARN of the role the session belongs to.
        role_arn: String,
    },
    /// A federated user session (`arn:aws:sts::ACCOUNT:federated-user/NAME`).
    FederatedUser,
    /// An AWS service principal; the service name (`cloudtrail.amazonaws.com`) is the ARN.
    Service,
    /// An unauthenticated caller.
    Anonymous,
}

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// The principal's ARN (service name for services, `*` for anonymous).
    pub arn: String,
    /// The principal's account (empty for services and anonymous callers).
    pub account_id: String,
    /// What kind of identity this is.
    pub kind: PrincipalKind,
    /// `aws:userid` (unique id; account id for root; `ROLEID:session` for sessions).
    pub user_id: String,
    /// `aws:username` (IAM users only).
    pub username: Option<String>,
    /// Principal tags (`aws:PrincipalTag/KEY`).
    pub tags: Vec<(String, String)>,
}

impl Principal {
    /// The root user of `account_id`.
    pub fn root(account_id: &str) -> Self {
        Self {
            arn: format!("arn:aws:iam::{account_id}:root"),
            account_id: account_id.into(),
            kind: PrincipalKind::Root,
            user_id: account_id.into(),
            username: None,
            tags: Vec::new(),
        }
    }

    /// An IAM user (`path` like `/` or `/dev/`).
    pub fn user(account_id: &str, path: &str, name: &str, user_id: &str) -> Self {
        let path = normalize_path(path);
        Self {
            arn: format!("arn:aws:iam::{account_id}:user{path}{name}"),
            account_id: account_id.into(),
            kind: PrincipalKind::User,
            user_id: user_id.into(),
            username: Some(name.into()),
            tags: Vec::new(),
        }
    }

    /// A session of role `role_name` (with `role_path`) named `session`.
    pub fn assumed_role(
        account_id: &str,
        role_path: &str,
        role_name: &str,
        role_id: &str,
        session: &str,
    ) -> Self {
        let path = normalize_path(role_path);
        Self {
            arn: format!("arn:aws:sts::{account_id}:assumed-role/{role_name}/{session}"),
            account_id: account_id.into(),
            kind: PrincipalKind::AssumedRole {
                role_arn: format!("arn:aws:iam::{account_id}:role{path}{role_name}"),
            },
            user_id: format!("{role_id}:{session}"),
            username: None,
            tags: Vec::new(),
        }
    }

    /// An AWS service principal such as `cloudtrail.amazonaws.com`.
    pub fn service(name: &str) -> Self {
        Self {
            arn: name.into(),
            account_id: String::new(),
            kind: PrincipalKind::Service,
            user_id: name.into(),
            username: None,
            tags: Vec::new(),
        }
    }

    /// An anonymous caller.
    pub fn anonymous() -> Self {
        Self {
            arn: "*".into(),
            account_id: String::new(),
            kind: PrincipalKind::Anonymous,
            user_id: "anonymous".into(),
            username: None,
            tags: Vec::new(),
        }
    }

    /// Builder: add a principal tag.
    #[must_use]
    pub fn with_tag(mut self, key: &str, value: &str) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Best-effort principal from an ARN (role paths of sessions are unknown and
    /// taken as `/`; unique ids default to the ARN). Accepts `*`/`anonymous`
    /// and service names (`x.amazonaws.com`). `None` if unrecognised.
    pub fn from_arn(arn: &str) -> Option<Self> {
        if arn == "*" || arn == "anonymous" {
            return Some(Self::anonymous());
        }
        if !arn.starts_with("arn:") {
            return arn.contains('.').then(|| Self::service(arn));
        }
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_, _, service, _, account, resource] = parts.as_slice() else {
            return None;
        };
        if account.is_empty() {
            return None;
        }
        let (ty, rest) = resource.split_once('/').unwrap_or((resource, ""));
        let mut p = match (*service, ty) {
            ("iam", "root") => Self::root(account),
            ("iam", "user") => {
                let name = rest.rsplit('/').next().unwrap_or(rest);
                let path = &rest[..rest.len() - name.len()];
                Self::user(account, &format!("/{path}"), name, arn)
            }
            ("iam", "role") => Self {
                arn: arn.into(),
                account_id: (*account).into(),
                kind: PrincipalKind::Role,
                user_id: arn.into(),
                username: None,
                tags: Vec::new(),
            },
            ("sts", "assumed-role") => {
                let (role, session) = rest.split_once('/')?;
                Self::assumed_role(account, "/", role, arn, session)
            }
            ("sts", "federated-user") => Self {
                arn: arn.into(),
                account_id: (*account).into(),
                kind: PrincipalKind::FederatedUser,
                user_id: format!("{account}:{rest}"),
                username: None,
                tags: Vec::new(),
            },
            _ => return None,
        };
        if p.user_id.is_empty() {
            p.user_id = arn.into();
        }
        Some(p)
    }

    /// `aws:PrincipalType` value.
    pub fn principal_type(&self) -> &'static str {
        match self.kind {
            PrincipalKind::Root => "Account",
            PrincipalKind::User => "User",
            PrincipalKind::Role | PrincipalKind::AssumedRole { .. } => "AssumedRole",
            PrincipalKind::FederatedUser => "FederatedUser",
            PrincipalKind::Service => "Service",
            PrincipalKind::Anonymous => "Anonymous",
        }
    }

    /// The root ARN of this principal's account, if it has one.
    pub fn account_root_arn(&self) -> Option<String> {
        (!self.account_id.is_empty()).then(|| format!("arn:aws:iam::{}:root", self.account_id))
    }

    /// The role ARN behind a role session, or the role itself.
    pub fn role_arn(&self) -> Option<&str> {
        match &self.kind {
            PrincipalKind::AssumedRole { role_arn } => Some(role_arn),
            PrincipalKind::Role => Some(&self.arn),
            _ => None,
        }
    }
}

fn normalize_path(path: &str) -> String {
    let mut p = String::from("/");
    let trimmed = path.trim_matches('/');
    if !trimmed.is_empty() {
        p.push_str(trimmed);
        p.push('/');
    }
    p
}

/// The request context the engine evaluates conditions against: the caller's
/// context plus the keys the engine derives from the principal and resource
/// (these override caller-supplied values of the same names).
pub(crate) fn effective_context(
    principal: &Principal,
    resource_account: &str,
    base: &Context,
) -> Context {
    let mut ctx = base.clone();
    // Remove any caller-supplied principal tags: only the principal's own count.
    let tag_keys: Vec<String> = ctx
        .iter()
        .filter(|(k, _)| k.to_ascii_lowercase().starts_with("aws:principaltag/"))
        .map(|(k, _)| k.to_string())
        .collect();
    for k in tag_keys {
        ctx.remove(&k);
    }
    if principal.kind != PrincipalKind::Anonymous {
        ctx.set("aws:PrincipalArn", vec![principal_arn_key(principal)]);
        if !principal.account_id.is_empty() {
            ctx.set("aws:PrincipalAccount", vec![principal.account_id.clone()]);
        }
        ctx.set("aws:PrincipalType", vec![principal.principal_type().into()]);
        ctx.set("aws:userid", vec![principal.user_id.clone()]);
    }
    match &principal.username {
        Some(u) => ctx.set("aws:username", vec![u.clone()]),
        None => ctx.remove("aws:username"),
    }
    if principal.kind == PrincipalKind::Service {
        ctx.set("aws:PrincipalServiceName", vec![principal.arn.clone()]);
    }
    if !principal.tags.is_empty() {
        ctx.set(
            "aws:PrincipalTagKeys",
            principal.tags.iter().map(|(k, _)| k.clone()).collect(),
        );
    }
    for (k, v) in &principal.tags {
        ctx.set(&format!("aws:PrincipalTag/{k}"), vec![v.clone()]);
    }
    if !resource_account.is_empty() {
        ctx.set("aws:ResourceAccount", vec![resource_account.into()]);
    }
    ctx
}

/// `aws:PrincipalArn`: for role sessions AWS uses the role ARN.
fn principal_arn_key(p: &Principal) -> String {
    match &p.kind {
        PrincipalKind::AssumedRole { role_arn } => role_arn.clone(),
        _ => p.arn.clone(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn keys_case_insensitive() {
        let c = Context::new().with("cloudtrail:ExternalId", "x");
        assert_eq!(c.get("CLOUDTRAIL:externalid"), Some(&["x".to_string()][..]));
        assert_eq!(c.get("cloudtrail:other"), None);
    }

    #[test]
    fn from_arn() {
        let p = Principal::from_arn("arn:aws:iam::111122223333:user/dev/alice").unwrap();
        assert_eq!(p.kind, PrincipalKind::User);
        assert_eq!(p.username.as_deref(), Some("alice"));
        assert_eq!(p.arn, "arn:aws:iam::111122223333:user/dev/alice");
        let p = Principal::from_arn("arn:aws:sts::111122223333:assumed-role/R/s1").unwrap();
        assert_eq!(p.role_arn(), Some("arn:aws:iam::111122223333:role/R"));
        assert_eq!(p.arn, "arn:aws:sts::111122223333:assumed-role/R/s1");
        let p = Principal::from_arn("arn:aws:iam::111122223333:root").unwrap();
        assert_eq!(p.kind, PrincipalKind::Root);
        assert_eq!(
            Principal::from_arn("cloudtrail.amazonaws.com")
                .unwrap()
                .kind,
            PrincipalKind::Service
        );
        assert!(Principal::from_arn("arn:aws").is_none());
    }

    #[test]
    fn effective_keys() {
        let p = Principal::user("111122223333", "/", "alice", "AIDAX").with_tag("team", "sec");
        let c = effective_context(
            &p,
            "444455556666",
            &Context::new().with("aws:PrincipalTag/team", "forged"),
        );
        assert_eq!(c.get("aws:username").unwrap(), ["alice"]);
        assert_eq!(c.get("aws:principaltag/TEAM").unwrap(), ["sec"]);
        assert_eq!(c.get("aws:ResourceAccount").unwrap(), ["444455556666"]);
        assert_eq!(c.get("aws:PrincipalType").unwrap(), ["User"]);
    }
}
