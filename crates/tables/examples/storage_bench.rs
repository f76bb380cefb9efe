//! The storage benchmark: real CloudTrail records, replicated to many
//! events, go through the ingest log and a flush into the Delta tables.
//! Reports flush throughput, peak RSS during the flush, and bytes on disk
//! per event against the same records as gzipped CloudTrail JSON (the form
//! CloudTrail delivers them in).
//!
//!   cargo run --release -p tables --example storage_bench -- [EVENTS] [RECORDS_DIR]
//!
//! Defaults: 500000 events from ../shared/cases/data/real. Run it in release;
//! KEEP=1 keeps the table for a look with other tools.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use flate2::{write::GzEncoder, Compression};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tables::{LoggedEvent, Tables};

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

    let work = tempfile::tempdir().unwrap();
    let (log, _) = store::IngestLog::open(&work.path().join("events")).unwrap();
    let tables = Tables::open_local(&work.path().join("tables"), log.clone()).unwrap();
    let start = time::OffsetDateTime::now_utc() - time::Duration::days(DAYS);
    let step_ms = (DAYS * 86_400_000) / i64::try_from(n).unwrap().max(1);

    // The same records as CloudTrail delivers them: gzipped {"Records":[…]}.
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(b"{\"Records\":[").unwrap();
    let t_ingest = Instant::now();
    let mut chunk = Vec::with_capacity(1000);
    for i in 0..n {
        let mut rec = records[i % records.len()].clone();
        let when = start + time::Duration::milliseconds(step_ms * i64::try_from(i).unwrap());
        // Random ids, as real ones are: CloudTrail's eventID in the record, and
        // the one Cairn gives the stored event.
        let event_id = uuid::Uuid::new_v4().to_string();
        rec["eventTime"] = json!(rfc3339(when).replace(".000", ""));
        rec["eventID"] = json!(uuid::Uuid::new_v4().to_string());
        if i > 0 {
            gz.write_all(b",").unwrap();
        }
        serde_json::to_writer(&mut gz, &rec).unwrap();
        let Ok(data) = trail_convert::to_event_data(&rec, ACCOUNT) else {
            continue;
        };
        // The stored record form (lake::records::stored_record).
        let stored = json!({
            "eventVersion": "2.0", "eventCategory": "ActivityAuditLog", "eventType": "ActivityLog",
            "eventID": event_id, "eventTime": data.get("eventTime").cloned().unwrap_or(Value::Null),
            "awsRegion": "us-east-1", "recipientAccountId": ACCOUNT,
            "metadata": {"ingestionTime": rfc3339(time::OffsetDateTime::now_utc()),
                         "channelARN": format!("arn:aws:cloudtrail:us-east-1:{ACCOUNT}:channel/bench")},
            "eventData": data,
        });
        chunk.push(
            serde_json::to_vec(&LoggedEvent {
                eds: vec![EDS.into()],
                record: stored,
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
    gz.write_all(b"]}").unwrap();
    let gz_bytes = gz.finish().unwrap().len() as u64;
    let log_bytes = log.bytes();
    println!(
        "ingest log: {:.1} MB written in {:.1} s (generation included)",
        log_bytes as f64 / 1e6,
        t_ingest.elapsed().as_secs_f64()
    );

    // Flush, sampling RSS.
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
    let rss_before = rss_kib("VmRSS:");
    let keep: HashMap<String, time::Date> = [(EDS.to_string(), time::Date::MIN)].into();
    let t_flush = Instant::now();
    let sealed = tables.seal().await.unwrap();
    let report = tables.flush(&sealed, &keep).await.unwrap();
    let flush_s = t_flush.elapsed().as_secs_f64();
    let t_compact = Instant::now();
    let compacted = tables.compact(EDS).await.unwrap();
    let compact_s = t_compact.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();

    let table_bytes = dir_bytes(&work.path().join("tables").join(EDS));
    if std::env::var_os("KEEP").is_some() {
        println!(
            "table kept at {}",
            work.keep().join("tables").join(EDS).display()
        );
    }
    let events = report.events;
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| events | {events} |");
    println!(
        "| log segments flushed | {} ({} commits) |",
        report.segments, report.commits
    );
    println!("| flush time | {flush_s:.1} s |");
    println!(
        "| flush throughput | {:.0} events/s, {:.1} MB/s of log |",
        events as f64 / flush_s,
        log_bytes as f64 / 1e6 / flush_s
    );
    println!(
        "| compaction | {:.1} s ({} files into {}) |",
        compact_s, compacted.files_removed, compacted.files_added
    );
    println!(
        "| RSS before flush / peak during flush and compaction | {} MiB / {} MiB |",
        rss_before / 1024,
        peak.load(Ordering::Relaxed) / 1024
    );
    println!(
        "| ingest log (JSON records) | {:.1} MB, {:.0} B/event |",
        log_bytes as f64 / 1e6,
        log_bytes as f64 / events as f64
    );
    println!(
        "| gzipped CloudTrail JSON | {:.1} MB, {:.0} B/event |",
        gz_bytes as f64 / 1e6,
        gz_bytes as f64 / events as f64
    );
    println!(
        "| Delta table (zstd Parquet + log) | {:.1} MB, {:.0} B/event |",
        table_bytes as f64 / 1e6,
        table_bytes as f64 / events as f64
    );
    println!(
        "| table / gzipped JSON | {:.2}x |",
        table_bytes as f64 / gz_bytes as f64
    );
}
