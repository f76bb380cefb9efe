#![allow(clippy::unwrap_used)]
use super::*;
use serde_json::json;

const ID: &str = "8b4d5e0a-1c2d-4e5f-8a9b-0c1d2e3f4a5b";

fn record(uid: &str, name: &str, time: &str) -> serde_json::Value {
    json!({
        "eventVersion": "1.0", "eventCategory": "ActivityAuditLog", "eventType": "ActivityLog",
        "eventID": format!("id-{uid}"), "eventTime": time, "awsRegion": "us-east-1",
        "recipientAccountId": "111122223333",
        "metadata": {"ingestionTime": "2024-01-15T12:00:00Z", "channelARN": "arn:aws:cloudtrail:us-east-1:111122223333:channel/c"},
        "eventData": {"version": "1.0", "userIdentity": {"type": "CustomUser", "principalId": "alice", "details": {"k": 1}},
            "eventSource": "app", "eventName": name, "eventTime": time, "UID": uid, "recipientAccountId": "111122223333",
            "requestParameters": {"a": "b", "n": {"x": 1}}}
    })
}

async fn run(sql: &str) -> Result<QueryOutput, QueryError> {
    let p = prepare(sql)?;
    let records = vec![
        record("u1", "Login", "2024-01-15T11:59:00Z"),
        record("u2", "Login", "2024-01-16T10:00:00Z"),
        record("u3", "Logout", "2024-01-17T10:00:00.5Z"),
    ];
    crate::run(
        &session(),
        &p,
        vec![Table::from_records(ID, Layout::Integration, &records, 300)?],
    )
    .await
}

#[tokio::test]
async fn paths_counts_and_timestamps_render_as_cloudtrail_lake_does() {
    let out = run(&format!(
        "SELECT eventData.uid, eventData.userIdentity.principalId, metadata.channelArn, eventTime FROM {ID} WHERE eventData.uid = 'u3'"
    ))
    .await
    .unwrap();
    assert_eq!(
        out.columns,
        vec!["uid", "principalId", "channelArn", "eventTime"]
    );
    assert_eq!(
        out.rows,
        vec![vec![
            "u3",
            "alice",
            "arn:aws:cloudtrail:us-east-1:111122223333:channel/c",
            "2024-01-17 10:00:00.500"
        ]]
    );
    assert_eq!(out.statistics.events_scanned, 3);

    let out = run(&format!(
        "SELECT eventData.eventName, COUNT(*) FROM {ID} WHERE eventTime > '2024-01-15 12:00:00' GROUP BY eventData.eventName ORDER BY 1"
    ))
    .await
    .unwrap();
    assert_eq!(out.columns, vec!["eventName", "_col1"]);
    assert_eq!(out.rows, vec![vec!["Login", "1"], vec!["Logout", "1"]]);
}

#[tokio::test]
async fn case_of_column_names_does_not_matter() {
    let out = run(&format!(
        "SELECT EVENTDATA.EVENTNAME AS n FROM {ID} WHERE eventdata.UID = 'u1'"
    ))
    .await
    .unwrap();
    assert_eq!(out.rows, vec![vec!["Login"]]);
}

#[tokio::test]
async fn nulls_render_empty_and_unknown_columns_are_statement_errors() {
    let out = run(&format!("SELECT eventData.errorCode FROM {ID} LIMIT 1"))
        .await
        .unwrap();
    assert_eq!(out.rows, vec![vec![""]]);
    assert!(matches!(
        run(&format!("SELECT nosuch FROM {ID}")).await,
        Err(QueryError::InvalidStatement(_))
    ));
}

/// A CloudTrail record as trail log files carry it.
fn trail_record() -> serde_json::Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "AssumedRole", "principalId": "AROA:bob", "arn": "arn:aws:sts::111122223333:assumed-role/Admin/bob",
            "accountId": "111122223333", "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "Admin", "arn": "arn:aws:iam::111122223333:role/Admin"},
                "attributes": {"creationDate": "2024-01-15T10:00:00Z", "mfaAuthenticated": "false"}}},
        "eventTime": "2024-01-15T11:59:00Z", "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
        "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2",
        "errorCode": "AccessDenied", "errorMessage": "Access Denied",
        "requestParameters": {"bucketName": "logs", "key": "a.txt", "range": {"from": 0}},
        "responseElements": null, "requestID": "R1", "eventID": "E1", "readOnly": true,
        "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::logs/a.txt"},
                      {"accountId": "111122223333", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::logs"}],
        "eventType": "AwsApiCall", "managementEvent": false, "recipientAccountId": "111122223333",
        "eventCategory": "Data",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "logs.s3.amazonaws.com"}
    })
}

