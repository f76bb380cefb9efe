//! Verification of AWS Signature Version 4 on incoming requests, exactly as
//! AWS canonicalises them for non-S3 services. Pure: no IO, no clock; the
//! caller looks up the secret key and maps [`Error`] to its protocol's codes.
//!
//! Reference: <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>
//! and the AWS SigV4 test suite (embedded under `tests/vectors/`).
//!
//! Use: [`parse`] what the client presented (an `Authorization:
//! AWS4-HMAC-SHA256 …` header or a presigned query string), look up the secret
//! for [`Presented::access_key_id`], check [`Presented::check_scope`] against
//! this server's region and the service, then [`verify`].
//!
//! What is verified, and why the less obvious rules are as they are:
//! - **Clock skew**: the request time (`X-Amz-Date`, else `Date`) must lie in
//!   `now ± max_skew` (AWS's JSON services use 5 minutes). The expired / not
//!   yet current messages are byte-exact AWS text because SDKs parse them to
//!   correct their clock. Presigned URLs are instead valid until `X-Amz-Date +
//!   X-Amz-Expires` (and not before `X-Amz-Date - max_skew`).
//! - **Scope**: the credential scope date must equal the request date; the
//!   terminator must be `aws4_request`; region and service are the caller's
//!   to check ([`Presented::check_scope`]), since only it knows them.
//! - **`host` must be signed**: otherwise a signature could be replayed against
//!   another endpoint.
//! - **Path**: for non-S3 services the wire path (still percent-encoded) is
//!   normalised (`.`/`..` and empty segments removed, trailing slash kept) and
//!   then URI-encoded *again*: the "double encoding" AWS documents. So a wire
//!   `%3D` signs as `%253D`, and a wire `@` as `%40`.
//! - **Query**: names and values are percent-decoded and re-encoded with the
//!   unreserved set `A-Z a-z 0-9 - _ . ~`, then sorted by encoded name and
//!   value. A wire `+` is a literal plus (`%2B`), not a space: SigV4 queries
//!   are not form-encoded, and mapping `+` to space would reject correctly
//!   signed SDK requests. So `a=b%3Ac` and `a=b:c` sign the same.
//! - **Headers**: only those listed in `SignedHeaders`, in that order, names
//!   lower-case; values trimmed and whitespace runs collapsed to one space
//!   (even inside quotes, as the suite signs), repeated headers joined with
//!   `,` in wire order. Signers disagree on tabs and line breaks inside values
//!   (botocore and the JS SDK collapse all whitespace, the Rust and Go SDKs
//!   only spaces): when a signed value holds such characters both forms are
//!   tried.
//! - **Payload**: always the SHA-256 of the body received. A client's
//!   `x-amz-content-sha256` (e.g. `UNSIGNED-PAYLOAD`) is an S3 feature; non-S3
//!   services hash the body themselves, so a lying header cannot detach the
//!   signature from the body.
//! - **Session token**: `X-Amz-Security-Token` is reported in
//!   [`Presented::security_token`]; the caller must check it belongs to the
//!   access key. Signers may leave it unsigned (header) or append it after
//!   signing (presigned, the suite's `post-sts-header-after`): both verify.
//! - Signatures are compared in constant time.

mod canonical;
mod error;

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use canonical::{
    canonical_headers, canonical_query, canonical_uri, parse_query, QueryParam, Whitespace,
};
pub use error::Error;

/// The only algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Longest presigned lifetime AWS allows (7 days).
pub const MAX_PRESIGNED_EXPIRES_SECS: u64 = 604_800;

/// One HTTP request as received.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// HTTP method, as sent (upper-case).
    pub method: &'a str,
    /// Raw path as on the wire, still percent-encoded, no query.
    pub path: &'a str,
    /// Raw query string as on the wire, without `?`; `""` if none.
    pub query: &'a str,
    /// Every header in wire order, names as received (any case), repeated
    /// names repeated.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body, exactly as received.
    pub body: &'a [u8],
}

