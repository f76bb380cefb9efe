//! The query benchmark's Cairn half (`scripts/bench-queries` runs it, then
//! DuckDB over the same Parquet files, and prints both side by side).
//!
//! 1. Builds, once, an event data store of `--events` CloudTrail events
//!    under `--dir`: records of the public trail files in
//!    `../shared/cases/data/real` with fresh ids, spread over 2022-01-01 to
//!    2023-02-01 (the windows the samples name), a few hundred principals,
//!    eight regions, 5% errors, and the event kinds the samples look for
//!    (console logins, role self-assumption, group changes, queries…).
//!    The events go the way ingested events go: the ingest log, flushes of
//!    a million, compaction.
//! 2. Runs every valid sample query of `sample-queries.sql` on Cairn's
//!    engine (as the server runs it, without HTTP) `--runs` times.
//! 3. Writes `results.json`: per query the best time, the rows and the
//!    rows' digest, and the table's live Parquet files, for DuckDB.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use anyhow::{bail, Context, Result};
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tables::{LoggedEvent, TableSpec, Tables};

/// The benchmark's event data store.
const EDS: &str = "bebebebe-0000-4000-8000-000000000001";
const CHUNK: usize = 1_000_000;

#[derive(Parser)]
#[command(about = "Cairn's half of the query benchmark")]
struct Args {
    /// Events in the generated event data store.
    #[arg(long, default_value_t = 10_000_000)]
    events: usize,
    /// Where the store is built (kept for later runs of the same size).
    #[arg(long, default_value = "/var/tmp/cairn-querybench")]
    dir: PathBuf,
    /// Runs per query; the best counts.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The sample queries.
    #[arg(long, default_value = "../shared/spec/sample-queries.sql")]
    samples: PathBuf,
    /// The public CloudTrail records the events are made from.
    #[arg(long, default_value = "../shared/cases/data/real")]
    records: PathBuf,
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        if p.is_dir() {
            files(&p, out)?;
        } else if p.to_string_lossy().ends_with(".json")
            || p.to_string_lossy().ends_with(".json.gz")
        {
            out.push(p);
        }
    }
    Ok(())
}

/// The samples as (name, statement) with every table placeholder naming the benchmark store.
fn samples(path: &Path) -> Result<Vec<(String, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let placeholders = [
        "{{replace with your data store id}}",
        "<event_data_store_id>",
        "event_data_store_ID",
        "<EDS ID>",
        "$EDS_ID",
        "eds-ID",
        "EDS1",
        "EDS2",
        "EDS3",
        "eds1",
        "eds2",
    ];
    let mut out = Vec::new();
    for part in text.split("-- ===== ").skip(1) {
        let name = part
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let mut sql = part
            .split_once('\n')
            .map(|(_, b)| b)
            .unwrap_or_default()
            .trim()
            .to_string();
        for p in placeholders {
            sql = sql.replace(p, EDS);
        }
        out.push((name, sql));
    }
    Ok(out)
}

const REGIONS: [&str; 8] = [
    "us-east-1",
    "us-east-1",
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
    "ap-northeast-1",
];

/// The `i`-th event: a template with its own time, ids, caller and region.
fn event(templates: &[Value], rng: &mut StdRng, i: usize, n: usize) -> Value {
    let start = time::macros::datetime!(2022-01-01 00:00 UTC);
    let span_ms: i64 = 396 * 86_400_000;
    let when = start + time::Duration::milliseconds(span_ms * i as i64 / n.max(1) as i64);
    let mut rec = templates[rng.random_range(0..templates.len())].clone();
    let time = when
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    rec["eventTime"] = json!(time.replace(".000", ""));
    rec["eventID"] = json!(uuid::Uuid::new_v4().to_string());
    rec["requestID"] = json!(uuid::Uuid::new_v4().to_string());
    rec["awsRegion"] = json!(REGIONS[rng.random_range(0..REGIONS.len())]);
    rec["recipientAccountId"] = json!("111122223333");
    let who = rng.random_range(0..300u32);
    if let Some(user) = rec.get_mut("userIdentity").and_then(Value::as_object_mut) {
        let name = if who == 0 {
            "bob".to_string()
        } else {
            format!("user{who:03}")
        };
        user.insert("principalId".into(), json!(format!("AIDA{who:016}")));
        user.insert(
            "arn".into(),
            json!(format!("arn:aws:iam::111122223333:user/{name}")),
        );
        user.insert("userName".into(), json!(name));
        // 1% cross-account callers.
        let account = if who % 100 == 7 {
            "444455556666"
        } else {
            "111122223333"
        };
        user.insert("accountId".into(), json!(account));
        let key = if rng.random_range(0..1000) == 0 {
            "AKIAIOSFODNN7EXAMPLE".to_string()
        } else {
            format!("AKIA{who:016}")
        };
        user.insert("accessKeyId".into(), json!(key));
    }
    if rng.random_range(0..20) == 0 {
        rec["errorCode"] = json!("AccessDenied");
        rec["errorMessage"] = json!("User is not authorized to perform this operation");
    }
    rec
}

