//! Accounts and their root access keys.

use crate::{iso, random_from, storage, Iam};
use rand::Rng;
use store::{AccessKey, Account};
use wire::{ApiError, ErrorCode};

/// A newly created account and its root credentials (shown once).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NewAccount {
    /// 12-digit account id.
    pub account_id: String,
    /// Root access key id.
    pub access_key_id: String,
    /// Root secret access key.
    pub secret_access_key: String,
}

const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A new access key id with `prefix` (`AKIA` long-term, `ASIA` temporary).
pub(crate) fn new_access_key_id(prefix: &str) -> String {
    format!("{prefix}{}", random_from(crate::UPPER_DIGITS, 16))
}

/// A new 40-character secret access key.
pub(crate) fn new_secret() -> String {
    random_from(SECRET_ALPHABET, 40)
}

impl Iam {
    /// Creates an account named `name` with a root access key.
    pub fn create_account(&self, name: &str) -> Result<NewAccount, ApiError> {
        create_account(self.meta.as_ref(), name, &self.now())
    }

    /// Creates the `default` account when there is none; returns it if created.
    pub fn ensure_default_account(&self) -> Result<Option<NewAccount>, ApiError> {
        if self.meta.accounts().map_err(storage)?.is_empty() {
            return self.create_account("default").map(Some);
        }
        Ok(None)
    }
}

/// Creates an account directly on a metadata store (used by `cairn accounts
/// create`, which may run beside a live server).
pub fn create_account(
    meta: &dyn store::Metadata,
    name: &str,
    now: &time::OffsetDateTime,
) -> Result<NewAccount, ApiError> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"+=,.@_-".contains(&c));
    if !valid {
        return Err(ApiError::new(
            ErrorCode::Validation,
            format!("Account name '{name}' is not valid: use 1 to 64 letters, digits or +=,.@_- characters."),
        ));
    }
    if meta
        .accounts()
        .map_err(storage)?
        .iter()
        .any(|a| a.name == name)
    {
        return Err(ApiError::new(
            ErrorCode::Validation,
            format!("An account named '{name}' already exists: choose another name."),
        ));
    }
    let created_at = iso(*now);
    // Retry on the (unlikely) collision of a random id or key.
    for _ in 0..8 {
        let first = rand::rng().random_range(1..=9u8);
        let id = format!("{first}{}", random_from(b"0123456789", 11));
        let account = Account {
            id: id.clone(),
            name: name.to_string(),
            created_at: created_at.clone(),
        };
        let key = AccessKey {
            access_key_id: new_access_key_id("AKIA"),
            secret_access_key: new_secret(),
            account_id: id.clone(),
            principal_arn: format!("arn:aws:iam::{id}:root"),
            status: "Active".into(),
            created_at: created_at.clone(),
        };
        match meta.insert_account(&account, &key) {
            Ok(()) => {
                return Ok(NewAccount {
                    account_id: id,
                    access_key_id: key.access_key_id,
                    secret_access_key: key.secret_access_key,
                })
            }
            Err(store::Error::Conflict(_)) => {
                if meta
                    .accounts()
                    .map_err(storage)?
                    .iter()
                    .any(|a| a.name == name)
                {
                    return Err(ApiError::new(
                        ErrorCode::Validation,
                        format!("An account named '{name}' already exists: choose another name."),
                    ));
                }
            }
            Err(e) => return Err(storage(e)),
        }
    }
    Err(crate::internal("could not allocate a unique account id"))
}