/// What the client presented (from the `Authorization` header or a presigned
/// query string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    /// Access key id from the credential scope.
    pub access_key_id: String,
    /// `yyyymmdd` from the credential scope.
    pub scope_date: String,
    /// Region from the credential scope.
    pub region: String,
    /// Service from the credential scope.
    pub service: String,
    /// `SignedHeaders`, as listed (lower-case, sorted by the signer).
    pub signed_headers: Vec<String>,
    /// Hex signature.
    pub signature: String,
    /// From `X-Amz-Date` (or `Date` header) / `X-Amz-Date` query parameter.
    pub request_time: OffsetDateTime,
    /// `X-Amz-Security-Token` header or query parameter.
    pub security_token: Option<String>,
    /// Whether this came from a presigned query string.
    pub presigned: bool,
    /// Presigned `X-Amz-Expires`.
    pub expires_secs: Option<u64>,
}

impl Presented {
    /// Checks the credential scope names this server's region and the
    /// expected service, with AWS's messages ([`Error::WrongScope`]).
    ///
    /// # Errors
    /// [`Error::WrongScope`] when region or service differ.
    pub fn check_scope(&self, region: &str, service: &str) -> Result<(), Error> {
        if self.region != region {
            return Err(Error::WrongScope(format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                self.region
            )));
        }
        if self.service != service {
            return Err(Error::WrongScope(format!(
                "Credential should be scoped to correct service: '{service}'. "
            )));
        }
        Ok(())
    }

    /// `date/region/service/aws4_request`.
    #[must_use]
    pub fn credential_scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.scope_date, self.region, self.service
        )
    }
}

/// Reads what the client presented, without checking the signature.
///
/// # Errors
/// [`Error::MissingAuthentication`] when there is no authentication at all,
/// [`Error::Incomplete`] / [`Error::WrongScope`] when it is malformed.
pub fn parse(req: &Request) -> Result<Presented, Error> {
    let auth = header(req, "authorization");
    let params = parse_query(req.query);
    let presigned = params.iter().any(|p| p.name == b"X-Amz-Algorithm");
    match (auth, presigned) {
        (None, false) => Err(Error::MissingAuthentication),
        (Some(_), true) => Err(Error::Incomplete(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"
                .to_owned(),
        )),
        (Some(auth), false) => parse_header_auth(req, auth),
        (None, true) => parse_presigned(&params),
    }
}

/// Verifies the signature with the secret key and checks the clock skew
/// window (and presigned expiry).
///
/// Checks, in order: the time window, the scope date, that `host` is signed,
/// then the signature.
///
/// # Errors
/// [`Error::Expired`], [`Error::NotYetCurrent`], [`Error::PresignedExpired`],
/// [`Error::ScopeDateMismatch`], [`Error::Incomplete`] or [`Error::Mismatch`].
pub fn verify(
    req: &Request,
    presented: &Presented,
    secret_access_key: &str,
    now: OffsetDateTime,
    max_skew: Duration,
) -> Result<(), Error> {
    let request_time = presented.request_time;
    if request_time > plus(now, max_skew) {
        return Err(Error::NotYetCurrent {
            request_time,
            now,
            max_skew,
        });
    }
    match (presented.presigned, presented.expires_secs) {
        (true, Some(expires_secs)) => {
            if now > plus(request_time, Duration::from_secs(expires_secs)) {
                return Err(Error::PresignedExpired {
                    request_time,
                    now,
                    expires_secs,
                });
            }
        }
        _ => {
            if request_time < minus(now, max_skew) {
                return Err(Error::Expired {
                    request_time,
                    now,
                    max_skew,
                });
            }
        }
    }
    let request_date = amz_date(request_time);
    if request_date.get(..8) != Some(presented.scope_date.as_str()) {
        return Err(Error::ScopeDateMismatch {
            scope_date: presented.scope_date.clone(),
            request_time,
        });
    }
    check_host_signed(&presented.signed_headers)?;

    let key = signing_key(
        secret_access_key,
        &presented.scope_date,
        &presented.region,
        &presented.service,
    );
    let (canonical_request, string_to_sign) =
        canonical_and_string_to_sign(req, presented, Variant::STANDARD);
    if signature_matches(&key, &string_to_sign, &presented.signature) {
        return Ok(());
    }
    for variant in alternatives(req, presented) {
        let (_, alt) = canonical_and_string_to_sign(req, presented, variant);
        if signature_matches(&key, &alt, &presented.signature) {
            return Ok(());
        }
    }
    Err(Error::Mismatch {
        canonical_request,
        string_to_sign,
    })
}