async fn run_trail(sql: &str) -> Result<QueryOutput, QueryError> {
    let p = prepare(sql)?;
    let mut other = trail_record();
    other["eventID"] = json!("E2");
    other["readOnly"] = json!(false);
    other["eventName"] = json!("PutObject");
    other["errorCode"] = serde_json::Value::Null;
    crate::run(
        &session(),
        &p,
        vec![Table::from_records(
            ID,
            Layout::CloudTrail,
            &[trail_record(), other],
            300,
        )?],
    )
    .await
}

#[tokio::test]
async fn cloudtrail_records_have_the_management_event_columns() {
    let out = run_trail(&format!(
        "SELECT userIdentity.sessionContext.sessionIssuer.userName, element_at(requestParameters, 'bucketName') AS bucket, \
         requestParameters['range'] AS range, readOnly, resources[2].arn, cardinality(resources) AS n, \
         userIdentity.sessionContext.attributes.creationDate, tlsDetails.tlsVersion, eventTime \
         FROM {ID} WHERE errorCode = 'AccessDenied'"
    ))
    .await
    .unwrap();
    assert_eq!(
        out.columns,
        vec![
            "userName",
            "bucket",
            "range",
            "readOnly",
            "arn",
            "n",
            "creationDate",
            "tlsVersion",
            "eventTime"
        ]
    );
    assert_eq!(
        out.rows,
        vec![vec![
            "Admin",
            "logs",
            r#"{"from":0}"#,
            "true",
            "arn:aws:s3:::logs",
            "2",
            "2024-01-15 10:00:00.000",
            "TLSv1.3",
            "2024-01-15 11:59:00.000"
        ]]
    );
    let out = run_trail(&format!(
        "SELECT eventName, COUNT(*) AS n FROM {ID} WHERE readOnly = false AND managementEvent = false GROUP BY eventName"
    ))
    .await
    .unwrap();
    assert_eq!(out.rows, vec![vec!["PutObject", "1"]]);
}

/// One row of `sql` over the trail records.
async fn one(sql: &str) -> Vec<String> {
    let out = run_trail(&format!("{sql} FROM {ID}")).await.unwrap();
    out.rows.into_iter().next().unwrap()
}

#[tokio::test]
async fn trino_date_and_time_functions() {
    assert_eq!(
        one("SELECT day_of_week(eventTime), dow(eventTime), year(eventTime), month(eventTime), day(eventTime), hour(eventTime), \
             day_of_year(eventTime), week(eventTime), quarter(eventTime), to_unixtime(eventTime)").await,
        vec!["1", "1", "2024", "1", "15", "11", "15", "3", "1", "1705319940.0"]
    );
    assert_eq!(
        one(
            "SELECT date_add('day', 20, eventTime), date_add('month', -1, eventTime), \
             date_diff('hour', from_iso8601_timestamp('2024-01-15T00:00:00Z'), eventTime), \
             date_format(eventTime, '%Y-%m-%d %H:%i:%s %W'), to_iso8601(eventTime), \
             date_trunc('day', eventTime), date_parse('2024/01/02 03:04', '%Y/%m/%d %H:%i')"
        )
        .await,
        vec![
            "2024-02-04 11:59:00.000",
            "2023-12-15 11:59:00.000",
            "11",
            "2024-01-15 11:59:00 Monday",
            "2024-01-15T11:59:00.000Z",
            "2024-01-15 00:00:00.000",
            "2024-01-02 03:04:00.000"
        ]
    );
    assert_eq!(
        one("SELECT COUNT(*)").await.len(),
        1,
        "aggregates over the trail table"
    );
    assert!(matches!(
        run_trail(&format!("SELECT date_add('fortnight', 1, eventTime) FROM {ID}")).await,
        Err(QueryError::Execution(m)) if m.contains("fortnight")
    ));
}

#[tokio::test]
async fn trino_json_regex_array_and_map_functions() {
    assert_eq!(
        one("SELECT json_extract_scalar(requestParameters['range'], '$.from'), json_extract(requestParameters['range'], '$'), \
             regexp_extract(userIdentity.arn, 'assumed-role/(\\w+)/', 1), regexp_like(eventName, '^Get'), \
             contains(split('a,b,c', ','), 'b'), array_join(split('a,b', ','), '+'), cardinality(requestParameters), \
             element_at(map_keys(requestParameters), 1), if(readOnly, 'ro', 'rw'), try_cast('x' AS integer), \
             json_array_length('[1,2,3]'), json_size('{\"a\":{\"b\":1,\"c\":2}}', '$.a')").await,
        vec!["0", "{\"from\":0}", "Admin", "true", "true", "a+b", "3", "bucketName", "ro", "", "3", "2"]
    );
}

