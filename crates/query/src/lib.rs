//! The CloudTrail Lake SQL dialect on Apache DataFusion (first cut).
//!
//! A statement goes through [`prepare`] (sandbox checks, the bare event data
//! store ids rewritten into quoted table names, the result column names
//! derived from the text as written) and then [`execute`] over the events of
//! the referenced event data stores.
//!
//! Column names: CloudTrail Lake's columns are case-insensitive. The tables
//! use lower-case field names and DataFusion's identifier normalisation stays
//! on, so `eventData.eventName`, `EVENTDATA.EVENTNAME` and `eventdata.eventname`
//! all resolve; the result keys still follow the query text.
#![warn(missing_docs)]

mod prepare;
mod render;
mod schema;

pub use prepare::{prepare, Prepared};
pub use schema::{parse_event_time, to_batch, Layout};

use datafusion::datasource::{MemTable, TableProvider};
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::sync::Arc;

/// Why a statement was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Not a single valid SELECT over event data stores (AWS: InvalidQueryStatementException).
    #[error("{0}")]
    InvalidStatement(String),
    /// The statement was valid but failed while running (the query ends FAILED).
    #[error("{0}")]
    Execution(String),
}

/// The events of one event data store, as a query reads them.
pub struct Table {
    /// The event data store id, as named in `FROM`.
    pub id: String,
    /// The events, with the columns of their store's [`Layout`].
    pub provider: Arc<dyn TableProvider>,
    /// How many events (for EventsScanned).
    pub events: u64,
    /// Their stored size in bytes (for BytesScanned).
    pub bytes: u64,
}

impl Table {
    /// A table held in memory, from stored records (JSON objects).
    pub fn from_records(
        id: &str,
        layout: Layout,
        records: &[serde_json::Value],
        bytes: u64,
    ) -> Result<Self, QueryError> {
        let schema = layout.schema();
        let batch = schema::to_batch(&schema, records).map_err(QueryError::Execution)?;
        let mem = MemTable::try_new(schema, vec![vec![batch]])
            .map_err(|e| QueryError::Execution(e.to_string()))?;
        Ok(Self {
            id: id.to_string(),
            provider: Arc::new(mem),
            events: records.len() as u64,
            bytes,
        })
    }
}

/// A finished query's result, every value rendered as CloudTrail Lake renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryOutput {
    /// Result keys in SELECT order.
    pub columns: Vec<String>,
    /// Rows of strings (NULL as "").
    pub rows: Vec<Vec<String>>,
    /// Events in the scanned tables.
    pub events_scanned: u64,
    /// Bytes of the scanned events.
    pub bytes_scanned: u64,
}

/// A session for one query: the tables come from [`Table`]s given to
/// [`execute`]; nothing else (no files, no URLs, no catalog) is reachable.
pub fn session() -> SessionContext {
    let config = SessionConfig::new()
        .with_information_schema(false)
        .with_target_partitions(2)
        .with_batch_size(8192);
    SessionContext::new_with_config(config)
}

/// Runs a prepared statement in `ctx` (from [`session`]) over `tables`
/// (which must include every table the statement names).
pub async fn execute(
    ctx: &SessionContext,
    prepared: &Prepared,
    tables: Vec<Table>,
) -> Result<QueryOutput, QueryError> {
    let mut events_scanned = 0u64;
    let mut bytes_scanned = 0u64;
    for table in tables {
        events_scanned += table.events;
        bytes_scanned += table.bytes;
        ctx.register_table(table.id.as_str(), table.provider)
            .map_err(|e| QueryError::Execution(e.to_string()))?;
    }
    // Belt and braces: `prepare` already admits only SELECT, and the options
    // stop DDL, DML and SET should anything slip through.
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let df = ctx
        .sql_with_options(&prepared.sql, options)
        .await
        .map_err(|e| QueryError::InvalidStatement(clean_error(&e.to_string())))?;
    let names: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let batches = df
        .collect()
        .await
        .map_err(|e| QueryError::Execution(clean_error(&e.to_string())))?;
    let columns = prepared.column_names(&names);
    let rows = render::rows(&batches).map_err(QueryError::Execution)?;
    Ok(QueryOutput {
        columns,
        rows,
        events_scanned,
        bytes_scanned,
    })
}

/// DataFusion's messages are good but carry internal prefixes; keep the part
/// a user can act on.
fn clean_error(message: &str) -> String {
    message
        .trim_start_matches("Error during planning: ")
        .trim_start_matches("Schema error: ")
        .trim_start_matches("SQL error: ")
        .to_string()
}

#[cfg(test)]
mod tests;
