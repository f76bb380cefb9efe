//! Cairn's storage: metadata in SQLite and events in an fsync'd ingest log.
//!
//! Both sit behind small interfaces ([`Metadata`], [`IngestLog`]) so that the
//! scale-out implementations (PostgreSQL, object storage) fit beside the
//! embedded defaults without touching the domain code.
#![warn(missing_docs)]

mod history;
mod log;
mod meta;
mod space;

pub use history::{HistoryEvent, HistoryHit, HistoryQuery};
pub use log::{IngestLog, LogStats};
pub use meta::{AccessKey, Account, Metadata, SqliteMetadata};
pub use space::{DiskFull, DiskGuard};

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A unique name or id is already taken.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The SQLite database failed.
    #[error("metadata database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file operation failed (disk full, permissions, …).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The ingest log writer has stopped.
    #[error("the ingest log writer is not running")]
    WriterGone,
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result alias for storage operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
