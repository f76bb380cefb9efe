//! What a query reads: each table's snapshot plus the unflushed tail of the
//! ingest log, as one DataFusion table per event data store.

use crate::{batch, delta, Error, LoggedEvent, Result, TableSpec, Tables};
use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use std::collections::HashMap;
use std::sync::Arc;
use time::Date;

/// One event data store as a query sees it.
pub struct Scan {
    /// The event data store id (the table name in FROM).
    pub id: String,
    /// Its events: flushed and unflushed, each exactly once.
    pub provider: Arc<dyn TableProvider>,
    /// How many events it holds.
    pub events: u64,
    /// Their stored size in bytes (Parquet files plus log records).
    pub bytes: u64,
}

struct Tail {
    records: Vec<serde_json::Value>,
    bytes: u64,
}

fn df_error(e: datafusion::error::DataFusionError) -> Error {
    Error::Data(e.to_string())
}

impl Tables {
    /// Snapshots of the given stores for a query running in `ctx`; each
    /// store comes with its layout and the oldest day its retention keeps,
    /// so that events past it are not seen even before a flush drops them.
    pub async fn scan(
        &self,
        ctx: &SessionContext,
        stores: &[(String, TableSpec)],
    ) -> Result<Vec<Scan>> {
        // Under the gate: the snapshots and the tail above them, so that no
        // segment can be removed between the two.
        let gate = self.gate.read().await;
        let mut tables = Vec::new();
        for (id, spec) in stores {
            let table = self.table(id).await?;
            let through = Self::flushed_through(id, &table).await?;
            tables.push((id, table, through, *spec));
        }
        let mut tails: HashMap<&str, (u64, Date, Tail)> = tables
            .iter()
            .map(|(id, _, through, spec)| {
                (
                    id.as_str(),
                    (
                        *through,
                        spec.keep_from,
                        Tail {
                            records: Vec::new(),
                            bytes: 0,
                        },
                    ),
                )
            })
            .collect();
        let from = tables.iter().map(|t| t.2).min().unwrap_or(0);
        let mut unreadable = 0u64;
        self.log.scan_after(from, |segment, payload| {
            let Ok(e) = serde_json::from_slice::<LoggedEvent>(payload) else {
                unreadable += 1;
                return;
            };
            let day = batch::record_day(&e.record);
            for (id, record) in e.per_store() {
                if let Some((through, oldest, tail)) = tails.get_mut(id.as_str()) {
                    if segment > *through && day.is_none_or(|d| d >= *oldest) {
                        tail.records.push(record);
                        tail.bytes += payload.len() as u64;
                    }
                }
            }
        })?;
        drop(gate);
        if unreadable > 0 {
            tracing::warn!(
                records = unreadable,
                "unreadable records in the ingest log were skipped"
            );
        }

        let mut out = Vec::new();
        for (id, table, _, spec) in tables {
            let Some((_, _, tail)) = tails.remove(id.as_str()) else {
                continue;
            };
            let schema = spec.layout.schema();
            let batch = query::to_batch(&schema, &tail.records).map_err(Error::Data)?;
            let mem = MemTable::try_new(schema.clone(), vec![vec![batch]]).map_err(df_error)?;
            let mut events = tail.records.len() as u64;
            let mut bytes = tail.bytes;
            let provider: Arc<dyn TableProvider> = if table.version().is_some() {
                let state = table.snapshot().map_err(delta(id))?;
                for f in state.log_data().iter() {
                    events += f.num_records().unwrap_or(0) as u64;
                    bytes += u64::try_from(f.size()).unwrap_or(0);
                }
                table
                    .update_datafusion_session(&ctx.state())
                    .map_err(delta(id))?;
                let flushed = table.table_provider().await.map_err(df_error)?;
                Arc::new(Combined {
                    schema: schema.clone(),
                    flushed,
                    tail: Arc::new(mem),
                })
            } else {
                Arc::new(mem)
            };
            out.push(Scan {
                id: id.clone(),
                provider,
                events,
                bytes,
            });
        }
        Ok(out)
    }
}

/// A table's flushed events and its unflushed tail as one table. The union
/// is made in the physical plan, under one logical scan, so that DataFusion
/// pushes projections and filters into both sides alike.
#[derive(Debug)]
struct Combined {
    /// The layout's schema (the Delta table adds its partition column).
    schema: SchemaRef,
    flushed: Arc<dyn TableProvider>,
    tail: Arc<MemTable>,
}

#[async_trait]
impl TableProvider for Combined {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        // The scans may use filters to skip data; DataFusion still applies them.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let wanted: Vec<usize> = projection
            .cloned()
            .unwrap_or_else(|| (0..self.schema.fields().len()).collect());
        let flushed_schema = self.flushed.schema();
        let in_flushed = wanted
            .iter()
            .map(|i| flushed_schema.index_of(self.schema.field(*i).name()))
            .collect::<Result<Vec<_>, _>>()?;
        let flushed = self
            .flushed
            .scan(state, Some(&in_flushed), filters, limit)
            .await?;
        let tail = self.tail.scan(state, Some(&wanted), filters, limit).await?;
        UnionExec::try_new(vec![flushed, tail])
    }
}
