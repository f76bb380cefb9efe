//! Room on the disk for everything but ingest.
//!
//! A full disk must stop ingest, never reads or queries. The guard keeps a
//! reserve file (`DIR/reserved-space`) and admits new events only while the
//! free space is at least the reserve's size. When the disk fills up all
//! the same (something else wrote to it) and a write that is not ingest
//! fails, [`DiskGuard::release`] frees the reserve so that the write can be
//! retried; [`DiskGuard::tend`] takes the reserve again once there is room.
//! While it is released, ingest and flushes wait.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Reserve at most this much (and at most 5% of the file system).
const MAX_RESERVE: u64 = 64 << 20;
const RESERVE_FILE: &str = "reserved-space";

/// Why new events are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{free} bytes free on the disk of {dir}, and ingest needs at least {needed}")]
pub struct DiskFull {
    /// The data directory.
    pub dir: String,
    /// Bytes free now.
    pub free: u64,
    /// Bytes ingest needs free.
    pub needed: u64,
}

/// Watches the free space of the data directory's file system.
pub struct DiskGuard {
    dir: PathBuf,
    reserve: PathBuf,
    bytes: u64,
}

fn space(dir: &Path) -> std::io::Result<(u64, u64)> {
    let s = rustix::fs::statvfs(dir).map_err(std::io::Error::from)?;
    Ok((
        s.f_bavail.saturating_mul(s.f_frsize),
        s.f_blocks.saturating_mul(s.f_frsize),
    ))
}

impl DiskGuard {
    /// A guard for `dir` with a reserve of `bytes`, or by default 5% of
    /// the file system up to 64 MiB. Takes the reserve if there is room.
    pub fn new(dir: &Path, bytes: Option<u64>) -> Self {
        let bytes = bytes.unwrap_or_else(|| {
            space(dir).map_or(MAX_RESERVE, |(_, total)| (total / 20).min(MAX_RESERVE))
        });
        let guard = Self {
            dir: dir.to_path_buf(),
            reserve: dir.join(RESERVE_FILE),
            bytes,
        };
        guard.tend();
        guard
    }

    fn free(&self) -> u64 {
        // Unknown free space: do not stand in the way.
        space(&self.dir).map_or(u64::MAX, |(free, _)| free)
    }

    fn reserved(&self) -> bool {
        self.reserve.exists()
    }

    /// Whether new events may be written: the free space must stay above
    /// the reserve's size, and above twice that while the reserve is
    /// released (so that ingest never eats the room made for the rest).
    pub fn admit(&self) -> Result<(), DiskFull> {
        if self.bytes == 0 {
            return Ok(());
        }
        let free = self.free();
        let needed = if self.reserved() {
            self.bytes
        } else {
            self.bytes.saturating_mul(2)
        };
        if free >= needed {
            Ok(())
        } else {
            Err(DiskFull {
                dir: self.dir.display().to_string(),
                free,
                needed,
            })
        }
    }

    /// Whether a flush has room to write its files (and the reserve is in
    /// place, so that a flush never eats the room kept for queries).
    pub fn room_to_flush(&self) -> bool {
        self.bytes == 0 || (self.reserved() && self.free() >= self.bytes / 2)
    }

    /// Frees the reserve after a write failed for lack of space; returns
    /// whether there was one to free (so the write is worth retrying).
    pub fn release(&self) -> bool {
        match std::fs::remove_file(&self.reserve) {
            Ok(()) => {
                tracing::warn!(
                    dir = %self.dir.display(),
                    released = self.bytes,
                    "the disk is full: released the reserved space so that reads and queries keep working; ingest and flushes wait until space returns"
                );
                true
            }
            Err(_) => false,
        }
    }

    /// Takes the reserve again when there is ample room. Call it often.
    pub fn tend(&self) {
        if self.bytes == 0 || self.reserved() {
            return;
        }
        if self.free() >= self.bytes.saturating_mul(3) {
            if let Err(e) = self.take_reserve() {
                let _ = std::fs::remove_file(&self.reserve);
                tracing::warn!(error = %e, "could not reserve disk space");
            } else {
                tracing::info!(dir = %self.dir.display(), "there is room again: space reserved, ingest resumes");
            }
        }
    }

    fn take_reserve(&self) -> std::io::Result<()> {
        let tmp = self.dir.join(format!("{RESERVE_FILE}.tmp"));
        let mut f = std::fs::File::create(&tmp)?;
        let chunk = vec![0u8; 1 << 20];
        let mut left = self.bytes;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            f.write_all(&chunk[..n])?;
            left -= n as u64;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, &self.reserve)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_taken_when_there_is_room_and_ingest_admitted() {
        let dir = tempfile::tempdir().unwrap();
        let g = DiskGuard::new(dir.path(), Some(1 << 20));
        assert!(dir.path().join(RESERVE_FILE).exists());
        assert_eq!(
            std::fs::metadata(dir.path().join(RESERVE_FILE))
                .unwrap()
                .len(),
            1 << 20
        );
        assert!(g.admit().is_ok());
        assert!(g.room_to_flush());
        assert!(g.release());
        assert!(!g.release(), "nothing left to release");
        assert!(
            !g.room_to_flush(),
            "flushes wait while the reserve is released"
        );
        g.tend();
        assert!(g.room_to_flush());
        let off = DiskGuard::new(dir.path(), Some(0));
        assert!(off.admit().is_ok());
    }

    #[test]
    fn an_impossible_reserve_refuses_ingest_with_the_figures() {
        let dir = tempfile::tempdir().unwrap();
        let g = DiskGuard::new(dir.path(), Some(1 << 60));
        assert!(!dir.path().join(RESERVE_FILE).exists());
        let e = g.admit().unwrap_err();
        assert_eq!(e.needed, 1 << 61);
        assert!(e.to_string().contains("ingest needs at least"));
    }
}
