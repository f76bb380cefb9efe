//! The CloudTrail Lake domain: event data stores, channels and their
//! resource policies, ingestion (PutAuditEvents), imports of CloudTrail log
//! files, queries, and the record of Cairn's own API calls. Who the caller
//! is and what it may do is the `iam` crate's answer.
//!
//! Operations are plain async functions over the generated wire types and
//! the storage interfaces; they know nothing of HTTP. Every error is an
//! [`ApiError`] whose code is exactly AWS's and whose message says what was
//! wrong and what to do.
#![warn(missing_docs)]

mod arn;
mod audit;
mod authz;
mod channels;
mod eds;
mod history;
mod import_source;
mod imports;
mod ingest;
mod maintain;
mod paging;
mod queries;
mod records;
mod results;

pub use audit::{ApiCall, AuditTrail};
pub use iam::Caller;
pub use ingest::IngestOutcome;
pub use maintain::Maintenance;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use store::{IngestLog, Metadata};
use time::OffsetDateTime;
pub use wire::{ApiError, ErrorCode};

/// Configurable limits; the defaults are AWS's quotas.
#[derive(Debug, Clone)]
pub struct Quotas {
    /// Event data stores per account and region, any status (AWS: 10).
    pub event_data_stores: usize,
    /// Channels per account (AWS: 25).
    pub channels: usize,
    /// Queued plus running queries per account (AWS: 10).
    pub concurrent_queries: usize,
    /// A query running longer is stopped and marked TIMED_OUT (AWS: 1 hour).
    pub query_timeout: std::time::Duration,
    /// Queries executing at once across all accounts; the rest wait QUEUED.
    pub query_workers: usize,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            event_data_stores: 10,
            channels: 25,
            concurrent_queries: 10,
            query_timeout: std::time::Duration::from_secs(3600),
            query_workers: 2,
        }
    }
}

pub use iam::Clock;

/// The service: one per process.
pub struct Lake {
    meta: Arc<dyn Metadata>,
    iam: Arc<iam::Iam>,
    log: IngestLog,
    tables: Arc<tables::Tables>,
    disk: Arc<store::DiskGuard>,
    region: String,
    quotas: Quotas,
    clock: Clock,
    results_dir: PathBuf,
    query_slots: Arc<tokio::sync::Semaphore>,
    query_runtime: queries::QueryRuntime,
    running: Mutex<std::collections::HashMap<String, tokio::task::AbortHandle>>,
    /// Serialises control-plane writes so that check-then-write sequences
    /// (name uniqueness across kinds, quotas, "EDS used by a channel") hold.
    control: tokio::sync::Mutex<()>,
    /// The directory `file://` imports may read (none: no local imports).
    import_dir: Option<PathBuf>,
    /// The S3-compatible service `s3://` imports read (none: no such imports).
    import_s3_endpoint: Option<String>,
    /// The imports whose task is running, and the flag that stops each.
    import_runs: Mutex<std::collections::HashMap<String, Arc<std::sync::atomic::AtomicBool>>>,
}

impl Lake {
    /// A service over the given stores, authorizing with `iam` (which must
    /// share `meta`); events go to `log` and from there to `tables`, while
    /// `disk` says there is room. `results_dir` keeps query results.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        meta: Arc<dyn Metadata>,
        iam: Arc<iam::Iam>,
        log: IngestLog,
        tables: Arc<tables::Tables>,
        disk: Arc<store::DiskGuard>,
        region: &str,
        quotas: Quotas,
        results_dir: PathBuf,
        clock: Option<Clock>,
    ) -> Result<Self, ApiError> {
        std::fs::create_dir_all(&results_dir)
            .map_err(|e| internal(format!("cannot create {}: {e}", results_dir.display())))?;
        let lake = Self {
            meta,
            iam,
            log,
            tables,
            disk,
            region: region.to_string(),
            query_slots: Arc::new(tokio::sync::Semaphore::new(quotas.query_workers.max(1))),
            query_runtime: queries::QueryRuntime::new(quotas.query_workers)?,
            quotas,
            clock: clock.unwrap_or_else(|| Arc::new(OffsetDateTime::now_utc)),
            results_dir,
            running: Mutex::new(Default::default()),
            control: tokio::sync::Mutex::new(()),
            import_dir: None,
            import_s3_endpoint: None,
            import_runs: Mutex::new(Default::default()),
        };
        lake.fail_interrupted_queries()?;
        lake.fail_interrupted_imports()?;
        Ok(lake)
    }

    /// Lets `file://` imports read directories under `dir`.
    pub fn with_import_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.import_dir = dir;
        self
    }

    /// Lets `s3://` imports read buckets of the S3-compatible service at
    /// `endpoint`, with the S3 credentials of the server's environment.
    pub fn with_import_s3_endpoint(mut self, endpoint: Option<String>) -> Self {
        self.import_s3_endpoint = endpoint;
        self
    }

    /// The region this node serves.
    pub fn region(&self) -> &str {
        &self.region
    }

    fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    /// The stored documents of one kind in `account`, oldest first.
    fn documents<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        account: &str,
    ) -> Result<Vec<T>, ApiError> {
        self.meta
            .list(kind, account)
            .map_err(storage)?
            .iter()
            .map(|d| from_doc(d))
            .collect()
    }
}

/// Epoch seconds with millisecond precision, as awsJson timestamps go on the wire.
fn epoch(t: OffsetDateTime) -> f64 {
    (t.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0
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

/// A service on fresh stores in `dir`, for unit tests.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn test_lake(dir: &std::path::Path) -> Lake {
    let meta: Arc<dyn Metadata> =
        Arc::new(store::SqliteMetadata::open(&dir.join("metadata.db")).unwrap());
    let iam = Arc::new(iam::Iam::new(meta.clone(), "us-east-1", None));
    let (log, _) = IngestLog::open(&dir.join("events")).unwrap();
    let tables = Arc::new(tables::Tables::open_local(&dir.join("tables"), log.clone()).unwrap());
    let disk = Arc::new(store::DiskGuard::new(dir, Some(0)));
    Lake::new(
        meta,
        iam,
        log,
        tables,
        disk,
        "us-east-1",
        Quotas::default(),
        dir.join("query-results"),
        None,
    )
    .unwrap()
}
