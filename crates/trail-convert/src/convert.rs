//! One CloudTrail record → one integration `eventData` object.

use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::{limits, AuditEvent, Error};

/// Appended to a string cut to fit its field limit.
pub const TRUNCATION_MARKER: &str = "...[truncated]";

/// Key of the object added to `additionalEventData` that keeps the CloudTrail fields with
/// no place of their own in the integration schema.
pub const CLOUDTRAIL_KEY: &str = "cloudTrail";

/// Top-level record fields that are mapped onto an eventData field (everything else is
/// copied to `additionalEventData.cloudTrail`).
const MAPPED: &[&str] = &[
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "userAgent",
    "errorCode",
    "errorMessage",
    "sourceIPAddress",
    "requestParameters",
    "responseElements",
    "additionalEventData",
];

/// Bookkeeping shared by the field mappers.
struct Ctx {
    /// `additionalEventData.cloudTrail`.
    ct: Map<String, Value>,
    /// Names of fields whose eventData value was cut (full text in `ct`).
    truncated: Vec<Value>,
    /// Notes on content that had to be dropped to meet a size limit.
    dropped: Vec<Value>,
}

pub fn to_event_data(record: &Value, recipient_account_id: &str) -> Result<Value, Error> {
    let rec = record.as_object().ok_or(Error::NotAnObject {
        found: crate::kind(record),
    })?;
    check_recipient(recipient_account_id)?;
    let hint = record_hint(rec);

    let mut cx = Ctx {
        ct: Map::new(),
        truncated: Vec::new(),
        dropped: Vec::new(),
    };
    for (k, v) in rec {
        if !v.is_null() && !MAPPED.contains(&k.as_str()) {
            cx.ct.insert(k.clone(), v.clone());
        }
    }

    let mut out = Map::new();

    // Required strings.
    for (src, dst, limit) in [
        ("eventVersion", "version", limits::VERSION),
        ("eventSource", "eventSource", limits::EVENT_SOURCE),
        ("eventName", "eventName", limits::EVENT_NAME),
    ] {
        match text(rec.get(src)) {
            Some(s) if !s.trim().is_empty() => {
                out.insert(dst.into(), Value::String(cx.fit(src, s, limit)));
            }
            Some(_) => {
                return Err(Error::InvalidField {
                    record: hint,
                    field: src,
                    problem: "is empty".into(),
                })
            }
            None => return Err(missing_or_invalid(rec, src, hint)),
        }
    }

    out.insert("userIdentity".into(), user_identity(rec, &mut cx));

    // Optional strings.
    for (src, limit) in [
        ("userAgent", limits::USER_AGENT),
        ("errorCode", limits::ERROR_CODE),
        ("errorMessage", limits::ERROR_MESSAGE),
        ("sourceIPAddress", usize::MAX),
    ] {
        match (text(rec.get(src)), rec.get(src)) {
            (Some(s), _) => {
                out.insert(src.into(), Value::String(cx.fit(src, s, limit)));
            }
            (None, Some(v)) if !v.is_null() => {
                // An object or array where a string belongs: keep it, unmapped.
                cx.ct.insert(src.into(), v.clone());
            }
            _ => {}
        }
    }

    // eventTime, falling back to Logstash's @timestamp.
    let (time_field, time_value) = match rec.get("eventTime").filter(|v| !v.is_null()) {
        Some(v) => ("eventTime", v),
        None => match rec.get("@timestamp").filter(|v| !v.is_null()) {
            Some(v) => ("@timestamp", v),
            None => {
                return Err(Error::MissingField {
                    record: hint,
                    field: "eventTime",
                })
            }
        },
    };
    let Some(time) = crate::time::normalize(time_value) else {
        return Err(Error::InvalidField {
            record: hint,
            field: time_field,
            problem: format!("{time_value} is not a timestamp"),
        });
    };
    if time_field == "eventTime" && time_value.as_str() != Some(time.as_str()) {
        cx.ct.insert("eventTime".into(), time_value.clone());
    }
    out.insert("eventTime".into(), Value::String(time));

    out.insert("UID".into(), Value::String(uid(record, rec)));

    for key in ["requestParameters", "responseElements"] {
        if let Some(obj) = as_object_field(rec.get(key)) {
            let obj = cx.shrink(obj, limits::PAYLOAD_BYTES, key);
            out.insert(key.into(), Value::Object(obj));
        }
    }

    out.insert(
        "recipientAccountId".into(),
        Value::String(recipient_account_id.into()),
    );

    let aed = additional_event_data(rec, cx);
    if !aed.is_empty() {
        out.insert("additionalEventData".into(), Value::Object(aed));
    }
    Ok(Value::Object(out))
}

