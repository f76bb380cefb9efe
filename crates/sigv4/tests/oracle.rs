//! Requests signed by `aws-sigv4` (the Rust SDK's signer) in the shapes real
//! clients send, and property tests: anything it signs verifies, any single
//! mutation fails, and no input panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use common::{flip_char, is_mismatch, Owned, AKID, SECRET};
use proptest::prelude::*;
use time::OffsetDateTime;

const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+Example/Token==";
const T0: u64 = 1_705_320_000; // 2024-01-15T12:00:00Z

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(T0 as i64).unwrap()
}

/// Percent-encodes everything but the SigV4 unreserved set, as the SDKs do.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct Signer<'a> {
    service: &'a str,
    region: &'a str,
    token: Option<&'a str>,
    presign: Option<Duration>,
}

impl Signer<'_> {
    /// Signs every header of `req` (plus what the signer adds) and returns the
    /// request as it goes on the wire.
    fn sign(&self, req: &Owned) -> Owned {
        let host = req
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.clone())
            .unwrap();
        let uri = if req.query.is_empty() {
            format!("https://{host}{}", req.path)
        } else {
            format!("https://{host}{}?{}", req.path, req.query)
        };
        let identity: Identity =
            Credentials::new(AKID, SECRET, self.token.map(str::to_owned), None, "test").into();
        let mut settings = SigningSettings::default();
        if let Some(expires) = self.presign {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(expires);
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(self.region)
            .name(self.service)
            .time(SystemTime::UNIX_EPOCH + Duration::from_secs(T0))
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            &req.method,
            uri,
            req.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            SignableBody::Bytes(&req.body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let (headers, query) = instructions.into_parts();
        let mut out = req.clone();
        for h in headers {
            out.headers
                .push((h.name().to_owned(), h.value().to_owned()));
        }
        for (name, value) in query {
            if !out.query.is_empty() {
                out.query.push('&');
            }
            out.query
                .push_str(&format!("{}={}", enc(name), enc(&value)));
        }
        out
    }
}

fn header_auth<'a>(service: &'a str, token: Option<&'a str>) -> Signer<'a> {
    Signer {
        service,
        region: "us-east-1",
        token,
        presign: None,
    }
}

