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

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Builder: add every key of `other` (replacing keys of the same name).
    #[must_use]
    pub fn merged(mut self, other: &Context) -> Self {
        for (k, v) in other.iter() {
            self.set(k, v.to_vec());
        }
        self
    }

    /// The global condition keys that describe `principal`, as AWS puts them
    /// in the request context
    /// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html>,
    /// principal table of
    /// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html>):
    ///
    /// | key | value |
    /// |---|---|
    /// | `aws:PrincipalArn` | the caller's ARN; for a role session the role's ARN |
    /// | `aws:PrincipalAccount` | the caller's account (absent for services, anonymous) |
    /// | `aws:PrincipalType` | `Account`, `User`, `AssumedRole`, `FederatedUser`, `Anonymous` (`Service` for services) |
    /// | `aws:userid` | account id (root), unique id (user), `ROLEID:session`, `account:name` (federated), `anonymous` |
    /// | `aws:username` | IAM users only |
    /// | `aws:PrincipalTag/KEY` | each principal (or session) tag |
    /// | `aws:PrincipalIsAWSService` | `true` for service principals, else `false` |
    /// | `aws:PrincipalServiceName` | service principals only |
    ///
    /// [`crate::evaluate`] adds these itself (overriding caller-supplied
    /// values); this is for callers that want to show or log them.
    pub fn for_principal(principal: &Principal) -> Context {
        effective_context(principal, "", &Context::new())
    }

    /// Builder: `aws:CurrentTime` (ISO 8601, `2024-01-15T12:00:00Z`) and
    /// `aws:EpochTime` (seconds) for the moment `epoch_seconds`.
    #[must_use]
    pub fn with_current_time(self, epoch_seconds: i64) -> Self {
        self.with(keys::CURRENT_TIME, format_iso8601(epoch_seconds))
            .with(keys::EPOCH_TIME, epoch_seconds.to_string())
    }

    /// Builder: `aws:SourceIp` (an IPv4 or IPv6 address).
    #[must_use]
    pub fn with_source_ip(self, ip: &str) -> Self {
        self.with(keys::SOURCE_IP, ip)
    }

    /// Builder: `aws:SecureTransport` (`true` when the request came over TLS).
    #[must_use]
    pub fn with_secure_transport(self, tls: bool) -> Self {
        self.with(keys::SECURE_TRANSPORT, tls.to_string())
    }

    /// Builder: `aws:RequestedRegion`.
    #[must_use]
    pub fn with_requested_region(self, region: &str) -> Self {
        self.with(keys::REQUESTED_REGION, region)
    }

    /// Builder: `aws:MultiFactorAuthPresent` (and `aws:MultiFactorAuthAge`
    /// when known). AWS leaves the keys out for long-term access keys; pass
    /// them only for temporary credentials (`false` without MFA).
    #[must_use]
    pub fn with_mfa(self, present: bool, age_seconds: Option<u64>) -> Self {
        let c = self.with(keys::MFA_PRESENT, present.to_string());
        match age_seconds {
            Some(a) => c.with(keys::MFA_AGE, a.to_string()),
            None => c,
        }
    }

    /// Builder: `aws:TokenIssueTime` (temporary credentials only).
    #[must_use]
    pub fn with_token_issue_time(self, epoch_seconds: i64) -> Self {
        self.with(keys::TOKEN_ISSUE_TIME, format_iso8601(epoch_seconds))
    }

    /// Builder: `aws:ResourceTag/KEY` for each tag of the resource.
    #[must_use]
    pub fn with_resource_tags<'t, I>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = (&'t str, &'t str)>,
    {
        for (k, v) in tags {
            self.set(&format!("aws:ResourceTag/{k}"), vec![v.to_string()]);
        }
        self
    }

    /// Builder: `aws:RequestTag/KEY` for each tag in the request and
    /// `aws:TagKeys` (multivalued) with their keys.
    #[must_use]
    pub fn with_request_tags<'t, I>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = (&'t str, &'t str)>,
    {
        let mut tag_keys = Vec::new();
        for (k, v) in tags {
            self.set(&format!("aws:RequestTag/{k}"), vec![v.to_string()]);
            tag_keys.push(k.to_string());
        }
        self.set(keys::TAG_KEYS, tag_keys);
        self
    }

    /// Builder: `cloudtrail:ExternalId` (PutAuditEvents `externalId`).
    #[must_use]
    pub fn with_cloudtrail_external_id(self, external_id: &str) -> Self {
        self.with(keys::CLOUDTRAIL_EXTERNAL_ID, external_id)
    }

    /// Builder: `sts:ExternalId` (AssumeRole `ExternalId`).
    #[must_use]
    pub fn with_sts_external_id(self, external_id: &str) -> Self {
        self.with(keys::STS_EXTERNAL_ID, external_id)
    }
}

