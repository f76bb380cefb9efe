//! Requests as aws-sdk-rust signs and sends them. No request leaves the
//! process: the SDK's capture client records the request after signing and
//! answers with a canned response (which may not parse; the capture is what matters).

use aws_credential_types::Credentials;
use aws_sdk_cloudtraildata::config::{BehaviorVersion, Region};
use aws_smithy_http_client::test_util::{capture_request, CaptureRequestReceiver};
use base64::Engine;
use serde_json::{json, Value};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const CHANNEL: &str =
    "arn:aws:cloudtrail:us-east-1:111122223333:channel/EXAMPLE8-0558-4f7e-a06a-43969EXAMPLE";
const EVENT: &str = r#"{"version":"1.0","userIdentity":{"type":"CustomUser","principalId":"jos\u00e9@example.com"},"eventSource":"myapp","eventName":"Login","eventTime":"2024-01-15T11:59:00Z","UID":"evt 0001+x","recipientAccountId":"111122223333"}"#;
const ENDPOINT: &str = "http://127.0.0.1:7821";

fn record(client: &str, rx: CaptureRequestReceiver) -> Value {
    let req = rx.expect_request();
    let headers: Vec<Value> = req.headers().iter().map(|(k, v)| json!([k, v])).collect();
    let body = req.body().bytes().unwrap_or_default();
    json!({
        "client": client,
        "method": req.method(),
        "url": req.uri(),
        "headers": headers,
        "body_b64": base64::engine::general_purpose::STANDARD.encode(body),
        "secret": SECRET,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = format!(
        "aws-sdk-rust (aws-sdk-cloudtraildata {}, aws-sdk-cloudtrail {})",
        aws_sdk_cloudtraildata::meta::PKG_VERSION,
        aws_sdk_cloudtrail::meta::PKG_VERSION
    );
    let mut out = Vec::new();

    let (http, rx) = capture_request(None);
    let conf = aws_sdk_cloudtraildata::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(ENDPOINT)
        .credentials_provider(Credentials::new("AKIDEXAMPLE", SECRET, None, None, "capture"))
        .http_client(http)
        .build();
    let event = aws_sdk_cloudtraildata::types::AuditEvent::builder()
        .id("evt-0001")
        .event_data(EVENT)
        .build()?;
    let _ = aws_sdk_cloudtraildata::Client::from_conf(conf)
        .put_audit_events()
        .channel_arn(CHANNEL)
        .external_id("ext=Id:with/special@chars")
        .audit_events(event)
        .send()
        .await;
    out.push(record(&name, rx));

    let cloudtrail = |token: Option<&str>| {
        let (http, rx) = capture_request(None);
        let conf = aws_sdk_cloudtrail::Config::builder()
            .behavior_version(aws_sdk_cloudtrail::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudtrail::config::Region::new("us-east-1"))
            .endpoint_url(ENDPOINT)
            .credentials_provider(Credentials::new(
                if token.is_some() { "ASIAEXAMPLE" } else { "AKIDEXAMPLE" },
                SECRET,
                token.map(str::to_string),
                None,
                "capture",
            ))
            .http_client(http)
            .build();
        (aws_sdk_cloudtrail::Client::from_conf(conf), rx)
    };

    let (client, rx) = cloudtrail(None);
    let _ = client
        .start_query()
        .query_statement("SELECT eventData.eventName, COUNT(*) FROM EXAMPLE8-0558 WHERE eventData.eventName = 'Login' GROUP BY 1")
        .send()
        .await;
    out.push(record(&name, rx));

    let (client, rx) = cloudtrail(Some("FQoGZXIvYXdzEXAMPLEtoken//+=="));
    let _ = client.list_event_data_stores().send().await;
    out.push(record(&name, rx));

    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
