//! Event data stores as Delta Lake tables on `object_store`.
//!
//! Layout: `<root>/<event data store id>/` is a Delta table, `_delta_log/`
//! plus `eventday=YYYY-MM-DD/part-….zstd.parquet`: the columns of the
//! store's [`query::Layout`] and the partition column `eventday`, the UTC
//! day of `eventTime`. Any Delta reader (Spark, Trino, DuckDB, the
//! `deltalake` Python package) can read it without Cairn.
//!
//! From the ingest log to the tables, exactly once: the flusher
//! [`seal`](Tables::seal)s the log, then for each sealed segment `n` and
//! each event data store writes that store's records of `n` in one commit
//! that also carries the Delta *application transaction* (`txn`) action
//! `{appId: "cairn-ingest-log", version: n}`. A table's txn version is thus
//! the last log segment it holds, and a segment at or below it is skipped
//! when a flush is retried after a crash. The log segments are removed only
//! once every table has committed them (and, on a local disk, the commit
//! and its files are fsync'd).
//!
//! Reads: a query sees each table's snapshot plus the log records above the
//! snapshot's txn version (the "tail"), taken together under a read gate
//! that segment removal waits for, so an acknowledged event is in the very
//! next query exactly once, whether or not it has been flushed.
#![warn(missing_docs)]

mod batch;
mod durable;
mod maintain;
mod read;

pub use maintain::{CompactReport, ExpireReport};
pub use read::Scan;

use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::Transaction;
use deltalake::parquet::basic::{Compression, Encoding, ZstdLevel};
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::parquet::schema::types::ColumnPath;
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use store::IngestLog;
use time::Date;
use url::Url;

/// The Delta application id under which flushes record the log segment
/// they hold.
pub const APP_ID: &str = "cairn-ingest-log";
/// The partition column: the UTC day of `eventTime`, `YYYY-MM-DD`.
pub const PARTITION: &str = "eventday";
/// Files smaller than this are compacted together, up to this size.
const TARGET_FILE_BYTES: u64 = 128 << 20;

