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
    execute(
        &session(),
        &p,
        vec![Table::from_records(ID, &records, 300)?],
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
    assert_eq!(out.events_scanned, 3);

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
