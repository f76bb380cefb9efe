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
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

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

struct Creds {
    access_key_id: String,
    secret_access_key: String,
    account_id: String,
}

fn read_credentials(path: &PathBuf) -> Result<Creds> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading credentials from {}", path.display()))?;
    let get = |key: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_string())
            .with_context(|| format!("{} has no {key}", path.display()))
    };
    Ok(Creds {
        access_key_id: get("aws_access_key_id")?,
        secret_access_key: get("aws_secret_access_key")?,
        account_id: get("aws_account_id")?,
    })
}

/// Signs and sends requests; one per process, shared by the connections.
struct Sender {
    client: Client<HttpConnector, Full<Bytes>>,
    endpoint: String,
    host: String,
    region: String,
    identity: Identity,
}

/// What one request came back with.
struct Answer {
    status: u16,
    /// The error code of a failed request.
    error: Option<String>,
    body: Value,
}

impl Sender {
    fn new(args: &Args, creds: &Creds) -> Result<Self> {
        let uri: http::Uri = args.endpoint.parse().context("--endpoint is not a URL")?;
        let host = uri
            .authority()
            .context("--endpoint has no host")?
            .to_string();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(args.connections)
            .build(connector);
        Ok(Self {
            client,
            endpoint: args.endpoint.trim_end_matches('/').to_string(),
            host,
            region: args.region.clone(),
            identity: Credentials::new(
                &creds.access_key_id,
                &creds.secret_access_key,
                None,
                None,
                "cairn-loadgen",
            )
            .into(),
        })
    }

    /// Sends `body` to `path_and_query`, signed for `service` as the SDKs sign.
    async fn send(
        &self,
        service: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer> {
        let uri = format!("{}{path_and_query}", self.endpoint);
        let mut all: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all.push(("host".into(), self.host.clone()));
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let signable = SignableRequest::new(
            "POST",
            &uri,
            all.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(&body),
        )?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        let mut req = http::Request::post(&uri);
        for (k, v) in &all {
            req = req.header(k, v);
        }
        let mut req = req.body(Full::new(Bytes::from(body)))?;
        instructions.apply_to_request_http1x(&mut req);
        let resp = self.client.request(req).await?;
        let status = resp.status().as_u16();
        let header_code = resp
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(':').next().unwrap_or(v).to_string());
        let bytes = resp.into_body().collect().await?.to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let error = (status >= 300).then(|| {
            header_code
                .or_else(|| {
                    body["__type"]
                        .as_str()
                        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
                })
                .unwrap_or_else(|| format!("HTTP {status}"))
        });
        Ok(Answer {
            status,
            error,
            body,
        })
    }

    /// A CloudTrail control-plane call; fails on an error answer.
    async fn cloudtrail(&self, op: &str, input: Value) -> Result<Value> {
        let target = format!("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.{op}");
        let a = self
            .send(
                "cloudtrail",
                "/",
                &[
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amz-target", &target),
                ],
                serde_json::to_vec(&input)?,
            )
            .await?;
        if let Some(code) = a.error {
            bail!("{op} failed: {code} (HTTP {}): {}", a.status, a.body);
        }
        Ok(a.body)
    }
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
    let sender = Arc::new(Sender::new(&args, &creds)?);

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
