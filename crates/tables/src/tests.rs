//! The tables against a real ingest log in a temporary directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use datafusion::arrow::array::{Array, Int64Array, StringViewArray};
use serde_json::json;

const EDS: &str = "0b0b0b0b-1111-4222-8333-444444444444";
const OTHER: &str = "0c0c0c0c-1111-4222-8333-444444444444";

struct Fixture {
    dir: tempfile::TempDir,
    log: IngestLog,
    tables: Tables,
}

fn open(dir: tempfile::TempDir) -> Fixture {
    let (log, _) = IngestLog::open(&dir.path().join("events")).unwrap();
    let tables = Tables::open_local(&dir.path().join("tables"), log.clone()).unwrap();
    Fixture { dir, log, tables }
}

fn fixture() -> Fixture {
    open(tempfile::tempdir().unwrap())
}

fn line(eds: &[&str], event_id: &str, time: &str) -> Vec<u8> {
    serde_json::to_vec(&LoggedEvent {
        eds: eds.iter().map(|s| s.to_string()).collect(),
        record: json!({
            "eventVersion": "1.0", "eventCategory": "ActivityAuditLog", "eventType": "ActivityLog",
            "eventID": event_id, "eventTime": time, "awsRegion": "us-east-1",
            "recipientAccountId": "111122223333",
            "metadata": {"ingestionTime": "2026-12-04T00:00:00Z", "channelArn": "arn:aws:cloudtrail:us-east-1:111122223333:channel/x"},
            "eventData": {"version": "1", "eventName": "Put", "eventSource": "app", "eventTime": time,
                          "uid": event_id, "requestParameters": {"a": 1}},
        }),
    })
    .unwrap()
}

fn day(s: &str) -> Date {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).unwrap()
}

fn integration_from(keep_from: &str) -> TableSpec {
    TableSpec {
        layout: query::Layout::Integration,
        keep_from: day(keep_from),
    }
}

fn keep_all(ids: &[&str]) -> HashMap<String, TableSpec> {
    ids.iter()
        .map(|i| (i.to_string(), integration_from("1970-01-01")))
        .collect()
}

/// The event ids a query sees in `id`, sorted, plus Scan's event count.
async fn event_ids(t: &Tables, id: &str) -> (Vec<String>, u64) {
    let ctx = query::session();
    let scans = t
        .scan(&ctx, &[(id.to_string(), integration_from("1970-01-01"))])
        .await
        .unwrap();
    let events = scans[0].events;
    ctx.register_table("t", scans[0].provider.clone()).unwrap();
    let batches = ctx
        .sql("SELECT eventid FROM t ORDER BY eventid")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut out = Vec::new();
    for b in batches {
        let a = b
            .column(0)
            .as_any()
            .downcast_ref::<StringViewArray>()
            .unwrap();
        out.extend((0..a.len()).map(|i| a.value(i).to_string()));
    }
    (out, events)
}

async fn flush(t: &Tables, keep: &HashMap<String, TableSpec>) -> FlushReport {
    let sealed = t.seal().await.unwrap();
    t.flush(&sealed, keep).await.unwrap()
}

fn ids(range: std::ops::Range<u32>) -> Vec<String> {
    let mut v: Vec<String> = range.map(|i| format!("e{i:04}")).collect();
    v.sort();
    v
}

#[tokio::test]
async fn events_are_seen_exactly_once_before_and_after_a_flush() {
    let f = fixture();
    let keep = keep_all(&[EDS, OTHER]);
    let lines: Vec<_> = (0..10)
        .map(|i| line(&[EDS], &format!("e{i:04}"), "2026-12-04T10:00:00Z"))
        .collect();
    f.log.append(&lines).await.unwrap();
    assert_eq!(event_ids(&f.tables, EDS).await, (ids(0..10), 10));

    let report = flush(&f.tables, &keep).await;
    assert_eq!((report.segments, report.events, report.commits), (1, 10, 1));
    assert_eq!(
        f.tables.unflushed_bytes(),
        0,
        "flushed segments are removed"
    );
    assert_eq!(event_ids(&f.tables, EDS).await, (ids(0..10), 10));

    // Flushed and unflushed together; another store sees only its own.
    f.log
        .append(&[
            line(&[EDS, OTHER], "e0010", "2026-12-05T00:00:00Z"),
            line(&[OTHER], "e0011", "2026-12-05T00:00:00Z"),
        ])
        .await
        .unwrap();
    assert_eq!(event_ids(&f.tables, EDS).await.0, ids(0..11));
    assert_eq!(
        event_ids(&f.tables, OTHER).await.0,
        vec!["e0010".to_string(), "e0011".to_string()]
    );
    flush(&f.tables, &keep).await;
    assert_eq!(event_ids(&f.tables, EDS).await.0, ids(0..11));
    assert_eq!(event_ids(&f.tables, OTHER).await.0.len(), 2);

    // Partitioned by day, zstd-compressed Parquet.
    let table_dir = f.dir.path().join("tables").join(EDS);
    let days: Vec<String> = std::fs::read_dir(&table_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("eventday="))
        .collect();
    assert_eq!(days.len(), 2, "{days:?}");
}