/// The canonical request AWS would compute for `req` as `presented` describes
/// it (whitespace collapsed as botocore does).
#[must_use]
pub fn canonical_request(req: &Request, presented: &Presented) -> String {
    canonical_and_string_to_sign(req, presented, Variant::STANDARD).0
}

/// The hex signature for `req` as `presented` describes it: what a correct
/// client would have sent. Useful for tests and debugging.
#[must_use]
pub fn expected_signature(req: &Request, presented: &Presented, secret_access_key: &str) -> String {
    let key = signing_key(
        secret_access_key,
        &presented.scope_date,
        &presented.region,
        &presented.service,
    );
    let (_, string_to_sign) = canonical_and_string_to_sign(req, presented, Variant::STANDARD);
    hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()))
}

/// `yyyymmddThhmmssZ` in UTC.
pub(crate) fn amz_date(t: OffsetDateTime) -> String {
    let t = t.checked_to_offset(UtcOffset::UTC).unwrap_or(t);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `t + d`, saturating at the latest representable time.
pub(crate) fn plus(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d))
        .unwrap_or(PrimitiveDateTime::MAX.assume_utc())
}

/// `t - d`, saturating at the earliest representable time.
pub(crate) fn minus(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| t.checked_sub(d))
        .unwrap_or(PrimitiveDateTime::MIN.assume_utc())
}

fn header<'a>(req: &Request<'a>, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

fn check_host_signed(signed: &[String]) -> Result<(), Error> {
    if signed
        .iter()
        .any(|h| h.eq_ignore_ascii_case("host") || h == ":authority")
    {
        Ok(())
    } else {
        Err(Error::Incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
        ))
    }
}

