//! The AWS wire protocols Cairn speaks.
//!
//! - `cloudtrail-data` (PutAuditEvents): restJson1; errors carry `x-amzn-ErrorType`
//!   and a body `{"__type", "message"}`.
//! - `cloudtrail` (the Lake control plane): awsJson1_1 behind `X-Amz-Target`
//!   (both the botocore and the Smithy prefix); errors carry `{"__type", "Message"}`;
//!   timestamps are epoch seconds as JSON numbers.
//!
//! Request and response types are generated from the AWS models
//! (`codegen/generate.py`), so no member name is typed by hand.
#![warn(missing_docs)]

mod error;
pub mod generated;
mod protocol;
mod validate;

pub use error::{ApiError, ErrorCode};
pub use generated::{cloudtrail, cloudtrail_data};
pub use protocol::{
    cloudtrail_operation, decode_json, error_response, json_response, Protocol, WireResponse,
    CLOUDTRAIL_TARGET_PREFIXES,
};
pub use validate::Validator;
