//! `cairn`: the server and its command-line tools.

mod convert;
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
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn create_account(data_dir: &std::path::Path, name: &str) -> anyhow::Result<()> {
    let db = data_dir.join("metadata.db");
    if !db.exists() {
        anyhow::bail!(
            "{} holds no Cairn data: start `cairn serve --data-dir {}` once first, or pass the right --data-dir",
            data_dir.display(),
            data_dir.display()
        );
    }
    let meta =
        store::SqliteMetadata::open(&db).with_context(|| format!("opening {}", db.display()))?;
    let account = lake::create_account(&meta, name, &time::OffsetDateTime::now_utc())
        .map_err(|e| anyhow::anyhow!(e.message))?;
    println!("{}", serde_json::to_string_pretty(&account)?);
    Ok(())
}