fn parse_header_auth(req: &Request, auth: &str) -> Result<Presented, Error> {
    let trimmed = auth.trim();
    let (algorithm, rest) = trimmed
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((trimmed, ""));
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    if algorithm == ALGORITHM {
        // AWS splits on commas and whitespace alike: `Credential=AKID /2015…`
        // is reported as the bad pair `'/2015…'`.
        for piece in rest
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|p| !p.is_empty())
        {
            let Some((key, value)) = piece.split_once('=') else {
                return Err(Error::Incomplete(format!(
                    "'{piece}' not a valid key=value pair (missing equal-sign) in Authorization header: '{auth}'."
                )));
            };
            match key {
                "Credential" => credential = Some(value),
                "SignedHeaders" => signed_headers = Some(value),
                "Signature" => signature = Some(value),
                _ => {}
            }
        }
    } else if algorithm.starts_with("AWS4-") {
        return Err(Error::Incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'"
        )));
    }
    // Anything else (a bearer token, SigV2) is read as a header with no
    // parameters, as AWS does: it answers with the list of what is missing.
    let date = header(req, "x-amz-date")
        .map(|v| (v, true))
        .or_else(|| header(req, "date").map(|v| (v, false)));
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if signature.is_none() {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    if signed_headers.is_none() {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    if date.is_none() {
        missing.push(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        );
    }
    let (Some(credential), Some(signed_headers), Some(signature), Some((date, is_amz))) =
        (credential, signed_headers, signature, date)
    else {
        return Err(Error::Incomplete(format!(
            "{} Authorization={auth}",
            missing.join(" ")
        )));
    };
    let (access_key_id, scope_date, region, service) = parse_credential(credential)?;
    let signed_headers = split_signed_headers(signed_headers);
    check_host_signed(&signed_headers)?;
    let request_time = if is_amz {
        parse_amz_date(date)?
    } else {
        parse_http_date(date)?
    };
    Ok(Presented {
        access_key_id,
        scope_date,
        region,
        service,
        signed_headers,
        signature: signature.to_owned(),
        request_time,
        security_token: header(req, "x-amz-security-token").map(|v| v.trim().to_owned()),
        presigned: false,
        expires_secs: None,
    })
}

fn parse_presigned(params: &[QueryParam]) -> Result<Presented, Error> {
    let get = |name: &str| {
        params
            .iter()
            .find(|p| p.name == name.as_bytes())
            .map(|p| String::from_utf8_lossy(&p.value).into_owned())
    };
    let algorithm = get("X-Amz-Algorithm");
    let credential = get("X-Amz-Credential");
    let signature = get("X-Amz-Signature");
    let signed_headers = get("X-Amz-SignedHeaders");
    let date = get("X-Amz-Date");
    let (Some(algorithm), Some(credential), Some(signature), Some(signed_headers), Some(date)) =
        (algorithm, credential, signature, signed_headers, date)
    else {
        let mut msg = String::new();
        for name in [
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Signature",
            "X-Amz-SignedHeaders",
            "X-Amz-Date",
        ] {
            if get(name).is_none() {
                msg.push_str(&format!(
                    "AWS query-string parameters must include '{name}'. "
                ));
            }
        }
        msg.push_str("Re-examine the query-string parameters.");
        return Err(Error::Incomplete(msg));
    };
    if algorithm != ALGORITHM {
        return Err(Error::Incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'"
        )));
    }
    let (access_key_id, scope_date, region, service) = parse_credential(&credential)?;
    let signed_headers = split_signed_headers(&signed_headers);
    check_host_signed(&signed_headers)?;
    let request_time = parse_amz_date(&date)?;
    let expires_secs = match get("X-Amz-Expires") {
        None => None,
        Some(v) => Some(parse_expires(&v)?),
    };
    Ok(Presented {
        access_key_id,
        scope_date,
        region,
        service,
        signed_headers,
        signature,
        request_time,
        security_token: get("X-Amz-Security-Token"),
        presigned: true,
        expires_secs,
    })
}

fn parse_expires(v: &str) -> Result<u64, Error> {
    if let Some(rest) = v.strip_prefix('-') {
        if rest.parse::<u64>().is_ok() {
            return Err(Error::Incomplete(
                "X-Amz-Expires must be non-negative".to_owned(),
            ));
        }
    }
    let secs: u64 = v
        .parse()
        .map_err(|_| Error::Incomplete("X-Amz-Expires should be a number".to_owned()))?;
    if secs > MAX_PRESIGNED_EXPIRES_SECS {
        return Err(Error::Incomplete(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800".to_owned(),
        ));
    }
    Ok(secs)
}

fn split_signed_headers(v: &str) -> Vec<String> {
    v.split(';')
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `keyid/date/region/service/aws4_request`.
fn parse_credential(credential: &str) -> Result<(String, String, String, String), Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, terminator] = parts.as_slice() else {
        return Err(Error::Incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        )));
    };
    if *terminator != "aws4_request" {
        return Err(Error::WrongScope(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
        )));
    }
    Ok((
        (*key).to_owned(),
        (*date).to_owned(),
        (*region).to_owned(),
        (*service).to_owned(),
    ))
}

fn bad_date(v: &str) -> Error {
    Error::Incomplete(format!(
        "Date must be in ISO-8601 'basic format'. Got '{v}'. See http://en.wikipedia.org/wiki/ISO_8601"
    ))
}

/// `yyyymmddThhmmssZ`, nothing else.
fn parse_amz_date(v: &str) -> Result<OffsetDateTime, Error> {
    let format = time::macros::format_description!(
        "[year padding:zero repr:full][month][day]T[hour][minute][second]Z"
    );
    if v.len() != 16 {
        return Err(bad_date(v));
    }
    PrimitiveDateTime::parse(v, format)
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|_| bad_date(v))
}