/// Extra templates for what the samples look for and the public files lack.
fn sample_templates() -> Vec<Value> {
    let login = |mfa: &str| {
        json!({"eventVersion": "1.08", "userIdentity": {"type": "IAMUser"},
        "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "sourceIPAddress": "203.0.113.20",
        "userAgent": "Mozilla/5.0", "responseElements": {"ConsoleLogin": "Success"},
        "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": mfa},
        "eventType": "AwsConsoleSignIn", "managementEvent": true, "eventCategory": "Management", "readOnly": false})
    };
    let group = |g: &str| {
        json!({"eventVersion": "1.08", "userIdentity": {"type": "IAMUser"},
        "eventSource": "iam.amazonaws.com", "eventName": "AddUserToGroup", "sourceIPAddress": "198.51.100.7",
        "userAgent": "console.amazonaws.com", "requestParameters": {"groupName": g, "userName": "mallory"},
        "eventType": "AwsApiCall", "managementEvent": true, "eventCategory": "Management", "readOnly": false})
    };
    vec![
        login("No"),
        login("Yes"),
        group("cloud-admins"),
        group("developers"),
        json!({"eventVersion": "1.08", "userIdentity": {"type": "AssumedRole", "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/Worker"}}},
            "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole", "sourceIPAddress": "10.0.0.5", "userAgent": "aws-sdk-go/1.44",
            "requestParameters": {"roleArn": "arn:aws:iam::111122223333:role/Worker", "roleSessionName": "refresh"},
            "resources": [{"accountId": "111122223333", "type": "AWS::IAM::Role", "ARN": "arn:aws:iam::111122223333:role/Worker"}],
            "eventType": "AwsApiCall", "managementEvent": true, "eventCategory": "Management", "readOnly": true}),
        json!({"eventVersion": "1.08", "userIdentity": {"type": "IAMUser"}, "eventSource": "cloudtrail.amazonaws.com", "eventName": "StartQuery",
            "sourceIPAddress": "203.0.113.20", "userAgent": "aws-cli/2.9.0",
            "requestParameters": {"queryStatement": "SELECT eventName, COUNT(*) FROM x GROUP BY eventName"},
            "responseElements": {"queryId": "5f1bd2a1-7b26-4c2e-9b1e-8b2f2c4f0c11"},
            "eventType": "AwsApiCall", "managementEvent": true, "eventCategory": "Management", "readOnly": false}),
        json!({"eventVersion": "1.08", "userIdentity": {"type": "IAMUser"}, "eventSource": "s3.amazonaws.com", "eventName": "CreateBucket",
            "sourceIPAddress": "198.51.100.10", "userAgent": "aws-cli/2.9.0", "requestParameters": {"bucketName": "reports"},
            "tlsDetails": {"tlsVersion": "TLSv1.2", "cipherSuite": "ECDHE-RSA-AES128-GCM-SHA256", "clientProvidedHostHeader": "s3.amazonaws.com"},
            "eventType": "AwsApiCall", "managementEvent": true, "eventCategory": "Management", "readOnly": false}),
    ]
}

fn templates(dir: &Path) -> Result<Vec<Value>> {
    let mut paths = Vec::new();
    files(dir, &mut paths)?;
    paths.sort();
    let mut out: Vec<Value> = paths
        .iter()
        .flat_map(|p| trail_convert::read_records(p).unwrap_or_default())
        .filter(|r| r.get("eventTime").is_some())
        .collect();
    if out.is_empty() {
        bail!("no CloudTrail records under {}", dir.display());
    }
    // The sample kinds at about 1 in 100 events each.
    let extra = sample_templates();
    let weight = out.len() / 100 + 1;
    for t in extra {
        out.extend(std::iter::repeat_n(t, weight));
    }
    Ok(out)
}

