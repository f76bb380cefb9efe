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
        // Insight events carry the API they are about in insightDetails only.
        let value = match rec.get(src) {
            None | Some(Value::Null) if src != "eventVersion" => rec
                .get("insightDetails")
                .and_then(|d| d.get(src))
                .filter(|v| v.is_string()),
            other => other,
        };
        match text(value) {
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
    fn shrink(
        &mut self,
        mut obj: Map<String, Value>,
        limit: usize,
        prefix: &str,
    ) -> Map<String, Value> {
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
        "(no eventID or requestID)".to_string()
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const ACCT: &str = "111122223333";

    fn base() -> Value {
        json!({
            "eventVersion": "1.08",
            "userIdentity": {"type": "IAMUser", "principalId": "AIDAX", "arn": "arn:aws:iam::1:user/a",
                             "accountId": "123456789012", "userName": "a", "accessKeyId": null},
            "eventTime": "2023-07-10T11:45:01Z",
            "eventSource": "iam.amazonaws.com",
            "eventName": "ListUsers",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "1.2.3.4",
            "userAgent": "aws-cli/2",
            "requestParameters": null,
            "responseElements": {"ok": true},
            "requestID": "req-1",
            "eventID": "0b5e2a6c-1111-2222-3333-444455556666",
            "readOnly": true,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": "123456789012",
            "eventCategory": "Management",
            "tlsDetails": {"tlsVersion": "TLSv1.2"}
        })
    }

    fn conv(v: &Value) -> Value {
        to_event_data(v, ACCT).unwrap()
    }

    #[test]
    fn basic_mapping() {
        let d = conv(&base());
        assert_eq!(d["version"], "1.08");
        assert_eq!(d["userIdentity"]["type"], "IAMUser");
        assert_eq!(d["userIdentity"]["principalId"], "AIDAX");
        assert_eq!(
            d["userIdentity"]["details"],
            json!({"arn": "arn:aws:iam::1:user/a", "accountId": "123456789012", "userName": "a"})
        );
        assert_eq!(d["eventSource"], "iam.amazonaws.com");
        assert_eq!(d["eventName"], "ListUsers");
        assert_eq!(d["eventTime"], "2023-07-10T11:45:01Z");
        assert_eq!(d["UID"], "0b5e2a6c-1111-2222-3333-444455556666");
        assert_eq!(d["userAgent"], "aws-cli/2");
        assert_eq!(d["sourceIPAddress"], "1.2.3.4");
        assert_eq!(d["recipientAccountId"], ACCT);
        assert!(d.get("requestParameters").is_none());
        assert_eq!(d["responseElements"], json!({"ok": true}));
        assert!(d.get("errorCode").is_none());
        let ct = &d["additionalEventData"]["cloudTrail"];
        assert_eq!(
            *ct,
            json!({"awsRegion": "us-east-1", "requestID": "req-1",
                   "eventID": "0b5e2a6c-1111-2222-3333-444455556666", "readOnly": true,
                   "eventType": "AwsApiCall", "managementEvent": true,
                   "recipientAccountId": "123456789012", "eventCategory": "Management",
                   "tlsDetails": {"tlsVersion": "TLSv1.2"}})
        );
    }

    #[test]
    fn audit_event_id_and_checksum() {
        let e = to_audit_event(&base(), ACCT).unwrap();
        assert_eq!(e.id, "0b5e2a6c-1111-2222-3333-444455556666");
        let expect = base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest(e.event_data.as_bytes()));
        assert_eq!(e.event_data_checksum, expect);
        let back: Value = serde_json::from_str(&e.event_data).unwrap();
        assert_eq!(back, conv(&base()));
        let wire = serde_json::to_value(&e).unwrap();
        let mut keys: Vec<_> = wire.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["eventData", "eventDataChecksum", "id"]);

        let mut r = base();
        r["eventID"] = json!("not:valid/id");
        let e = to_audit_event(&r, ACCT).unwrap();
        assert_eq!(e.id.len(), 64);
        assert!(is_valid_id(&e.id));
        assert_eq!(e.id, to_audit_event(&r, ACCT).unwrap().id, "deterministic");
    }

    #[test]
    fn identity_fallbacks() {
        let mut r = base();
        r["userIdentity"] = json!({"accountId": "1", "invokedBy": "secretsmanager.amazonaws.com"});
        let d = conv(&r);
        assert_eq!(d["userIdentity"]["type"], "Unknown");
        assert_eq!(
            d["userIdentity"]["principalId"],
            "secretsmanager.amazonaws.com"
        );
        assert_eq!(
            d["userIdentity"]["details"],
            json!({"accountId": "1", "invokedBy": "secretsmanager.amazonaws.com"})
        );

        r["userIdentity"] =
            json!({"type": "IdentityCenterUser", "arn": "arn:x", "accessKeyId": ""});
        let d = conv(&r);
        assert_eq!(d["userIdentity"]["principalId"], "arn:x");
        assert_eq!(
            d["userIdentity"]["details"],
            json!({"arn": "arn:x", "accessKeyId": ""})
        );

        r.as_object_mut().unwrap().remove("userIdentity");
        let d = conv(&r);
        assert_eq!(
            d["userIdentity"],
            json!({"type": "Unknown", "principalId": "unknown"})
        );

        r["userIdentity"] = json!("weird");
        let d = conv(&r);
        assert_eq!(
            d["userIdentity"],
            json!({"type": "Unknown", "principalId": "unknown"})
        );
        assert_eq!(
            d["additionalEventData"]["cloudTrail"]["userIdentity"],
            "weird"
        );
    }

    #[test]
    fn time_and_uid_fallbacks() {
        let mut r = base();
        let o = r.as_object_mut().unwrap();
        o.remove("eventTime");
        o.insert("@timestamp".into(), json!("2020-09-14T00:44:23.000Z"));
        o.remove("eventID");
        let d = conv(&r);
        assert_eq!(d["eventTime"], "2020-09-14T00:44:23Z");
        assert_eq!(d["UID"], "req-1");
        assert_eq!(
            d["additionalEventData"]["cloudTrail"]["@timestamp"],
            "2020-09-14T00:44:23.000Z"
        );

        r.as_object_mut().unwrap().remove("requestID");
        let d = conv(&r);
        let uid = d["UID"].as_str().unwrap();
        assert!(uid.starts_with("sha256-") && uid.len() == 71, "{uid}");
        assert_eq!(conv(&r)["UID"], d["UID"]);

        let mut r = base();
        r["eventTime"] = json!("2023-07-10T13:45:01.123+02:00");
        let d = conv(&r);
        assert_eq!(d["eventTime"], "2023-07-10T11:45:01Z");
        assert_eq!(
            d["additionalEventData"]["cloudTrail"]["eventTime"],
            "2023-07-10T13:45:01.123+02:00"
        );

        r["eventID"] = json!("e".repeat(2000));
        let uid = conv(&r)["UID"].as_str().unwrap().to_string();
        assert!(uid.starts_with("sha256-"));
    }

    #[test]
    fn required_field_errors() {
        for (field, val, needle) in [
            (
                "eventSource",
                Value::Null,
                "`eventSource` is missing or null",
            ),
            (
                "eventName",
                json!({"a": 1}),
                "`eventName` is an object, expected a string",
            ),
            ("eventVersion", json!("  "), "`eventVersion` is empty"),
            (
                "eventTime",
                json!("2025-10-21TT00:52:27Z"),
                "`eventTime` \"2025-10-21TT00:52:27Z\" is not a timestamp",
            ),
            ("eventTime", Value::Null, "`eventTime` is missing or null"),
        ] {
            let mut r = base();
            r[field] = val;
            let err = to_event_data(&r, ACCT).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
            assert!(err.contains("eventID 0b5e2a6c"), "{err}");
        }
        let err = to_event_data(&json!([1]), ACCT).unwrap_err().to_string();
        assert_eq!(err, "record is an array, expected a JSON object");
        for bad in ["", "12345678901", "1111222233334", "11112222333a"] {
            assert!(matches!(
                to_event_data(&base(), bad),
                Err(Error::InvalidRecipient(_))
            ));
        }
    }

    #[test]
    fn scalars_and_wrapping() {
        let mut r = base();
        r["eventVersion"] = json!(1.05);
        r["requestParameters"] = json!("text");
        r["responseElements"] = json!([1, 2]);
        r["additionalEventData"] = json!(true);
        r["errorCode"] = json!(404);
        r["userAgent"] = json!({"odd": 1});
        let d = conv(&r);
        assert_eq!(d["version"], "1.05");
        assert_eq!(d["requestParameters"], json!({"value": "text"}));
        assert_eq!(d["responseElements"], json!({"value": [1, 2]}));
        assert_eq!(d["errorCode"], "404");
        assert!(d.get("userAgent").is_none());
        assert_eq!(d["additionalEventData"]["value"], true);
        assert_eq!(
            d["additionalEventData"]["cloudTrail"]["userAgent"],
            json!({"odd": 1})
        );

        r["additionalEventData"] = json!({"MFAUsed": "Yes", "cloudTrail": 1});
        let d = conv(&r);
        assert_eq!(
            d["additionalEventData"]["value"],
            json!({"MFAUsed": "Yes", "cloudTrail": 1})
        );
        r["additionalEventData"] = json!({"MFAUsed": true});
        let d = conv(&r);
        assert_eq!(d["additionalEventData"]["MFAUsed"], true);
    }

    #[test]
    fn long_strings_truncated_full_text_kept() {
        let mut r = base();
        let long = format!(
            "Encoded authorization failure message: {}",
            "é".repeat(3000)
        );
        r["errorMessage"] = json!(long);
        r["errorCode"] = json!("Client.UnauthorizedOperation");
        r["userIdentity"]["type"] = json!("T".repeat(200));
        r["userAgent"] = json!("u".repeat(1025));
        let d = conv(&r);
        let msg = d["errorMessage"].as_str().unwrap();
        assert!(
            msg.len() <= 256 && msg.ends_with(TRUNCATION_MARKER),
            "{msg}"
        );
        assert!(long.starts_with(msg.trim_end_matches(TRUNCATION_MARKER)));
        assert_eq!(d["errorCode"], "Client.UnauthorizedOperation");
        let ua = d["userAgent"].as_str().unwrap();
        assert_eq!(ua.len(), 1024);
        let ty = d["userIdentity"]["type"].as_str().unwrap();
        assert_eq!(ty.len(), 128);
        assert_eq!(d["userIdentity"]["details"]["type"], "T".repeat(200));
        let ct = &d["additionalEventData"]["cloudTrail"];
        assert_eq!(ct["errorMessage"], long);
        assert_eq!(ct["userAgent"], "u".repeat(1025));
        assert_eq!(ct["truncatedFields"], json!(["userAgent", "errorMessage"]));
    }

    #[test]
    fn truncate_helper() {
        assert_eq!(truncate("abc", 3), None);
        assert_eq!(
            truncate("abcdefghijklmnopqrstuvwxyz", 16).unwrap(),
            "ab...[truncated]"
        );
        let t = truncate(&"€".repeat(10), 20).unwrap();
        assert!(t.len() <= 20 && t.starts_with('€'));
        assert_eq!(truncate("abcdef", 3).unwrap(), TRUNCATION_MARKER);
    }

    #[test]
    fn additional_event_data_shrinks_largest_first() {
        let mut r = base();
        r["additionalEventData"] = json!({
            "small": "s",
            "big": "b".repeat(20_000),
            "mid": "m".repeat(9_000),
        });
        r["resources"] = json!([{"ARN": "a".repeat(5_000)}]);
        let d = conv(&r);
        let aed = &d["additionalEventData"];
        assert!(json_len(aed) <= limits::ADDITIONAL_EVENT_DATA_BYTES);
        assert!(aed.get("big").is_none());
        assert_eq!(aed["mid"].as_str().unwrap().len(), 9_000);
        assert_eq!(aed["small"], "s");
        assert_eq!(
            aed["cloudTrail"]["resources"][0]["ARN"]
                .as_str()
                .unwrap()
                .len(),
            5_000
        );
        assert_eq!(
            aed["cloudTrail"]["droppedFields"],
            json!([{"field": "additionalEventData.big", "bytes": 20_002}])
        );

        // cloudTrail parts are candidates too.
        let mut r = base();
        r["resources"] = json!([{"ARN": "a".repeat(40_000)}]);
        r["errorMessage"] = json!("e".repeat(27_000));
        let d = conv(&r);
        let aed = &d["additionalEventData"];
        assert!(json_len(aed) <= limits::ADDITIONAL_EVENT_DATA_BYTES);
        assert!(aed["cloudTrail"].get("resources").is_none());
        assert_eq!(
            aed["cloudTrail"]["errorMessage"].as_str().unwrap().len(),
            27_000
        );
        assert_eq!(
            aed["cloudTrail"]["eventID"],
            "0b5e2a6c-1111-2222-3333-444455556666"
        );
        assert_eq!(
            aed["cloudTrail"]["droppedFields"][0]["field"],
            "additionalEventData.cloudTrail.resources"
        );
    }

    #[test]
    fn payload_objects_shrink() {
        let mut r = base();
        r["requestParameters"] = json!({"policyDocument": "p".repeat(150_000), "name": "x"});
        r["responseElements"] = json!("r".repeat(120_000));
        let d = conv(&r);
        assert_eq!(d["requestParameters"], json!({"name": "x"}));
        assert_eq!(d["responseElements"], json!({}));
        let dropped = &d["additionalEventData"]["cloudTrail"]["droppedFields"];
        assert_eq!(dropped[0]["field"], "requestParameters.policyDocument");
        assert_eq!(dropped[1]["field"], "responseElements.value");
        assert_eq!(dropped[1]["bytes"], 120_002);
    }

    #[test]
    fn id_pattern() {
        assert!(is_valid_id("a-b_C9"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id(&"a".repeat(129)));
        assert!(is_valid_id(&"a".repeat(128)));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id("é"));
    }
}
