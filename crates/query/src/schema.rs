//! The table layouts of event data stores: integration (ActivityAuditLog)
//! events and CloudTrail management and data events.
//!
//! Field names are lower-case (CloudTrail Lake columns are case-insensitive;
//! see the crate doc). Map columns hold strings: nested JSON values are kept
//! as JSON text, as CloudTrail Lake does.

use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::{Arc, OnceLock};

/// Which columns an event data store's events have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Layout {
    /// Integration events from channels (eventCategory `ActivityAuditLog`).
    Integration,
    /// CloudTrail records: management, data and other AWS-shaped events, as
    /// in CloudTrail log files (eventCategory `Management`, `Data`, …).
    CloudTrail,
}

impl Layout {
    /// The columns of this layout.
    pub fn schema(self) -> SchemaRef {
        static INTEGRATION: OnceLock<SchemaRef> = OnceLock::new();
        static CLOUDTRAIL: OnceLock<SchemaRef> = OnceLock::new();
        match self {
            Self::Integration => INTEGRATION.get_or_init(integration_schema).clone(),
            Self::CloudTrail => CLOUDTRAIL.get_or_init(cloudtrail_schema).clone(),
        }
    }
}

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

fn timestamp(name: &str) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        true,
    )
}

fn boolean(name: &str) -> Field {
    Field::new(name, DataType::Boolean, true)
}

/// The schema of an event data store of integration events.
fn integration_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("eventversion"),
        utf8("eventcategory"),
        utf8("eventtype"),
        utf8("eventid"),
        timestamp("eventtime"),
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

/// The schema of an event data store of CloudTrail events: the columns
/// CloudTrail Lake documents for management and data events. Not (yet)
/// kept: `eventjson` and `eventjsonchecksum`, which would store every event
/// a second time as text.
fn cloudtrail_schema() -> SchemaRef {
    let issuer = structure(
        "sessionissuer",
        vec![
            utf8("type"),
            utf8("principalid"),
            utf8("arn"),
            utf8("accountid"),
            utf8("username"),
        ],
    );
    let session_context = structure(
        "sessioncontext",
        vec![
            structure(
                "attributes",
                vec![timestamp("creationdate"), utf8("mfaauthenticated")],
            ),
            issuer,
            structure(
                "webidfederationdata",
                vec![utf8("federatedprovider"), string_map("attributes")],
            ),
            utf8("sourceidentity"),
            utf8("ec2roledelivery"),
            utf8("ec2issuedinvpc"),
        ],
    );
    // Parquet (and so the flushed tables) names a list's element "element";
    // the not-yet-flushed tail must match it for the union of both.
    let resource = Field::new(
        "element",
        DataType::Struct(Fields::from(vec![
            utf8("accountid"),
            utf8("type"),
            utf8("arn"),
            utf8("arnprefix"),
        ])),
        true,
    );
    Arc::new(Schema::new(vec![
        utf8("eventversion"),
        structure(
            "useridentity",
            vec![
                utf8("type"),
                utf8("principalid"),
                utf8("arn"),
                utf8("accountid"),
                utf8("accesskeyid"),
                utf8("username"),
                session_context,
                utf8("invokedby"),
                utf8("identityprovider"),
            ],
        ),
        timestamp("eventtime"),
        utf8("eventsource"),
        utf8("eventname"),
        utf8("awsregion"),
        utf8("sourceipaddress"),
        utf8("useragent"),
        utf8("errorcode"),
        utf8("errormessage"),
        string_map("requestparameters"),
        string_map("responseelements"),
        string_map("additionaleventdata"),
        utf8("requestid"),
        utf8("eventid"),
        boolean("readonly"),
        Field::new("resources", DataType::List(Arc::new(resource)), true),
        utf8("eventtype"),
        utf8("apiversion"),
        boolean("managementevent"),
        utf8("recipientaccountid"),
        utf8("sharedeventid"),
        utf8("annotation"),
        utf8("vpcendpointid"),
        string_map("serviceeventdetails"),
        string_map("addendum"),
        string_map("edgedevicedetails"),
        string_map("insightdetails"),
        utf8("eventcategory"),
        structure(
            "tlsdetails",
            vec![
                utf8("tlsversion"),
                utf8("ciphersuite"),
                utf8("clientprovidedhostheader"),
            ],
        ),
        utf8("sessioncredentialfromconsole"),
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

/// JSON booleans, and the strings `true` / `false` some producers write.
fn as_bool(v: &Value) -> Value {
    match v {
        Value::Bool(b) => Value::Bool(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        _ => Value::Null,
    }
}

/// Shapes one value to the column type `data_type`.
fn shape_value(v: Option<&Value>, data_type: &DataType) -> Value {
    match data_type {
        DataType::Struct(inner) => shape(v, inner),
        DataType::Map(_, _) => as_map(v),
        DataType::List(item) => match v {
            Some(Value::Array(items)) => Value::Array(
                items
                    .iter()
                    .map(|i| shape_value(Some(i), item.data_type()))
                    .collect(),
            ),
            _ => Value::Null,
        },
        DataType::Timestamp(_, _) => v
            .and_then(Value::as_str)
            .and_then(epoch_micros)
            .map_or(Value::Null, Value::from),
        DataType::Boolean => v.map_or(Value::Null, as_bool),
        _ => v.map_or(Value::Null, as_text),
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
        out.insert(
            f.name().clone(),
            shape_value(member(obj, f.name()), f.data_type()),
        );
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
