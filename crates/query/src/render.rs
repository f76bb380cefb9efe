//! Rendering result values as CloudTrail Lake does: every value a string,
//! timestamps `yyyy-MM-dd HH:mm:ss.SSS`, NULL as an empty string.

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

const TIMESTAMP: &str = "%Y-%m-%d %H:%M:%S%.3f";

pub(crate) fn rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, String> {
    let options = FormatOptions::default()
        .with_null("")
        .with_timestamp_format(Some(TIMESTAMP))
        .with_timestamp_tz_format(Some(TIMESTAMP));
    let mut out = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        for row in 0..batch.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect(),
            );
        }
    }
    Ok(out)
}