/// Names of the condition keys Cairn's requests use (matched
/// case-insensitively; these are AWS's spellings).
pub mod keys {
    /// `aws:CurrentTime`: ISO 8601 time of the request.
    pub const CURRENT_TIME: &str = "aws:CurrentTime";
    /// `aws:EpochTime`: seconds since 1970 of the request.
    pub const EPOCH_TIME: &str = "aws:EpochTime";
    /// `aws:SourceIp`: the caller's IP address.
    pub const SOURCE_IP: &str = "aws:SourceIp";
    /// `aws:SecureTransport`: `true` over TLS.
    pub const SECURE_TRANSPORT: &str = "aws:SecureTransport";
    /// `aws:RequestedRegion`: the region the request is for.
    pub const REQUESTED_REGION: &str = "aws:RequestedRegion";
    /// `aws:MultiFactorAuthPresent`.
    pub const MFA_PRESENT: &str = "aws:MultiFactorAuthPresent";
    /// `aws:MultiFactorAuthAge`.
    pub const MFA_AGE: &str = "aws:MultiFactorAuthAge";
    /// `aws:TokenIssueTime`.
    pub const TOKEN_ISSUE_TIME: &str = "aws:TokenIssueTime";
    /// `aws:PrincipalArn`.
    pub const PRINCIPAL_ARN: &str = "aws:PrincipalArn";
    /// `aws:PrincipalAccount`.
    pub const PRINCIPAL_ACCOUNT: &str = "aws:PrincipalAccount";
    /// `aws:PrincipalType`.
    pub const PRINCIPAL_TYPE: &str = "aws:PrincipalType";
    /// `aws:PrincipalIsAWSService`.
    pub const PRINCIPAL_IS_AWS_SERVICE: &str = "aws:PrincipalIsAWSService";
    /// `aws:PrincipalServiceName`.
    pub const PRINCIPAL_SERVICE_NAME: &str = "aws:PrincipalServiceName";
    /// `aws:userid`.
    pub const USERID: &str = "aws:userid";
    /// `aws:username`.
    pub const USERNAME: &str = "aws:username";
    /// `aws:ResourceAccount`.
    pub const RESOURCE_ACCOUNT: &str = "aws:ResourceAccount";
    /// `aws:TagKeys` (multivalued).
    pub const TAG_KEYS: &str = "aws:TagKeys";
    /// `cloudtrail:ExternalId` (channel resource policies).
    pub const CLOUDTRAIL_EXTERNAL_ID: &str = "cloudtrail:ExternalId";
    /// `sts:ExternalId` (role trust policies).
    pub const STS_EXTERNAL_ID: &str = "sts:ExternalId";
}

