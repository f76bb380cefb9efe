//! Integration events: checking one `eventData` against the CloudTrail Lake
//! integration schema, and the record Cairn stores for it.
//!
//! Per-event failure codes (the event goes to `failed[]`, the others of the
//! request are still stored):
//! - `InvalidChecksum`: `eventDataChecksum` is not base64(SHA-256(eventData bytes)).
//! - `InvalidData`: not a JSON object, a field of the wrong JSON type, or an
//!   `eventTime` that is not `yyyy-MM-ddTHH:mm:ss[.fff]Z`.
//! - `FieldNotFound`: a required field is missing or null.
//! - `FieldTooLong`: a field over its limit (characters for strings, bytes of
//!   compact JSON for objects; 1 kB = 1024 bytes).
//! - `InvalidRecipient`: `recipientAccountId` is not the channel owner's account.
//!
//! `sourceIPAddress` is not checked for being an IP address: real CloudTrail
//! data carries values such as `AWS Internal` and service host names there.

use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Why one event was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventError {
    pub code: &'static str,
    pub message: String,
}

fn fail(code: &'static str, message: String) -> EventError {
    EventError { code, message }
}

/// (name, limit in characters, required)
const STRINGS: &[(&str, usize, bool)] = &[
    ("version", 256, true),
    ("eventSource", 1024, true),
    ("eventName", 1024, true),
    ("eventTime", 64, true),
    ("UID", 1024, true),
    ("recipientAccountId", 12, true),
    ("userAgent", 1024, false),
    ("errorCode", 256, false),
    ("errorMessage", 256, false),
    ("sourceIPAddress", 1024, false),
];
/// (name, limit in bytes of compact JSON)
const OBJECTS: &[(&str, usize)] = &[
    ("requestParameters", 100 * 1024),
    ("responseElements", 100 * 1024),
    ("additionalEventData", 28 * 1024),
];

fn check_string(
    obj: &Map<String, Value>,
    at: &str,
    name: &str,
    max: usize,
    required: bool,
) -> Result<(), EventError> {
    match obj.get(name) {
        None | Some(Value::Null) if required => Err(fail(
            "FieldNotFound",
            format!("Required field {at}{name} is missing from eventData."),
        )),
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if s.chars().count() > max => Err(fail(
            "FieldTooLong",
            format!(
                "Field {at}{name} is {} characters long; the limit is {max}.",
                s.chars().count()
            ),
        )),
        Some(Value::String(_)) => Ok(()),
        Some(_) => Err(fail(
            "InvalidData",
            format!("Field {at}{name} must be a JSON string."),
        )),
    }
}

fn parse_event_time(s: &str) -> Option<OffsetDateTime> {
    // The schema says yyyy-MM-DDTHH:mm:ss in UTC; accept RFC 3339 with a Z
    // (fractions allowed) and the same without a zone, read as UTC.
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339))
        .ok()?;
    Some(t.to_offset(time::UtcOffset::UTC))
}

/// Checks one event and returns its parsed eventData and its event time.
pub(crate) fn check_event(
    event_data: &str,
    checksum: Option<&str>,
    owner_account: &str,
) -> Result<(Map<String, Value>, OffsetDateTime), EventError> {
    if let Some(expected) = checksum {
        let actual =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(event_data.as_bytes()));
        if actual != expected {
            return Err(fail(
                "InvalidChecksum",
                "eventDataChecksum does not match the event data: send base64(SHA-256(eventData)) over the exact UTF-8 bytes of the eventData string, or omit the checksum.".into(),
            ));
        }
    }
    let value: Value = serde_json::from_str(event_data)
        .map_err(|e| fail("InvalidData", format!("eventData is not valid JSON: {e}.")))?;
    let Value::Object(obj) = value else {
        return Err(fail(
            "InvalidData",
            "eventData must be a JSON object.".into(),
        ));
    };
    for (name, max, required) in STRINGS {
        check_string(&obj, "", name, *max, *required)?;
    }
    match obj.get("userIdentity") {
        None | Some(Value::Null) => {
            return Err(fail(
                "FieldNotFound",
                "Required field userIdentity is missing from eventData.".into(),
            ))
        }
        Some(Value::Object(ui)) => {
            check_string(ui, "userIdentity.", "type", 128, true)?;
            check_string(ui, "userIdentity.", "principalId", 1024, true)?;
            match ui.get("details") {
                None | Some(Value::Null) | Some(Value::Object(_)) => {}
                Some(_) => {
                    return Err(fail(
                        "InvalidData",
                        "Field userIdentity.details must be a JSON object.".into(),
                    ))
                }
            }
        }
        Some(_) => {
            return Err(fail(
                "InvalidData",
                "Field userIdentity must be a JSON object.".into(),
            ))
        }
    }
    for (name, max) in OBJECTS {
        match obj.get(*name) {
            None | Some(Value::Null) => {}
            Some(v @ Value::Object(_)) => {
                let size = v.to_string().len();
                if size > *max {
                    return Err(fail(
                        "FieldTooLong",
                        format!("Field {name} is {size} bytes of JSON; the limit is {max}."),
                    ));
                }
            }
            Some(_) => {
                return Err(fail(
                    "InvalidData",
                    format!("Field {name} must be a JSON object."),
                ))
            }
        }
    }
    let time_text = obj
        .get("eventTime")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let event_time = parse_event_time(time_text).ok_or_else(|| {
        fail(
            "InvalidData",
            format!("eventTime '{time_text}' is not a UTC time of the form yyyy-MM-ddTHH:mm:ssZ."),
        )
    })?;
    let recipient = obj
        .get("recipientAccountId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if recipient != owner_account {
        return Err(fail(
            "InvalidRecipient",
            format!("recipientAccountId '{recipient}' is not the channel owner's account {owner_account}: set it to {owner_account}."),
        ));
    }
    Ok((obj, event_time))
}

