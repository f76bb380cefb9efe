//! Local disks need an fsync before a commit counts as durable: the object
//! store writes files and renames the commit into place, but does not sync.
//! The ingest log's segments are removed only after this, so a power loss
//! can never take both copies of an acknowledged event.

use crate::{Error, Result, Tables};
use deltalake::DeltaTable;
use std::fs::File;
use std::path::{Path, PathBuf};

fn sync(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|source| Error::Io {
            context: format!("fsync {}", path.display()),
            source,
        })
}

/// Paths of the files a commit adds (Delta stores them percent-encoded).
fn added_files(commit: &str) -> Vec<String> {
    commit
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("add")?.get("path")?.as_str().map(str::to_string))
        .map(|p| {
            percent_encoding::percent_decode_str(&p)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

impl Tables {
    /// Makes the table's latest commit durable on a local disk: its data
    /// files, the commit file, any checkpoint of that version, and every
    /// directory entry that points at them.
    pub(crate) fn make_durable(&self, id: &str, table: &DeltaTable) -> Result<()> {
        let (Some(root), Some(version)) = (&self.local_root, table.version()) else {
            return Ok(());
        };
        let dir = root.join(id);
        let log_dir = dir.join("_delta_log");
        let commit_path = log_dir.join(format!("{version:020}.json"));
        let commit = std::fs::read_to_string(&commit_path).map_err(|source| Error::Io {
            context: format!("read {}", commit_path.display()),
            source,
        })?;
        let mut dirs: Vec<PathBuf> = vec![root.clone(), dir.clone(), log_dir.clone()];
        for file in added_files(&commit) {
            let path = dir.join(&file);
            sync(&path)?;
            if let Some(parent) = path.parent() {
                if !dirs.iter().any(|d| d == parent) {
                    dirs.push(parent.to_path_buf());
                }
            }
        }
        let prefix = format!("{version:020}.");
        let entries = std::fs::read_dir(&log_dir).map_err(|source| Error::Io {
            context: format!("list {}", log_dir.display()),
            source,
        })?;
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) || name == "_last_checkpoint" {
                sync(&entry.path())?;
            }
        }
        for d in dirs {
            sync(&d)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::added_files;

    #[test]
    fn added_files_are_read_and_decoded() {
        let commit = concat!(
            "{\"commitInfo\":{\"operation\":\"WRITE\"}}\n",
            "{\"txn\":{\"appId\":\"cairn-ingest-log\",\"version\":3}}\n",
            "{\"add\":{\"path\":\"eventday=2026-12-04/part-1.zstd.parquet\",\"size\":10}}\n",
            "{\"add\":{\"path\":\"eventday=2026%2D12%2D05/part-2.zstd.parquet\",\"size\":10}}\n",
            "{\"remove\":{\"path\":\"eventday=2026-12-01/old.parquet\"}}\n",
        );
        assert_eq!(
            added_files(commit),
            [
                "eventday=2026-12-04/part-1.zstd.parquet",
                "eventday=2026-12-05/part-2.zstd.parquet"
            ]
        );
    }
}
