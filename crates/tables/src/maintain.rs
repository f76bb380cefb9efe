//! Keeping tables in shape: compaction of small files, retention (whole
//! partitions past it are dropped), vacuum of files no commit references,
//! and purge of a deleted event data store.

use crate::{day_string, delta, Error, Result, Tables, PARTITION, TARGET_FILE_BYTES};
use datafusion::prelude::{col, lit};
use deltalake::operations::vacuum::VacuumMode;
use futures::{StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::num::NonZeroU64;
use time::Date;

/// A partition with at least this many small files is compacted.
const MIN_SMALL_FILES: usize = 8;
/// Files that no commit references any more are deleted after this long,
/// so queries that started before the change can finish reading them.
const VACUUM_AFTER_HOURS: i64 = 1;

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Files merged away.
    pub files_removed: u64,
    /// Files written in their place.
    pub files_added: u64,
}

/// What a retention pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpireReport {
    /// Days (partitions) dropped.
    pub days: Vec<String>,
    /// Files no longer part of the table.
    pub files: usize,
}

impl Tables {
    /// Merges small files of the partitions that have many of them.
    pub async fn compact(&self, id: &str) -> Result<CompactReport> {
        let _writer = self.writer.lock().await;
        let table = self.table(id).await?;
        if table.version().is_none() {
            return Ok(CompactReport::default());
        }
        let mut small: HashMap<String, usize> = HashMap::new();
        for f in table.snapshot().map_err(delta(id))?.log_data().iter() {
            if u64::try_from(f.size()).unwrap_or(0) < TARGET_FILE_BYTES / 2 {
                let day = f
                    .partition_values_map()
                    .get(PARTITION)
                    .cloned()
                    .flatten()
                    .unwrap_or_default();
                *small.entry(day).or_default() += 1;
            }
        }
        if small.values().all(|n| *n < MIN_SMALL_FILES) {
            return Ok(CompactReport::default());
        }
        let (table, metrics) = table
            .optimize()
            .with_target_size(NonZeroU64::new(TARGET_FILE_BYTES).unwrap_or(NonZeroU64::MIN))
            .with_writer_properties(self.props.clone())
            .with_max_concurrent_tasks(1)
            .await
            .map_err(delta(id))?;
        self.make_durable(id, &table)?;
        self.remember(id, table).await;
        Ok(CompactReport {
            files_removed: metrics.num_files_removed,
            files_added: metrics.num_files_added,
        })
    }

    /// Drops the partitions of days before `oldest_kept`.
    pub async fn expire(&self, id: &str, oldest_kept: Date) -> Result<ExpireReport> {
        let _writer = self.writer.lock().await;
        let table = self.table(id).await?;
        if table.version().is_none() {
            return Ok(ExpireReport::default());
        }
        let cutoff = day_string(oldest_kept);
        let mut days: Vec<String> = table
            .snapshot()
            .map_err(delta(id))?
            .log_data()
            .iter()
            .filter_map(|f| f.partition_values_map().get(PARTITION).cloned().flatten())
            .filter(|d| *d < cutoff)
            .collect();
        if days.is_empty() {
            return Ok(ExpireReport::default());
        }
        days.sort();
        days.dedup();
        // A predicate on the partition column alone removes whole files
        // without rewriting anything.
        let (table, metrics) = table
            .delete()
            .with_predicate(col(PARTITION).lt(lit(cutoff)))
            .await
            .map_err(delta(id))?;
        self.make_durable(id, &table)?;
        self.remember(id, table).await;
        Ok(ExpireReport {
            days,
            files: metrics.num_removed_files,
        })
    }

    /// Bytes of the Parquet files the table's current version references:
    /// its size once replaced files are vacuumed.
    pub async fn data_bytes(&self, id: &str) -> Result<u64> {
        let table = self.table(id).await?;
        if table.version().is_none() {
            return Ok(0);
        }
        let files = table.snapshot().map_err(delta(id))?.log_data();
        Ok(files
            .iter()
            .map(|f| u64::try_from(f.size()).unwrap_or(0))
            .sum())
    }

    /// The data files the current version of table `id` references,
    /// relative to the table's root.
    pub async fn live_files(&self, id: &str) -> Result<Vec<String>> {
        let table = self.table(id).await?;
        if table.version().is_none() {
            return Ok(Vec::new());
        }
        let files = table.snapshot().map_err(delta(id))?.log_data();
        Ok(files.iter().map(|f| f.path().to_string()).collect())
    }

    /// Deletes files that no current commit references (compacted,
    /// expired, or written by a flush that crashed before committing) once
    /// they are an hour old. Returns how many were deleted.
    pub async fn vacuum(&self, id: &str) -> Result<usize> {
        let _writer = self.writer.lock().await;
        let table = self.table(id).await?;
        if table.version().is_none() {
            return Ok(0);
        }
        let (table, metrics) = table
            .vacuum()
            .with_mode(VacuumMode::Full)
            .with_retention_period(chrono::Duration::hours(VACUUM_AFTER_HOURS))
            .with_enforce_retention_duration(false)
            .await
            .map_err(delta(id))?;
        self.remember(id, table).await;
        Ok(metrics.files_deleted.len())
    }

    /// Removes the table of `id` and everything in it.
    pub async fn purge(&self, id: &str) -> Result<()> {
        let _writer = self.writer.lock().await;
        let _gate = self.gate.write().await;
        self.open.lock().await.remove(id);
        if let Some(root) = &self.local_root {
            crate::valid_id(id)?;
            let dir = root.join(id);
            return match std::fs::remove_dir_all(&dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(Error::Io {
                    context: format!("remove {}", dir.display()),
                    source,
                }),
            };
        }
        let table = self.table(id).await?;
        let store = table.object_store();
        let paths = store.list(None).map_ok(|m| m.location).boxed();
        store
            .delete_stream(paths)
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| delta(id)(e.into()))?;
        Ok(())
    }
}
