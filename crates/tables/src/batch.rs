//! Records from the log into Arrow batches of a table: grouped by event data
//! store, past-retention records dropped, the partition column added, rows
//! sorted by eventTime.

use crate::{day_string, Error, LoggedEvent, Result, TableSpec, PARTITION};
use datafusion::arrow::array::{Array, ArrayRef, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::compute::{concat_batches, sort_to_indices, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use query::Layout;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use store::IngestLog;
use time::{Date, OffsetDateTime};

/// Records are turned into Arrow this many at a time, so a segment's JSON
/// values never all sit in memory at once.
const CHUNK: usize = 4096;

/// One table's rows from a log segment, built up as Arrow batches.
pub(crate) struct Rows {
    layout: Layout,
    batches: Vec<RecordBatch>,
    pending: Vec<Value>,
    pub count: u64,
}

impl Rows {
    pub fn new(layout: Layout) -> Self {
        Self {
            layout,
            batches: Vec::new(),
            pending: Vec::new(),
            count: 0,
        }
    }

    fn push(&mut self, record: Value) -> Result<()> {
        self.pending.push(record);
        self.count += 1;
        if self.pending.len() >= CHUNK {
            self.seal_chunk()?;
        }
        Ok(())
    }

    fn seal_chunk(&mut self) -> Result<()> {
        if !self.pending.is_empty() {
            let batch =
                query::to_batch(&self.layout.schema(), &self.pending).map_err(Error::Data)?;
            self.batches
                .push(with_partition(&batch, &table_schema(self.layout))?);
            self.pending.clear();
        }
        Ok(())
    }

    /// The rows as batches sorted by eventTime.
    pub fn into_sorted(mut self) -> Result<Vec<RecordBatch>> {
        self.seal_chunk()?;
        sorted(self.layout, self.batches)
    }
}

/// The records of one log segment, by table.
pub(crate) struct Grouped {
    pub tables: HashMap<String, Rows>,
    pub expired: u64,
}

/// The UTC day of a stored record's eventTime.
pub(crate) fn record_day(record: &Value) -> Option<Date> {
    let t = record.get("eventTime")?.as_str()?;
    Some(
        query::parse_event_time(t)?
            .to_offset(time::UtcOffset::UTC)
            .date(),
    )
}

pub(crate) fn group_segment(
    log: &IngestLog,
    segment: u64,
    live: &HashMap<String, TableSpec>,
) -> Result<Grouped> {
    let mut out = Grouped {
        tables: HashMap::new(),
        expired: 0,
    };
    let mut unreadable = 0u64;
    let mut failed = None;
    log.scan_segment(segment, |payload| {
        if failed.is_some() {
            return;
        }
        let Ok(e) = serde_json::from_slice::<LoggedEvent>(payload) else {
            unreadable += 1;
            return;
        };
        let day = record_day(&e.record);
        for (id, record) in e.per_store() {
            let Some(spec) = live.get(&id) else {
                continue;
            };
            if day.is_some_and(|d| d < spec.keep_from) {
                out.expired += 1;
                continue;
            }
            let rows = out
                .tables
                .entry(id)
                .or_insert_with(|| Rows::new(spec.layout));
            if let Err(err) = rows.push(record) {
                failed = Some(err);
                return;
            }
        }
    })?;
    if let Some(err) = failed {
        return Err(err);
    }
    if unreadable > 0 {
        tracing::warn!(
            segment,
            records = unreadable,
            "unreadable records in the ingest log were skipped"
        );
    }
    Ok(out)
}

/// The table schema: the layout's columns plus the partition column.
pub(crate) fn table_schema(layout: Layout) -> SchemaRef {
    let base = layout.schema();
    let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(PARTITION, DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

fn with_partition(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let times = batch
        .column_by_name("eventtime")
        .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
        .ok_or_else(|| Error::Data("records lack an eventtime column".into()))?;
    let days: StringArray = (0..times.len())
        .map(|i| {
            // Stored records always have an eventTime (ingest checks it);
            // the epoch day keeps a malformed one queryable rather than lost.
            let micros = if times.is_null(i) { 0 } else { times.value(i) };
            let day = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
                .map(|t| t.date())
                .unwrap_or(Date::MIN);
            Some(day_string(day))
        })
        .collect();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.push(Arc::new(days));
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| Error::Data(e.to_string()))
}

/// One batch of all `parts`, sorted by eventTime.
fn sorted(layout: Layout, parts: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
    if parts.is_empty() {
        return Ok(parts);
    }
    let schema = table_schema(layout);
    let all = concat_batches(&schema, &parts).map_err(|e| Error::Data(e.to_string()))?;
    drop(parts);
    let times = all
        .column_by_name("eventtime")
        .ok_or_else(|| Error::Data("records lack an eventtime column".into()))?;
    let order = sort_to_indices(times, None, None).map_err(|e| Error::Data(e.to_string()))?;
    let sorted = take_record_batch(&all, &order).map_err(|e| Error::Data(e.to_string()))?;
    Ok(vec![sorted])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(id: &str, time: &str) -> Value {
        json!({"eventVersion": "1.0", "eventID": id, "eventTime": time, "eventData": {"eventName": "E"}})
    }

    #[test]
    fn rows_are_sorted_by_event_time_and_get_their_day() {
        let records = vec![
            record("b", "2026-12-04T10:00:00Z"),
            record("a", "2026-12-03T23:59:59Z"),
            record("c", "2026-12-04T10:00:01Z"),
        ];
        let mut rows = Rows::new(Layout::Integration);
        for r in records {
            rows.push(r).unwrap();
        }
        let batches = rows.into_sorted().unwrap();
        assert_eq!(batches.len(), 1);
        let b = &batches[0];
        let ids = b.column_by_name("eventid").unwrap();
        let ids = ids
            .as_any()
            .downcast_ref::<datafusion::arrow::array::StringViewArray>()
            .unwrap();
        assert_eq!(
            (0..3).map(|i| ids.value(i)).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        let days = b.column_by_name(PARTITION).unwrap();
        let days = days.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(
            (0..3).map(|i| days.value(i)).collect::<Vec<_>>(),
            ["2026-12-03", "2026-12-04", "2026-12-04"]
        );
    }

    #[test]
    fn record_days_are_utc() {
        assert_eq!(
            record_day(&record("x", "2026-12-04T01:00:00+05:00")).map(day_string),
            Some("2026-12-03".to_string())
        );
        assert_eq!(record_day(&json!({})), None);
    }
}
