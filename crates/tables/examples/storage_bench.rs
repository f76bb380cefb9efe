//! The storage benchmark: real CloudTrail records, replicated to many
//! events with fresh random ids, go through the ingest log and a flush into
//! a Delta table, once as CloudTrail records (the layout of imported trail
//! logs and management events) and once converted to integration events
//! (what `cairn convert` sends through PutAuditEvents). Reports flush
//! throughput, peak RSS during the flush, and bytes on disk per event
//! against the same records as gzipped CloudTrail JSON (the form CloudTrail
//! delivers them in).
//!
//!   cargo run --release -p tables --example storage_bench -- [EVENTS] [RECORDS_DIR]
//!
//! Defaults: 500000 events from ../shared/cases/data/real. Run it in release;
//! KEEP=1 keeps the table for a look with other tools.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use flate2::{write::GzEncoder, Compression};
use query::Layout;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tables::{LoggedEvent, TableSpec, Tables};

const EDS: &str = "be4c4b00-0000-4000-8000-000000000001";
const ACCOUNT: &str = "111122223333";
/// Events are spread over this many days (so many day partitions).
const DAYS: i64 = 30;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json" || x == "gz") {
            out.push(p);
        }
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let m = e.metadata().unwrap();
        total += if m.is_dir() {
            dir_bytes(&e.path())
        } else {
            m.len()
        };
    }
    total
}

fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// What one layout's run measured.
struct Run {
    events: u64,
    segments: usize,
    commits: usize,
    flush_s: f64,
    compact_s: f64,
    files_compacted: (u64, u64),
    rss_before_kib: u64,
    rss_peak_kib: u64,
    log_bytes: u64,
    table_bytes: u64,
    disk_bytes: u64,
}

/// The `i`-th benchmark event: a source record with its own time and a
/// fresh random eventID and requestID, as real ones are (repeated ids would
/// flatter the columnar format more than gzip's 32 KiB window).
fn event(records: &[Value], i: usize, n: usize) -> Value {
    let start = time::OffsetDateTime::now_utc() - time::Duration::days(DAYS);
    let step_ms = (DAYS * 86_400_000) / i64::try_from(n).unwrap().max(1);
    let when = start + time::Duration::milliseconds(step_ms * i64::try_from(i).unwrap());
    let mut rec = records[i % records.len()].clone();
    rec["eventTime"] = json!(rfc3339(when).replace(".000", ""));
    rec["eventID"] = json!(uuid::Uuid::new_v4().to_string());
    if rec.get("requestID").is_some_and(Value::is_string) {
        rec["requestID"] = json!(uuid::Uuid::new_v4().to_string());
    }
    rec
}

/// The stored record of `rec` in `layout` (lake::records::stored_record for
/// integration events, which get a Cairn eventID of their own).
fn stored(rec: Value, layout: Layout) -> Option<Value> {
    match layout {
        Layout::CloudTrail => Some(rec),
        Layout::Integration => {
            let data = trail_convert::to_event_data(&rec, ACCOUNT).ok()?;
            Some(json!({
                "eventVersion": "2.0", "eventCategory": "ActivityAuditLog", "eventType": "ActivityLog",
                "eventID": uuid::Uuid::new_v4().to_string(),
                "eventTime": data.get("eventTime").cloned().unwrap_or(Value::Null),
                "awsRegion": "us-east-1", "recipientAccountId": ACCOUNT,
                "metadata": {"ingestionTime": rfc3339(time::OffsetDateTime::now_utc()),
                             "channelARN": format!("arn:aws:cloudtrail:us-east-1:{ACCOUNT}:channel/bench")},
                "eventData": data,
            }))
        }
    }
}

