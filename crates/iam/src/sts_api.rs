//! STS: GetCallerIdentity, AssumeRole (trust policy, external id, session
//! policies and tags, durations) and GetSessionToken. Temporary credentials
//! are stored by access key id; the session token is kept as a SHA-256
//! digest and checked on every request (see [`crate::SessionCheck`]).

use crate::accounts::{new_access_key_id, new_secret};
use crate::authz::Access;
use crate::caller::{token_digest, Caller, Identity};
use crate::entities::{split_arn, Tag, ROLE};
use crate::{from_doc, iso, random_from, storage, to_doc, Iam};
use iam_policy::{Context, NamedPolicy, Policy, PolicyType};
use serde::{Deserialize, Serialize};
use wire::sts::{
    AssumeRoleRequest, AssumeRoleResponse, AssumedRoleUser, Credentials, GetCallerIdentityRequest,
    GetCallerIdentityResponse, GetSessionTokenRequest, GetSessionTokenResponse,
};
use wire::{ApiError, ErrorCode};

pub(crate) const SESSION: &str = "sts-session";

/// AWS's default session length (AssumeRole and a role's MaxSessionDuration).
const DEFAULT_DURATION: i64 = 3600;
/// A role session assuming another role gets at most an hour ("role chaining").
const CHAINED_MAX: i64 = 3600;
/// GetSessionToken: 12 hours by default, 36 at most (root: 1 hour).
const USER_SESSION_DEFAULT: i64 = 43_200;
const USER_SESSION_MAX: i64 = 129_600;
/// "The plaintext that you use for both inline and managed session policies
/// can't exceed 2,048 characters", tags included in the packed size.
const PACKED_LIMIT: usize = 2048;

/// A set of temporary credentials.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Session {
    pub access_key_id: String,
    pub secret: String,
    pub token_sha256: String,
    pub expires_unix: i64,
    pub issued: String,
    /// Role sessions: the role (by name and unique id, so that a role
    /// re-created under the same name does not inherit old sessions).
    #[serde(default)]
    pub role_name: String,
    #[serde(default)]
    pub role_id: String,
    #[serde(default)]
    pub session_name: String,
    /// The inline session policy, if any.
    #[serde(default)]
    pub policy: Option<String>,
    /// Managed session policies.
    #[serde(default)]
    pub policy_arns: Vec<String>,
    /// Session tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub source_identity: Option<String>,
    /// GetSessionToken sessions: the IAM user (`None` with an empty role:
    /// the root user).
    #[serde(default)]
    pub user_name: Option<String>,
}

impl Session {
    pub fn has_session_policies(&self) -> bool {
        self.policy.is_some() || !self.policy_arns.is_empty()
    }

    pub fn is_role_session(&self) -> bool {
        !self.role_name.is_empty()
    }
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::QueryValidationError, message)
}

/// A session token: opaque, long like AWS's, URL- and header-safe.
fn new_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    format!("IQoJb3JpZ2luX2Vj{}", random_from(ALPHABET, 340))
}

impl Iam {
    /// GetCallerIdentity: always allowed, even under an explicit deny (AWS).
    pub fn get_caller_identity(
        &self,
        caller: &Caller,
        _input: GetCallerIdentityRequest,
    ) -> Result<GetCallerIdentityResponse, ApiError> {
        Ok(GetCallerIdentityResponse {
            user_id: Some(caller.principal.user_id.clone()),
            account: Some(caller.account_id.clone()),
            arn: Some(caller.principal.arn.clone()),
        })
    }

