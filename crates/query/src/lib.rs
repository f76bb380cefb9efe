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

mod functions;
mod prepare;
mod render;
mod schema;
mod stats;

pub use prepare::{prepare, Prepared};
pub use schema::{parse_event_time, to_batch, Layout};

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::datasource::{MemTable, TableProvider};
use datafusion::execution::context::SQLOptions;
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::{execute_stream, ExecutionPlan};
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use futures::StreamExt;
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

/// What a query did, as DescribeQuery reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Statistics {
    /// Events that passed the statement's filters (all scanned events
    /// where nothing filters them).
    pub events_matched: u64,
    /// Events read from the tables, after time-range and statistics pruning.
    pub events_scanned: u64,
    /// Bytes read from the tables.
    pub bytes_scanned: u64,
}

/// Where result rows go as they are produced, batch by batch, so that a
/// large result never has to fit in memory.
pub trait RowSink {
    /// The result keys, once, before any row.
    fn columns(&mut self, columns: Vec<String>) -> Result<(), String>;
    /// The next rows, every value rendered as CloudTrail Lake renders it.
    fn rows(&mut self, rows: Vec<Vec<String>>) -> Result<(), String>;
}

/// A whole result in memory (for tests and benchmarks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOutput {
    /// Result keys in SELECT order.
    pub columns: Vec<String>,
    /// Rows of strings (NULL as "").
    pub rows: Vec<Vec<String>>,
    /// What the query read and matched.
    pub statistics: Statistics,
}

impl RowSink for QueryOutput {
    fn columns(&mut self, columns: Vec<String>) -> Result<(), String> {
        self.columns = columns;
        Ok(())
    }
    fn rows(&mut self, rows: Vec<Vec<String>>) -> Result<(), String> {
        self.rows.extend(rows);
        Ok(())
    }
}

/// A session for one query: the tables come from [`Table`]s given to
/// [`execute`]; nothing else (no files, no URLs, no catalog) is reachable.
pub fn session() -> SessionContext {
    let mut config = SessionConfig::new()
        .with_information_schema(false)
        .with_target_partitions(2)
        .with_batch_size(8192);
    // Late materialization: the filter columns are decoded first and the
    // others only for the rows that pass; audit queries mostly pick a few
    // events out of many (measured with cairn-querybench).
    let parquet = &mut config.options_mut().execution.parquet;
    parquet.pushdown_filters = true;
    parquet.reorder_filters = true;
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(YieldAfterJoins))
        .build();
    let ctx = SessionContext::new_with_state(state);
    functions::register(&ctx);
    ctx
}

/// Makes joins hand control back between output batches. A join can make
/// millions of rows out of one input batch without ever waiting, and a task
/// that never waits cannot be cancelled (CancelQuery) or timed out: the
/// cooperative wrapper spends tokio's task budget per batch and yields when
/// it runs out. Not covered: a hash join whose filter rejects every pair
/// does not return between pairs at all (DataFusion 55 loops over the whole
/// probe batch inside one poll), so a many-to-many join of that shape holds
/// its query thread until the batch is done, even when stopped.
#[derive(Debug)]
struct YieldAfterJoins;

impl PhysicalOptimizerRule for YieldAfterJoins {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            if node.name().contains("Join") || node.name() == "UnnestExec" {
                let wrapped: Arc<dyn ExecutionPlan> = Arc::new(CooperativeExec::new(node));
                Ok(Transformed::yes(wrapped))
            } else {
                Ok(Transformed::no(node))
            }
        })
        .data()
    }

    fn name(&self) -> &str {
        "yield_after_joins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Plans `prepared` in `ctx`, where its tables are registered.
async fn plan(ctx: &SessionContext, prepared: &Prepared) -> Result<DataFrame, QueryError> {
    // Belt and braces: `prepare` already admits only SELECT, and the options
    // stop DDL, DML and SET should anything slip through.
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    ctx.sql_with_options(&prepared.sql, options)
        .await
        .map_err(|e| QueryError::InvalidStatement(clean_error(&e.to_string())))
}

/// Checks that `prepared` plans against the columns of its tables (given
/// with their layouts), so that StartQuery can refuse a statement naming
/// unknown columns or functions before it is queued.
pub async fn check(prepared: &Prepared, tables: &[(String, Layout)]) -> Result<(), QueryError> {
    let ctx = session();
    for (id, layout) in tables {
        let empty = MemTable::try_new(layout.schema(), vec![vec![]])
            .map_err(|e| QueryError::Execution(e.to_string()))?;
        ctx.register_table(id.as_str(), Arc::new(empty))
            .map_err(|e| QueryError::Execution(e.to_string()))?;
    }
    let df = plan(&ctx, prepared).await?;
    df.create_physical_plan()
        .await
        .map(|_| ())
        .map_err(|e| QueryError::InvalidStatement(clean_error(&e.to_string())))
}

/// Runs a prepared statement in `ctx` (from [`session`]) over `tables`
/// (which must include every table the statement names), handing the
/// rendered rows to `sink` as they come.
pub async fn execute(
    ctx: &SessionContext,
    prepared: &Prepared,
    tables: Vec<Table>,
    sink: &mut (dyn RowSink + Send),
) -> Result<Statistics, QueryError> {
    let mut events = 0u64;
    let mut bytes = 0u64;
    for table in tables {
        events += table.events;
        bytes += table.bytes;
        ctx.register_table(table.id.as_str(), table.provider)
            .map_err(|e| QueryError::Execution(e.to_string()))?;
    }
    let df = plan(ctx, prepared).await?;
    let names: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let failed =
        |e: datafusion::error::DataFusionError| QueryError::Execution(clean_error(&e.to_string()));
    let physical = df.create_physical_plan().await.map_err(failed)?;
    sink.columns(prepared.column_names(&names))
        .map_err(QueryError::Execution)?;
    let mut stream = execute_stream(physical.clone(), ctx.task_ctx()).map_err(failed)?;
    while let Some(batch) = stream.next().await {
        let rows = render::batch_rows(&batch.map_err(failed)?).map_err(QueryError::Execution)?;
        sink.rows(rows).map_err(QueryError::Execution)?;
    }
    let bytes_per_event = bytes.checked_div(events).unwrap_or(0);
    Ok(stats::of(physical.as_ref(), events, bytes_per_event))
}

/// Runs a prepared statement and keeps the whole result in memory.
pub async fn run(
    ctx: &SessionContext,
    prepared: &Prepared,
    tables: Vec<Table>,
) -> Result<QueryOutput, QueryError> {
    let mut out = QueryOutput::default();
    out.statistics = execute(ctx, prepared, tables, &mut out).await?;
    Ok(out)
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