/// `yyyy-MM-ddTHH:mm:ssZ`, with milliseconds when there are any.
pub(crate) fn format_time(t: OffsetDateTime) -> String {
    let ms = t.millisecond();
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if ms == 0 {
        format!("{base}Z")
    } else {
        format!("{base}.{ms:03}Z")
    }
}

/// The stored record of an accepted integration event.
pub(crate) fn stored_record(
    event_id: &str,
    event_data: Map<String, Value>,
    event_time: OffsetDateTime,
    region: &str,
    owner_account: &str,
    channel_arn: &str,
    ingestion_time: OffsetDateTime,
) -> Value {
    serde_json::json!({
        "eventVersion": "2.0",
        "eventCategory": "ActivityAuditLog",
        "eventType": "ActivityLog",
        "eventID": event_id,
        "eventTime": format_time(event_time),
        "awsRegion": region,
        "recipientAccountId": owner_account,
        "metadata": {
            "ingestionTime": format_time(ingestion_time),
            "channelARN": channel_arn,
        },
        "eventData": Value::Object(event_data),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ED1: &str = r#"{"version":"1.0","userIdentity":{"type":"CustomUser","principalId":"alice"},"eventSource":"myapp.example.com","eventName":"Login","eventTime":"2024-01-15T11:59:00Z","UID":"evt-0001","recipientAccountId":"111122223333"}"#;

    fn code(ed: &str) -> &'static str {
        check_event(ed, None, "111122223333")
            .err()
            .map_or("ok", |e| e.code)
    }

    fn with(key: &str, value: Value) -> String {
        let mut v: Value = serde_json::from_str(ED1).unwrap();
        v[key] = value;
        v.to_string()
    }

    fn without(path: &[&str]) -> String {
        let mut v: Value = serde_json::from_str(ED1).unwrap();
        match path {
            [k] => v.as_object_mut().unwrap().remove(*k),
            [a, b] => v[*a].as_object_mut().unwrap().remove(*b),
            _ => None,
        };
        v.to_string()
    }

    #[test]
    fn the_cases_md_checksum_vector() {
        assert!(check_event(
            ED1,
            Some("w15dAmksxpp+sUmxwYv/b0ML6glua1qex32UPN9OmvA="),
            "111122223333"
        )
        .is_ok());
        let e = check_event(
            ED1,
            Some("w15dAmksxpp+sUmxwYv/b0ML6glua1qex32UPN9OmvB="),
            "111122223333",
        )
        .err();
        assert_eq!(e.map(|e| e.code), Some("InvalidChecksum"));
    }

    #[test]
    fn failure_codes() {
        assert_eq!(code(ED1), "ok");
        assert_eq!(code("not json at all"), "InvalidData");
        assert_eq!(code(r#"{"version":"1.0","userIdentity":"#), "InvalidData");
        assert_eq!(code("[1]"), "InvalidData");
        assert_eq!(code(&without(&["UID"])), "FieldNotFound");
        assert_eq!(
            code(&without(&["userIdentity", "principalId"])),
            "FieldNotFound"
        );
        assert_eq!(code(&with("version", Value::Null)), "FieldNotFound");
        assert_eq!(code(&with("eventName", Value::from(5))), "InvalidData");
        assert_eq!(
            code(&with("recipientAccountId", Value::from("444455556666"))),
            "InvalidRecipient"
        );
        assert_eq!(
            code(&with("eventSource", Value::from("a".repeat(1025)))),
            "FieldTooLong"
        );
        assert_eq!(
            code(&with("eventSource", Value::from("a".repeat(1024)))),
            "ok"
        );
        assert_eq!(
            code(&with("eventTime", Value::from("yesterday"))),
            "InvalidData"
        );
        assert_eq!(
            code(&with("requestParameters", Value::from("x"))),
            "InvalidData"
        );
        let big = serde_json::json!({"k": "x".repeat(100 * 1024)});
        assert_eq!(code(&with("requestParameters", big)), "FieldTooLong");
        let kong = r#"{"eventVersion":"1.0","userIdentity":{"type":"","principalId":"p"},"eventSource":"kong","eventName":"x","eventTime":"2024-01-15T11:59:00Z","UUID":"u","recipientAccountId":"111122223333"}"#;
        assert_eq!(code(kong), "FieldNotFound");
    }

    #[test]
    fn times_are_normalised_to_utc() {
        let (_, t) = check_event(
            &with("eventTime", Value::from("2024-01-15T13:59:00.250+02:00")),
            None,
            "111122223333",
        )
        .unwrap();
        assert_eq!(format_time(t), "2024-01-15T11:59:00.250Z");
        let (_, t) = check_event(
            &with("eventTime", Value::from("2024-01-15T11:59:00")),
            None,
            "111122223333",
        )
        .unwrap();
        assert_eq!(format_time(t), "2024-01-15T11:59:00Z");
    }
}
