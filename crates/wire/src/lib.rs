//! The AWS wire protocols Cairn speaks.
//!
//! - `cloudtrail-data` (PutAuditEvents): restJson1; errors carry `x-amzn-ErrorType`
//!   and a body `{"__type", "message"}`.
//! - `cloudtrail` (the Lake control plane): awsJson1_1 behind `X-Amz-Target`
//!   (both the botocore and the Smithy prefix); errors carry `{"__type", "Message"}`;
//!   timestamps are epoch seconds as JSON numbers.
//! - IAM (`Version=2010-05-08`) and STS (`Version=2011-06-15`): awsQuery, a
//!   form-encoded `POST /` answered with XML; errors are
//!   `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`
//!   with the model's `error.code` (`NoSuchEntity`, not the shape name).
//!   Timestamps are ISO 8601 `String`s (`2026-01-01T00:00:00Z`) that the
//!   domain produces; policy documents are plain JSON `String`s in the types,
//!   URL-encoded on the way out as IAM does. See [`query`].
//!
//! Request and response types are generated from the AWS models
//! (`codegen/generate.py`), so no member name is typed by hand.
//!
//! An awsQuery request, end to end:
//!
//! ```
//! use wire::{iam, QueryForm, QueryRequest, QueryService};
//! # fn main() -> Result<(), wire::ApiError> {
//! let form = QueryForm::parse(b"Action=GetUser&Version=2010-05-08&UserName=bob")?;
//! let service = QueryService::for_form(&form, Some("iam"))?; // signing name as fallback
//! let QueryRequest::Iam(iam::Request::GetUser(input)) = service.decode(&form)? else {
//!     unreachable!()
//! };
//! assert_eq!(input.user_name.as_deref(), Some("bob"));
//! let output = iam::GetUserResponse::default(); // filled in by the domain
//! let http = iam::Response::GetUser(output).to_wire("request-id");
//! assert_eq!(http.status, 200);
//! // Errors: wire::query_error_response(service, &api_error, "request-id").
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod error;
pub mod generated;
mod protocol;
pub mod query;
#[cfg(test)]
mod query_tests;
mod validate;

pub use error::{ApiError, ErrorCode};
pub use generated::{cloudtrail, cloudtrail_data, iam, sts};
pub use protocol::{
    cloudtrail_operation, decode_json, error_response, json_response, Protocol, WireResponse,
    CLOUDTRAIL_TARGET_PREFIXES,
};
pub use query::{
    decode_policy_document, encode_policy_document, query_error_response, query_response,
    QueryForm, QueryRequest, QueryResponse, QueryService,
};
pub use validate::Validator;
