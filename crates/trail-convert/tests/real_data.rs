//! Converts every record of the public CloudTrail data in `../shared/cases/data` and checks
//! the produced integration events against the service's field limits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use trail_convert::{
    batches, limits, read_records, to_audit_event, to_event_data, AuditEvent, Error,
    TRUNCATION_MARKER,
};

const ACCT: &str = "111122223333";
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/cases/data");

fn data_dir(sub: &str) -> Option<PathBuf> {
    let p = Path::new(DATA).join(sub);
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent", p.display());
        None
    }
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v
}

fn str_field<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = cur
            .get(p)
            .unwrap_or_else(|| panic!("missing {path:?} in {v}"));
    }
    let s = cur
        .as_str()
        .unwrap_or_else(|| panic!("{path:?} not a string in {v}"));
    assert!(!s.is_empty(), "{path:?} empty");
    s
}

fn is_event_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Everything the service checks per event (SPEC §3/§4).
fn check_event(e: &AuditEvent) -> Value {
    assert!(trail_convert::is_valid_id(&e.id), "id {}", e.id);
    let d: Value = serde_json::from_str(&e.event_data).unwrap();
    assert!(d.is_object());
    for (path, max) in [
        (&["version"][..], limits::VERSION),
        (&["userIdentity", "type"][..], limits::USER_IDENTITY_TYPE),
        (&["userIdentity", "principalId"][..], limits::PRINCIPAL_ID),
        (&["eventSource"][..], limits::EVENT_SOURCE),
        (&["eventName"][..], limits::EVENT_NAME),
        (&["UID"][..], limits::UID),
        (&["eventTime"][..], 20),
        (&["recipientAccountId"][..], 12),
    ] {
        let s = str_field(&d, path);
        assert!(s.len() <= max, "{path:?} is {} bytes", s.len());
    }
    assert!(
        is_event_time(str_field(&d, &["eventTime"])),
        "{}",
        d["eventTime"]
    );
    assert_eq!(d["recipientAccountId"], ACCT);
    for (k, max) in [
        ("userAgent", limits::USER_AGENT),
        ("errorCode", limits::ERROR_CODE),
        ("errorMessage", limits::ERROR_MESSAGE),
    ] {
        if let Some(v) = d.get(k) {
            assert!(v.as_str().unwrap().len() <= max, "{k}");
        }
    }
    if let Some(v) = d.get("sourceIPAddress") {
        assert!(v.is_string());
    }
    for (k, max) in [
        ("requestParameters", limits::PAYLOAD_BYTES),
        ("responseElements", limits::PAYLOAD_BYTES),
        ("additionalEventData", limits::ADDITIONAL_EVENT_DATA_BYTES),
    ] {
        if let Some(v) = d.get(k) {
            assert!(v.is_object(), "{k}");
            assert!(serde_json::to_vec(v).unwrap().len() <= max, "{k}");
        }
    }
    if let Some(v) = d["userIdentity"].get("details") {
        assert!(v.is_object());
    }
    let allowed = [
        "version",
        "userIdentity",
        "userAgent",
        "eventSource",
        "eventName",
        "eventTime",
        "UID",
        "requestParameters",
        "responseElements",
        "errorCode",
        "errorMessage",
        "sourceIPAddress",
        "recipientAccountId",
        "additionalEventData",
    ];
    for k in d.as_object().unwrap().keys() {
        assert!(allowed.contains(&k.as_str()), "unexpected field {k}");
    }
    use base64::Engine as _;
    use sha2::Digest as _;
    assert_eq!(
        e.event_data_checksum,
        base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(e.event_data.as_bytes()))
    );
    d
}

/// Every unmapped top-level field of the record is kept verbatim in cloudTrail.
fn check_lossless(record: &Value, d: &Value) {
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
    let ct = &d["additionalEventData"]["cloudTrail"];
    assert!(ct.get("droppedFields").is_none());
    for (k, v) in record.as_object().unwrap() {
        if v.is_null() {
            continue;
        }
        if MAPPED.contains(&k.as_str()) {
            continue;
        }
        assert_eq!(&ct[k], v, "field {k}");
    }
    for k in ["requestParameters", "responseElements"] {
        match &record[k] {
            Value::Null => assert!(d.get(k).is_none()),
            v => assert_eq!(&d[k], v),
        }
    }
    if let Some(Value::Object(m)) = record.get("additionalEventData") {
        for (k, v) in m {
            assert_eq!(&d["additionalEventData"][k], v);
        }
    }
    for k in ["errorMessage", "errorCode", "userAgent"] {
        if let Some(Value::String(s)) = record.get(k) {
            let got = d[k].as_str().unwrap();
            if got != s {
                assert!(got.ends_with(TRUNCATION_MARKER));
                assert_eq!(&ct[k], s, "full {k} kept");
            }
        }
    }
}

