//! Encoding of responses and errors, and decoding of JSON bodies, per protocol.

use crate::{ApiError, ErrorCode, QueryService, Validator};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The protocol a request arrived in; it decides how errors are shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `cloudtrail` control plane.
    AwsJson11,
    /// `cloudtrail-data`.
    RestJson1,
    /// IAM and STS.
    AwsQuery,
}

/// A response ready to be written: protocol-neutral so that the HTTP server
/// stays a thin adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct WireResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers besides the request id.
    pub headers: Vec<(&'static str, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// The `X-Amz-Target` prefixes of the CloudTrail API: botocore and the AWS CLI
/// send the model's `targetPrefix`; Smithy-generated SDKs (Rust, JS v3) send
/// the short form.
pub const CLOUDTRAIL_TARGET_PREFIXES: [&str; 2] = [
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.",
    "CloudTrail_20131101.",
];

/// The operation name named by an `X-Amz-Target` header, if it is CloudTrail's.
pub fn cloudtrail_operation(target: &str) -> Option<&str> {
    CLOUDTRAIL_TARGET_PREFIXES
        .iter()
        .find_map(|prefix| target.strip_prefix(prefix))
        .filter(|op| !op.is_empty() && op.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn content_type(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::AwsJson11 => "application/x-amz-json-1.1",
        Protocol::RestJson1 => "application/json",
        Protocol::AwsQuery => "text/xml",
    }
}

/// A successful JSON response (awsJson1_1 or restJson1; awsQuery answers
/// with the generated `Response::to_wire`).
pub fn json_response<T: Serialize>(protocol: Protocol, body: &T) -> WireResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => WireResponse {
            status: 200,
            headers: vec![("content-type", content_type(protocol).to_string())],
            body: bytes,
        },
        Err(e) => json_error(
            protocol,
            &ApiError::new(
                ErrorCode::InternalFailure,
                format!("could not encode the response: {e}"),
            ),
        ),
    }
}

/// An error response in the protocol's shape.
///
/// `request_id` goes into the awsQuery document (`<RequestId>`); the JSON
/// protocols carry it only in the `x-amzn-RequestId` header, which the server
/// sets. For awsQuery this uses IAM's namespace: call
/// [`query_error_response`](crate::query_error_response) with the service
/// when it is known (botocore ignores the namespace either way).
pub fn error_response(protocol: Protocol, err: &ApiError, request_id: &str) -> WireResponse {
    match protocol {
        Protocol::AwsJson11 | Protocol::RestJson1 => json_error(protocol, err),
        Protocol::AwsQuery => crate::query_error_response(QueryService::Iam, err, request_id),
    }
}

fn json_error(protocol: Protocol, err: &ApiError) -> WireResponse {
    let code = err.code.as_str();
    // cloudtrail-data's error shapes have a lower-case `message` member,
    // cloudtrail's a `Message`; clients read either, but the model's
    // spelling is what SDKs generate accessors for.
    let key = if protocol == Protocol::RestJson1 {
        "message"
    } else {
        "Message"
    };
    let body = serde_json::json!({ "__type": code, key: err.message });
    WireResponse {
        status: err.code.status(),
        headers: vec![
            ("content-type", content_type(protocol).to_string()),
            ("x-amzn-errortype", code.to_string()),
        ],
        body: body.to_string().into_bytes(),
    }
}

/// Decodes a JSON request body into a generated input type and checks the
/// model's constraints. An empty body counts as `{}` (botocore sends `{}`,
/// some clients send nothing for inputs without members).
///
/// `validation` is the code constraint violations are reported with:
/// `ValidationException` for cloudtrail-data, `InvalidParameterException`
/// for cloudtrail, whose model lists no ValidationException.
pub fn decode_json<T, F>(body: &[u8], validation: ErrorCode, validate: F) -> Result<T, ApiError>
where
    T: DeserializeOwned,
    F: FnOnce(&T, &mut Validator),
{
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let value: T = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorCode::SerializationException,
            format!("The request body could not be read as the operation's JSON input: {e}"),
        )
    })?;
    let mut v = Validator::new();
    validate(&value, &mut v);
    match v.message() {
        None => Ok(value),
        Some(message) => Err(ApiError::new(validation, message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_target_prefixes_route() {
        assert_eq!(
            cloudtrail_operation(
                "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.ListChannels"
            ),
            Some("ListChannels")
        );
        assert_eq!(
            cloudtrail_operation("CloudTrail_20131101.ListChannels"),
            Some("ListChannels")
        );
        assert_eq!(cloudtrail_operation("DynamoDB_20120810.ListTables"), None);
        assert_eq!(cloudtrail_operation("CloudTrail_20131101."), None);
    }

    #[test]
    fn rest_json_errors_carry_the_type_header_and_lower_case_message() {
        let r = error_response(
            Protocol::RestJson1,
            &ApiError::new(ErrorCode::ChannelNotFound, "no such channel"),
            "req-1",
        );
        assert_eq!(r.status, 400);
        assert!(r
            .headers
            .contains(&("x-amzn-errortype", "ChannelNotFound".to_string())));
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        assert_eq!(body["__type"], "ChannelNotFound");
        assert_eq!(body["message"], "no such channel");
    }

    #[test]
    fn json_errors_use_capital_message_and_model_status() {
        let r = error_response(
            Protocol::AwsJson11,
            &ApiError::new(ErrorCode::EventDataStoreNotFound, "gone"),
            "req-1",
        );
        assert_eq!(r.status, 404);
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        assert_eq!(body["Message"], "gone");
    }

    #[test]
    fn decode_reports_type_errors_and_constraints() {
        use crate::cloudtrail::GetChannelRequest;
        let err = decode_json::<GetChannelRequest, _>(
            b"{\"Channel\": 5}",
            ErrorCode::InvalidParameter,
            |r, v| r.validate_into(v, ""),
        )
        .err();
        assert_eq!(err.map(|e| e.code), Some(ErrorCode::SerializationException));
        let err =
            decode_json::<GetChannelRequest, _>(b"{}", ErrorCode::InvalidParameter, |r, v| {
                r.validate_into(v, "")
            })
            .err();
        assert_eq!(err.map(|e| e.code), Some(ErrorCode::InvalidParameter));
        let ok = decode_json::<GetChannelRequest, _>(
            b"{\"Channel\": \"abc\"}",
            ErrorCode::InvalidParameter,
            |r, v| r.validate_into(v, ""),
        );
        assert!(ok.is_ok());
    }
}
