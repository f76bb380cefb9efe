//! IAM and STS for Cairn: accounts and their root keys, IAM users, groups,
//! roles, managed and inline policies, access keys, STS sessions — and the
//! authorization of every call of every service against them.
//!
//! The identity side lives here so that the CloudTrail domain (`lake`) asks
//! one question — [`Iam::authorize`] — and gets AWS's answer with its
//! explanation. Operations are plain functions over the generated wire types
//! and the [`store::Metadata`] interface; they know nothing of HTTP.
//!
//! Stored documents (kinds in the metadata store): `iam-user`, `iam-group`,
//! `iam-role`, `iam-policy` (customer managed, with its versions), keyed by
//! their unique id and named by their lower-cased name (IAM names are unique
//! case-insensitively); `sts-session` keyed by the temporary access key id;
//! `denial` keyed by request id (the explanation behind `cairn explain`).
#![warn(missing_docs)]

mod accounts;
mod authz;
mod caller;
mod entities;
mod iam_api;
mod managed;
mod service_role;
mod simulate;
mod sts_api;

pub use accounts::{create_account, NewAccount};
pub use authz::{Access, DenialRecord, Denied};
pub use caller::{Caller, Identity, KeyRecord, SessionCheck, TokenProblem};
pub use simulate::Simulation;

use std::sync::Arc;
use time::OffsetDateTime;
use wire::{ApiError, ErrorCode};

/// The source of "now"; replaceable in tests.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// IAM and STS over one metadata store.
pub struct Iam {
    meta: Arc<dyn store::Metadata>,
    region: String,
    clock: Clock,
    /// Serialises IAM writes so that check-then-write sequences (name
    /// uniqueness, "delete only when nothing is attached") hold.
    control: std::sync::Mutex<()>,
}

impl Iam {
    /// IAM for the accounts in `meta`, serving `region` (STS ARNs are global,
    /// but `aws:RequestedRegion` and session scopes use it).
    pub fn new(meta: Arc<dyn store::Metadata>, region: &str, clock: Option<Clock>) -> Self {
        Self {
            meta,
            region: region.to_string(),
            clock: clock.unwrap_or_else(|| Arc::new(OffsetDateTime::now_utc)),
            control: std::sync::Mutex::new(()),
        }
    }

    /// The region this node serves.
    pub fn region(&self) -> &str {
        &self.region
    }

    fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // A poisoned lock only means another request panicked while holding
        // it; the store itself is transactional.
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// ISO 8601 with seconds, as IAM and STS put times on the wire.
fn iso(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn internal(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InternalFailure, message)
}

fn storage(e: store::Error) -> ApiError {
    tracing::error!(error = %e, "storage failure");
    ApiError::new(
        ErrorCode::InternalFailure,
        format!("Cairn could not complete the request because storage failed ({e}). Nothing was changed; retry later."),
    )
}

fn to_doc<T: serde::Serialize>(v: &T) -> Result<String, ApiError> {
    serde_json::to_string(v)
        .map_err(|e| internal(format!("could not encode a stored document: {e}")))
}

fn from_doc<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, ApiError> {
    serde_json::from_str(s)
        .map_err(|e| internal(format!("a stored document could not be read: {e}")))
}

const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A random string over `alphabet`.
fn random_from(alphabet: &[u8], n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// An IAM unique id with AWS's prefix (`AIDA` users, `AROA` roles, `AGPA`
/// groups, `ANPA` policies): 21 characters.
fn unique_id(prefix: &str) -> String {
    format!("{prefix}{}", random_from(UPPER_DIGITS, 17))
}