fn convert_dir(dir: &Path, expect_files: usize, expect_records: usize) {
    let files = json_files(dir);
    assert_eq!(files.len(), expect_files, "{}", dir.display());
    let mut records = Vec::new();
    for f in &files {
        records.extend(read_records(f).unwrap_or_else(|e| panic!("{e}")));
    }
    assert_eq!(records.len(), expect_records);

    let mut names_in: BTreeMap<String, usize> = BTreeMap::new();
    let mut names_out: BTreeMap<String, usize> = BTreeMap::new();
    let mut events = Vec::new();
    let mut truncated = 0;
    for r in &records {
        *names_in
            .entry(r["eventName"].as_str().unwrap().to_string())
            .or_default() += 1;
        let e = to_audit_event(r, ACCT).unwrap_or_else(|err| panic!("{err}: {r}"));
        let d = check_event(&e);
        check_lossless(r, &d);
        assert_eq!(d["eventName"], r["eventName"]);
        assert_eq!(d["eventSource"], r["eventSource"]);
        assert_eq!(d["eventTime"], r["eventTime"]);
        assert_eq!(d["UID"], r["eventID"]);
        assert_eq!(e.id, r["eventID"].as_str().unwrap());
        if d["additionalEventData"]["cloudTrail"]
            .get("truncatedFields")
            .is_some()
        {
            truncated += 1;
        }
        *names_out
            .entry(d["eventName"].as_str().unwrap().to_string())
            .or_default() += 1;
        events.push(e);
    }
    assert_eq!(names_in, names_out);
    eprintln!(
        "{}: {} files, {} records, {} event names, {} with truncated fields",
        dir.display(),
        files.len(),
        records.len(),
        names_out.len(),
        truncated
    );
    check_batches(events, expect_records);
}

fn check_batches(events: Vec<AuditEvent>, total: usize) {
    for (max_events, max_bytes) in [(100, 1_000_000), (100, 50_000), (7, 1_000_000)] {
        let b = batches(events.clone(), max_events, max_bytes);
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), total);
        let flat: Vec<_> = b.iter().flatten().cloned().collect();
        assert_eq!(flat, events, "order kept");
        for batch in &b {
            assert!(!batch.is_empty() && batch.len() <= max_events);
            let body = serde_json::json!({ "auditEvents": batch });
            assert!(serde_json::to_vec(&body).unwrap().len() <= max_bytes);
            let mut ids: Vec<_> = batch.iter().map(|e| &e.id).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), batch.len());
        }
    }
}

#[test]
fn invictus_trail_logs_all_convert() {
    let Some(dir) = data_dir("real/invictus_aws_dataset/CloudTrail") else {
        return;
    };
    convert_dir(&dir, 55, 2900);
}

#[test]
fn stratus_detonation_logs_all_convert() {
    let Some(dir) = data_dir("real/stratus_detonation_logs") else {
        return;
    };
    convert_dir(&dir, 35, 310);
}

fn odd(name: &str) -> Option<PathBuf> {
    data_dir("cloudtrail").map(|d| d.join(name))
}

fn convert_all(path: &Path) -> Vec<Value> {
    read_records(path)
        .unwrap()
        .iter()
        .map(|r| check_event(&to_audit_event(r, ACCT).unwrap_or_else(|e| panic!("{e}"))))
        .collect()
}

