//! `cairn`: the server and its command-line tools.

mod convert;
mod datadir;
mod explain;
mod import;
mod query_result;
mod server;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "cairn",
    version,
    about = "A self-hosted audit-event lake that speaks the AWS CloudTrail Lake APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server on the embedded default storage (SQLite + local files).
    Serve(server::ServeArgs),
    /// Manage accounts.
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// Turn CloudTrail log files into PutAuditEvents batch files.
    Convert(convert::ConvertArgs),
    /// Import a directory of CloudTrail log files (.json.gz) into an event
    /// data store through the running server's StartImport.
    Import(import::ImportArgs),
    /// Why a request was denied: the policies considered, the statements
    /// that matched, the one that decided and what was missing.
    Explain {
        /// The request id of the denied call (the x-amzn-RequestId header,
        /// also named in the error message).
        request_id: String,
        /// The data directory of the Cairn instance.
        #[arg(long, env = "CAIRN_DATA_DIR", default_value = "./cairn-data")]
        data_dir: PathBuf,
        /// Print the whole record as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// Create an account with a root access key; prints {"AccountId","AccessKeyId","SecretAccessKey"}.
    /// Works while the server runs.
    Create {
        /// The data directory of the Cairn instance.
        #[arg(long, env = "CAIRN_DATA_DIR", default_value = "./cairn-data")]
        data_dir: PathBuf,
        /// A unique name for the account.
        #[arg(long)]
        name: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => server::serve(args),
        Command::Accounts {
            command: AccountsCommand::Create { data_dir, name },
        } => create_account(&data_dir, &name),
        Command::Convert(args) => convert::run(args),
        Command::Import(args) => import::run(args),
        Command::Explain {
            request_id,
            data_dir,
            json,
        } => explain(&data_dir, &request_id, json),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The metadata store of an existing data directory (the server may be running).
fn open_metadata(data_dir: &std::path::Path) -> anyhow::Result<store::SqliteMetadata> {
    let db = data_dir.join("metadata.db");
    if !db.exists() {
        anyhow::bail!(
            "{} holds no Cairn data: start `cairn serve --data-dir {}` once first, or pass the right --data-dir",
            data_dir.display(),
            data_dir.display()
        );
    }
    store::SqliteMetadata::open(&db).with_context(|| format!("opening {}", db.display()))
}

fn create_account(data_dir: &std::path::Path, name: &str) -> anyhow::Result<()> {
    if data_dir.join("metadata.db").exists() {
        // It is about to hold one more secret key: only its owner may enter it.
        if let datadir::Outcome::Restricted { from } = datadir::make_private(data_dir)? {
            eprintln!(
                "cairn: {} had mode {from:04o}; set it to {:04o} so that only this user can enter it (it holds every secret access key)",
                data_dir.display(),
                datadir::MODE
            );
        }
    }
    let meta = open_metadata(data_dir)?;
    let account = iam::create_account(&meta, name, &time::OffsetDateTime::now_utc())
        .map_err(|e| anyhow::anyhow!(e.message))?;
    println!("{}", serde_json::to_string_pretty(&account)?);
    Ok(())
}

fn explain(data_dir: &std::path::Path, request_id: &str, json: bool) -> anyhow::Result<()> {
    let meta = std::sync::Arc::new(open_metadata(data_dir)?);
    let iam = iam::Iam::new(meta, "", None);
    let Some(d) = iam
        .denial(request_id)
        .map_err(|e| anyhow::anyhow!(e.message))?
    else {
        anyhow::bail!(
            "no denied request with id {request_id} is recorded in {}: only denied calls are kept; check the id (the x-amzn-RequestId of the response) and --data-dir",
            data_dir.display()
        );
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(());
    }
    print!("{}", explain::render(&d));
    Ok(())
}