fn live() -> HashMap<String, TableSpec> {
    [(
        EDS.to_string(),
        TableSpec {
            layout: query::Layout::CloudTrail,
            keep_from: time::Date::MIN,
        },
    )]
    .into()
}

async fn build(dir: &Path, args: &Args) -> Result<()> {
    let templates = templates(&args.records)?;
    let (log, _) = store::IngestLog::open(&dir.join("events"))?;
    let tables = Tables::open_local(&dir.join("tables"), log.clone())?;
    let mut rng = StdRng::seed_from_u64(20261204);
    let started = Instant::now();
    let mut done = 0;
    while done < args.events {
        let n = CHUNK.min(args.events - done);
        let mut chunk = Vec::with_capacity(10_000);
        for i in done..done + n {
            let record = event(&templates, &mut rng, i, args.events);
            chunk.push(serde_json::to_vec(&LoggedEvent {
                eds: vec![EDS.into()],
                record,
            })?);
            if chunk.len() == 10_000 {
                log.append(&chunk).await?;
                chunk.clear();
            }
        }
        if !chunk.is_empty() {
            log.append(&chunk).await?;
        }
        let sealed = tables.seal().await?;
        tables.flush(&sealed, &live()).await?;
        done += n;
        eprintln!(
            "  {done} events written ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }
    let compacted = tables.compact(EDS).await?;
    eprintln!(
        "  compacted: {compacted:?} ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = args.dir.join(format!("{}", args.events));
    let marker = dir.join("built");
    if !marker.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        eprintln!(
            "building an event data store of {} events in {}",
            args.events,
            dir.display()
        );
        build(&dir, &args).await?;
        std::fs::write(&marker, b"")?;
    }
    let (log, _) = store::IngestLog::open(&dir.join("events"))?;
    let tables = Tables::open_local(&dir.join("tables"), log)?;
    let table_dir = dir.join("tables").join(EDS);
    let files: Vec<String> = tables
        .live_files(EDS)
        .await?
        .into_iter()
        .map(|f| table_dir.join(f).display().to_string())
        .collect();
    let bytes = tables.data_bytes(EDS).await?;
    eprintln!(
        "{} Parquet files, {:.1} MB",
        files.len(),
        bytes as f64 / 1e6
    );

    let mut results = serde_json::Map::new();
    for (name, sql) in samples(&args.samples)? {
        if sql.to_ascii_lowercase().contains("eventdata.") {
            results.insert(
                name,
                json!({"skipped": "integration events (eventData.*): not in this store"}),
            );
            continue;
        }
        let prepared = match query::prepare(&sql) {
            Ok(p) => p,
            Err(e) => {
                results.insert(name, json!({"error": e.to_string()}));
                continue;
            }
        };
        let layouts: Vec<(String, query::Layout)> = prepared
            .tables
            .iter()
            .map(|t| (t.clone(), query::Layout::CloudTrail))
            .collect();
        if let Err(e) = query::check(&prepared, &layouts).await {
            results.insert(name, json!({"error": e.to_string()}));
            continue;
        }
        let mut best = f64::MAX;
        let mut out = None;
        for _ in 0..args.runs.max(1) {
            let ctx = query::session();
            let started = Instant::now();
            let scans = tables
                .scan(&ctx, &[(EDS.to_string(), live()[EDS])])
                .await?
                .into_iter()
                .map(|s| query::Table {
                    id: s.id,
                    provider: s.provider,
                    events: s.events,
                    bytes: s.bytes,
                })
                .collect();
            let o = query::run(&ctx, &prepared, scans)
                .await
                .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            best = best.min(started.elapsed().as_secs_f64());
            out = Some(o);
        }
        let out = out.context("no run")?;
        eprintln!("  {name}: {:.3} s, {} rows", best, out.rows.len());
        let mut rows = out.rows.clone();
        rows.sort();
        results.insert(
            name,
            json!({"seconds": best, "rows": out.rows.len(), "sample": rows.into_iter().take(5).collect::<Vec<_>>(),
                   "events_scanned": out.statistics.events_scanned, "events_matched": out.statistics.events_matched}),
        );
    }
    let report = json!({"events": args.events, "files": files, "bytes": bytes, "queries": results});
    let path = dir.join("results.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
    println!("{}", path.display());
    Ok(())
}