#[test]
fn stratus_get_password_data_truncates_error_messages() {
    let Some(p) = odd("stratus_aws.credential-access.ec2-get-password-data.json") else {
        return;
    };
    let records = read_records(&p).unwrap();
    assert_eq!(records.len(), 34);
    let out = convert_all(&p);
    let long: Vec<_> = records
        .iter()
        .zip(&out)
        .filter(|(r, _)| r["errorMessage"].as_str().is_some_and(|m| m.len() > 256))
        .collect();
    assert!(!long.is_empty());
    for (r, d) in long {
        assert!(d["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with(TRUNCATION_MARKER));
        assert_eq!(
            d["additionalEventData"]["cloudTrail"]["errorMessage"],
            r["errorMessage"]
        );
        assert_eq!(
            d["additionalEventData"]["cloudTrail"]["truncatedFields"],
            serde_json::json!(["errorMessage"])
        );
    }
}

#[test]
fn logstash_ndjson_without_event_time() {
    let Some(p) = odd("otrf_ec2_proxy_s3_exfiltration_2020-09-14011940.json") else {
        return;
    };
    let records = read_records(&p).unwrap();
    assert_eq!(records.len(), 103);
    assert!(records.iter().all(|r| r.get("eventTime").is_none()));
    let out = convert_all(&p);
    for (r, d) in records.iter().zip(&out) {
        let ts = r["@timestamp"].as_str().unwrap();
        assert_eq!(d["eventTime"].as_str().unwrap(), format!("{}Z", &ts[..19]));
        assert_eq!(d["additionalEventData"]["cloudTrail"]["@timestamp"], ts);
    }
    let count = |n: &str| out.iter().filter(|d| d["eventName"] == n).count();
    assert_eq!(count("GetObject"), 2);
    assert_eq!(count("ListObjects"), 7);
    // The float survives as a float.
    let get = out.iter().find(|d| d["eventName"] == "GetObject").unwrap();
    assert!(get.to_string().contains("89.0"));
}

#[test]
fn otel_mixed_record_types() {
    let Some(p) = odd("otel_cloudtrail_log.json") else {
        return;
    };
    let out = convert_all(&p);
    assert_eq!(out.len(), 7);
    let insight = out
        .iter()
        .find(|d| d["additionalEventData"]["cloudTrail"]["eventCategory"] == "Insight")
        .unwrap();
    assert_eq!(
        insight["userIdentity"],
        serde_json::json!({"type": "Unknown", "principalId": "unknown"})
    );
    assert_eq!(insight["eventSource"], "ssm.amazonaws.com");
    assert_eq!(insight["eventName"], "UpdateInstanceInformation");
    assert_eq!(
        insight["additionalEventData"]["cloudTrail"]["insightDetails"]["state"],
        "Start"
    );
    let service = out
        .iter()
        .find(|d| d["additionalEventData"]["cloudTrail"]["eventType"] == "AwsServiceEvent")
        .unwrap();
    assert_eq!(service["userIdentity"]["type"], "Unknown");
    assert_eq!(service["userIdentity"]["principalId"], "AWS Internal");
    let ic = out
        .iter()
        .find(|d| d["userIdentity"]["type"] == "IdentityCenterUser")
        .unwrap();
    assert_eq!(
        ic["userIdentity"]["principalId"],
        "arn:aws:iam::123456789012:user/identity-center-user"
    );
    assert!(out
        .iter()
        .any(|d| d["additionalEventData"]["MFAUsed"] == true));
    assert!(out
        .iter()
        .any(|d| d["errorCode"] == "TrailNotFoundException"));
}

#[test]
fn empty_records_file() {
    let Some(p) = odd("otel_cloudtrail_log_empty.json") else {
        return;
    };
    assert!(read_records(&p).unwrap().is_empty());
}

#[test]
fn digest_file_is_rejected() {
    let Some(p) = odd("otel_cloudtrail_digest.json") else {
        return;
    };
    let err = read_records(&p).unwrap_err();
    assert!(matches!(err, Error::Format { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("otel_cloudtrail_digest.json") && msg.contains("digest file"),
        "{msg}"
    );
    eprintln!("{msg}");
}

#[test]
fn gzip_log_file() {
    let Some(p) = odd("awsctpl_SerializerTestFileCompact.json.gz") else {
        return;
    };
    let out = convert_all(&p);
    assert_eq!(out.len(), 6);
    assert_eq!(out[0]["userIdentity"]["type"], "userIdentityType1");
    assert_eq!(out[0]["version"], "1.1");
    assert_eq!(
        out[0]["UID"].as_str().unwrap().len(),
        71,
        "no eventID/requestID → hash"
    );
}

#[test]
fn all_null_record_is_a_per_record_error() {
    let Some(p) = odd("awsctpl_SerializerAllFieldsNull.json") else {
        return;
    };
    let records = read_records(&p).unwrap();
    assert_eq!(records.len(), 2);
    let err = to_event_data(&records[0], ACCT).unwrap_err();
    assert!(
        matches!(
            err,
            Error::MissingField {
                field: "eventSource",
                ..
            }
        ),
        "{err}"
    );
    eprintln!("record 0: {err}");
    let d = check_event(&to_audit_event(&records[1], ACCT).unwrap());
    assert_eq!(
        d["additionalEventData"]["cloudTrail"]["resources"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        d["additionalEventData"]["cloudTrail"]["recipientAccountId"],
        "recipientAccountId2"
    );
}

#[test]
fn malformed_file_names_file_and_position() {
    let Some(p) = odd("awsctpl_SerializerTestFileBadJsonFormat.json") else {
        return;
    };
    let err = read_records(&p).unwrap_err();
    let msg = err.to_string();
    eprintln!("{msg}");
    match err {
        Error::Json { line, column, .. } => {
            assert!(line > 1 && column > 0);
        }
        other => panic!("{other}"),
    }
    assert!(msg.contains("awsctpl_SerializerTestFileBadJsonFormat.json"));
}

#[test]
fn missing_file() {
    let err = read_records(Path::new("/nonexistent/x.json")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().starts_with("/nonexistent/x.json: "));
}
