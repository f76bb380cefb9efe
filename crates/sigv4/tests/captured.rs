//! Requests exactly as real clients signed them: boto3's botocore and the AWS
//! CLI's vendored botocore (captured by `captured/capture.py`) and aws-sdk-rust
//! (captured by `captured/sdk-rust`): PutAuditEvents with an ARN and an
//! external id in the query string and a non-ASCII body, an awsJson call, and
//! one with a session token. The HTTP layer adds the `Host` header after the
//! capture point, as it does on the wire.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use serde_json::Value;
use std::time::Duration;

struct Captured {
    client: String,
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    secret: String,
}

fn captured() -> Vec<Captured> {
    let mut all: Vec<Value> = serde_json::from_str(include_str!("captured/requests.json")).unwrap();
    let sdk_rust: Vec<Value> =
        serde_json::from_str(include_str!("captured/requests-sdk-rust.json")).unwrap();
    all.extend(sdk_rust);
    all.iter()
        .map(|r| {
            let url = r["url"].as_str().unwrap();
            let rest = url.split_once("://").unwrap().1;
            let (host, path_query) = rest.split_at(rest.find('/').unwrap());
            let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
            let mut headers: Vec<(String, String)> = r["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    (
                        h[0].as_str().unwrap().to_string(),
                        h[1].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
                headers.push(("Host".into(), host.into()));
            }
            Captured {
                client: r["client"].as_str().unwrap().into(),
                method: r["method"].as_str().unwrap().into(),
                path: path.into(),
                query: query.into(),
                headers,
                body: base64::engine::general_purpose::STANDARD
                    .decode(r["body_b64"].as_str().unwrap())
                    .unwrap(),
                secret: r["secret"].as_str().unwrap().into(),
            }
        })
        .collect()
}

fn check(c: &Captured, body: &[u8], query: &str) -> Result<(), sigv4::Error> {
    let headers: Vec<(&str, &str)> = c
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let req = sigv4::Request {
        method: &c.method,
        path: &c.path,
        query,
        headers: &headers,
        body,
    };
    let presented = sigv4::parse(&req)?;
    sigv4::verify(
        &req,
        &presented,
        &c.secret,
        presented.request_time,
        Duration::from_secs(300),
    )
}

#[test]
fn real_client_requests_verify_and_any_change_fails() {
    let all = captured();
    assert_eq!(
        all.len(),
        9,
        "boto3, the AWS CLI and aws-sdk-rust, three requests each"
    );
    assert_eq!(
        all.iter()
            .filter(|c| c.client.starts_with("aws-sdk-rust"))
            .count(),
        3
    );
    for c in &all {
        check(c, &c.body, &c.query)
            .unwrap_or_else(|e| panic!("{} {} {}: {e}", c.client, c.path, c.query));
        let mut body = c.body.clone();
        if let Some(b) = body.last_mut() {
            *b ^= 1;
        }
        assert!(
            matches!(
                check(c, &body, &c.query),
                Err(sigv4::Error::Mismatch { .. })
            ),
            "{}",
            c.client
        );
        if !c.query.is_empty() {
            let query = c.query.replace("EXAMPLE8", "EXAMPLE9");
            assert!(
                matches!(
                    check(c, &c.body, &query),
                    Err(sigv4::Error::Mismatch { .. })
                ),
                "{}",
                c.client
            );
        }
    }
    let put = all.iter().find(|c| c.path == "/PutAuditEvents").unwrap();
    assert!(
        put.query
            .contains("externalId=ext%3DId%3Awith%2Fspecial%40chars"),
        "{}",
        put.query
    );
    assert!(
        std::str::from_utf8(&put.body).unwrap().contains("jos"),
        "non-ASCII body captured"
    );
    let with_token = all.iter().filter(|c| {
        c.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-amz-security-token"))
    });
    assert_eq!(
        with_token.count(),
        3,
        "one session-token request per client"
    );
}
