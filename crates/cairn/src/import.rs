//! `cairn import PATH --event-data-store ID`: imports a directory of
//! CloudTrail log files through a running server's StartImport (so the
//! server's rules and its `--import-dir` apply), with a progress bar and a
//! summary of what was imported and what failed.

use anyhow::{bail, Context, Result};
use client::{read_credentials, Sender};
use serde_json::{json, Value};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The directory of log files (e.g. a copy of a trail bucket's AWSLogs/…
    /// tree); it must be under the server's --import-dir.
    path: PathBuf,
    /// The destination event data store (id or ARN), a store of CloudTrail events.
    #[arg(long)]
    event_data_store: String,
    /// The server.
    #[arg(long, env = "CAIRN_ENDPOINT", default_value = "http://127.0.0.1:7821")]
    endpoint: String,
    /// Credentials (an AWS shared-credentials style file with aws_account_id);
    /// default: <data-dir>/root-credentials.
    #[arg(long)]
    credentials: Option<PathBuf>,
    /// The data directory of the Cairn instance (for its root credentials).
    #[arg(long, env = "CAIRN_DATA_DIR", default_value = "./cairn-data")]
    data_dir: PathBuf,
    #[arg(long, env = "CAIRN_REGION", default_value = "us-east-1")]
    region: String,
    /// Import only events at or after this time (RFC 3339).
    #[arg(long)]
    start_time: Option<String>,
    /// Import only events at or before this time (RFC 3339).
    #[arg(long)]
    end_time: Option<String>,
}

fn epoch(s: &str) -> Result<f64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("{s} is not an RFC 3339 time such as 2024-01-31T00:00:00Z"))?;
    Ok(t.unix_timestamp() as f64)
}

pub fn run(args: ImportArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(import(args))
}

async fn import(args: ImportArgs) -> Result<()> {
    let creds_path = args
        .credentials
        .clone()
        .unwrap_or_else(|| args.data_dir.join("root-credentials"));
    let creds = read_credentials(&creds_path)?;
    let sender = Sender::new(&args.endpoint, &args.region, 1, &creds)?;
    let dir = std::fs::canonicalize(&args.path)
        .with_context(|| format!("cannot open {}", args.path.display()))?;
    let eds = if args.event_data_store.starts_with("arn:") {
        args.event_data_store.clone()
    } else {
        format!(
            "arn:aws:cloudtrail:{}:{}:eventdatastore/{}",
            args.region, creds.account_id, args.event_data_store
        )
    };
    let mut input = json!({
        "Destinations": [eds],
        "ImportSource": {"S3": {
            "S3LocationUri": format!("file://{}", dir.display()),
            "S3BucketRegion": args.region,
            "S3BucketAccessRoleArn": format!("arn:aws:iam::{}:role/cairn-import", creds.account_id),
        }},
    });
    if let Some(t) = &args.start_time {
        input["StartEventTime"] = json!(epoch(t)?);
    }
    if let Some(t) = &args.end_time {
        input["EndEventTime"] = json!(epoch(t)?);
    }
    let started = sender.cloudtrail("StartImport", input).await?;
    let id = started["ImportId"]
        .as_str()
        .context("StartImport gave no ImportId")?
        .to_string();
    eprintln!("import {id}: {} -> {eds}", dir.display());
    let tty = std::io::stderr().is_terminal();
    let last = loop {
        let g = sender
            .cloudtrail("GetImport", json!({"ImportId": id}))
            .await?;
        let status = g["ImportStatus"].as_str().unwrap_or_default().to_string();
        if tty {
            eprint!("\r{}", progress(&g));
            std::io::stderr().flush()?;
        }
        if matches!(status.as_str(), "COMPLETED" | "FAILED" | "STOPPED") {
            break g;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    if tty {
        eprintln!();
    }
    let stats = &last["ImportStatistics"];
    let n = |k: &str| stats[k].as_i64().unwrap_or(0);
    println!(
        "import {id} {}: {} files, {} events imported, {} failed entries ({} of {} prefixes complete)",
        last["ImportStatus"].as_str().unwrap_or_default(),
        n("FilesCompleted"),
        n("EventsCompleted"),
        n("FailedEntries"),
        n("PrefixesCompleted"),
        n("PrefixesFound"),
    );
    let failures = sender
        .cloudtrail("ListImportFailures", json!({"ImportId": id}))
        .await?;
    for f in failures["Failures"].as_array().into_iter().flatten() {
        println!(
            "  failed: {} ({}: {})",
            f["Location"].as_str().unwrap_or_default(),
            f["ErrorType"].as_str().unwrap_or_default(),
            f["ErrorMessage"].as_str().unwrap_or_default()
        );
    }
    match last["ImportStatus"].as_str() {
        Some("COMPLETED") => Ok(()),
        Some(status) => bail!(
            "the import ended {status}; fix what failed and retry it: aws cloudtrail start-import --import-id {id}"
        ),
        None => bail!("GetImport gave no ImportStatus"),
    }
}

/// `[#########-----------] 12/30 prefixes, 40 files, 1532 events`
fn progress(g: &Value) -> String {
    let stats = &g["ImportStatistics"];
    let n = |k: &str| stats[k].as_i64().unwrap_or(0);
    let (done, found) = (n("PrefixesCompleted"), n("PrefixesFound"));
    const WIDTH: i64 = 30;
    let filled = if found > 0 { done * WIDTH / found } else { 0 };
    format!(
        "[{}{}] {done}/{found} prefixes, {} files, {} events, {} failed  ",
        "#".repeat(usize::try_from(filled).unwrap_or(0)),
        "-".repeat(usize::try_from(WIDTH - filled).unwrap_or(0)),
        n("FilesCompleted"),
        n("EventsCompleted"),
        n("FailedEntries"),
    )
}