/// What can go wrong with the tables.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Delta Lake (the transaction log, Parquet or the object store) failed.
    #[error("event table {table}: {source}")]
    Delta {
        /// The event data store id.
        table: String,
        /// The underlying error.
        source: DeltaTableError,
    },
    /// The ingest log failed.
    #[error("ingest log: {0}")]
    Log(#[from] store::Error),
    /// Records could not be turned into Arrow data.
    #[error("{0}")]
    Data(String),
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

fn delta(table: &str) -> impl FnOnce(DeltaTableError) -> Error + '_ {
    move |source| Error::Delta {
        table: table.to_string(),
        source,
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the tables need to know of a live event data store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSpec {
    /// The columns of its events.
    pub layout: query::Layout,
    /// The oldest day its retention keeps: older events are not written
    /// and not read.
    pub keep_from: Date,
}

/// One record of the ingest log: a stored event and the event data stores
/// it goes to.
#[derive(Serialize, Deserialize)]
pub struct LoggedEvent {
    /// Destination event data store ids.
    pub eds: Vec<String>,
    /// The event in CloudTrail Lake's record form.
    pub record: serde_json::Value,
}

impl LoggedEvent {
    /// Each destination with its own copy of the record; the last takes the
    /// original, so the usual single destination copies nothing.
    pub fn per_store(self) -> impl Iterator<Item = (String, serde_json::Value)> {
        let last = self.eds.len().saturating_sub(1);
        let mut record = Some(self.record);
        self.eds.into_iter().enumerate().filter_map(move |(i, id)| {
            let r = if i == last {
                record.take()
            } else {
                record.clone()
            };
            r.map(|r| (id, r))
        })
    }
}

/// Log segments sealed for a flush (from [`Tables::seal`]).
#[derive(Debug, Clone, Default)]
pub struct Sealed(Vec<u64>);

impl Sealed {
    /// How many segments.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is nothing to flush.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a flush did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Log segments moved into the tables and removed.
    pub segments: usize,
    /// Events written (an event going to two stores counts twice).
    pub events: u64,
    /// Events not written because their day is past the store's retention.
    pub expired: u64,
    /// Delta commits made.
    pub commits: usize,
    /// Tables that received commits.
    pub tables: Vec<String>,
}

/// The event tables of one node.
pub struct Tables {
    root: Url,
    /// The root as a local directory, when it is one (fsync, purge).
    local_root: Option<PathBuf>,
    log: IngestLog,
    /// Segment removal takes it for writing; reads hold it while they take
    /// their snapshots and the tail, so they never see a gap.
    gate: tokio::sync::RwLock<()>,
    /// Open tables, brought up to date before each use.
    open: tokio::sync::Mutex<HashMap<String, DeltaTable>>,
    /// Serialises writers (flush, compaction, retention, purge).
    writer: tokio::sync::Mutex<()>,
    props: WriterProperties,
}

impl Tables {
    /// Tables under the local directory `dir` (created if missing), fed from `log`.
    pub fn open_local(dir: &std::path::Path, log: IngestLog) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            context: format!("create {}", dir.display()),
            source,
        })?;
        let dir = dir.canonicalize().map_err(|source| Error::Io {
            context: format!("resolve {}", dir.display()),
            source,
        })?;
        let root = Url::from_directory_path(&dir)
            .map_err(|()| Error::Data(format!("{} is not an absolute path", dir.display())))?;
        Ok(Self {
            root,
            local_root: Some(dir),
            log,
            gate: Default::default(),
            open: Default::default(),
            writer: Default::default(),
            props: writer_properties(),
        })
    }

    fn url(&self, id: &str) -> Result<Url> {
        valid_id(id)?;
        self.root
            .join(&format!("{id}/"))
            .map_err(|e| Error::Data(format!("table location for {id}: {e}")))
    }

    /// The table of `id`, up to date; not initialised when nothing was
    /// ever flushed to it.
    async fn table(&self, id: &str) -> Result<DeltaTable> {
        let cached = self.open.lock().await.get(id).cloned();
        let table = match cached {
            Some(mut t) if t.version().is_some() => {
                t.update_state().await.map_err(delta(id))?;
                t
            }
            _ => {
                let mut t = DeltaTableBuilder::from_url(self.url(id)?)
                    .and_then(|b| b.build())
                    .map_err(delta(id))?;
                // Nothing flushed to it yet: an empty table.
                let absent = self
                    .local_root
                    .as_ref()
                    .is_some_and(|r| !r.join(id).join("_delta_log").is_dir());
                if !absent {
                    match t.load().await {
                        Ok(()) | Err(DeltaTableError::NotATable(_)) => {}
                        Err(e) => return Err(delta(id)(e)),
                    }
                }
                t
            }
        };
        if table.version().is_some() {
            self.open.lock().await.insert(id.to_string(), table.clone());
        }
        Ok(table)
    }

    async fn remember(&self, id: &str, table: DeltaTable) {
        self.open.lock().await.insert(id.to_string(), table);
    }

    /// The last log segment that `table` holds (0: none).
    async fn flushed_through(id: &str, table: &DeltaTable) -> Result<u64> {
        if table.version().is_none() {
            return Ok(0);
        }
        let state = table.snapshot().map_err(delta(id))?;
        let v = state
            .transaction_version(table.log_store().as_ref(), APP_ID)
            .await
            .map_err(delta(id))?;
        Ok(v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
    }

    /// Closes the log's active segment so that everything acknowledged so
    /// far can be flushed. Decide which stores are live *after* this call:
    /// every store named in a sealed segment existed before it.
    pub async fn seal(&self) -> Result<Sealed> {
        Ok(Sealed(self.log.seal().await?))
    }

    /// Moves the sealed segments into the tables. `live` maps each live
    /// event data store to its layout and retention; records of stores not
    /// in it (purged) are dropped, and so are records older than their
    /// store keeps. On error, what was committed stays committed
    /// and the rest is retried by the next flush.
    pub async fn flush(
        &self,
        sealed: &Sealed,
        live: &HashMap<String, TableSpec>,
    ) -> Result<FlushReport> {
        let _writer = self.writer.lock().await;
        let mut report = FlushReport::default();
        let mut done_through = None;
        for &n in &sealed.0 {
            let grouped = batch::group_segment(&self.log, n, live)?;
            report.expired += grouped.expired;
            for (id, rows) in grouped.tables {
                let table = self.table(&id).await?;
                if Self::flushed_through(&id, &table).await? >= n {
                    continue;
                }
                let count = rows.count;
                let table = self
                    .commit_segment(&id, table, rows.into_sorted()?, n)
                    .await?;
                report.events += count;
                report.commits += 1;
                if !report.tables.contains(&id) {
                    report.tables.push(id.clone());
                }
                self.remember(&id, table).await;
            }
            done_through = Some(n);
            report.segments += 1;
        }
        if let Some(n) = done_through {
            let _gate = self.gate.write().await;
            self.log.remove_through(n)?;
        }
        Ok(report)
    }

    async fn commit_segment(
        &self,
        id: &str,
        table: DeltaTable,
        batches: Vec<deltalake::arrow::record_batch::RecordBatch>,
        segment: u64,
    ) -> Result<DeltaTable> {
        let version = i64::try_from(segment)
            .map_err(|_| Error::Data(format!("log segment number {segment} is too large")))?;
        let mut write = table
            .clone()
            .write(batches)
            .with_partition_columns([PARTITION])
            .with_writer_properties(self.props.clone())
            .with_commit_properties(
                CommitProperties::default()
                    .with_application_transaction(Transaction::new(APP_ID, version)),
            );
        if table.version().is_none() {
            if let Some(root) = &self.local_root {
                let dir = root.join(id);
                std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
                    context: format!("create {}", dir.display()),
                    source,
                })?;
            }
            write = write.with_table_name(id).with_description(
                "A Cairn event data store: CloudTrail Lake records, partitioned by the UTC day of eventTime",
            );
        }
        let table = write.await.map_err(delta(id))?;
        self.make_durable(id, &table)?;
        Ok(table)
    }

    /// Bytes still in the ingest log (not yet flushed).
    pub fn unflushed_bytes(&self) -> u64 {
        self.log.bytes()
    }
}

