//! CASES.md section C (SIG-01..03), the clock-skew window and AWS's messages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{is_mismatch, parse_http, Owned, SECRET};
use sha2::{Digest, Sha256};
use sigv4::Error;
use time::macros::datetime;

const ED1: &str = r#"{"version":"1.0","userIdentity":{"type":"CustomUser","principalId":"alice"},"eventSource":"myapp.example.com","eventName":"Login","eventTime":"2024-01-15T11:59:00Z","UID":"evt-0001","recipientAccountId":"111122223333"}"#;
const CHANNEL_QUERY: &str = "channelArn=arn%3Aaws%3Acloudtrail%3Aus-east-1%3A111122223333%3Achannel%2FEXAMPLE8-0558-4f7e-a06a-43969EXAMPLE";

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn sig01() -> Owned {
    let body = format!(
        r#"{{"auditEvents":[{{"id":"evt-0001","eventData":{}}}]}}"#,
        json_string(ED1)
    );
    Owned {
        method: "POST".into(),
        path: "/PutAuditEvents".into(),
        query: CHANNEL_QUERY.into(),
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Host".into(), "cloudtrail-data.us-east-1.amazonaws.com".into()),
            ("X-Amz-Date".into(), "20240115T120000Z".into()),
            (
                "Authorization".into(),
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240115/us-east-1/cloudtrail-data/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=343de1e545dc5d9ae54c8d26d617b592b7e09bc7da1452fd5a00a2cee1e26d92".into(),
            ),
        ],
        body: body.into_bytes(),
    }
}

#[test]
fn sig01_golden_put_audit_events() {
    let req = sig01();
    assert_eq!(
        hex::encode(Sha256::digest(&req.body)),
        "f186ee0e56bd33bf7989629f6c47239ab7ecb0c7850ee622ea0b4784c92439d7"
    );
    let creq = req.with(|r| sigv4::canonical_request(r, &sigv4::parse(r).unwrap()));
    assert_eq!(creq.lines().nth(2).unwrap(), CHANNEL_QUERY);
    let now = datetime!(2024-01-15 12:02:00 UTC);
    req.check_at(SECRET, now).unwrap();
    req.with(|r| {
        sigv4::parse(r)
            .unwrap()
            .check_scope("us-east-1", "cloudtrail-data")
    })
    .unwrap();

    // The same decoded parameters encoded differently on the wire still verify.
    let mut m = req.clone();
    m.query = "channelArn=arn:aws:cloudtrail:us-east-1:111122223333:channel/EXAMPLE8-0558-4f7e-a06a-43969EXAMPLE".into();
    m.check_at(SECRET, now).unwrap();
    let mut m = req.clone();
    m.query = m.query.replace("%3A", "%3a");
    m.check_at(SECRET, now).unwrap();

    // One body byte, the channel ARN: signature failure.
    let mut m = req.clone();
    m.body[20] ^= 0x01;
    assert!(is_mismatch(&m.check_at(SECRET, now)));
    let mut m = req.clone();
    m.query = m.query.replace("111122223333", "111122223334");
    assert!(is_mismatch(&m.check_at(SECRET, now)));
}

fn suite_post(query: &str, signature: &str) -> Owned {
    parse_http(&format!(
        "POST /?{query} HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}\n\n"
    ))
}

#[test]
fn sig02_reserved_characters_plus_and_empty_values() {
    // (a) post-vanilla-query-nonunreserved
    let a = suite_post(
        "%40%23%24%25%5E=&%2B=%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D",
        "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e",
    );
    a.check(SECRET).unwrap();
    // (b) post-vanilla-query-space: `p=` keeps its `=`; so does a bare `p`.
    let b = suite_post(
        "p=",
        "e71688addb58a26418614085fb730ba3faa623b461c17f48f2fbdb9361b94a9b",
    );
    b.check(SECRET).unwrap();
    let mut b2 = b.clone();
    b2.query = "p".into();
    b2.check(SECRET).unwrap();
    // (c) get-vanilla-query-unreserved
    let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut c = suite_post(
        &format!("{unreserved}={unreserved}"),
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    );
    c.method = "GET".into();
    c.check(SECRET).unwrap();
    // (d) a wire `+` is a literal plus: `a=b+c` signs as `a=b%2Bc`, never `a=b%20c`.
    let plus = suite_post("a=b+c", "0000");
    let (creq, presented) = plus.with(|r| {
        let p = sigv4::parse(r).unwrap();
        (sigv4::canonical_request(r, &p), p)
    });
    assert_eq!(creq.lines().nth(2).unwrap(), "a=b%2Bc");
    let sig_plus = plus.with(|r| sigv4::expected_signature(r, &presented, SECRET));
    let sig_space =
        suite_post("a=b%20c", "0000").with(|r| sigv4::expected_signature(r, &presented, SECRET));
    assert_ne!(sig_plus, sig_space);
    suite_post("a=b+c", &sig_plus).check(SECRET).unwrap();
    suite_post("a=b%2Bc", &sig_plus).check(SECRET).unwrap();
    assert!(is_mismatch(&suite_post("a=b+c", &sig_space).check(SECRET)));
    assert!(is_mismatch(&suite_post("a=b%20c", &sig_plus).check(SECRET)));
}

