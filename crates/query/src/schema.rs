//! The table layout of integration (ActivityAuditLog) events.
//!
//! Field names are lower-case (CloudTrail Lake columns are case-insensitive;
//! see the crate doc). Map columns hold strings: nested JSON values are kept
//! as JSON text, as CloudTrail Lake does.

use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Strings are Utf8View and maps `key_value` entries of Utf8: the types a
/// Delta Lake table reads back as, so that the flushed events and the
/// unflushed tail union without casts.
fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8View, true)
}

fn string_map(name: &str) -> Field {
    let entries = Field::new(
        "key_value",
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Utf8, true),
        ])),
        false,
    );
    Field::new(name, DataType::Map(Arc::new(entries), false), true)
}

fn structure(name: &str, fields: Vec<Field>) -> Field {
    Field::new(name, DataType::Struct(Fields::from(fields)), true)
}

/// The schema of an event data store of integration events.
pub fn integration_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("eventversion"),
        utf8("eventcategory"),
        utf8("eventtype"),
        utf8("eventid"),
        Field::new(
            "eventtime",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        utf8("awsregion"),
        utf8("recipientaccountid"),
        structure(
            "addendum",
            vec![
                utf8("reason"),
                utf8("updatedfields"),
                utf8("originaluid"),
                utf8("originaleventid"),
            ],
        ),
        structure("metadata", vec![utf8("ingestiontime"), utf8("channelarn")]),
        structure(
            "eventdata",
            vec![
                utf8("version"),
                structure(
                    "useridentity",
                    vec![utf8("type"), utf8("principalid"), string_map("details")],
                ),
                utf8("useragent"),
                utf8("eventsource"),
                utf8("eventname"),
                utf8("eventtime"),
                utf8("uid"),
                string_map("requestparameters"),
                string_map("responseelements"),
                utf8("errorcode"),
                utf8("errormessage"),
                utf8("sourceipaddress"),
                utf8("recipientaccountid"),
                string_map("additionaleventdata"),
            ],
        ),
    ]))
}

/// Case-insensitive member lookup (stored records keep the caller's spelling).
fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn as_text(v: &Value) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::String(s) => Value::String(s.clone()),
        other => Value::String(other.to_string()),
    }
}

fn as_map(v: Option<&Value>) -> Value {
    match v {
        Some(Value::Object(o)) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), as_text(v))).collect())
        }
        _ => Value::Null,
    }
}

/// Shapes `value` to the fields of `fields`: lower-case names, text for
/// string columns, string maps, epoch microseconds for timestamps.
fn shape(value: Option<&Value>, fields: &Fields) -> Value {
    let Some(Value::Object(obj)) = value else {
        return Value::Null;
    };
    let mut out = Map::new();
    for f in fields.iter() {
        let v = member(obj, f.name());
        let shaped = match f.data_type() {
            DataType::Struct(inner) => shape(v, inner),
            DataType::Map(_, _) => as_map(v),
            DataType::Timestamp(_, _) => v
                .and_then(Value::as_str)
                .and_then(epoch_micros)
                .map_or(Value::Null, Value::from),
            _ => v.map_or(Value::Null, as_text),
        };
        out.insert(f.name().clone(), shaped);
    }
    Value::Object(out)
}

/// Parses `2024-01-15T11:59:00Z`-style times (RFC 3339, or without zone as UTC).
pub fn parse_event_time(s: &str) -> Option<time::OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339))
        .ok()
}

fn epoch_micros(s: &str) -> Option<i64> {
    i64::try_from(parse_event_time(s)?.unix_timestamp_nanos() / 1_000).ok()
}

/// Builds one record batch of `schema` from stored records.
pub fn to_batch(schema: &SchemaRef, records: &[Value]) -> Result<RecordBatch, String> {
    let rows: Vec<Value> = records
        .iter()
        .map(|r| shape(Some(r), schema.fields()))
        .collect();
    let mut decoder = arrow_json::ReaderBuilder::new(schema.clone())
        .build_decoder()
        .map_err(|e| e.to_string())?;
    decoder.serialize(&rows).map_err(|e| e.to_string())?;
    match decoder.flush().map_err(|e| e.to_string())? {
        Some(batch) => Ok(batch),
        None => Ok(RecordBatch::new_empty(schema.clone())),
    }
}