/// Writes `n` events in `layout` to a fresh ingest log, flushes and
/// compacts them; with `gz`, also writes the source records to it.
async fn run(
    layout: Layout,
    records: &[Value],
    n: usize,
    mut gz: Option<&mut GzEncoder<Vec<u8>>>,
) -> Run {
    let work = tempfile::tempdir().unwrap();
    let (log, _) = store::IngestLog::open(&work.path().join("events")).unwrap();
    let tables = Tables::open_local(&work.path().join("tables"), log.clone()).unwrap();
    let mut chunk = Vec::with_capacity(1000);
    for i in 0..n {
        let rec = event(records, i, n);
        if let Some(gz) = gz.as_deref_mut() {
            if i > 0 {
                gz.write_all(b",").unwrap();
            }
            serde_json::to_writer(&mut *gz, &rec).unwrap();
        }
        let Some(record) = stored(rec, layout) else {
            continue;
        };
        chunk.push(
            serde_json::to_vec(&LoggedEvent {
                eds: vec![EDS.into()],
                record,
            })
            .unwrap(),
        );
        if chunk.len() == 1000 {
            log.append(&chunk).await.unwrap();
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        log.append(&chunk).await.unwrap();
    }
    let log_bytes = log.bytes();

    // Flush and compact, sampling RSS.
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib("VmRSS:"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let rss_before_kib = rss_kib("VmRSS:");
    let live: HashMap<String, TableSpec> = [(
        EDS.to_string(),
        TableSpec {
            layout,
            keep_from: time::Date::MIN,
        },
    )]
    .into();
    let t_flush = Instant::now();
    let sealed = tables.seal().await.unwrap();
    let report = tables.flush(&sealed, &live).await.unwrap();
    let flush_s = t_flush.elapsed().as_secs_f64();
    let t_compact = Instant::now();
    let compacted = tables.compact(EDS).await.unwrap();
    let compact_s = t_compact.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();

    // What the table keeps: the files its current version references and
    // its log. The files compaction replaced stay on disk until vacuum.
    let dir = work.path().join("tables").join(EDS);
    let table_bytes = tables.data_bytes(EDS).await.unwrap() + dir_bytes(&dir.join("_delta_log"));
    let disk_bytes = dir_bytes(&dir);
    if std::env::var_os("KEEP").is_some() {
        println!(
            "{layout:?} table kept at {}",
            work.keep().join("tables").join(EDS).display()
        );
    }
    Run {
        events: report.events,
        segments: report.segments,
        commits: report.commits,
        flush_s,
        compact_s,
        files_compacted: (compacted.files_removed, compacted.files_added),
        rss_before_kib,
        rss_peak_kib: peak.load(Ordering::Relaxed),
        log_bytes,
        table_bytes,
        disk_bytes,
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .get(1)
        .map_or(500_000, |a| a.parse().expect("EVENTS is a number"));
    let src = PathBuf::from(
        args.get(2)
            .map_or("../shared/cases/data/real", String::as_str),
    );
    let mut paths = Vec::new();
    files(&src, &mut paths);
    paths.sort();
    let mut records = Vec::new();
    for p in &paths {
        if let Ok(r) = trail_convert::read_records(p) {
            records.extend(r);
        }
    }
    assert!(
        !records.is_empty(),
        "no CloudTrail records under {}",
        src.display()
    );
    println!(
        "source: {} CloudTrail records from {} files; replicating to {n} events",
        records.len(),
        paths.len()
    );

    // The same records as CloudTrail delivers them: gzipped {"Records":[…]}.
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(b"{\"Records\":[").unwrap();
    let trail = run(Layout::CloudTrail, &records, n, Some(&mut gz)).await;
    gz.write_all(b"]}").unwrap();
    let gz_bytes = gz.finish().unwrap().len() as u64;
    let integration = run(Layout::Integration, &records, n, None).await;

    let runs = [&trail, &integration];
    let row = |name: &str, f: &dyn Fn(&Run) -> String| {
        println!("| {name} | {} | {} |", f(runs[0]), f(runs[1]));
    };
    let per_event = |bytes: u64, r: &Run| bytes as f64 / r.events as f64;
    println!();
    println!("| measure | CloudTrail records | integration events (converted) |");
    println!("|---|---|---|");
    row("events", &|r| r.events.to_string());
    row("log segments flushed (commits)", &|r| {
        format!("{} ({})", r.segments, r.commits)
    });
    row("flush time", &|r| format!("{:.1} s", r.flush_s));
    row("flush throughput", &|r| {
        format!(
            "{:.0} events/s, {:.1} MB/s of log",
            r.events as f64 / r.flush_s,
            r.log_bytes as f64 / 1e6 / r.flush_s
        )
    });
    row("compaction", &|r| {
        format!(
            "{:.1} s ({} files into {})",
            r.compact_s, r.files_compacted.0, r.files_compacted.1
        )
    });
    row("RSS before flush / peak in flush and compaction", &|r| {
        format!(
            "{} MiB / {} MiB",
            r.rss_before_kib / 1024,
            r.rss_peak_kib / 1024
        )
    });
    row("ingest log (JSON records)", &|r| {
        format!(
            "{:.1} MB, {:.0} B/event",
            r.log_bytes as f64 / 1e6,
            per_event(r.log_bytes, r)
        )
    });
    row("gzipped CloudTrail JSON (the same records)", &|_| {
        format!(
            "{:.1} MB, {:.0} B/event",
            gz_bytes as f64 / 1e6,
            per_event(gz_bytes, runs[0])
        )
    });
    row(
        "table directory before vacuum (with replaced files)",
        &|r| format!("{:.1} MB", r.disk_bytes as f64 / 1e6),
    );
    row("Delta table (zstd Parquet + log)", &|r| {
        format!(
            "{:.1} MB, {:.0} B/event",
            r.table_bytes as f64 / 1e6,
            per_event(r.table_bytes, r)
        )
    });
    row("table / gzipped JSON", &|r| {
        format!(
            "{:.2}x",
            per_event(r.table_bytes, r) / per_event(gz_bytes, runs[0])
        )
    });
}
