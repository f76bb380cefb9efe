//! Rendering result values as CloudTrail Lake does: every value a string,
//! timestamps `yyyy-MM-dd HH:mm:ss.SSS`, NULL as an empty string, and the
//! nested types as Trino prints them: maps `{key=value, …}`, arrays
//! `[a, b]`, rows (structs) `{field=value, …}`, NULL inside them `null`.

use datafusion::arrow::array::{Array, AsArray, GenericListArray, OffsetSizeTrait};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

const TIMESTAMP: &str = "%Y-%m-%d %H:%M:%S%.3f";

fn options(null: &str) -> FormatOptions<'_> {
    FormatOptions::default()
        .with_null(null)
        .with_timestamp_format(Some(TIMESTAMP))
        .with_timestamp_tz_format(Some(TIMESTAMP))
}

fn is_nested(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Map(_, _) | DataType::List(_) | DataType::LargeList(_) | DataType::Struct(_)
    )
}

/// One value inside a nested value (NULL shows as `null`).
fn nested(array: &dyn Array, row: usize, out: &mut String) -> Result<(), String> {
    if array.is_null(row) {
        out.push_str("null");
        return Ok(());
    }
    match array.data_type() {
        DataType::Map(_, _) => {
            let map = array.as_map();
            let offsets = map.value_offsets();
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            out.push('{');
            for i in start..end {
                if i > start {
                    out.push_str(", ");
                }
                nested(map.keys().as_ref(), i, out)?;
                out.push('=');
                nested(map.values().as_ref(), i, out)?;
            }
            out.push('}');
        }
        DataType::List(_) => list(array.as_list::<i32>(), row, out)?,
        DataType::LargeList(_) => list(array.as_list::<i64>(), row, out)?,
        DataType::Struct(fields) => {
            let s = array.as_struct();
            out.push('{');
            for (i, (field, column)) in fields.iter().zip(s.columns()).enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(field.name());
                out.push('=');
                nested(column.as_ref(), row, out)?;
            }
            out.push('}');
        }
        _ => {
            let opts = options("null");
            let f = ArrayFormatter::try_new(array, &opts).map_err(|e| e.to_string())?;
            out.push_str(&f.value(row).to_string());
        }
    }
    Ok(())
}

/// The array at `row` of `list`, as `[a, b]`.
fn list<O: OffsetSizeTrait>(
    list: &GenericListArray<O>,
    row: usize,
    out: &mut String,
) -> Result<(), String> {
    let offsets = list.value_offsets();
    let (start, end) = (offsets[row].as_usize(), offsets[row + 1].as_usize());
    out.push('[');
    for i in start..end {
        if i > start {
            out.push_str(", ");
        }
        nested(list.values().as_ref(), i, out)?;
    }
    out.push(']');
    Ok(())
}

/// The rows of `batch`, each value rendered.
pub(crate) fn batch_rows(batch: &RecordBatch) -> Result<Vec<Vec<String>>, String> {
    let opts = options("");
    let formatters = batch
        .columns()
        .iter()
        .map(|c| {
            if is_nested(c.data_type()) {
                Ok(None)
            } else {
                ArrayFormatter::try_new(c.as_ref(), &opts).map(Some)
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let mut values = Vec::with_capacity(formatters.len());
        for (column, formatter) in batch.columns().iter().zip(&formatters) {
            values.push(match formatter {
                Some(f) => f.value(row).to_string(),
                None if column.is_null(row) => String::new(),
                None => {
                    let mut s = String::new();
                    nested(column.as_ref(), row, &mut s)?;
                    s
                }
            });
        }
        out.push(values);
    }
    Ok(out)
}
