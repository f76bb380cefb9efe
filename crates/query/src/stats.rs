//! DescribeQuery's statistics, read from the metrics of the executed plan.
//!
//! - EventsScanned: the rows the table scans produced (the leaves of the
//!   plan), which is after time-range and min/max pruning skipped files and
//!   row groups, and less than the table when a LIMIT stopped early; all
//!   events when DataFusion answered a COUNT(*) from the table statistics.
//! - EventsMatched: per scan, the rows that came out of the filters sitting
//!   directly on it (through projections, repartitioning, unions of the
//!   flushed and unflushed parts): the events the WHERE clause selected.
//! - BytesScanned: Parquet's own count of bytes read, plus the unflushed
//!   events read from the ingest log at the table's bytes per event.

use crate::Statistics;
use datafusion::common::stats::Precision;
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use datafusion::physical_plan::ExecutionPlan;

/// Nodes that pass rows through without deciding which events match.
const PASS_THROUGH: [&str; 6] = [
    "ProjectionExec",
    "RepartitionExec",
    "CoalesceBatchesExec",
    "CoalescePartitionsExec",
    "CooperativeExec",
    "DeltaScan",
];

fn leaf_rows(plan: &dyn ExecutionPlan) -> u64 {
    if let Some(rows) = plan.metrics().and_then(|m| m.output_rows()) {
        return rows as u64;
    }
    // In-memory scans keep no metrics; they produce all their rows.
    match StatisticsContext::new()
        .compute(plan, &StatisticsArgs::new())
        .map(|s| s.num_rows)
    {
        Ok(Precision::Exact(n)) => n as u64,
        _ => 0,
    }
}

/// The rows a chain of scans, pass-through nodes, unions and filters ends
/// with; `None` when the subtree holds anything else (joins, aggregates…).
fn chain_rows(plan: &dyn ExecutionPlan) -> Option<u64> {
    let children = plan.children();
    if children.is_empty() {
        return Some(leaf_rows(plan));
    }
    let name = plan.name();
    if name == "UnionExec" {
        return children.iter().map(|c| chain_rows(c.as_ref())).sum();
    }
    let [child] = children.as_slice() else {
        return None;
    };
    let below = chain_rows(child.as_ref())?;
    if name == "FilterExec" {
        return Some(
            plan.metrics()
                .and_then(|m| m.output_rows())
                .map_or(below, |r| r as u64),
        );
    }
    PASS_THROUGH.contains(&name).then_some(below)
}

fn matched(plan: &dyn ExecutionPlan) -> u64 {
    chain_rows(plan).unwrap_or_else(|| plan.children().iter().map(|c| matched(c.as_ref())).sum())
}

/// Scanned rows and bytes over the leaves.
fn scanned(plan: &dyn ExecutionPlan, bytes_per_event: u64, out: &mut Statistics) {
    let children = plan.children();
    if !children.is_empty() {
        for c in children {
            scanned(c.as_ref(), bytes_per_event, out);
        }
        return;
    }
    if plan.name() != "DataSourceExec" {
        return; // a row made up by the plan (e.g. a COUNT(*) answered from table statistics)
    }
    let rows = leaf_rows(plan);
    out.events_scanned += rows;
    out.bytes_scanned += match plan.metrics().and_then(|m| m.sum_by_name("bytes_scanned")) {
        Some(bytes) => bytes.as_usize() as u64,
        None => rows * bytes_per_event,
    };
}

/// The statistics of an executed plan over tables of `events` events.
pub(crate) fn of(plan: &dyn ExecutionPlan, events: u64, bytes_per_event: u64) -> Statistics {
    let mut out = Statistics::default();
    scanned(plan, bytes_per_event, &mut out);
    if !reads_tables(plan) {
        // DataFusion answered from the tables' statistics (a COUNT(*) without
        // a filter): every event was counted, no byte was read.
        out.events_scanned = events;
        out.events_matched = events;
    } else {
        out.events_matched = matched(plan);
    }
    out
}

fn reads_tables(plan: &dyn ExecutionPlan) -> bool {
    plan.name() == "DataSourceExec" || plan.children().iter().any(|c| reads_tables(c.as_ref()))
}
