//! Converts CloudTrail log records into CloudTrail Lake integration events, i.e. the
//! `auditEvents[]` entries of `PutAuditEvents` (`aws cloudtrail-data put-audit-events`), so
//! existing CloudTrail history can be sent through a channel. Used by `cairn convert`.
//!
//! # Input files ([`read_records`])
//!
//! Any of these, optionally gzip-compressed (detected by the magic bytes `1f 8b`, never by the
//! file name; concatenated gzip members are read as one stream; a UTF-8 BOM is ignored):
//!
//! * a CloudTrail log file `{"Records":[…]}` (what a trail writes to S3);
//! * a JSON array of records (e.g. Stratus Red Team detonation logs);
//! * NDJSON / concatenated JSON: one record object per line (e.g. Logstash or Athena exports);
//!   lines may also be `{"Records":[…]}` documents or arrays, which are flattened;
//! * a single record object.
//!
//! An empty file or `{"Records":[]}` yields no records. Errors name the file: invalid JSON
//! gives the line and column (of the decompressed text for gzip input), a truncated/corrupt gzip
//! stream is reported as such, a CloudTrail **digest** file (`CloudTrail-Digest/`, has
//! `digestStartTime`/`logFiles`) is rejected as "not an event log file", and a non-object
//! element of `Records` or of an array is reported with its 0-based index.
//!
//! # Mapping ([`to_event_data`])
//!
//! | eventData field | from the CloudTrail record |
//! |---|---|
//! | `version` | `eventVersion` (required) |
//! | `userIdentity.type` | `userIdentity.type`; `"Unknown"` when missing/empty (e.g. `AwsServiceEvent` identities without a type, Insight events without `userIdentity`) |
//! | `userIdentity.principalId` | `userIdentity.principalId`, else `userIdentity.arn`, else `userIdentity.invokedBy`, else `"unknown"` |
//! | `userIdentity.details` | every other non-null `userIdentity` field (`accountId`, `arn`, `accessKeyId`, `userName`, `invokedBy`, `sessionContext`, `identityStoreArn`, …) as given; omitted when empty. `type`/`principalId` also stay here when they had to be truncated |
//! | `userAgent`, `errorCode`, `errorMessage`, `sourceIPAddress` | copied (omitted when absent/null) |
//! | `eventSource`, `eventName` | copied (required); Insight events, which have them only inside `insightDetails`, take `insightDetails.eventSource`/`eventName` (the API the insight is about; `insightDetails` itself, with `state` and `insightType`, stays in `additionalEventData.cloudTrail`) |
//! | `eventTime` | `eventTime`, else `@timestamp` (Logstash), normalised to `yyyy-MM-ddTHH:mm:ssZ` UTC (fraction dropped, offsets applied, epoch seconds/milliseconds accepted) |
//! | `UID` | `eventID`, else `requestID`, else `sha256-<hex of the compact record JSON>`; a value over 1024 bytes is replaced by `sha256-<hex of it>` |
//! | `requestParameters`, `responseElements` | the object as given; absent/null → omitted; a non-object value → `{"value": …}` |
//! | `recipientAccountId` | the channel owner's account id passed in (must be 12 digits) |
//! | `additionalEventData` | the record's `additionalEventData` object (non-object → `{"value": …}`; an object that already has a `cloudTrail` key is also wrapped as `{"value": …}`), plus `cloudTrail` (below) |
//! | `additionalEventData.cloudTrail` | every other non-null top-level field of the record: `eventID`, `requestID`, `recipientAccountId` (the original), `awsRegion`, `eventType`, `eventCategory`, `readOnly`, `managementEvent`, `resources`, `tlsDetails`, `apiVersion`, `sharedEventID`, `vpcEndpointId`, `sessionCredentialFromConsole`, `serviceEventDetails`, `insightDetails`, `addendum`, `@timestamp`, `@version`, …; also the original `eventTime` when normalisation changed it, the full text of every truncated field, and any mapped field whose value had the wrong JSON type (an object where a string belongs) |
//!
//! Non-string scalars (numbers, booleans) in string fields are converted to their JSON text.
//! Output key order is not significant.
//!
//! # Limits
//!
//! The service rejects over-long fields (SPEC §4), so the converter enforces them, counting
//! UTF-8 **bytes** (never more than the documented characters) and kB as 1000 bytes:
//!
//! * `version` ≤ 256, `userIdentity.type` ≤ 128, `principalId`/`userAgent`/`eventSource`/
//!   `eventName`/`UID` ≤ 1024, `errorCode`/`errorMessage` ≤ 256: a longer string is cut at a
//!   character boundary and ends in [`TRUNCATION_MARKER`] (`...[truncated]`); the full text is
//!   kept in `additionalEventData.cloudTrail.<field>` and the field name is listed in
//!   `additionalEventData.cloudTrail.truncatedFields` (Stratus records have multi-kB
//!   `errorMessage`s with encoded authorization failures). `sourceIPAddress` has no documented
//!   limit and is copied unchanged (CloudTrail puts service names such as `AWS Internal` there).
//! * `requestParameters`, `responseElements` ≤ 100 000 bytes serialized: the largest top-level
//!   entries are dropped until the object fits.
//! * `additionalEventData` ≤ 28 000 bytes serialized: the largest parts (top-level keys of the
//!   original object or keys of `cloudTrail`) are dropped first until it fits.
//! * Every dropped part is noted in `additionalEventData.cloudTrail.droppedFields` as
//!   `{"field": "<path>", "bytes": <serialized size>}`.
//!
//! # Per-record errors
//!
//! A record is not converted (an [`Error`] naming its eventID/requestID) when it is not an
//! object, when `eventVersion`, `eventSource`, `eventName` or the time (`eventTime`/
//! `@timestamp`) is missing, null, empty or not a string, or when the time cannot be parsed.
//! Example: AWS's own `SerializerAllFieldsNull` fixture record (everything null except
//! `eventVersion`) → "required field `eventSource` is missing or null".
//!
//! # Entries and batches
//!
//! [`to_audit_event`] serializes the eventData compactly; `eventDataChecksum` is
//! base64(SHA-256(eventData bytes)); `id` is the record's `eventID` when it matches
//! `^[-_A-Za-z0-9]{1,128}$`, else the 64-char hex SHA-256 of the UID. [`batches`] keeps input
//! order and starts a new batch when adding an event would exceed `max_events` (clamped to
//! 1–100) or `max_bytes` of the `{"auditEvents":[…]}` JSON, or would repeat an `id` already in
//! the batch. Leave room in `max_bytes` for `channelArn`/`externalId` (e.g. pass
//! 1 000 000 − 4 096). A single event larger than `max_bytes` travels alone in its batch.
//!
//! ```
//! use trail_convert::{batches, to_audit_event};
//! let record = serde_json::json!({
//!     "eventVersion": "1.08", "eventTime": "2023-07-10T11:45:01Z",
//!     "eventSource": "iam.amazonaws.com", "eventName": "ListUsers",
//!     "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "userName": "alice"},
//!     "eventID": "0b5e2a6c-1111-2222-3333-444455556666", "awsRegion": "us-east-1",
//! });
//! let event = to_audit_event(&record, "111122223333")?;
//! assert_eq!(event.id, "0b5e2a6c-1111-2222-3333-444455556666");
//! let data: serde_json::Value = serde_json::from_str(&event.event_data).unwrap();
//! assert_eq!(data["userIdentity"]["details"]["userName"], "alice");
//! assert_eq!(data["additionalEventData"]["cloudTrail"]["awsRegion"], "us-east-1");
//! let requests = batches(vec![event], 100, 1_000_000 - 4_096);
//! assert_eq!(requests.len(), 1);
//! # Ok::<(), trail_convert::Error>(())
//! ```