#[test]
fn sig03_header_values_trim_collapse_multiline() {
    let req = parse_http(
        "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\nMy-Header2: \"a   b   c\"\nX-Amz-Date:20150830T123600Z\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736\n\n",
    );
    let creq = req.with(|r| sigv4::canonical_request(r, &sigv4::parse(r).unwrap()));
    assert!(
        creq.contains("\nmy-header1:value1\nmy-header2:\"a b c\"\n"),
        "{creq}"
    );
    req.check(SECRET).unwrap();
    // Leading/trailing spaces and 3+ spaces collapse: same signature.
    let mut m = req.clone();
    *m.header_mut("my-header2").unwrap() = "   \"a b     c\"   ".into();
    m.check(SECRET).unwrap();
    // Quoted spaces are not preserved: "a b c" with single spaces also matches,
    // but a different word does not.
    let mut m = req.clone();
    *m.header_mut("my-header2").unwrap() = "\"a b d\"".into();
    assert!(is_mismatch(&m.check(SECRET)));
}

fn vanilla() -> Owned {
    parse_http("GET / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\n\n")
}

#[test]
fn clock_skew_window_edges() {
    let req = vanilla();
    let t = datetime!(2015-08-30 12:36:00 UTC);
    let five = time::Duration::minutes(5);
    let sec = time::Duration::seconds(1);
    req.check_at(SECRET, t + five).unwrap();
    req.check_at(SECRET, t - five).unwrap();
    let late = req.check_at(SECRET, t + five + sec).unwrap_err();
    assert!(matches!(late, Error::Expired { .. }));
    assert_eq!(
        late.to_string(),
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z (20150830T124101Z - 5 min.)"
    );
    let early = req.check_at(SECRET, t - five - sec).unwrap_err();
    assert!(matches!(early, Error::NotYetCurrent { .. }));
    assert_eq!(
        early.to_string(),
        "Signature not yet current: 20150830T123600Z is still later than 20150830T123559Z (20150830T123059Z + 5 min.)"
    );
}

#[test]
fn skew_messages_in_aws_form() {
    let skew = Duration::from_secs(300);
    let e = Error::Expired {
        request_time: datetime!(2024-01-15 12:00:00 UTC),
        now: datetime!(2024-01-15 12:15:00 UTC),
        max_skew: skew,
    };
    assert_eq!(e.to_string(), "Signature expired: 20240115T120000Z is now earlier than 20240115T121000Z (20240115T121500Z - 5 min.)");
    let e = Error::NotYetCurrent {
        request_time: datetime!(2024-01-15 12:30:00 UTC),
        now: datetime!(2024-01-15 12:15:00 UTC),
        max_skew: skew,
    };
    assert_eq!(e.to_string(), "Signature not yet current: 20240115T123000Z is still later than 20240115T122000Z (20240115T121500Z + 5 min.)");
    // Offsets other than UTC are shown in UTC.
    let e = Error::Expired {
        request_time: datetime!(2024-01-15 13:00:00 +01:00),
        now: datetime!(2024-01-15 12:15:00 UTC),
        max_skew: Duration::from_secs(900),
    };
    assert_eq!(e.to_string(), "Signature expired: 20240115T120000Z is now earlier than 20240115T120000Z (20240115T121500Z - 15 min.)");
}

fn parse_err(req: &Owned) -> Error {
    req.with(|r| sigv4::parse(r).unwrap_err())
}

fn with_auth(auth: &str) -> Owned {
    let mut req = vanilla();
    *req.header_mut("authorization").unwrap() = auth.into();
    req
}

#[test]
fn aws_messages_for_malformed_authentication() {
    let mut none = vanilla();
    none.headers.retain(|(n, _)| n != "Authorization");
    assert_eq!(parse_err(&none), Error::MissingAuthentication);
    assert_eq!(parse_err(&none).to_string(), "Missing Authentication Token");

    let e = parse_err(&with_auth(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request",
    ));
    assert_eq!(e.to_string(), "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request");

    let mut bearer = with_auth("Bearer eyJhbGciOiJIUzI1NiJ9.e30.x");
    bearer.headers.retain(|(n, _)| n != "X-Amz-Date");
    assert_eq!(parse_err(&bearer).to_string(), "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=Bearer eyJhbGciOiJIUzI1NiJ9.e30.x");

    let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE /20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa0";
    assert_eq!(parse_err(&with_auth(auth)).to_string(), format!("'/20150830/us-east-1/service/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: '{auth}'."));

    let e = parse_err(&with_auth("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1, SignedHeaders=host;x-amz-date, Signature=5fa0"));
    assert_eq!(e.to_string(), "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDEXAMPLE/20150830/us-east-1'");

    let e = parse_err(&with_auth("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws5_request, SignedHeaders=host;x-amz-date, Signature=5fa0"));
    assert_eq!(e, Error::WrongScope("Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ".into()));

    let e = parse_err(&with_auth("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=x-amz-date, Signature=5fa0"));
    assert_eq!(
        e.to_string(),
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    );

    let mut bad_date = vanilla();
    *bad_date.header_mut("x-amz-date").unwrap() = "2015-08-30T12:36:00Z".into();
    assert_eq!(parse_err(&bad_date).to_string(), "Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'. See http://en.wikipedia.org/wiki/ISO_8601");

    let p = vanilla().with(|r| sigv4::parse(r).unwrap());
    assert_eq!(
        p.check_scope("us-west-2", "service")
            .unwrap_err()
            .to_string(),
        "Credential should be scoped to a valid region, not 'us-east-1'. "
    );
    assert_eq!(
        p.check_scope("us-east-1", "cloudtrail")
            .unwrap_err()
            .to_string(),
        "Credential should be scoped to correct service: 'cloudtrail'. "
    );
    p.check_scope("us-east-1", "service").unwrap();
}