#[tokio::test]
async fn a_flush_retried_after_a_crash_does_not_duplicate() {
    let f = fixture();
    let keep = keep_all(&[EDS]);
    f.log
        .append(&[line(&[EDS], "e0000", "2026-12-04T10:00:00Z")])
        .await
        .unwrap();
    let sealed = f.tables.seal().await.unwrap();
    // Keep a copy of the sealed segment, as if the process died after the
    // commit but before the segment was removed.
    let seg = f.dir.path().join("events").join(format!("{:020}.log", 1));
    let copy = std::fs::read(&seg).unwrap();
    f.tables.flush(&sealed, &keep).await.unwrap();
    assert!(!seg.exists());
    let Fixture { dir, log, tables } = f;
    drop((log, tables));
    std::fs::write(&seg, copy).unwrap();

    let f = open(dir);
    assert_eq!(
        event_ids(&f.tables, EDS).await.0,
        ids(0..1),
        "the tail above the txn version is empty"
    );
    let report = flush(&f.tables, &keep).await;
    assert_eq!(
        (report.segments, report.commits),
        (1, 0),
        "already committed: skipped"
    );
    assert_eq!(event_ids(&f.tables, EDS).await.0, ids(0..1));
    assert_eq!(f.tables.unflushed_bytes(), 0);
}

#[tokio::test]
async fn retention_drops_old_days_at_flush_and_by_partition() {
    let f = fixture();
    f.log
        .append(&[
            line(&[EDS], "e0000", "2026-11-01T10:00:00Z"),
            line(&[EDS], "e0001", "2026-11-20T10:00:00Z"),
            line(&[EDS], "e0002", "2026-12-04T10:00:00Z"),
            line(&[OTHER], "e0003", "2026-12-04T10:00:00Z"),
        ])
        .await
        .unwrap();
    let mut keep = keep_all(&[EDS]);
    keep.insert(EDS.into(), integration_from("2026-11-10"));
    let report = flush(&f.tables, &keep).await;
    assert_eq!(report.expired, 1);
    assert_eq!(
        report.events, 2,
        "OTHER is gone (purged): its record is dropped"
    );
    assert_eq!(event_ids(&f.tables, EDS).await.0, ["e0001", "e0002"]);

    let expired = f.tables.expire(EDS, day("2026-12-01")).await.unwrap();
    assert_eq!(expired.days, ["2026-11-20"]);
    assert_eq!(expired.files, 1);
    assert_eq!(event_ids(&f.tables, EDS).await.0, ["e0002"]);
    assert_eq!(
        f.tables.expire(EDS, day("2026-12-01")).await.unwrap(),
        ExpireReport::default(),
        "nothing left to drop: no commit"
    );
}

#[tokio::test]
async fn small_files_are_compacted_without_changing_the_data() {
    let f = fixture();
    let keep = keep_all(&[EDS]);
    for i in 0..9u32 {
        f.log
            .append(&[line(&[EDS], &format!("e{i:04}"), "2026-12-04T10:00:00Z")])
            .await
            .unwrap();
        flush(&f.tables, &keep).await;
    }
    let before = event_ids(&f.tables, EDS).await;
    let report = f.tables.compact(EDS).await.unwrap();
    assert_eq!(report.files_removed, 9);
    assert_eq!(report.files_added, 1);
    assert_eq!(event_ids(&f.tables, EDS).await, before);
    assert_eq!(
        f.tables.compact(EDS).await.unwrap(),
        CompactReport::default()
    );
    // Nothing is old enough to vacuum yet; the replaced files stay for running queries.
    assert_eq!(f.tables.vacuum(EDS).await.unwrap(), 0);
}