mod batch;
mod convert;
mod read;
mod time;

use std::path::PathBuf;

use serde::Serialize;

pub use batch::batches;
pub use convert::{is_valid_id, to_audit_event, to_event_data, CLOUDTRAIL_KEY, TRUNCATION_MARKER};
pub use read::{parse_records, read_records};

/// Field limits of the integration event schema (SPEC §4), in UTF-8 bytes.
pub mod limits {
    /// `version`.
    pub const VERSION: usize = 256;
    /// `userIdentity.type`.
    pub const USER_IDENTITY_TYPE: usize = 128;
    /// `userIdentity.principalId`.
    pub const PRINCIPAL_ID: usize = 1024;
    /// `userAgent`.
    pub const USER_AGENT: usize = 1024;
    /// `eventSource`.
    pub const EVENT_SOURCE: usize = 1024;
    /// `eventName`.
    pub const EVENT_NAME: usize = 1024;
    /// `UID`.
    pub const UID: usize = 1024;
    /// `errorCode`.
    pub const ERROR_CODE: usize = 256;
    /// `errorMessage`.
    pub const ERROR_MESSAGE: usize = 256;
    /// `requestParameters` and `responseElements`, serialized.
    pub const PAYLOAD_BYTES: usize = 100_000;
    /// `additionalEventData`, serialized.
    pub const ADDITIONAL_EVENT_DATA_BYTES: usize = 28_000;
    /// Events per `PutAuditEvents` request.
    pub const MAX_EVENTS_PER_REQUEST: usize = 100;
}

/// One `PutAuditEvents` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// Entry id (`^[-_A-Za-z0-9]{1,128}$`).
    pub id: String,
    /// The integration event, compact JSON.
    #[serde(rename = "eventData")]
    pub event_data: String,
    /// base64(SHA-256(`event_data` bytes)).
    #[serde(rename = "eventDataChecksum")]
    pub event_data_checksum: String,
}

/// Why a file or a record could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file starts like gzip but does not decompress.
    #[error("{}: not valid gzip data: {source}", path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder error.
        source: std::io::Error,
    },
    /// The file (after decompression) is not valid JSON.
    #[error("{}: invalid JSON at line {line}, column {column}{}: {message}", path.display(), if *gzip { " of the decompressed text" } else { "" })]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
        /// Whether the file was gzip-compressed.
        gzip: bool,
    },
    /// Valid JSON that is not a CloudTrail log (digest file, non-object record, …).
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong and where.
        message: String,
    },
    /// The record is not a JSON object.
    #[error("record is {found}, expected a JSON object")]
    NotAnObject {
        /// Kind of JSON value found.
        found: &'static str,
    },
    /// A required field is absent or null.
    #[error("record {record}: required field `{field}` is missing or null")]
    MissingField {
        /// eventID/requestID of the record.
        record: String,
        /// CloudTrail field name.
        field: &'static str,
    },
    /// A field has an unusable value.
    #[error("record {record}: field `{field}` {problem}")]
    InvalidField {
        /// eventID/requestID of the record.
        record: String,
        /// CloudTrail field name.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The recipient account id is not 12 digits.
    #[error("recipient account id `{0}` is not a 12-digit AWS account id")]
    InvalidRecipient(String),
}

/// "an object", "a string", … for messages.
pub(crate) fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
