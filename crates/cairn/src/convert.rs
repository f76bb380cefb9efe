//! `cairn convert`: CloudTrail log files → PutAuditEvents batch files.

use anyhow::Context;
use std::path::PathBuf;

/// Arguments of `cairn convert`.
#[derive(clap::Args)]
pub struct ConvertArgs {
    /// The channel owner's account id (every event's recipientAccountId must be it).
    #[arg(long)]
    recipient_account_id: String,
    /// Where to write batch-0001.json, batch-0002.json, …
    #[arg(long)]
    out_dir: PathBuf,
    /// Events per batch (at most 100, PutAuditEvents' limit).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u8).range(1..=100))]
    batch_size: u8,
    /// CloudTrail log files: {"Records":[…]}, JSON arrays or NDJSON, gzip or not.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Request bodies stay under PutAuditEvents' 1 MB with room for the envelope.
const MAX_BATCH_BYTES: usize = 1_000_000 - 4096;

pub fn run(args: ConvertArgs) -> anyhow::Result<()> {
    let mut events = Vec::new();
    let mut skipped = 0usize;
    for file in &args.files {
        let records = trail_convert::read_records(file)
            .with_context(|| format!("reading {}", file.display()))?;
        for record in &records {
            match trail_convert::to_audit_event(record, &args.recipient_account_id) {
                Ok(e) => events.push(e),
                Err(e) => {
                    skipped += 1;
                    eprintln!("skipped a record of {}: {e}", file.display());
                }
            }
        }
    }
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("creating {}", args.out_dir.display()))?;
    let total = events.len();
    let batches = trail_convert::batches(events, usize::from(args.batch_size), MAX_BATCH_BYTES);
    for (i, batch) in batches.iter().enumerate() {
        let path = args.out_dir.join(format!("batch-{:04}.json", i + 1));
        std::fs::write(&path, serde_json::to_vec(batch)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "converted {total} records into {} batch files in {} ({skipped} skipped). Send each with:\n  aws cloudtrail-data put-audit-events --channel-arn <CHANNEL_ARN> --audit-events file://{}/batch-0001.json",
        batches.len(),
        args.out_dir.display(),
        args.out_dir.display()
    );
    Ok(())
}
