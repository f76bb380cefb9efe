//! Query results on disk: written row by row as a query produces them and
//! read back a page at a time, so that neither side holds a whole result.
//!
//! `<id>.rows` holds the result keys on its first line, then one JSON array
//! of strings per row. `<id>.idx` holds the byte offset of every
//! [`STRIDE`]th row (u64, little-endian), so that a page is one seek and a
//! short read away. Both are written under temporary names and renamed when
//! the query ends; `.rows` appearing last marks the result complete.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows between two index entries.
const STRIDE: usize = 1000;

fn path(dir: &Path, id: &str, ext: &str) -> PathBuf {
    dir.join(format!("{id}.{ext}"))
}

/// A result being written.
pub(crate) struct ResultsFile {
    dir: PathBuf,
    id: String,
    out: BufWriter<File>,
    written: u64,
    rows: usize,
    index: Vec<u64>,
    disk: Arc<store::DiskGuard>,
    done: bool,
}

impl ResultsFile {
    pub(crate) fn create(
        dir: &Path,
        id: &str,
        disk: Arc<store::DiskGuard>,
    ) -> std::io::Result<Self> {
        let tmp = path(dir, id, "rows.tmp");
        let file = File::create(&tmp).or_else(|e| {
            if disk.release() {
                File::create(&tmp)
            } else {
                Err(e)
            }
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            id: id.to_string(),
            out: BufWriter::new(file),
            written: 0,
            rows: 0,
            index: Vec::new(),
            disk,
            done: false,
        })
    }

    fn line(&mut self, value: &impl serde::Serialize) -> Result<(), String> {
        let mut bytes = serde_json::to_vec(value).map_err(|e| e.to_string())?;
        bytes.push(b'\n');
        let mut wrote = self.out.write_all(&bytes);
        if wrote.is_err() && self.disk.release() {
            // The disk filled up: the reserve is free now; once more.
            wrote = self.out.write_all(&bytes);
        }
        wrote.map_err(|e| format!("the query results could not be saved: {e}"))?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Closes the result; returns how many rows it has.
    pub(crate) fn finish(mut self) -> Result<usize, String> {
        let fail = |e: std::io::Error| e.to_string();
        self.out.flush().map_err(fail)?;
        let index: Vec<u8> = self.index.iter().flat_map(|o| o.to_le_bytes()).collect();
        let idx_tmp = path(&self.dir, &self.id, "idx.tmp");
        std::fs::write(&idx_tmp, index).map_err(fail)?;
        std::fs::rename(&idx_tmp, path(&self.dir, &self.id, "idx")).map_err(fail)?;
        std::fs::rename(
            path(&self.dir, &self.id, "rows.tmp"),
            path(&self.dir, &self.id, "rows"),
        )
        .map_err(fail)?;
        self.done = true;
        Ok(self.rows)
    }
}

impl query::RowSink for ResultsFile {
    fn columns(&mut self, columns: Vec<String>) -> Result<(), String> {
        self.line(&columns)
    }

    fn rows(&mut self, rows: Vec<Vec<String>>) -> Result<(), String> {
        for row in rows {
            if self.rows.is_multiple_of(STRIDE) {
                self.index.push(self.written);
            }
            self.line(&row)?;
            self.rows += 1;
        }
        Ok(())
    }
}

impl Drop for ResultsFile {
    /// A query cancelled, timed out before its first row, or failed leaves nothing behind.
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(path(&self.dir, &self.id, "rows.tmp"));
        }
    }
}

/// The result keys and the rows `start..start + size` of query `id`.
pub(crate) fn read_page(
    dir: &Path,
    id: &str,
    start: usize,
    size: usize,
) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let file = File::open(path(dir, id, "rows")).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    let columns: Vec<String> = serde_json::from_str(&line).map_err(|e| e.to_string())?;
    // Jump to the indexed row at or before `start`, then skip the rest.
    let index = std::fs::read(path(dir, id, "idx")).map_err(|e| e.to_string())?;
    let slot = start / STRIDE;
    let mut skip = start;
    if let Some(bytes) = index.get(slot * 8..slot * 8 + 8) {
        let mut offset = [0u8; 8];
        offset.copy_from_slice(bytes);
        reader
            .seek(SeekFrom::Start(u64::from_le_bytes(offset)))
            .map_err(|e| e.to_string())?;
        skip = start - slot * STRIDE;
    }
    let mut rows = Vec::with_capacity(size);
    let mut n = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            break;
        }
        if n >= skip {
            rows.push(serde_json::from_str(&line).map_err(|e| e.to_string())?);
            if rows.len() == size {
                break;
            }
        }
        n += 1;
    }
    Ok((columns, rows))
}

/// Deletes the result of query `id`, whatever state it is in.
pub(crate) fn remove(dir: &Path, id: &str) {
    for ext in ["rows", "idx", "rows.tmp", "idx.tmp"] {
        let _ = std::fs::remove_file(path(dir, id, ext));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use query::RowSink;

    #[test]
    fn pages_anywhere_in_a_result_read_back_exactly() {
        let dir = std::env::temp_dir().join(format!("cairn-results-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let disk = Arc::new(store::DiskGuard::new(&dir, Some(0)));
        let mut f = ResultsFile::create(&dir, "q", disk.clone()).unwrap();
        f.columns(vec!["n".into(), "text".into()]).unwrap();
        for chunk in 0..5 {
            let rows = (0..700)
                .map(|i| vec![(chunk * 700 + i).to_string(), "a\nb \"q\"".into()])
                .collect();
            f.rows(rows).unwrap();
        }
        assert_eq!(f.finish().unwrap(), 3500);
        for (start, size) in [
            (0, 1),
            (999, 3),
            (1000, 1000),
            (2999, 1000),
            (3499, 10),
            (3500, 5),
        ] {
            let (columns, rows) = read_page(&dir, "q", start, size).unwrap();
            assert_eq!(columns, vec!["n", "text"]);
            let want: Vec<String> = (start..(start + size).min(3500))
                .map(|n| n.to_string())
                .collect();
            let got: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
            assert_eq!(got, want, "page {start}+{size}");
            assert!(rows.iter().all(|r| r[1] == "a\nb \"q\""));
        }
        // An abandoned result leaves no file behind.
        let f = ResultsFile::create(&dir, "abandoned", disk).unwrap();
        drop(f);
        assert!(!path(&dir, "abandoned", "rows.tmp").exists());
        remove(&dir, "q");
        assert!(read_page(&dir, "q", 0, 1).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