fn req(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Owned {
    let mut r = Owned {
        method: method.into(),
        path: String::new(),
        query: String::new(),
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.as_bytes().to_vec(),
    };
    r.set_target(target);
    r
}

fn signed_headers(r: &Owned) -> String {
    r.with(|r| sigv4::parse(r).unwrap().signed_headers.join(";"))
}

fn assert_verifies_and_mutations_fail(wire: &Owned) {
    wire.check_at(SECRET, t0()).unwrap();
    let mut m = wire.clone();
    m.body.push(b' ');
    assert!(is_mismatch(&m.check_at(SECRET, t0())), "body");
    let mut m = wire.clone();
    m.query = flip_char(&m.query, 0).unwrap();
    assert!(is_mismatch(&m.check_at(SECRET, t0())), "query {}", m.query);
    let mut m = wire.clone();
    let ct = m.header_mut("content-type").unwrap();
    *ct = flip_char(ct, 0).unwrap();
    assert!(is_mismatch(&m.check_at(SECRET, t0())), "content-type");
}

const CHANNEL_ARN: &str =
    "arn:aws:cloudtrail:us-east-1:111122223333:channel/EXAMPLE8-0558-4f7e-a06a-43969EXAMPLE";
const BODY: &str = r#"{"auditEvents":[{"id":"evt-0001","eventData":"{\"version\":\"1.0\"}"}]}"#;

fn put_audit_events_target() -> String {
    format!(
        "/PutAuditEvents?channelArn={}&externalId={}",
        enc(CHANNEL_ARN),
        enc("ext=Id:with/special@chars+plus space")
    )
}

#[test]
fn boto3_put_audit_events() {
    for token in [None, Some(TOKEN)] {
        let unsigned = req(
            "POST",
            &put_audit_events_target(),
            &[
                ("Content-Type", "application/json"),
                ("Host", "cloudtrail-data.us-east-1.amazonaws.com"),
            ],
            BODY,
        );
        let mut wire = header_auth("cloudtrail-data", token).sign(&unsigned);
        // Sent but not signed by botocore.
        wire.headers.push((
            "User-Agent".into(),
            "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0".into(),
        ));
        wire.headers
            .push(("Content-Length".into(), BODY.len().to_string()));
        let want = if token.is_some() {
            "content-type;host;x-amz-date;x-amz-security-token"
        } else {
            "content-type;host;x-amz-date"
        };
        assert_eq!(signed_headers(&wire), want);
        let p = wire.with(|r| sigv4::parse(r).unwrap());
        assert_eq!(p.security_token.as_deref(), token);
        p.check_scope("us-east-1", "cloudtrail-data").unwrap();
        assert_verifies_and_mutations_fail(&wire);
    }
}

#[test]
fn rust_sdk_put_audit_events() {
    let unsigned = req(
        "POST",
        &put_audit_events_target(),
        &[
            ("content-type", "application/json"),
            ("content-length", &BODY.len().to_string()),
            ("host", "cloudtrail-data.us-east-1.amazonaws.com"),
            (
                "x-amz-user-agent",
                "aws-sdk-rust/1.3.0 api/cloudtraildata/1.0 os/linux lang/rust#1.85.0",
            ),
        ],
        BODY,
    );
    let mut wire = header_auth("cloudtrail-data", None).sign(&unsigned);
    wire.headers.push((
        "user-agent".into(),
        "aws-sdk-rust/1.3.0 os/linux lang/rust#1.85.0".into(),
    ));
    wire.headers.push((
        "amz-sdk-invocation-id".into(),
        "5b3c0a4e-0000-4000-8000-000000000000".into(),
    ));
    assert_eq!(
        signed_headers(&wire),
        "content-length;content-type;host;x-amz-date;x-amz-user-agent"
    );
    assert_verifies_and_mutations_fail(&wire);
    let mut m = wire.clone();
    *m.header_mut("x-amz-user-agent").unwrap() = "aws-sdk-rust/1.3.1".into();
    assert!(is_mismatch(&m.check_at(SECRET, t0())));
}

#[test]
fn aws_json_with_target() {
    for token in [None, Some(TOKEN)] {
        let body = r#"{"QueryStatement":"SELECT eventID FROM eds LIMIT 1"}"#;
        let unsigned = req(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Host", "cloudtrail.us-east-1.amazonaws.com"),
                (
                    "X-Amz-Target",
                    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.StartQuery",
                ),
            ],
            body,
        );
        let mut wire = header_auth("cloudtrail", token).sign(&unsigned);
        wire.query = "x=1".into(); // so the query mutation has something to flip
        let wire = {
            let mut u = unsigned.clone();
            u.query = "x=1".into();
            header_auth("cloudtrail", token).sign(&u)
        };
        assert!(signed_headers(&wire).contains("x-amz-target"));
        assert_verifies_and_mutations_fail(&wire);
        let mut m = wire.clone();
        *m.header_mut("x-amz-target").unwrap() =
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.CancelQuery".into();
        assert!(is_mismatch(&m.check_at(SECRET, t0())));
    }
}

#[test]
fn aws_query_form_body_for_sts_and_iam() {
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let unsigned = req(
        "POST",
        "/",
        &[
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("Host", "sts.us-east-1.amazonaws.com"),
        ],
        body,
    );
    let wire = header_auth("sts", Some(TOKEN)).sign(&unsigned);
    wire.check_at(SECRET, t0()).unwrap();
    let mut m = wire.clone();
    m.body = b"Action=GetCallerIdentity&Version=2011-06-16".to_vec();
    assert!(is_mismatch(&m.check_at(SECRET, t0())));
}

