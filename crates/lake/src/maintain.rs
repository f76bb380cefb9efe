//! Upkeep of the event tables, in the background: flush the ingest log into
//! the tables, compact small files, drop days past each store's retention,
//! vacuum unreferenced files, and purge stores whose 7-day PENDING_DELETION
//! window has passed. Every step is safe to interrupt at any point: the
//! tables' commits are atomic and a flush is retried without duplicates.

use crate::eds::{self, Store};
use crate::{from_doc, storage, Lake};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tables::{FlushReport, TableSpec};
use time::{Date, OffsetDateTime};
use wire::ApiError;

/// How long a deleted event data store can be restored before its events
/// are purged (AWS: 7 days).
pub const PENDING_DELETION_DAYS: i64 = 7;

/// How often each kind of upkeep runs.
#[derive(Debug, Clone)]
pub struct Maintenance {
    /// Flush the ingest log (and compact what it touched).
    pub flush_every: Duration,
    /// Enforce retention and purge deleted stores.
    pub retention_every: Duration,
    /// Delete files no commit references any more.
    pub vacuum_every: Duration,
}

impl Default for Maintenance {
    fn default() -> Self {
        Self {
            flush_every: Duration::from_secs(5),
            retention_every: Duration::from_secs(600),
            vacuum_every: Duration::from_secs(3600),
        }
    }
}

/// The oldest day a store with `retention_days` keeps at `now`.
pub(crate) fn oldest_kept(now: OffsetDateTime, retention_days: i64) -> Date {
    (now - time::Duration::days(retention_days.max(0))).date()
}

fn table_error(e: tables::Error) -> ApiError {
    tracing::error!(error = %e, "event table upkeep failed");
    crate::internal(format!("event table upkeep failed: {e}"))
}

impl Lake {
    fn all_stores(&self) -> Result<Vec<(String, Store)>, ApiError> {
        let mut out = Vec::new();
        for account in self.meta.accounts().map_err(storage)? {
            for doc in self.meta.list(eds::KIND, &account.id).map_err(storage)? {
                out.push((account.id.clone(), from_doc::<Store>(&doc)?));
            }
        }
        Ok(out)
    }

    /// Moves everything acknowledged so far from the ingest log into the
    /// tables, then compacts the tables that received data.
    pub async fn flush(&self) -> Result<FlushReport, ApiError> {
        self.disk.tend();
        if !self.disk.room_to_flush() {
            return Err(crate::internal(
                "the disk is full: the flush waits for space (the events stay in the ingest log)",
            ));
        }
        let sealed = self.tables.seal().await.map_err(table_error)?;
        if sealed.is_empty() {
            return Ok(FlushReport::default());
        }
        // After the seal: every store a sealed record names is listed here
        // unless it has been purged.
        let now = self.now();
        let live: HashMap<String, TableSpec> = self
            .all_stores()?
            .into_iter()
            .map(|(_, s)| (s.id.clone(), s.table_spec(now)))
            .collect();
        let report = self
            .tables
            .flush(&sealed, &live)
            .await
            .map_err(table_error)?;
        for id in &report.tables {
            let c = self.tables.compact(id).await.map_err(table_error)?;
            if c.files_removed > 0 {
                tracing::info!(eds = %id, removed = c.files_removed, added = c.files_added, "compacted small files");
            }
        }
        Ok(report)
    }

    /// Drops the days past each store's retention, the event history
    /// past its 90 days and the queries past their 7 days, and purges the stores whose PENDING_DELETION
    /// window has passed.
    pub async fn enforce_retention(&self) -> Result<(), ApiError> {
        let now = self.now();
        let dropped = self.expire_history(now)?;
        if dropped > 0 {
            tracing::info!(events = dropped, "dropped event history older than 90 days");
        }
        let queries = self.expire_queries(now)?;
        if queries > 0 {
            tracing::info!(
                queries,
                "forgot queries older than 7 days and deleted their results"
            );
        }
        for (account, s) in self.all_stores()? {
            let deleted_at = OffsetDateTime::from_unix_timestamp(s.updated as i64)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
            if s.status == "PENDING_DELETION"
                && now - deleted_at >= time::Duration::days(PENDING_DELETION_DAYS)
            {
                let _guard = self.control.lock().await;
                // Still pending? A restore may have come first.
                let current = self.meta.get(eds::KIND, &account, &s.id).map_err(storage)?;
                let still = current
                    .map(|d| from_doc::<Store>(&d))
                    .transpose()?
                    .is_some_and(|c| c.status == "PENDING_DELETION");
                if still {
                    // Events first: a crash in between leaves the store
                    // listed, and the purge runs again.
                    self.tables.purge(&s.id).await.map_err(table_error)?;
                    self.meta
                        .delete(eds::KIND, &account, &s.id)
                        .map_err(storage)?;
                    tracing::info!(eds = %s.arn, "purged: its 7-day PENDING_DELETION window passed");
                }
                continue;
            }
            let expired = self
                .tables
                .expire(&s.id, oldest_kept(now, s.retention_period))
                .await
                .map_err(table_error)?;
            if !expired.days.is_empty() {
                tracing::info!(eds = %s.arn, days = ?expired.days, "dropped days past the retention period");
            }
        }
        Ok(())
    }

    /// Deletes files no commit references any more (after an hour).
    pub async fn vacuum(&self) -> Result<usize, ApiError> {
        let mut deleted = 0;
        for (_, s) in self.all_stores()? {
            deleted += self.tables.vacuum(&s.id).await.map_err(table_error)?;
        }
        Ok(deleted)
    }

    /// Runs the upkeep until `stop` turns true; a step under way when it
    /// does is finished first, so a shutdown never cuts a commit in half.
    /// A failed step is logged and tried again at its next turn; nothing
    /// acknowledged depends on it.
    pub fn spawn_maintenance(
        self: &Arc<Self>,
        every: Maintenance,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let lake = self.clone();
        tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            let mut next_retention = start;
            let mut next_vacuum = start + every.vacuum_every;
            let mut tick = tokio::time::interval(every.flush_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.wait_for(|stopped| *stopped) => return,
                }
                match lake.flush().await {
                    Ok(r) if r.segments > 0 => tracing::debug!(
                        segments = r.segments,
                        events = r.events,
                        commits = r.commits,
                        expired = r.expired,
                        "flushed the ingest log"
                    ),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e.message, "flush failed; the events stay in the ingest log and the flush is retried")
                    }
                }
                let now = tokio::time::Instant::now();
                if now >= next_retention {
                    next_retention = now + every.retention_every;
                    if let Err(e) = lake.enforce_retention().await {
                        tracing::warn!(error = %e.message, "retention pass failed; retried later");
                    }
                }
                if now >= next_vacuum {
                    next_vacuum = now + every.vacuum_every;
                    if let Err(e) = lake.vacuum().await {
                        tracing::warn!(error = %e.message, "vacuum failed; retried later");
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_keeps_whole_days() {
        let now = time::macros::datetime!(2026-12-04 10:00 UTC);
        assert_eq!(oldest_kept(now, 7), time::macros::date!(2026 - 11 - 27));
        assert_eq!(oldest_kept(now, 0), time::macros::date!(2026 - 12 - 04));
    }
}