    /// AssumeRole.
    pub fn assume_role(
        &self,
        caller: &Caller,
        input: AssumeRoleRequest,
    ) -> Result<AssumeRoleResponse, ApiError> {
        let role_arn = input.role_arn.clone().unwrap_or_default();
        if caller.identity == Identity::Root {
            return Err(ApiError::new(
                ErrorCode::QueryAccessDenied,
                "Roles may not be assumed by root accounts: call AssumeRole with the access key of an IAM user (or a role session).",
            ));
        }
        let session_name = input.role_session_name.clone().unwrap_or_default();
        let (account, _, role_name) = split_arn(&role_arn, "role").ok_or_else(|| {
            validation(format!(
                "{role_arn} is not a role ARN: use arn:aws:iam::<account>:role/<name>."
            ))
        })?;
        let role = self.entity(ROLE, account, role_name)?;
        let trust = match &role {
            Some(r) if r.arn == role_arn => r
                .trust_policy
                .as_deref()
                .map(|doc| Policy::parse(doc, PolicyType::Trust))
                .transpose()
                .map_err(|e| {
                    crate::internal(format!("a stored trust policy no longer parses: {e}"))
                })?,
            _ => None,
        };
        let tags: Vec<Tag> = input
            .tags
            .iter()
            .flatten()
            .map(|t| Tag {
                key: t.key.clone().unwrap_or_default(),
                value: t.value.clone().unwrap_or_default(),
            })
            .collect();
        let mut context = Context::new().with("sts:RoleSessionName", session_name.clone());
        if let Some(x) = &input.external_id {
            context = context.with("sts:ExternalId", x.clone());
        }
        if let Some(x) = &input.source_identity {
            context = context.with("sts:SourceIdentity", x.clone());
        }
        for t in &tags {
            context = context.with(&format!("aws:RequestTag/{}", t.key), t.value.clone());
        }
        if !tags.is_empty() {
            context = context.with_values("aws:TagKeys", tags.iter().map(|t| t.key.clone()));
        }
        if let Some(keys) = &input.transitive_tag_keys {
            context = context.with_values("sts:TransitiveTagKeys", keys.iter().cloned());
        }
        let resource_policy = trust.as_ref().map(|policy| NamedPolicy {
            name: "role trust policy",
            policy,
        });
        let mut actions = vec!["sts:AssumeRole"];
        if !tags.is_empty() {
            actions.push("sts:TagSession");
        }
        if input.source_identity.is_some() {
            actions.push("sts:SetSourceIdentity");
        }
        for action in actions {
            let access = Access {
                action,
                resource: &role_arn,
                resource_account: account,
                resource_policy,
                context: context.clone(),
            };
            if let Err(mut denied) = self.authorize(caller, access) {
                if role.is_none() && caller.account_id == account {
                    denied.set_hint(format!(
                        "There is no role named {role_name} in account {account}."
                    ));
                }
                let message = denied.message(&caller.request_id);
                self.record_denial(caller, &denied, "AccessDenied", &message);
                return Err(ApiError::new(ErrorCode::QueryAccessDenied, message));
            }
        }
        // Authorized implies the role exists: a missing role has no trust policy.
        let role = role.ok_or_else(|| crate::internal("authorized AssumeRole without a role"))?;

        let max = if matches!(caller.identity, Identity::Session { .. }) {
            CHAINED_MAX
        } else {
            role.max_session_duration.unwrap_or(DEFAULT_DURATION)
        };
        let duration = input.duration_seconds.unwrap_or(DEFAULT_DURATION.min(max));
        if duration > max {
            return Err(validation(
                if max == CHAINED_MAX && matches!(caller.identity, Identity::Session { .. }) {
                    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.".to_string()
                } else {
                    format!("The requested DurationSeconds exceeds the MaxSessionDuration set for this role ({max} seconds).")
                },
            ));
        }
        if let Some(doc) = &input.policy {
            Policy::parse(doc, PolicyType::Identity)
                .map_err(|e| ApiError::new(ErrorCode::MalformedPolicyDocument, e.to_string()))?;
        }
        let policy_arns: Vec<String> = input
            .policy_arns
            .iter()
            .flatten()
            .filter_map(|p| p.arn.clone())
            .collect();
        let packed = input
            .policy
            .as_deref()
            .map_or(0, |p| p.chars().filter(|c| !c.is_whitespace()).count())
            + policy_arns.iter().map(String::len).sum::<usize>()
            + tags
                .iter()
                .map(|t| t.key.len() + t.value.len())
                .sum::<usize>();
        let packed_percent = (packed * 100).div_ceil(PACKED_LIMIT);
        if packed_percent > 100 {
            return Err(ApiError::new(
                ErrorCode::PackedPolicyTooLarge,
                format!("Packed size of the session policies and tags is {packed_percent}% of the allowed size: shorten the session policy or send fewer tags."),
            ));
        }
        let (credentials, session) = self.issue(account, duration, |s| {
            s.role_name = role.name.clone();
            s.role_id = role.id.clone();
            s.session_name = session_name.clone();
            s.policy = input.policy.clone();
            s.policy_arns = policy_arns.clone();
            s.tags = tags.clone();
            s.source_identity = input.source_identity.clone();
        })?;
        Ok(AssumeRoleResponse {
            credentials: Some(credentials),
            assumed_role_user: Some(AssumedRoleUser {
                assumed_role_id: Some(format!("{}:{}", role.id, session.session_name)),
                arn: Some(format!(
                    "arn:aws:sts::{account}:assumed-role/{}/{}",
                    role.name, session.session_name
                )),
            }),
            packed_policy_size: Some(packed_percent as i64),
            source_identity: input.source_identity,
            ..Default::default()
        })
    }

