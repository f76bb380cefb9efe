//! Types generated from the AWS service models by `codegen/generate.py`.
//! (`query_errors.rs` is not a module: error.rs includes it.)
pub mod cloudtrail;
pub mod cloudtrail_data;
pub mod iam;
pub mod sts;
