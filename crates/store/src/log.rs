//! The ingest log: an append-only, checksummed, fsync'd record log.
//!
//! Layout: `DIR/NNNNNNNNNNNNNNNNNNNN.log` segments, each a sequence of frames
//! `[len: u32 LE][crc32: u32 LE][payload: len bytes]`. One append is one
//! frame, so a crash can never leave part of an append behind: the payload
//! is `0x00` followed by the records, each `[len: u32 LE][bytes]`. (A payload
//! that starts with `{` is a single JSON record, as logs written before
//! batch frames hold.)
//!
//! Durability contract: [`IngestLog::append`] resolves only after the frames
//! are written and `fdatasync`ed. One writer thread serves every caller and
//! fsyncs once per batch of waiting appends (group commit), so concurrent
//! requests share the cost of a sync.
//!
//! Readers see exactly the committed prefix of each segment: the writer
//! publishes a segment's committed length only after the sync. A failed write
//! (disk full, I/O error) is cut off again (`set_len` to the committed
//! length), so the log never holds a partial frame that a later append would
//! bury. At open, a torn or corrupt tail — from a crash mid-write — is
//! detected by length and checksum, reported, and truncated away.
//!
//! Segments are numbered and numbers are never reused: the last segment is
//! the active one (appends go there) and is never removed. A flusher
//! [`seal`](IngestLog::seal)s the active segment, copies the sealed ones
//! elsewhere, records the number of the last one it copied, and only then
//! [`remove_through`](IngestLog::remove_through)s them; a crash between the
//! copy and the removal leaves segments that the recorded number says to
//! skip.

use crate::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use tokio::sync::oneshot;

/// The largest payload a frame may carry; a larger length is corruption.
const MAX_FRAME: u32 = 64 << 20;
/// A segment is closed and a new one started past this size, which also
/// bounds what a flusher reads at once.
const SEGMENT_BYTES: u64 = 32 << 20;
/// At most this many bytes are written per sync, so one huge burst does not
/// delay every waiter behind it.
const MAX_BATCH_BYTES: usize = 16 << 20;

#[derive(Debug, Clone)]
struct Segment {
    number: u64,
    path: PathBuf,
    committed: u64,
}

/// What opening the log found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Segments found.
    pub segments: usize,
    /// Intact records found.
    pub records: u64,
    /// Bytes cut from torn or corrupt tails.
    pub truncated_bytes: u64,
}

struct Append {
    frames: Vec<u8>,
    done: oneshot::Sender<Result<()>>,
}

enum Request {
    Append(Append),
    /// Start a new active segment if the current one holds records.
    Seal(oneshot::Sender<Result<()>>),
}

/// Handle to the ingest log; cheap to clone.
#[derive(Clone)]
pub struct IngestLog {
    tx: mpsc::Sender<Request>,
    segments: Arc<RwLock<Vec<Segment>>>,
    dir: PathBuf,
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:020}.log"))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("sync directory {}", dir.display()), e))
}

/// Reads the intact frames of `path`; returns their count and the length of
/// the intact prefix. Stops at the first torn or corrupt frame.
fn scan_file(path: &Path, limit: u64, mut f: impl FnMut(&[u8])) -> Result<(u64, u64)> {
    let file = File::open(path).map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    let mut r = BufReader::with_capacity(1 << 20, file.take(limit));
    let mut offset = 0u64;
    let mut count = 0u64;
    let mut header = [0u8; 8];
    let mut payload = Vec::new();
    loop {
        match read_full(&mut r, &mut header) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
        }
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_FRAME {
            break;
        }
        payload.resize(len as usize, 0);
        match read_full(&mut r, &mut payload) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
        }
        if crc32fast::hash(&payload) != crc {
            break;
        }
        let Some(records) = records_of(&payload) else {
            break;
        };
        for r in records {
            f(r);
            count += 1;
        }
        offset += 8 + u64::from(len);
    }
    Ok((count, offset))
}