    /// GetSessionToken: temporary credentials with the caller's own permissions.
    pub fn get_session_token(
        &self,
        caller: &Caller,
        input: GetSessionTokenRequest,
    ) -> Result<GetSessionTokenResponse, ApiError> {
        let user_name = match &caller.identity {
            Identity::Session { .. } | Identity::ServiceRole { .. } => {
                return Err(ApiError::new(
                    ErrorCode::QueryAccessDenied,
                    "Cannot call GetSessionToken with session credentials: call it with the long-term access key of an IAM user or the root user.",
                ))
            }
            Identity::User { name } => Some(name.clone()),
            Identity::Root => None,
        };
        let max = if user_name.is_none() {
            DEFAULT_DURATION
        } else {
            USER_SESSION_MAX
        };
        let duration = input
            .duration_seconds
            .unwrap_or(USER_SESSION_DEFAULT.min(max));
        if duration > max {
            return Err(validation(format!(
                "The requested DurationSeconds exceeds the {max} seconds allowed for this caller."
            )));
        }
        let (credentials, _) = self.issue(&caller.account_id, duration, |s| {
            s.user_name = user_name.clone();
        })?;
        Ok(GetSessionTokenResponse {
            credentials: Some(credentials),
            ..Default::default()
        })
    }

    fn issue(
        &self,
        account: &str,
        duration: i64,
        fill: impl FnOnce(&mut Session),
    ) -> Result<(Credentials, Session), ApiError> {
        self.purge_expired_sessions(account)?;
        let now = self.now();
        let expires = now + time::Duration::seconds(duration);
        let access_key_id = new_access_key_id("ASIA");
        let token = new_token();
        let mut session = Session {
            access_key_id: access_key_id.clone(),
            secret: new_secret(),
            token_sha256: token_digest(&token),
            expires_unix: expires.unix_timestamp(),
            issued: iso(now),
            role_name: String::new(),
            role_id: String::new(),
            session_name: String::new(),
            policy: None,
            policy_arns: Vec::new(),
            tags: Vec::new(),
            source_identity: None,
            user_name: None,
        };
        fill(&mut session);
        self.meta
            .insert(SESSION, account, &access_key_id, None, &to_doc(&session)?)
            .map_err(storage)?;
        Ok((
            Credentials {
                access_key_id: Some(access_key_id),
                secret_access_key: Some(session.secret.clone()),
                session_token: Some(token),
                expiration: Some(iso(expires)),
            },
            session,
        ))
    }

    /// Expired sessions are useless; drop them when new ones are issued.
    fn purge_expired_sessions(&self, account: &str) -> Result<(), ApiError> {
        let now = self.now().unix_timestamp();
        // Sessions stay an hour past expiry so that late requests still get
        // ExpiredToken rather than "invalid token".
        for doc in self.meta.list(SESSION, account).map_err(storage)? {
            let s: Session = from_doc(&doc)?;
            if s.expires_unix + 3600 < now {
                self.meta
                    .delete(SESSION, account, &s.access_key_id)
                    .map_err(storage)?;
            }
        }
        Ok(())
    }
}