/// An HTTP `Date` header (RFC 7231 IMF-fixdate, e.g. `Sun, 06 Nov 1994
/// 08:49:37 GMT`).
fn parse_http_date(v: &str) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::parse(v.trim(), &time::format_description::well_known::Rfc2822)
        .map_err(|_| bad_date(v))
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this never fails.
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 32],
    }
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

fn signature_matches(key: &[u8; 32], string_to_sign: &str, presented: &str) -> bool {
    let computed = hex::encode(hmac_sha256(key, string_to_sign.as_bytes()));
    bool::from(computed.as_bytes().ct_eq(presented.as_bytes()))
}

/// One way signers legitimately differ; [`verify`] accepts any of them.
#[derive(Debug, Clone, Copy)]
struct Variant {
    whitespace: Whitespace,
    /// Leave `X-Amz-Security-Token` out of a presigned canonical query: some
    /// signers add the token after signing (the suite's
    /// `post-sts-header-after`), as they may leave the header unsigned.
    token_unsigned: bool,
}

impl Variant {
    const STANDARD: Variant = Variant {
        whitespace: Whitespace::Any,
        token_unsigned: false,
    };
}

/// The variants worth trying after [`Variant::STANDARD`] fails: only those
/// that change the canonical request of this request.
fn alternatives(req: &Request, presented: &Presented) -> Vec<Variant> {
    let whitespace = req.headers.iter().any(|(name, value)| {
        value.contains(['\t', '\r', '\n'])
            && presented
                .signed_headers
                .iter()
                .any(|s| name.trim().eq_ignore_ascii_case(s))
    });
    let token = presented.presigned && presented.security_token.is_some();
    let mut out = Vec::new();
    if whitespace {
        out.push(Variant {
            whitespace: Whitespace::SpacesOnly,
            token_unsigned: false,
        });
    }
    if token {
        out.push(Variant {
            whitespace: Whitespace::Any,
            token_unsigned: true,
        });
    }
    if whitespace && token {
        out.push(Variant {
            whitespace: Whitespace::SpacesOnly,
            token_unsigned: true,
        });
    }
    out
}

fn canonical_and_string_to_sign(
    req: &Request,
    presented: &Presented,
    variant: Variant,
) -> (String, String) {
    let params = parse_query(req.query);
    let mut skip: Vec<&[u8]> = Vec::new();
    if presented.presigned {
        skip.push(b"X-Amz-Signature");
        if variant.token_unsigned {
            skip.push(b"X-Amz-Security-Token");
        }
    }
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_uri(req.path),
        canonical_query(&params, &skip),
        canonical_headers(req.headers, &presented.signed_headers, variant.whitespace),
        presented.signed_headers.join(";"),
        sha256_hex(req.body),
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        amz_date(presented.request_time),
        presented.credential_scope(),
        sha256_hex(canonical_request.as_bytes()),
    );
    (canonical_request, string_to_sign)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn huge_windows_saturate_instead_of_shrinking() {
        let now = datetime!(2024-01-15 12:00:00 UTC);
        assert!(plus(now, Duration::MAX) > now);
        assert!(minus(now, Duration::MAX) < now);
        assert_eq!(amz_date(now), "20240115T120000Z");
    }

    #[test]
    fn amz_date_parsing_is_strict() {
        assert!(parse_amz_date("20150830T123600Z").is_ok());
        for bad in [
            "20150830T123600",
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
            "+20150830T12360Z",
            "",
        ] {
            assert!(parse_amz_date(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT").unwrap(),
            datetime!(2015-08-30 12:36:00 UTC)
        );
    }

    #[test]
    fn expires_bounds() {
        assert_eq!(parse_expires("604800").unwrap(), 604_800);
        assert_eq!(
            parse_expires("-1").unwrap_err().to_string(),
            "X-Amz-Expires must be non-negative"
        );
        assert_eq!(
            parse_expires("abc").unwrap_err().to_string(),
            "X-Amz-Expires should be a number"
        );
    }
}