#[tokio::test]
async fn trino_aggregates() {
    let out = run_trail(&format!(
        "SELECT count_if(readOnly), max_by(eventName, eventID), min_by(eventName, eventID), approx_distinct(eventName), \
         arbitrary(eventSource) FROM {ID}"
    ))
    .await
    .unwrap();
    assert_eq!(
        out.rows,
        vec![vec!["1", "PutObject", "GetObject", "2", "s3.amazonaws.com"]]
    );
}

#[tokio::test]
async fn statistics_count_what_the_filters_kept() {
    let out = run_trail(&format!("SELECT eventName FROM {ID} WHERE readOnly = true"))
        .await
        .unwrap();
    assert_eq!(out.rows.len(), 1);
    assert_eq!(out.statistics.events_scanned, 2);
    assert_eq!(out.statistics.events_matched, 1);
    let out = run_trail(&format!("SELECT COUNT(*) FROM {ID}"))
        .await
        .unwrap();
    assert_eq!(
        (out.statistics.events_scanned, out.statistics.events_matched),
        (2, 2)
    );
}

#[tokio::test]
async fn nested_values_render_as_trino_prints_them() {
    assert_eq!(
        one("SELECT resources, tlsDetails, requestParameters").await,
        vec![
            "[{accountid=null, type=AWS::S3::Object, arn=arn:aws:s3:::logs/a.txt, arnprefix=null}, \
             {accountid=111122223333, type=AWS::S3::Bucket, arn=arn:aws:s3:::logs, arnprefix=null}]",
            "{tlsversion=TLSv1.3, ciphersuite=TLS_AES_128_GCM_SHA256, clientprovidedhostheader=logs.s3.amazonaws.com}",
            "{bucketName=logs, key=a.txt, range={\"from\":0}}"
        ]
    );
}

#[tokio::test]
async fn more_trino_functions() {
    assert_eq!(
        one("SELECT from_unixtime(0), regexp_replace('abc', 'b', 'x'), strpos('abc', 'c'), greatest(1, 3), \
             coalesce(errorCode, 'none'), substr('abcdef', 2, 3)").await,
        vec!["1970-01-01 00:00:00.000", "axc", "3", "3", "AccessDenied", "bcd"]
    );
    let out = run_trail(&format!(
        "SELECT approx_percentile(length(eventName), 0.5) AS p FROM {ID}"
    ))
    .await
    .unwrap();
    assert_eq!(out.rows.len(), 1);
}

#[tokio::test]
async fn set_operations_across_stores() {
    let out = run_trail(&format!(
        "SELECT eventName FROM {ID} EXCEPT SELECT eventName FROM {ID} WHERE readOnly"
    ))
    .await
    .unwrap();
    assert_eq!(out.rows, vec![vec!["PutObject"]]);
    let out = run_trail(&format!(
        "SELECT eventName FROM {ID} INTERSECT SELECT eventName FROM {ID} WHERE readOnly"
    ))
    .await
    .unwrap();
    assert_eq!(out.rows, vec![vec!["GetObject"]]);
}

/// A join that makes millions of rows out of a few events must still stop
/// when its task is aborted (CancelQuery, the timeout): the joins yield.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_runaway_join_stops_when_aborted() {
    let records: Vec<serde_json::Value> = (0..60)
        .map(|i| record(&format!("u{i}"), "Login", "2024-01-15T11:59:00Z"))
        .collect();
    let sql = format!(
        "SELECT count(*) FROM {ID} a JOIN {ID} b ON a.awsregion = b.awsregion JOIN {ID} c ON b.awsregion = c.awsregion \
         JOIN {ID} d ON c.awsregion = d.awsregion JOIN {ID} f ON d.awsregion = f.awsregion"
    );
    let p = prepare(&sql).unwrap();
    let table = Table::from_records(ID, Layout::Integration, &records, 0).unwrap();
    let work = tokio::spawn(async move { crate::run(&session(), &p, vec![table]).await });
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(
        !work.is_finished(),
        "the join finished too soon to test anything"
    );
    work.abort();
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(5), work).await;
    assert!(
        matches!(stopped, Ok(Err(ref e)) if e.is_cancelled()),
        "the aborted query did not stop: {stopped:?}"
    );
}