pub fn to_audit_event(record: &Value, recipient_account_id: &str) -> Result<AuditEvent, Error> {
    let data = to_event_data(record, recipient_account_id)?;
    let event_data = serde_json::to_string(&data).map_err(|e| Error::InvalidField {
        record: record.as_object().map_or_else(String::new, record_hint),
        field: "eventData",
        problem: format!("cannot be serialized: {e}"),
    })?;
    let event_data_checksum =
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(event_data.as_bytes()));
    let event_id = record.get("eventID").and_then(Value::as_str);
    let id = match event_id {
        Some(e) if is_valid_id(e) => e.to_string(),
        _ => {
            let uid = data
                .get("UID")
                .and_then(Value::as_str)
                .unwrap_or(event_data.as_str());
            hex_sha256(uid.as_bytes())
        }
    };
    Ok(AuditEvent {
        id,
        event_data,
        event_data_checksum,
    })
}

/// `^[-_A-Za-z0-9]{1,128}$`, the PutAuditEvents entry id pattern.
pub fn is_valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn check_recipient(account: &str) -> Result<(), Error> {
    if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::InvalidRecipient(account.to_string()))
    }
}

impl Ctx {
    /// Returns `s` cut to `limit` bytes (marker included); the full text goes to
    /// `cloudTrail.<field>` and the field is listed in `cloudTrail.truncatedFields`.
    fn fit(&mut self, field: &str, s: String, limit: usize) -> String {
        match truncate(&s, limit) {
            None => s,
            Some(cut) => {
                self.truncated.push(Value::String(field.into()));
                self.ct.insert(field.into(), Value::String(s));
                cut
            }
        }
    }

    /// Drops the largest top-level entries of `obj` until it serializes to ≤ `limit` bytes,
    /// noting each dropped entry as `<prefix>.<key>`.
    fn shrink(&mut self, mut obj: Map<String, Value>, limit: usize, prefix: &str) -> Map<String, Value> {
        while json_len_map(&obj) > limit {
            let Some((key, size)) = largest(&obj, &[]) else {
                break;
            };
            obj.remove(&key);
            self.note_drop(format!("{prefix}.{key}"), size);
        }
        obj
    }

    fn note_drop(&mut self, field: String, bytes: usize) {
        let mut note = Map::new();
        note.insert("field".into(), Value::String(field));
        note.insert("bytes".into(), Value::from(bytes));
        self.dropped.push(Value::Object(note));
    }
}

fn user_identity(rec: &Map<String, Value>, cx: &mut Ctx) -> Value {
    let empty = Map::new();
    let ui = match rec.get("userIdentity") {
        Some(Value::Object(m)) => m,
        Some(Value::Null) | None => &empty,
        Some(other) => {
            cx.ct.insert("userIdentity".into(), other.clone());
            &empty
        }
    };
    let mut details: Map<String, Value> = ui
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let ty = match non_empty_text(ui.get("type")) {
        Some(t) => match truncate(&t, limits::USER_IDENTITY_TYPE) {
            None => {
                details.remove("type");
                t
            }
            Some(cut) => cut,
        },
        None => "Unknown".to_string(),
    };
    let principal = match non_empty_text(ui.get("principalId")) {
        Some(p) => match truncate(&p, limits::PRINCIPAL_ID) {
            None => {
                details.remove("principalId");
                p
            }
            Some(cut) => cut,
        },
        None => ["arn", "invokedBy"]
            .iter()
            .find_map(|k| non_empty_text(ui.get(*k)))
            .map_or_else(
                || "unknown".to_string(),
                |p| truncate(&p, limits::PRINCIPAL_ID).unwrap_or(p),
            ),
    };

    let mut out = Map::new();
    out.insert("type".into(), Value::String(ty));
    out.insert("principalId".into(), Value::String(principal));
    if !details.is_empty() {
        out.insert("details".into(), Value::Object(details));
    }
    Value::Object(out)
}