#[test]
fn presigned_with_and_without_token() {
    for token in [None, Some(TOKEN)] {
        let signer = Signer {
            service: "sts",
            region: "us-east-1",
            token,
            presign: Some(Duration::from_secs(900)),
        };
        let unsigned = req(
            "GET",
            "/?Action=GetCallerIdentity&Version=2011-06-15",
            &[("Host", "sts.amazonaws.com")],
            "",
        );
        let wire = signer.sign(&unsigned);
        let p = wire.with(|r| sigv4::parse(r).unwrap());
        assert!(p.presigned);
        assert_eq!(p.expires_secs, Some(900));
        assert_eq!(p.security_token.as_deref(), token);
        wire.check_at(SECRET, t0() + time::Duration::seconds(900))
            .unwrap();
        assert!(matches!(
            wire.check_at(SECRET, t0() + time::Duration::seconds(901)),
            Err(sigv4::Error::PresignedExpired { .. })
        ));
        let mut m = wire.clone();
        m.query = m.query.replace("GetCallerIdentity", "GetCallerIdentitz");
        assert!(is_mismatch(&m.check_at(SECRET, t0())));
        if token.is_some() {
            // The token is signed in the standard form: changing it is caught
            // unless the signer left it out, which only the alternative covers.
            let mut m = wire.clone();
            m.query = m.query.replace("Token%3D%3D", "Token%3D");
            assert!(is_mismatch(&m.check_at(SECRET, t0())));
        }
    }
}

// ---------------------------------------------------------------- proptests

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[A-Za-z0-9._~-]{1,8}",
        2 => "[ !$&'()*+,;=:@%^\"<>{}|\\\\\u{e9}\u{1234}]{1,4}".prop_map(|s| enc(&s)),
        1 => Just(".".to_owned()),
        1 => Just("..".to_owned()),
        1 => Just(String::new()),
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(segment(), 0..5).prop_map(|segs| {
        let mut p = String::from("/");
        p.push_str(&segs.join("/"));
        p
    })
}

fn query_part() -> impl Strategy<Value = String> {
    // Reserved characters, `+`, spaces, unicode; a few sent raw (`:` `/` `@`),
    // the rest percent-encoded as the SDKs do.
    "[A-Za-z0-9 +=&/:@?#%,;!*'()\u{e9}\u{1f600}-]{0,10}".prop_map(|s| {
        let mut out = String::new();
        for c in s.chars() {
            if matches!(c, ':' | '/' | '@') {
                out.push(c);
            } else {
                out.push_str(&enc(&c.to_string()));
            }
        }
        out
    })
}