/// How the Parquet files are written.
fn writer_properties() -> WriterProperties {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(9).unwrap_or_default()))
        // Audit events repeat a lot (sources, names, agents, request
        // shapes): bigger dictionaries cut the files by a sixth
        // (storage_bench with sequential ids at level 3: 0.85x -> 0.71x of
        // gzipped JSON; level 9 takes it to 0.67x).
        .set_dictionary_page_size_limit(8 << 20)
        // Long strings (messages, request shapes) as min/max statistics
        // would make every file's footer and page index a copy of them;
        // 64 bytes keep the pruning they allow.
        .set_statistics_truncate_length(Some(64))
        .set_column_index_truncate_length(Some(64));
    // Ids are unique per event: a dictionary of them only adds an index to
    // every value. Their lengths are all alike, so keeping them apart from
    // the bytes (DELTA_LENGTH_BYTE_ARRAY) saves the plain encoding's four
    // bytes of length per value (storage_bench: 1.5 B/event per id column).
    for path in UNIQUE_COLUMNS {
        props = props
            .set_column_dictionary_enabled(column(path), false)
            .set_column_encoding(column(path), Encoding::DELTA_LENGTH_BYTE_ARRAY);
    }
    // Rows are sorted by eventTime, so its values differ by little from
    // one to the next: deltas take a byte or two where a plain int64 takes
    // eight, and sorted timestamp strings share long prefixes.
    for (path, encoding) in SORTED_COLUMNS {
        props = props
            .set_column_dictionary_enabled(column(path), false)
            .set_column_encoding(column(path), *encoding);
    }
    props.build()
}

fn column(path: &[&str]) -> ColumnPath {
    ColumnPath::new(path.iter().map(|p| p.to_string()).collect())
}

/// Columns (of either layout) that follow the eventTime sort order, and
/// the encoding that makes use of it.
const SORTED_COLUMNS: &[(&[&str], Encoding)] = &[
    (&["eventtime"], Encoding::DELTA_BINARY_PACKED),
    (&["eventdata", "eventtime"], Encoding::DELTA_BYTE_ARRAY),
    (&["metadata", "ingestiontime"], Encoding::DELTA_BYTE_ARRAY),
];

/// Columns (of either layout) whose values are all different.
const UNIQUE_COLUMNS: &[&[&str]] = &[
    &["eventid"],
    &["requestid"],
    &["sharedeventid"],
    &["eventdata", "uid"],
];

/// Event data store ids are UUIDs; anything else must never become a path.
fn valid_id(id: &str) -> Result<()> {
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        Ok(())
    } else {
        Err(Error::Data(format!("'{id}' is not an event data store id")))
    }
}

/// `YYYY-MM-DD`.
pub fn day_string(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[cfg(test)]
mod tests;