fn additional_event_data(rec: &Map<String, Value>, mut cx: Ctx) -> Map<String, Value> {
    let mut aed = match rec.get("additionalEventData") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) if !m.contains_key(CLOUDTRAIL_KEY) => m.clone(),
        Some(other) => wrap(other.clone()),
    };
    if !cx.truncated.is_empty() {
        let t = std::mem::take(&mut cx.truncated);
        cx.ct.insert("truncatedFields".into(), Value::Array(t));
    }
    let mut ct = std::mem::take(&mut cx.ct);

    // Drop the largest parts (original keys or cloudTrail.* keys) until it fits.
    const NOTES: &[&str] = &["truncatedFields", "droppedFields"];
    loop {
        let mut probe = aed.clone();
        let mut probe_ct = ct.clone();
        if !cx.dropped.is_empty() {
            probe_ct.insert("droppedFields".into(), Value::Array(cx.dropped.clone()));
        }
        if !probe_ct.is_empty() {
            probe.insert(CLOUDTRAIL_KEY.into(), Value::Object(probe_ct));
        }
        if json_len_map(&probe) <= limits::ADDITIONAL_EVENT_DATA_BYTES {
            return probe;
        }
        let top = largest(&aed, &[]);
        let inner = largest(&ct, NOTES);
        match (top, inner) {
            (Some((k, n)), Some((_, m))) if n >= m => {
                aed.remove(&k);
                cx.note_drop(format!("additionalEventData.{k}"), n);
            }
            (Some((k, n)), None) => {
                aed.remove(&k);
                cx.note_drop(format!("additionalEventData.{k}"), n);
            }
            (_, Some((k, m))) => {
                ct.remove(&k);
                cx.note_drop(format!("additionalEventData.{CLOUDTRAIL_KEY}.{k}"), m);
            }
            (None, None) => {
                // Only notes are left and still too big (pathological): keep a summary.
                let n = cx.dropped.len();
                cx.dropped.clear();
                ct.clear();
                let mut m = Map::new();
                m.insert(
                    "droppedFields".into(),
                    Value::String(format!("{n} fields dropped to fit 28 kB")),
                );
                let mut probe = Map::new();
                probe.insert(CLOUDTRAIL_KEY.into(), Value::Object(m));
                return probe;
            }
        }
    }
}

fn largest(obj: &Map<String, Value>, skip: &[&str]) -> Option<(String, usize)> {
    obj.iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| (k, json_len(v)))
        .max_by_key(|(_, n)| *n)
        .map(|(k, n)| (k.clone(), n))
}

fn wrap(v: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("value".into(), v);
    m
}

fn as_object_field(v: Option<&Value>) -> Option<Map<String, Value>> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(other) => Some(wrap(other.clone())),
    }
}

fn uid(record: &Value, rec: &Map<String, Value>) -> String {
    let src = non_empty_text(rec.get("eventID"))
        .or_else(|| non_empty_text(rec.get("requestID")))
        .unwrap_or_else(|| {
            let bytes = serde_json::to_vec(record).unwrap_or_default();
            format!("sha256-{}", hex_sha256(&bytes))
        });
    if src.len() > limits::UID {
        format!("sha256-{}", hex_sha256(src.as_bytes()))
    } else {
        src
    }
}

/// String, number or bool as text; anything else `None`.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn non_empty_text(v: Option<&Value>) -> Option<String> {
    text(v).filter(|s| !s.trim().is_empty())
}

fn missing_or_invalid(rec: &Map<String, Value>, field: &'static str, record: String) -> Error {
    match rec.get(field) {
        None | Some(Value::Null) => Error::MissingField { record, field },
        Some(v) => Error::InvalidField {
            record,
            field,
            problem: format!("is {}, expected a string", crate::kind(v)),
        },
    }
}

/// How to name a record in an error message.
pub(crate) fn record_hint(rec: &Map<String, Value>) -> String {
    if let Some(id) = non_empty_text(rec.get("eventID")) {
        format!("eventID {id}")
    } else if let Some(id) = non_empty_text(rec.get("requestID")) {
        format!("requestID {id}")
    } else {
        "without eventID/requestID".to_string()
    }
}

/// `None` when `s` fits in `limit` bytes, else the longest char-boundary prefix that fits
/// together with [`TRUNCATION_MARKER`].
pub(crate) fn truncate(s: &str, limit: usize) -> Option<String> {
    if s.len() <= limit {
        return None;
    }
    let mut cut = limit.saturating_sub(TRUNCATION_MARKER.len());
    while cut > 0 && !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = s.get(..cut).unwrap_or("");
    let mut out = String::with_capacity(limit);
    out.push_str(head);
    out.push_str(TRUNCATION_MARKER);
    Some(out)
}

pub(crate) fn json_len(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}

fn json_len_map(m: &Map<String, Value>) -> usize {
    serde_json::to_vec(m).map_or(usize::MAX, |b| b.len())
}

fn hex_sha256(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s
}