#[tokio::test]
async fn purge_removes_the_table() {
    let f = fixture();
    f.log
        .append(&[line(&[EDS], "e0000", "2026-12-04T10:00:00Z")])
        .await
        .unwrap();
    flush(&f.tables, &keep_all(&[EDS])).await;
    assert!(f.dir.path().join("tables").join(EDS).exists());
    f.tables.purge(EDS).await.unwrap();
    assert!(!f.dir.path().join("tables").join(EDS).exists());
    assert_eq!(event_ids(&f.tables, EDS).await.0, Vec::<String>::new());
}

#[tokio::test]
async fn the_tables_answer_sql_with_the_integration_schema() {
    let f = fixture();
    f.log
        .append(&[line(&[EDS], "e0000", "2026-12-04T10:00:00Z")])
        .await
        .unwrap();
    flush(&f.tables, &keep_all(&[EDS])).await;
    f.log
        .append(&[line(&[EDS], "e0001", "2026-12-04T11:00:00Z")])
        .await
        .unwrap();
    let ctx = query::session();
    let scans = f
        .tables
        .scan(&ctx, &[(EDS.to_string(), integration_from("1970-01-01"))])
        .await
        .unwrap();
    ctx.register_table("t", scans[0].provider.clone()).unwrap();
    let batches = ctx
        .sql("SELECT count(*), count(eventdata.requestparameters['a']) FROM t WHERE eventtime > '2026-12-04 10:30:00'")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let a = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(a.value(0), 1);
    let fields: Vec<String> = scans[0]
        .provider
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let expected: Vec<String> = query::Layout::Integration
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(fields, expected, "the partition column stays hidden");
}

#[tokio::test]
async fn events_past_retention_are_not_seen_even_before_a_flush() {
    let f = fixture();
    f.log
        .append(&[
            line(&[EDS], "e0000", "2026-11-01T10:00:00Z"),
            line(&[EDS], "e0001", "2026-12-04T10:00:00Z"),
        ])
        .await
        .unwrap();
    let ctx = query::session();
    let scans = f
        .tables
        .scan(&ctx, &[(EDS.to_string(), integration_from("2026-11-27"))])
        .await
        .unwrap();
    assert_eq!(scans[0].events, 1);
}

#[tokio::test]
async fn cloudtrail_records_get_the_cloudtrail_layout_beside_integration_tables() {
    let f = fixture();
    let trail = |id: &str, time: &str| {
        serde_json::to_vec(&LoggedEvent {
            eds: vec![OTHER.into()],
            record: json!({
                "eventVersion": "1.08", "eventTime": time, "eventSource": "s3.amazonaws.com",
                "eventName": "GetObject", "eventID": id, "readOnly": true, "eventCategory": "Data",
                "userIdentity": {"type": "IAMUser", "userName": "alice",
                                 "sessionContext": {"attributes": {"creationDate": "2026-12-04T09:00:00Z"}}},
                "requestParameters": {"bucketName": "b", "nested": {"x": [1, 2]}},
                "resources": [{"ARN": "arn:aws:s3:::b", "type": "AWS::S3::Bucket"}],
            }),
        })
        .unwrap()
    };
    let mut live = keep_all(&[EDS]);
    live.insert(
        OTHER.into(),
        TableSpec {
            layout: query::Layout::CloudTrail,
            keep_from: day("1970-01-01"),
        },
    );
    f.log
        .append(&[
            trail("t1", "2026-12-04T10:00:00Z"),
            line(&[EDS], "e0000", "2026-12-04T10:00:00Z"),
        ])
        .await
        .unwrap();
    flush(&f.tables, &live).await;
    f.log
        .append(&[trail("t2", "2026-12-05T10:00:00Z")])
        .await
        .unwrap();
    let ctx = query::session();
    let scans = f
        .tables
        .scan(&ctx, &[(OTHER.to_string(), live[OTHER])])
        .await
        .unwrap();
    assert_eq!(scans[0].events, 2, "one flushed, one in the tail");
    ctx.register_table("t", scans[0].provider.clone()).unwrap();
    let batches = ctx
        .sql("SELECT eventid, useridentity.username, requestparameters['nested'], resources[1]['arn'], readonly \
              FROM t ORDER BY eventtime")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    for want in [
        "t1",
        "t2",
        "alice",
        r#"{"x":[1,2]}"#,
        "arn:aws:s3:::b",
        "true",
    ] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    assert_eq!(event_ids(&f.tables, EDS).await.0, ["e0000"]);
}