/// `2024-01-15T12:00:00Z` for a time in seconds since 1970.
pub fn format_iso8601(epoch_seconds: i64) -> String {
    let days = epoch_seconds.div_euclid(86_400);
    let secs = epoch_seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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

    /// A federated user session (GetFederationToken) named `name`.
    pub fn federated_user(account_id: &str, name: &str) -> Self {
        Self {
            arn: format!("arn:aws:sts::{account_id}:federated-user/{name}"),
            account_id: account_id.into(),
            kind: PrincipalKind::FederatedUser,
            user_id: format!("{account_id}:{name}"),
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
/// (these override caller-supplied values of the same names, and principal
/// keys that do not apply to the caller are removed).
pub(crate) fn effective_context(
    principal: &Principal,
    resource_account: &str,
    base: &Context,
) -> Context {
    let mut ctx = base.clone();
    // Remove any caller-supplied principal keys: only the principal's own count.
    let derived: Vec<String> = ctx
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .filter(|k| {
            k.starts_with("aws:principaltag/")
                || [
                    keys::PRINCIPAL_ARN,
                    keys::PRINCIPAL_ACCOUNT,
                    keys::PRINCIPAL_TYPE,
                    keys::PRINCIPAL_IS_AWS_SERVICE,
                    keys::PRINCIPAL_SERVICE_NAME,
                    keys::USERID,
                    keys::USERNAME,
                ]
                .iter()
                .any(|d| d.eq_ignore_ascii_case(k))
        })
        .collect();
    for k in derived {
        ctx.remove(&k);
    }
    if principal.kind == PrincipalKind::Anonymous {
        // "Anonymous caller: aws:userid anonymous, aws:PrincipalType Anonymous".
        ctx.set(keys::PRINCIPAL_TYPE, vec!["Anonymous".into()]);
        ctx.set(keys::USERID, vec!["anonymous".into()]);
    } else {
        ctx.set(keys::PRINCIPAL_ARN, vec![principal_arn_key(principal)]);
        if !principal.account_id.is_empty() {
            ctx.set(keys::PRINCIPAL_ACCOUNT, vec![principal.account_id.clone()]);
        }
        ctx.set(
            keys::PRINCIPAL_TYPE,
            vec![principal.principal_type().into()],
        );
        ctx.set(keys::USERID, vec![principal.user_id.clone()]);
    }
    ctx.set(
        keys::PRINCIPAL_IS_AWS_SERVICE,
        vec![(principal.kind == PrincipalKind::Service).to_string()],
    );
    if let Some(u) = &principal.username {
        ctx.set(keys::USERNAME, vec![u.clone()]);
    }
    if principal.kind == PrincipalKind::Service {
        ctx.set(keys::PRINCIPAL_SERVICE_NAME, vec![principal.arn.clone()]);
    }
    for (k, v) in &principal.tags {
        ctx.set(&format!("aws:PrincipalTag/{k}"), vec![v.clone()]);
    }
    if !resource_account.is_empty() {
        ctx.set(keys::RESOURCE_ACCOUNT, vec![resource_account.into()]);
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
        assert_eq!(c.get("aws:PrincipalIsAWSService").unwrap(), ["false"]);
        // Caller-supplied principal keys never survive.
        let c = effective_context(
            &Principal::anonymous(),
            "",
            &Context::new()
                .with("aws:PrincipalArn", "arn:aws:iam::111122223333:user/x")
                .with("aws:username", "x"),
        );
        assert_eq!(c.get("aws:PrincipalArn"), None);
        assert_eq!(c.get("aws:username"), None);
        assert_eq!(c.get("aws:userid").unwrap(), ["anonymous"]);
        assert_eq!(c.get("aws:PrincipalType").unwrap(), ["Anonymous"]);
        let c = Context::for_principal(&Principal::service("cloudtrail.amazonaws.com"));
        assert_eq!(c.get("aws:PrincipalIsAWSService").unwrap(), ["true"]);
        assert_eq!(
            c.get("aws:PrincipalServiceName").unwrap(),
            ["cloudtrail.amazonaws.com"]
        );
        let s = Principal::assumed_role("111122223333", "/ops/", "R", "AROAR", "s1")
            .with_tag("team", "sec");
        let c = Context::for_principal(&s);
        assert_eq!(
            c.get("aws:PrincipalArn").unwrap(),
            ["arn:aws:iam::111122223333:role/ops/R"]
        );
        assert_eq!(c.get("aws:userid").unwrap(), ["AROAR:s1"]);
        assert_eq!(c.get("aws:PrincipalType").unwrap(), ["AssumedRole"]);
        assert_eq!(c.get("aws:username"), None);
        let f = Context::for_principal(&Principal::federated_user("111122223333", "bob"));
        assert_eq!(f.get("aws:userid").unwrap(), ["111122223333:bob"]);
        assert_eq!(f.get("aws:PrincipalType").unwrap(), ["FederatedUser"]);
    }

    #[test]
    fn request_keys() {
        let c = Context::new()
            .with_current_time(1_705_320_000)
            .with_source_ip("2001:db8::1")
            .with_secure_transport(true)
            .with_requested_region("us-east-1")
            .with_mfa(true, Some(30))
            .with_request_tags([("env", "prod"), ("team", "sec")])
            .with_resource_tags([("owner", "alice")])
            .with_cloudtrail_external_id("abc");
        assert_eq!(c.get("aws:CurrentTime").unwrap(), ["2024-01-15T12:00:00Z"]);
        assert_eq!(c.get("aws:EpochTime").unwrap(), ["1705320000"]);
        assert_eq!(c.get("aws:SecureTransport").unwrap(), ["true"]);
        assert_eq!(c.get("aws:TagKeys").unwrap(), ["env", "team"]);
        assert_eq!(c.get("aws:RequestTag/env").unwrap(), ["prod"]);
        assert_eq!(c.get("aws:ResourceTag/owner").unwrap(), ["alice"]);
        assert_eq!(c.get("aws:MultiFactorAuthAge").unwrap(), ["30"]);
        assert_eq!(c.get("cloudtrail:externalid").unwrap(), ["abc"]);
        assert_eq!(format_iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_iso8601(951_868_800), "2000-03-01T00:00:00Z");
        assert_eq!(format_iso8601(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_iso8601(1_709_208_000), "2024-02-29T12:00:00Z");
        for t in [-86_400 * 400 * 366, -1, 0, 1_705_320_000, 4_102_444_800] {
            assert_eq!(
                crate::condition::parse_date(&format_iso8601(t)),
                Some(i128::from(t) * 1000),
                "{t}"
            );
        }
    }
}