#[test]
fn scope_date_must_match_request_date() {
    let req = with_auth("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150831/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa0");
    let e = req.check(SECRET).unwrap_err();
    assert_eq!(e.to_string(), "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20150831' != '20150830', from '20150830T123600Z'.");
}

#[test]
fn date_header_when_no_x_amz_date() {
    let mut req = vanilla();
    req.headers.retain(|(n, _)| n != "X-Amz-Date");
    req.headers
        .push(("Date".into(), "Sun, 30 Aug 2015 12:36:00 GMT".into()));
    let p = req.with(|r| sigv4::parse(r).unwrap());
    assert_eq!(p.request_time, datetime!(2015-08-30 12:36:00 UTC));
    *req.header_mut("authorization").unwrap() = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=date;host, Signature=0".into();
    let p = req.with(|r| sigv4::parse(r).unwrap());
    let sig = req.with(|r| sigv4::expected_signature(r, &p, SECRET));
    *req.header_mut("authorization").unwrap() = format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=date;host, Signature={sig}");
    req.check(SECRET).unwrap();
}

#[test]
fn mismatch_keeps_debugging_detail() {
    let mut req = vanilla();
    req.body = b"x".to_vec();
    let e = req.check(SECRET).unwrap_err();
    assert_eq!(e.to_string(), "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.");
    let Error::Mismatch {
        canonical_request,
        string_to_sign,
    } = &e
    else {
        panic!("{e:?}")
    };
    assert!(canonical_request.starts_with("GET\n/\n\nhost:example.amazonaws.com\n"));
    assert!(string_to_sign.starts_with(
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
    ));
    assert!(e
        .detailed_message()
        .contains("The Canonical String for this request should have been\n'GET\n/\n"));
    // A wrong secret is a mismatch too.
    assert!(is_mismatch(&vanilla().check("wrong")));
}

fn presigned_vanilla() -> Owned {
    parse_http("GET /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d HTTP/1.1\nHost:example.amazonaws.com\n\n")
}

#[test]
fn presigned_lifetime() {
    let req = presigned_vanilla();
    let t = datetime!(2015-08-30 12:36:00 UTC);
    req.check_at(SECRET, t + time::Duration::seconds(3600))
        .unwrap();
    req.check_at(SECRET, t - time::Duration::minutes(5))
        .unwrap();
    let e = req
        .check_at(SECRET, t + time::Duration::seconds(3601))
        .unwrap_err();
    assert!(matches!(
        e,
        Error::PresignedExpired {
            expires_secs: 3600,
            ..
        }
    ));
    assert_eq!(e.to_string(), "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z (20150830T133601Z - 60 min.)");
    assert!(matches!(
        req.check_at(SECRET, t - time::Duration::seconds(301)),
        Err(Error::NotYetCurrent { .. })
    ));
}

#[test]
fn presigned_messages() {
    let mut req = presigned_vanilla();
    req.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20150830T123600Z".into();
    assert_eq!(parse_err(&req).to_string(), "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. Re-examine the query-string parameters.");
    let mut req = presigned_vanilla();
    req.query = req
        .query
        .replace("X-Amz-Expires=3600", "X-Amz-Expires=604801");
    assert_eq!(
        parse_err(&req).to_string(),
        "X-Amz-Expires must be less than a week (in seconds) that is 604800"
    );
    let mut req = presigned_vanilla();
    req.headers.push((
        "Authorization".into(),
        "AWS4-HMAC-SHA256 Credential=a".into(),
    ));
    assert!(matches!(parse_err(&req), Error::Incomplete(_)));
}

#[test]
fn security_token_is_reported() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/aws-signing-test-suite-v4/get-vanilla-with-session-token");
    for kind in ["header", "query"] {
        let req = parse_http(
            &std::fs::read_to_string(dir.join(format!("{kind}-signed-request.txt"))).unwrap(),
        );
        let p = req.with(|r| sigv4::parse(r).unwrap());
        assert_eq!(
            p.security_token.as_deref(),
            Some("6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267")
        );
        req.check(SECRET).unwrap();
    }
}
