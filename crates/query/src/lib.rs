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
pub use schema::integration_schema;

use datafusion::datasource::MemTable;
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

/// The events of one event data store, as stored records (JSON objects).
pub struct Table {
    /// The event data store id, as named in `FROM`.
    pub id: String,
    /// Stored records.
    pub records: Vec<serde_json::Value>,
    /// Their stored size in bytes (for BytesScanned).
    pub bytes: u64,
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

/// Runs a prepared statement over `tables` (which must include every table
/// the statement names).
pub async fn execute(prepared: &Prepared, tables: Vec<Table>) -> Result<QueryOutput, QueryError> {
    let config = SessionConfig::new()
        .with_information_schema(false)
        .with_target_partitions(2)
        .with_batch_size(8192);
    let ctx = SessionContext::new_with_config(config);
    let schema = integration_schema();
    let mut events_scanned = 0u64;
    let mut bytes_scanned = 0u64;
    for table in tables {
        events_scanned += table.records.len() as u64;
        bytes_scanned += table.bytes;
        let batch = schema::to_batch(&schema, &table.records).map_err(QueryError::Execution)?;
        let mem = MemTable::try_new(schema.clone(), vec![vec![batch]])
            .map_err(|e| QueryError::Execution(e.to_string()))?;
        ctx.register_table(table.id.as_str(), Arc::new(mem))
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
