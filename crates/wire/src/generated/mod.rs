//! Types generated from the AWS service models by `codegen/generate.py`.
pub mod cloudtrail;
pub mod cloudtrail_data;