/// The records of one frame's payload; None if it is malformed (which a
/// matching checksum makes a bug, not a crash: the frame is treated as torn).
fn records_of(payload: &[u8]) -> Option<Vec<&[u8]>> {
    match payload.first() {
        Some(0) => {
            let mut rest = &payload[1..];
            let mut out = Vec::new();
            while !rest.is_empty() {
                let (len, tail) = rest.split_first_chunk::<4>()?;
                let len = u32::from_le_bytes(*len) as usize;
                if tail.len() < len {
                    return None;
                }
                let (record, tail) = tail.split_at(len);
                out.push(record);
                rest = tail;
            }
            Some(out)
        }
        Some(b'{') => Some(vec![payload]),
        // Zeros (a file extended but never written, after a crash) or junk.
        _ => None,
    }
}

/// Fills `buf`; Ok(false) when the input ends first (a torn frame).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = r.read(&mut buf[filled..])?;
        if n == 0 {
            return Ok(false);
        }
        filled += n;
    }
    Ok(true)
}

impl IngestLog {
    /// Opens the log in `dir` (created if missing), repairs a torn tail and
    /// starts the writer thread.
    pub fn open(dir: &Path) -> Result<(Self, LogStats)> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        let mut numbers: Vec<u64> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(format!("list {}", dir.display()), e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.strip_suffix(".log").and_then(|n| n.parse().ok())
            })
            .collect();
        numbers.sort_unstable();
        let mut stats = LogStats {
            segments: numbers.len(),
            ..LogStats::default()
        };
        let mut segments = Vec::new();
        for n in &numbers {
            let path = segment_path(dir, *n);
            let len = std::fs::metadata(&path)
                .map_err(|e| Error::io(format!("stat {}", path.display()), e))?
                .len();
            let (count, intact) = scan_file(&path, len, |_| {})?;
            stats.records += count;
            if intact < len {
                tracing::warn!(
                    segment = %path.display(),
                    intact_bytes = intact,
                    cut_bytes = len - intact,
                    "ingest log: torn or corrupt tail found (a crash mid-write); records before it are kept, the tail was never acknowledged and is removed"
                );
                stats.truncated_bytes += len - intact;
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
                f.set_len(intact)
                    .and_then(|_| f.sync_all())
                    .map_err(|e| Error::io(format!("truncate {}", path.display()), e))?;
            }
            segments.push(Segment {
                number: *n,
                path,
                committed: intact,
            });
        }
        if segments.is_empty() {
            let path = segment_path(dir, 1);
            File::create(&path).map_err(|e| Error::io(format!("create {}", path.display()), e))?;
            sync_dir(dir)?;
            segments.push(Segment {
                number: 1,
                path,
                committed: 0,
            });
        }
        let segments = Arc::new(RwLock::new(segments));
        let (tx, rx) = mpsc::channel::<Request>();
        let writer = Writer::new(dir.to_path_buf(), segments.clone())?;
        std::thread::Builder::new()
            .name("ingest-log-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| Error::io("start the ingest log writer", e))?;
        Ok((
            Self {
                tx,
                segments,
                dir: dir.to_path_buf(),
            },
            stats,
        ))
    }

    /// Appends `records` atomically, also across crashes, and returns once
    /// they are on disk. Either all are committed or none is visible.
    pub async fn append(&self, records: &[Vec<u8>]) -> Result<()> {
        let too_large = || {
            Error::io(
                "append",
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "records too large"),
            )
        };
        let mut payload =
            Vec::with_capacity(1 + records.iter().map(|r| r.len() + 4).sum::<usize>());
        payload.push(0);
        for r in records {
            let len = u32::try_from(r.len()).map_err(|_| too_large())?;
            payload.extend_from_slice(&len.to_le_bytes());
            payload.extend_from_slice(r);
        }
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|l| *l <= MAX_FRAME)
            .ok_or_else(too_large)?;
        let mut frames = Vec::with_capacity(payload.len() + 8);
        frames.extend_from_slice(&len.to_le_bytes());
        frames.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        frames.extend_from_slice(&payload);
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Request::Append(Append { frames, done }))
            .map_err(|_| Error::WriterGone)?;
        wait.await.map_err(|_| Error::WriterGone)?
    }

    fn segments(&self) -> Vec<Segment> {
        self.segments.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Closes the active segment if it holds records, so that every record
    /// committed before the call is in a sealed segment. Returns the numbers
    /// of all sealed segments, oldest first.
    pub async fn seal(&self) -> Result<Vec<u64>> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Request::Seal(done))
            .map_err(|_| Error::WriterGone)?;
        wait.await.map_err(|_| Error::WriterGone)??;
        let all = self.segments();
        Ok(all[..all.len().saturating_sub(1)]
            .iter()
            .map(|s| s.number)
            .collect())
    }

    /// Calls `f` with every committed record of segment `number`, oldest
    /// first; a segment that is gone yields nothing.
    pub fn scan_segment(&self, number: u64, mut f: impl FnMut(&[u8])) -> Result<()> {
        if let Some(s) = self.segments().into_iter().find(|s| s.number == number) {
            scan_file(&s.path, s.committed, &mut f)?;
        }
        Ok(())
    }

    /// Calls `f(segment, record)` with every committed record of the
    /// segments numbered above `after`, oldest first.
    pub fn scan_after(&self, after: u64, mut f: impl FnMut(u64, &[u8])) -> Result<()> {
        for s in self.segments().into_iter().filter(|s| s.number > after) {
            scan_file(&s.path, s.committed, |r| f(s.number, r))?;
        }
        Ok(())
    }

    /// Removes the sealed segments numbered up to `number` (never the
    /// active one). Call only once what they hold is durable elsewhere.
    pub fn remove_through(&self, number: u64) -> Result<()> {
        let doomed: Vec<Segment> = {
            let Ok(mut all) = self.segments.write() else {
                return Err(Error::WriterGone);
            };
            let active = all.last().map_or(0, |s| s.number);
            let (gone, kept) = all
                .drain(..)
                .partition(|s| s.number <= number && s.number != active);
            *all = kept;
            gone
        };
        for s in &doomed {
            std::fs::remove_file(&s.path)
                .map_err(|e| Error::io(format!("remove {}", s.path.display()), e))?;
        }
        if !doomed.is_empty() {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Committed bytes in all segments (what is not yet removed).
    pub fn bytes(&self) -> u64 {
        self.segments().iter().map(|s| s.committed).sum()
    }
}

struct Writer {
    dir: PathBuf,
    segments: Arc<RwLock<Vec<Segment>>>,
    file: File,
    committed: u64,
}

impl Writer {
    fn new(dir: PathBuf, segments: Arc<RwLock<Vec<Segment>>>) -> Result<Self> {
        let last = segments.read().ok().and_then(|s| s.last().cloned());
        let last = last
            .ok_or_else(|| Error::io("open the ingest log", std::io::ErrorKind::NotFound.into()))?;
        let mut file = OpenOptions::new()
            .write(true)
            .open(&last.path)
            .map_err(|e| Error::io(format!("open {}", last.path.display()), e))?;
        file.seek(SeekFrom::Start(last.committed))
            .map_err(|e| Error::io(format!("seek {}", last.path.display()), e))?;
        Ok(Self {
            dir,
            segments,
            file,
            committed: last.committed,
        })
    }

    fn run(mut self, rx: mpsc::Receiver<Request>) {
        let mut pending = None;
        loop {
            let first = match pending.take() {
                Some(r) => r,
                None => match rx.recv() {
                    Ok(r) => r,
                    Err(_) => return,
                },
            };
            let first = match first {
                Request::Append(a) => a,
                Request::Seal(done) => {
                    let result = if self.committed > 0 {
                        self.rotate()
                    } else {
                        Ok(())
                    };
                    let _ = done.send(result);
                    continue;
                }
            };
            let mut batch = vec![first];
            let mut bytes = batch[0].frames.len();
            while bytes < MAX_BATCH_BYTES {
                match rx.try_recv() {
                    Ok(Request::Append(a)) => {
                        bytes += a.frames.len();
                        batch.push(a);
                    }
                    Ok(seal) => {
                        // After this batch, so the seal covers it.
                        pending = Some(seal);
                        break;
                    }
                    Err(_) => break,
                }
            }
            let result = self.commit(&batch);
            for a in batch {
                let _ = a.done.send(match &result {
                    Ok(()) => Ok(()),
                    Err(e) => Err(Error::io(
                        "ingest log write",
                        std::io::Error::other(e.to_string()),
                    )),
                });
            }
        }
    }

    fn commit(&mut self, batch: &[Append]) -> Result<()> {
        if self.committed >= SEGMENT_BYTES {
            self.rotate()?;
        }
        let written: Result<u64> = (|| {
            let mut n = 0u64;
            for a in batch {
                self.file
                    .write_all(&a.frames)
                    .map_err(|e| Error::io("write ingest log", e))?;
                n += a.frames.len() as u64;
            }
            self.file
                .sync_data()
                .map_err(|e| Error::io("fsync ingest log", e))?;
            Ok(n)
        })();
        match written {
            Ok(n) => {
                self.committed += n;
                if let Ok(mut s) = self.segments.write() {
                    if let Some(last) = s.last_mut() {
                        last.committed = self.committed;
                    }
                }
                Ok(())
            }
            Err(e) => {
                // Cut whatever part of the batch reached the file, so the
                // next append starts at a frame boundary again.
                let repaired = self
                    .file
                    .set_len(self.committed)
                    .and_then(|_| self.file.seek(SeekFrom::Start(self.committed)).map(|_| ()));
                if let Err(r) = repaired {
                    tracing::error!(error = %r, "ingest log: could not cut a failed write back");
                }
                Err(e)
            }
        }
    }

    fn rotate(&mut self) -> Result<()> {
        let next = self
            .segments
            .read()
            .ok()
            .and_then(|s| s.last().map(|l| l.number))
            .map_or(1, |n| n + 1);
        let path = segment_path(&self.dir, next);
        let file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(format!("create {}", path.display()), e))?;
        sync_dir(&self.dir)?;
        self.file = file;
        self.committed = 0;
        if let Ok(mut s) = self.segments.write() {
            s.push(Segment {
                number: next,
                path,
                committed: 0,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn collect(log: &IngestLog) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        log.scan_after(0, |_, r| out.push(r.to_vec())).unwrap();
        out
    }

    #[tokio::test]
    async fn appends_are_visible_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (log, stats) = IngestLog::open(dir.path()).unwrap();
            assert_eq!(stats.records, 0);
            log.append(&[b"a".to_vec(), b"bb".to_vec()]).await.unwrap();
            log.append(&[b"ccc".to_vec()]).await.unwrap();
            assert_eq!(
                collect(&log),
                vec![b"a".to_vec(), b"bb".to_vec(), b"ccc".to_vec()]
            );
        }
        let (log, stats) = IngestLog::open(dir.path()).unwrap();
        assert_eq!(stats.records, 3);
        log.append(&[b"d".to_vec()]).await.unwrap();
        assert_eq!(collect(&log).len(), 4);
    }

    #[tokio::test]
    async fn torn_and_corrupt_tails_are_cut_and_earlier_records_kept() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (log, _) = IngestLog::open(dir.path()).unwrap();
            log.append(&[b"first".to_vec(), b"second".to_vec()])
                .await
                .unwrap();
        }
        let seg = segment_path(dir.path(), 1);
        let good_len = std::fs::metadata(&seg).unwrap().len();
        // A torn frame: a header promising more bytes than follow.
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&100u32.to_le_bytes()).unwrap();
        f.write_all(&[1, 2, 3, 4, 5, 6]).unwrap();
        drop(f);
        let (log, stats) = IngestLog::open(dir.path()).unwrap();
        assert_eq!(stats.records, 2);
        assert_eq!(stats.truncated_bytes, 10);
        assert_eq!(std::fs::metadata(&seg).unwrap().len(), good_len);
        log.append(&[b"third".to_vec()]).await.unwrap();
        drop(log);
        // A flipped byte in the last record's payload: that record goes, the rest stays.
        let mut bytes = std::fs::read(&seg).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&seg, &bytes).unwrap();
        let (log, stats) = IngestLog::open(dir.path()).unwrap();
        assert_eq!(stats.records, 2);
        assert_eq!(collect(&log), vec![b"first".to_vec(), b"second".to_vec()]);
    }

    #[tokio::test]
    async fn an_append_cut_by_a_crash_is_wholly_gone() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (log, _) = IngestLog::open(dir.path()).unwrap();
            log.append(&[b"kept".to_vec()]).await.unwrap();
            let many: Vec<Vec<u8>> = (0..50u8).map(|i| vec![b'{', i, b'}']).collect();
            log.append(&many).await.unwrap();
        }
        let seg = segment_path(dir.path(), 1);
        let whole = std::fs::read(&seg).unwrap();
        let len = whole.len();
        // The process died inside write(): only a prefix of the second append
        // reached the file, or the file grew but the data never arrived (zeros).
        let mut zeroed = whole.clone();
        zeroed[len - 100..].fill(0);
        for bytes in [
            whole[..len - 1].to_vec(),
            whole[..len - 60].to_vec(),
            whole[..len - 140].to_vec(),
            zeroed,
        ] {
            std::fs::write(&seg, &bytes).unwrap();
            let (log, stats) = IngestLog::open(dir.path()).unwrap();
            assert_eq!(stats.records, 1);
            assert_eq!(collect(&log), vec![b"kept".to_vec()]);
        }
    }

    #[tokio::test]
    async fn single_record_frames_of_older_logs_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let record = br#"{"eds":[],"record":{}}"#;
        let mut frame = (record.len() as u32).to_le_bytes().to_vec();
        frame.extend_from_slice(&crc32fast::hash(record).to_le_bytes());
        frame.extend_from_slice(record);
        std::fs::write(segment_path(dir.path(), 1), &frame).unwrap();
        let (log, stats) = IngestLog::open(dir.path()).unwrap();
        assert_eq!(stats.records, 1);
        log.append(&[b"new".to_vec()]).await.unwrap();
        assert_eq!(collect(&log), vec![record.to_vec(), b"new".to_vec()]);
    }

    #[tokio::test]
    async fn concurrent_appends_all_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = IngestLog::open(dir.path()).unwrap();
        let mut tasks = Vec::new();
        for i in 0..50u32 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                log.append(&[i.to_le_bytes().to_vec()]).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let mut seen: Vec<u32> = collect(&log)
            .iter()
            .map(|r| u32::from_le_bytes([r[0], r[1], r[2], r[3]]))
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn sealed_segments_are_read_and_removed_and_numbers_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = IngestLog::open(dir.path()).unwrap();
        assert_eq!(
            log.seal().await.unwrap(),
            Vec::<u64>::new(),
            "an empty active segment is not sealed"
        );
        log.append(&[b"a".to_vec()]).await.unwrap();
        assert_eq!(log.seal().await.unwrap(), vec![1]);
        log.append(&[b"b".to_vec(), b"c".to_vec()]).await.unwrap();
        let mut seen = Vec::new();
        log.scan_after(0, |n, r| seen.push((n, r.to_vec())))
            .unwrap();
        assert_eq!(
            seen,
            vec![(1, b"a".to_vec()), (2, b"b".to_vec()), (2, b"c".to_vec())]
        );
        let mut one = Vec::new();
        log.scan_segment(1, |r| one.push(r.to_vec())).unwrap();
        assert_eq!(one, vec![b"a".to_vec()]);
        assert_eq!(log.seal().await.unwrap(), vec![1, 2]);
        log.remove_through(2).unwrap();
        assert_eq!(collect(&log), Vec::<Vec<u8>>::new());
        // The active segment (3) survives any removal, so numbering goes on after a restart.
        log.remove_through(u64::MAX).unwrap();
        log.append(&[b"d".to_vec()]).await.unwrap();
        drop(log);
        let (log, stats) = IngestLog::open(dir.path()).unwrap();
        assert_eq!(stats.records, 1);
        log.append(&[b"e".to_vec()]).await.unwrap();
        assert_eq!(log.seal().await.unwrap(), vec![3]);
        let mut seen = Vec::new();
        log.scan_after(2, |n, r| seen.push((n, r.to_vec())))
            .unwrap();
        assert_eq!(seen, vec![(3, b"d".to_vec()), (3, b"e".to_vec())]);
    }
}
