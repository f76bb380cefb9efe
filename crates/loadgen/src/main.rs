//! `cairn-loadgen`: drives PutAuditEvents at a Cairn server the way SDK
//! clients do (every request SigV4-signed, batches of realistic integration
//! events), over N concurrent connections for a fixed time or request
//! count, and reports events/s, requests/s, latency percentiles, errors by
//! code and the server's peak RSS.
//!
//! It sets up its own event data store and channel (and, with `--audit`, a
//! store that records the channel's PutAuditEvents data events, so the
//! cost of self-audit can be compared).

use anyhow::{bail, Context, Result};
use clap::Parser;
use client::{read_credentials, Sender};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(name = "cairn-loadgen", version, about)]
struct Args {
    /// Cairn's endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    endpoint: String,
    /// An ini file with aws_access_key_id, aws_secret_access_key and
    /// aws_account_id (as `cairn serve` writes to <data-dir>/root-credentials).
    #[arg(long)]
    credentials: PathBuf,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Concurrent connections, each sending one request at a time.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// How long to send, in seconds (ignored with --requests).
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Send this many requests in all instead of running for --duration.
    #[arg(long)]
    requests: Option<u64>,
    /// Events per request (PutAuditEvents takes up to 100).
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Public integration payloads to take event shapes and sizes from.
    #[arg(
        long,
        default_value = "../shared/cases/data/lake_integration/integration_payloads.json"
    )]
    payloads: PathBuf,
    /// Also create an event data store that records the channel's
    /// PutAuditEvents calls (data events), to measure self-audit.
    #[arg(long)]
    audit: bool,
    /// The server's pid, to report its peak RSS (VmHWM).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print the summary as one JSON object as well.
    #[arg(long)]
    json: bool,
}

/// Event shapes to send: the public payloads' eventData objects.
fn templates(path: &PathBuf) -> Result<Vec<Value>> {
    let doc: Value = serde_json::from_slice(
        &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    )?;
    let mut out = Vec::new();
    for item in doc["items"].as_array().into_iter().flatten() {
        for e in item["request"]["auditEvents"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let data = match &e["eventData"] {
                Value::String(s) => serde_json::from_str(s).ok(),
                v @ Value::Object(_) => Some(v.clone()),
                _ => None,
            };
            if let Some(d @ Value::Object(_)) = data {
                out.push(d);
            }
        }
    }
    if out.is_empty() {
        bail!("{} holds no auditEvents eventData to send", path.display());
    }
    Ok(out)
}

/// One request's body: `n` events from the templates, each with its own
/// UID and the current time, for `account`.
fn batch(templates: &[Value], start: usize, n: usize, account: &str) -> Vec<u8> {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let mut d = templates[(start + i) % templates.len()].clone();
            d["UID"] = json!(uuid::Uuid::new_v4().to_string());
            d["eventTime"] = json!(now);
            d["recipientAccountId"] = json!(account);
            json!({"id": format!("e{i}"), "eventData": d.to_string()})
        })
        .collect();
    serde_json::to_vec(&json!({ "auditEvents": events })).unwrap_or_default()
}

/// What the connections measured.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    events_ok: u64,
    requests_ok: u64,
    errors: BTreeMap<String, u64>,
}

fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.batch == 0 || args.batch > 100 {
        bail!("--batch must be 1 to 100 (PutAuditEvents takes up to 100 events)");
    }
    let creds = read_credentials(&args.credentials)?;
    let templates = Arc::new(templates(&args.payloads)?);
    let sender = Arc::new(Sender::new(
        &args.endpoint,
        &args.region,
        args.connections,
        &creds,
    )?);

    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let eds = sender
        .cloudtrail(
            "CreateEventDataStore",
            json!({"Name": format!("loadgen-{tag}"), "AdvancedEventSelectors": [
                {"Name": "integration", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["ActivityAuditLog"]}]}]}),
        )
        .await?;
    let channel = sender
        .cloudtrail(
            "CreateChannel",
            json!({"Name": format!("loadgen-{tag}"), "Source": "Custom", "Destinations": [
                {"Type": "EVENT_DATA_STORE", "Location": eds["EventDataStoreArn"]}]}),
        )
        .await?;
    let channel_arn = channel["ChannelArn"]
        .as_str()
        .context("CreateChannel gave no ChannelArn")?
        .to_string();
    if args.audit {
        sender
            .cloudtrail(
                "CreateEventDataStore",
                json!({"Name": format!("loadgen-audit-{tag}"), "AdvancedEventSelectors": [
                    {"Name": "channel writes", "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Data"]},
                        {"Field": "resources.type", "Equals": ["AWS::CloudTrail::Channel"]}]}]}),
            )
            .await?;
    }
    let path = format!(
        "/PutAuditEvents?channelArn={}",
        channel_arn.replace(':', "%3A").replace('/', "%2F")
    );
    eprintln!(
        "cairn-loadgen: {} connections, batches of {}, {} to {channel_arn}{}",
        args.connections,
        args.batch,
        match args.requests {
            Some(n) => format!("{n} requests"),
            None => format!("{} s", args.duration),
        },
        if args.audit { " (self-audit on)" } else { "" }
    );

    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let remaining = Arc::new(std::sync::atomic::AtomicI64::new(
        args.requests
            .map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX)),
    ));
    let mut tasks = Vec::new();
    for c in 0..args.connections {
        let (sender, templates, path, remaining) = (
            sender.clone(),
            templates.clone(),
            path.clone(),
            remaining.clone(),
        );
        let (account, n, bounded) = (
            creds.account_id.clone(),
            args.batch,
            args.requests.is_some(),
        );
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut i = c * 7;
            loop {
                if bounded {
                    if remaining.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) <= 0 {
                        break;
                    }
                } else if Instant::now() >= deadline {
                    break;
                }
                let body = batch(&templates, i, n, &account);
                i += n;
                let t = Instant::now();
                let answer = sender
                    .send(
                        "cloudtrail-data",
                        &path,
                        &[("content-type", "application/json")],
                        body,
                    )
                    .await;
                tally
                    .latencies_us
                    .push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
                match answer {
                    Err(e) => *tally.errors.entry(format!("transport: {e}")).or_default() += 1,
                    Ok(a) => match a.error {
                        Some(code) => *tally.errors.entry(code).or_default() += 1,
                        None => {
                            tally.requests_ok += 1;
                            let ok = a.body["successful"].as_array().map_or(0, Vec::len);
                            tally.events_ok += ok as u64;
                            for f in a.body["failed"].as_array().into_iter().flatten() {
                                let code = f["errorCode"].as_str().unwrap_or("?");
                                *tally.errors.entry(format!("event: {code}")).or_default() += 1;
                            }
                        }
                    },
                }
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for t in tasks {
        let t = t.await?;
        all.latencies_us.extend(t.latencies_us);
        all.events_ok += t.events_ok;
        all.requests_ok += t.requests_ok;
        for (k, v) in t.errors {
            *all.errors.entry(k).or_default() += v;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    let l = &all.latencies_us;
    let peak = args.server_pid.and_then(|p| rss_kib(p, "VmHWM:"));
    let summary = json!({
        "connections": args.connections,
        "batch": args.batch,
        "audit": args.audit,
        "seconds": secs,
        "requests": l.len(),
        "requests_ok": all.requests_ok,
        "events_ok": all.events_ok,
        "events_per_s": all.events_ok as f64 / secs,
        "requests_per_s": all.requests_ok as f64 / secs,
        "latency_ms": {"p50": percentile(l, 0.50), "p90": percentile(l, 0.90),
                       "p99": percentile(l, 0.99), "max": percentile(l, 1.0)},
        "errors": all.errors,
        "server_peak_rss_mib": peak.map(|k| k / 1024),
    });
    println!(
        "{:.1} s: {} requests ({} ok), {} events acknowledged\n\
         {:.0} events/s, {:.0} requests/s\n\
         latency ms: p50 {:.2}, p90 {:.2}, p99 {:.2}, max {:.2}\n\
         errors: {}\n\
         server peak RSS: {}",
        secs,
        l.len(),
        all.requests_ok,
        all.events_ok,
        all.events_ok as f64 / secs,
        all.requests_ok as f64 / secs,
        percentile(l, 0.50),
        percentile(l, 0.90),
        percentile(l, 0.99),
        percentile(l, 1.0),
        if all.errors.is_empty() {
            "none".to_string()
        } else {
            format!("{:?}", all.errors)
        },
        peak.map_or("not measured (give --server-pid)".to_string(), |k| format!(
            "{} MiB",
            k / 1024
        )),
    );
    if args.json {
        println!("{summary}");
    }
    Ok(())
}