fn query() -> impl Strategy<Value = String> {
    prop::collection::vec((query_part(), query_part()), 0..5).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn header_value() -> impl Strategy<Value = String> {
    "[ \tA-Za-z0-9\"'(),;:=/.-]{0,20}".prop_filter("valid header value", |v| {
        !v.starts_with(['\t']) && !v.ends_with(['\t'])
    })
}

prop_compose! {
    fn request()(
        method in prop::sample::select(vec!["GET", "POST", "PUT", "DELETE"]),
        path in path(),
        query in query(),
        h1 in header_value(),
        h2 in header_value(),
        repeat in any::<bool>(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        token in any::<bool>(),
    ) -> (Owned, bool) {
        let mut headers = vec![
            ("Host".to_owned(), "example.amazonaws.com".to_owned()),
            ("X-Custom-One".to_owned(), h1),
        ];
        if repeat {
            headers.push(("x-custom-one".to_owned(), h2));
        } else {
            headers.push(("X-Custom-Two".to_owned(), h2));
        }
        let mut r = Owned { method: method.to_owned(), path, query, headers, body };
        r.query = r.query.trim_matches('&').to_owned();
        (r, token)
    }
}

/// Single mutations that must change the canonical request.
fn mutate(wire: &Owned, which: u8) -> Option<Owned> {
    let mut m = wire.clone();
    match which % 5 {
        0 => {
            if m.body.is_empty() {
                m.body.push(0);
            } else {
                m.body[0] ^= 0x80;
            }
        }
        1 => {
            let auth = m.header_mut("authorization")?;
            let i = auth.rfind("Signature=")? + 10;
            *auth = flip_char(auth, i)?;
        }
        2 => {
            m.query = if m.query.is_empty() {
                "z=1".into()
            } else {
                format!("{}&z=1", m.query)
            };
        }
        3 => {
            let v = m.header_mut("x-custom-one")?;
            v.push('x');
        }
        _ => {
            m.path = format!("{}/x", m.path.trim_end_matches('/'));
            if canonical_path(&m.path) == canonical_path(&wire.path) {
                return None;
            }
        }
    }
    Some(m)
}

fn canonical_path(p: &str) -> String {
    let r = Owned {
        method: "GET".into(),
        path: p.into(),
        query: String::new(),
        headers: vec![("host".into(), "h".into())],
        body: vec![],
    };
    let presented = sigv4::Presented {
        access_key_id: AKID.into(),
        scope_date: "20240115".into(),
        region: "us-east-1".into(),
        service: "service".into(),
        signed_headers: vec!["host".into()],
        signature: String::new(),
        request_time: t0(),
        security_token: None,
        presigned: false,
        expires_secs: None,
    };
    r.with(|r| sigv4::canonical_request(r, &presented))
        .lines()
        .nth(1)
        .unwrap()
        .to_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn anything_aws_sigv4_signs_verifies((unsigned, token) in request(), which in any::<u8>()) {
        let wire = header_auth("service", token.then_some(TOKEN)).sign(&unsigned);
        let r = wire.check_at(SECRET, t0());
        prop_assert!(r.is_ok(), "{:?}\n{:?}", r, wire);
        if let Some(m) = mutate(&wire, which) {
            let r = m.check_at(SECRET, t0());
            prop_assert!(is_mismatch(&r), "mutation {} not caught: {:?}\n{:?}", which % 5, r, m);
        }
    }

    #[test]
    fn anything_aws_sigv4_presigns_verifies((unsigned, token) in request()) {
        let signer = Signer {
            service: "service",
            region: "eu-west-1",
            token: token.then_some(TOKEN),
            presign: Some(Duration::from_secs(300)),
        };
        let wire = signer.sign(&unsigned);
        let r = wire.check_at(SECRET, t0());
        prop_assert!(r.is_ok(), "{:?}\n{:?}", r, wire);
        let mut m = wire.clone();
        m.body.push(1);
        prop_assert!(is_mismatch(&m.check_at(SECRET, t0())));
    }

    #[test]
    fn no_panic_on_arbitrary_input(
        auth in ".{0,200}",
        auth_like in "AWS4-HMAC-SHA256 (Credential=[^,]{0,40}|SignedHeaders=[a-z;]{0,20}|Signature=[0-9a-f]{0,64}|[ ,=/])*",
        query in ".{0,200}",
        path in ".{0,100}",
        date in "[0-9TZ]{0,20}",
        method in ".{0,10}",
        body in prop::collection::vec(any::<u8>(), 0..32),
        presigned_query in "(X-Amz-[A-Za-z]{0,12}=[^&]{0,30}&?){0,8}",
        now in any::<i32>(),
        skew in any::<u64>(),
    ) {
        let now = OffsetDateTime::from_unix_timestamp(i64::from(now)).unwrap();
        let skew = Duration::from_secs(skew);
        for (a, q) in [
            (Some(auth.as_str()), query.as_str()),
            (Some(auth_like.as_str()), query.as_str()),
            (None, query.as_str()),
            (None, presigned_query.as_str()),
            (None, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2F20240115%2Fr%2Fs%2Faws4_request&X-Amz-Date=20240115T120000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=604800"),
        ] {
            let mut headers = vec![("Host", "h"), ("X-Amz-Date", date.as_str()), ("Date", auth.as_str())];
            if let Some(a) = a {
                headers.push(("Authorization", a));
            }
            let r = sigv4::Request { method: &method, path: &path, query: q, headers: &headers, body: &body };
            if let Ok(p) = sigv4::parse(&r) {
                let _ = sigv4::verify(&r, &p, SECRET, now, skew);
                let _ = sigv4::verify(&r, &p, SECRET, OffsetDateTime::now_utc(), Duration::MAX);
                let _ = p.check_scope("us-east-1", "s");
            }
        }
        // Hand-built extremes.
        let p = sigv4::Presented {
            access_key_id: auth.clone(),
            scope_date: date.clone(),
            region: auth.clone(),
            service: path.clone(),
            signed_headers: vec![auth.clone(), "host".into()],
            signature: auth.clone(),
            request_time: OffsetDateTime::from_unix_timestamp(i64::from(i32::MIN)).unwrap(),
            security_token: Some(query.clone()),
            presigned: true,
            expires_secs: Some(u64::MAX),
        };
        let r = sigv4::Request { method: &method, path: &path, query: &query, headers: &[], body: &body };
        let e = sigv4::verify(&r, &p, SECRET, time::PrimitiveDateTime::MAX.assume_utc(), Duration::MAX);
        if let Err(e) = e {
            let _ = e.to_string();
            let _ = e.detailed_message();
        }
    }
}
