//! Who is calling: from the access key of a signed request to the identity
//! whose policies decide.

use crate::entities::{split_arn, Entity, ROLE, USER};
use crate::sts_api::{Session, SESSION};
use crate::{from_doc, storage, Iam};
use iam_policy::Principal;
use sha2::{Digest, Sha256};
use wire::ApiError;

/// Which identity signed a request, as far as policies are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The account's root user: bypasses identity policies in its own account.
    Root,
    /// An IAM user (by unique id).
    User {
        /// The user's name.
        name: String,
    },
    /// An STS role session; `access_key_id` names the stored session.
    Session {
        /// The temporary access key id (`ASIA…`).
        access_key_id: String,
    },
    /// A service working for the account with one of its roles (see
    /// [`crate::Iam::service_session`]); never signs a request.
    ServiceRole {
        /// The role's name.
        role_name: String,
    },
}

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller's account.
    pub account_id: String,
    /// The principal, for policy evaluation (with its tags).
    pub principal: Principal,
    /// Whose policies apply.
    pub identity: Identity,
    /// The access key the request was signed with.
    pub access_key_id: String,
    /// The client's address, for `aws:SourceIp`.
    pub source_ip: Option<String>,
    /// The request's id, under which a denial's explanation is kept.
    pub request_id: String,
    /// Whether the credentials came with MFA (`aws:MultiFactorAuthPresent`);
    /// `None` for long-term keys, where AWS leaves the key out.
    pub mfa: Option<bool>,
    /// When temporary credentials were issued (`aws:TokenIssueTime`).
    pub token_issued: Option<String>,
}

impl Caller {
    /// The root user of `account_id` (for tools and tests).
    pub fn root(account_id: &str) -> Self {
        Self {
            account_id: account_id.to_string(),
            principal: Principal::root(account_id),
            identity: Identity::Root,
            access_key_id: String::new(),
            source_ip: None,
            request_id: String::new(),
            mfa: None,
            token_issued: None,
        }
    }
}

/// What a temporary key needs besides its signature.
#[derive(Debug, Clone)]
pub struct SessionCheck {
    token_sha256: String,
    expires_unix: i64,
}

/// Why a session token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// No token, or not the one issued with the key.
    Invalid,
    /// The session has expired.
    Expired,
}

impl SessionCheck {
    /// Checks the presented `X-Amz-Security-Token` at `now_unix`.
    pub fn check(&self, token: Option<&str>, now_unix: i64) -> Result<(), TokenProblem> {
        let Some(token) = token else {
            return Err(TokenProblem::Invalid);
        };
        let presented = hex::encode(Sha256::digest(token.as_bytes()));
        // Both are hex digests of the same length: comparing them does not
        // leak the token.
        if presented != self.token_sha256 {
            return Err(TokenProblem::Invalid);
        }
        if now_unix >= self.expires_unix {
            return Err(TokenProblem::Expired);
        }
        Ok(())
    }
}

pub(crate) fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// An access key as the authenticator needs it.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// The caller behind the key (request id and source address still empty).
    pub caller: Caller,
    /// The secret to verify the signature with.
    pub secret: String,
    /// For temporary keys: the session token to expect and the expiry.
    pub session: Option<SessionCheck>,
}

impl Iam {
    /// The caller behind an access key (long-term or temporary), if the key
    /// is known and active.
    pub fn lookup_key(&self, access_key_id: &str) -> Result<Option<KeyRecord>, ApiError> {
        if let Some(key) = self.meta.access_key(access_key_id).map_err(storage)? {
            if key.status != "Active" {
                return Ok(None);
            }
            let (principal, identity) = if key.principal_arn.ends_with(":root") {
                (Principal::root(&key.account_id), Identity::Root)
            } else {
                let Some((_, _, name)) = split_arn(&key.principal_arn, "user") else {
                    return Ok(None);
                };
                let Some(user) = self.entity(USER, &key.account_id, name)? else {
                    return Ok(None);
                };
                (
                    user_principal(&key.account_id, &user),
                    Identity::User { name: user.name },
                )
            };
            return Ok(Some(KeyRecord {
                caller: Caller {
                    account_id: key.account_id,
                    principal,
                    identity,
                    access_key_id: key.access_key_id,
                    source_ip: None,
                    request_id: String::new(),
                    mfa: None,
                    token_issued: None,
                },
                secret: key.secret_access_key,
                session: None,
            }));
        }
        let Some((account, doc)) = self.meta.find(SESSION, access_key_id).map_err(storage)? else {
            return Ok(None);
        };
        let s: Session = from_doc(&doc)?;
        let session = SessionCheck {
            token_sha256: s.token_sha256.clone(),
            expires_unix: s.expires_unix,
        };
        let (principal, identity) = if s.is_role_session() {
            // The role may have been deleted since; its sessions die with it.
            let Some(role) = self.entity(ROLE, &account, &s.role_name)? else {
                return Ok(None);
            };
            if role.id != s.role_id {
                return Ok(None);
            }
            let mut principal = Principal::assumed_role(
                &account,
                &role.path,
                &role.name,
                &role.id,
                &s.session_name,
            );
            principal.tags = session_tags(&role, &s);
            (
                principal,
                Identity::Session {
                    access_key_id: access_key_id.to_string(),
                },
            )
        } else if let Some(name) = &s.user_name {
            let Some(user) = self.entity(USER, &account, name)? else {
                return Ok(None);
            };
            (
                user_principal(&account, &user),
                Identity::User { name: user.name },
            )
        } else {
            (Principal::root(&account), Identity::Root)
        };
        Ok(Some(KeyRecord {
            caller: Caller {
                account_id: account,
                principal,
                identity,
                access_key_id: access_key_id.to_string(),
                source_ip: None,
                request_id: String::new(),
                mfa: Some(false),
                token_issued: Some(s.issued.clone()),
            },
            secret: s.secret,
            session: Some(session),
        }))
    }
}

pub(crate) fn user_principal(account: &str, user: &Entity) -> Principal {
    let mut p = Principal::user(account, &user.path, &user.name, &user.id);
    p.tags = user
        .tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    p
}

/// A session's principal tags: the role's tags, overridden by the session's
/// own tags with the same key (case-insensitively, as IAM compares tag keys).
fn session_tags(role: &Entity, s: &Session) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = role
        .tags
        .iter()
        .filter(|t| !s.tags.iter().any(|st| st.key.eq_ignore_ascii_case(&t.key)))
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    tags.extend(s.tags.iter().map(|t| (t.key.clone(), t.value.clone())));
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_tokens_must_match_and_be_current() {
        let check = SessionCheck {
            token_sha256: token_digest("tok"),
            expires_unix: 100,
        };
        assert_eq!(check.check(Some("tok"), 99), Ok(()));
        assert_eq!(check.check(Some("tok"), 100), Err(TokenProblem::Expired));
        assert_eq!(check.check(Some("tok2"), 50), Err(TokenProblem::Invalid));
        assert_eq!(check.check(None, 50), Err(TokenProblem::Invalid));
    }
}
