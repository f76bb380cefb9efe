//! AWS error codes and their HTTP statuses, per protocol.
//!
//! Statuses come from the Smithy models' `@httpError` traits (the botocore
//! JSON models drop them); cloudtrail-data's errors have none and so default
//! to 400. The IAM and STS codes that their operations list are generated from
//! the models' `error.code` and `httpStatusCode` (generated/query_errors.rs);
//! the awsQuery common codes are listed by hand below. See shared/spec/SPEC.md §2.

macro_rules! codes {
    ($( $variant:ident = $code:literal, $status:literal; )*) => {
        /// Every error code Cairn answers with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $( #[doc = $code] $variant, )* }

        impl ErrorCode {
            /// The code exactly as AWS spells it (`__type`, `x-amzn-ErrorType`, `<Code>`).
            pub fn as_str(self) -> &'static str {
                match self { $( Self::$variant => $code, )* }
            }
            /// The HTTP status AWS answers this code with.
            pub fn status(self) -> u16 {
                match self { $( Self::$variant => $status, )* }
            }
        }
    };
}

// The awsQuery model codes (NoSuchEntity, EntityAlreadyExists, …) come first
// from the generated list; the hand-written ones follow.
include!("generated/query_errors.rs");

with_query_model_codes! {
    // Common to the JSON services.
    AccessDenied = "AccessDeniedException", 403;
    // An expired session token on a JSON service: 400, as DynamoDB answers
    // and SDKs expect (botocore and the Rust SDK refresh credentials on it).
    ExpiredTokenException = "ExpiredTokenException", 400;
    IncompleteSignature = "IncompleteSignatureException", 400;
    InternalFailure = "InternalFailure", 500;
    InvalidSignature = "InvalidSignatureException", 403;
    MissingAuthenticationToken = "MissingAuthenticationTokenException", 403;
    SerializationException = "SerializationException", 400;
    ServiceUnavailable = "ServiceUnavailableException", 503;
    Throttling = "ThrottlingException", 429;
    UnknownOperation = "UnknownOperationException", 400;
    UnrecognizedClient = "UnrecognizedClientException", 403;
    Validation = "ValidationException", 400;
    // awsQuery (IAM, STS) forms of the authentication errors.
    QueryInvalidClientTokenId = "InvalidClientTokenId", 403;
    QuerySignatureDoesNotMatch = "SignatureDoesNotMatch", 403;
    QueryMissingAuthenticationToken = "MissingAuthenticationToken", 403;
    QueryIncompleteSignature = "IncompleteSignature", 400;
    QueryInvalidAction = "InvalidAction", 400;
    QueryMissingAction = "MissingAction", 400;
    QueryMissingParameter = "MissingParameter", 400;
    // Constraint violations and malformed parameters (the JSON services'
    // `ValidationException`).
    QueryValidationError = "ValidationError", 400;
    QueryAccessDenied = "AccessDenied", 403;
    // An expired session token, as IAM (and STS for its callers) reports it;
    // the JSON services say `ExpiredTokenException` (400), and STS's model
    // has an `ExpiredTokenException` of its own (400, StsExpiredTokenException).
    QueryExpiredToken = "ExpiredToken", 403;
    // cloudtrail-data (restJson1): bare shape names, all 400.
    ChannelInsufficientPermission = "ChannelInsufficientPermission", 400;
    ChannelNotFound = "ChannelNotFound", 400;
    ChannelUnsupportedSchema = "ChannelUnsupportedSchema", 400;
    DuplicatedAuditEventId = "DuplicatedAuditEventId", 400;
    InvalidChannelArn = "InvalidChannelARN", 400;
    DataUnsupportedOperation = "UnsupportedOperationException", 400;
    // cloudtrail (awsJson1_1).
    AccountHasOngoingImport = "AccountHasOngoingImportException", 400;
    ChannelArnInvalid = "ChannelARNInvalidException", 400;
    ChannelAlreadyExists = "ChannelAlreadyExistsException", 400;
    ChannelExistsForEds = "ChannelExistsForEDSException", 400;
    ChannelMaxLimitExceeded = "ChannelMaxLimitExceededException", 400;
    ChannelNotFoundException = "ChannelNotFoundException", 404;
    Conflict = "ConflictException", 409;
    EventDataStoreArnInvalid = "EventDataStoreARNInvalidException", 400;
    EventDataStoreAlreadyExists = "EventDataStoreAlreadyExistsException", 400;
    EventDataStoreMaxLimitExceeded = "EventDataStoreMaxLimitExceededException", 400;
    EventDataStoreNotFound = "EventDataStoreNotFoundException", 404;
    EventDataStoreTerminationProtected = "EventDataStoreTerminationProtectedException", 400;
    ImportNotFound = "ImportNotFoundException", 400;
    InactiveEventDataStore = "InactiveEventDataStoreException", 400;
    InactiveQuery = "InactiveQueryException", 400;
    InvalidDateRange = "InvalidDateRangeException", 400;
    InvalidEventDataStoreCategory = "InvalidEventDataStoreCategoryException", 400;
    InvalidEventDataStoreStatus = "InvalidEventDataStoreStatusException", 400;
    InvalidEventCategory = "InvalidEventCategoryException", 400;
    InvalidImportSource = "InvalidImportSourceException", 400;
    InvalidEventSelectors = "InvalidEventSelectorsException", 400;
    InvalidLookupAttributes = "InvalidLookupAttributesException", 400;
    InvalidMaxResults = "InvalidMaxResultsException", 400;
    InvalidNextToken = "InvalidNextTokenException", 400;
    InvalidParameter = "InvalidParameterException", 400;
    InvalidQueryStatement = "InvalidQueryStatementException", 400;
    InvalidQueryStatus = "InvalidQueryStatusException", 400;
    InvalidSource = "InvalidSourceException", 400;
    InvalidTagParameter = "InvalidTagParameterException", 400;
    InvalidTimeRange = "InvalidTimeRangeException", 400;
    MaxConcurrentQueries = "MaxConcurrentQueriesException", 429;
    OperationNotPermitted = "OperationNotPermittedException", 400;
    QueryIdNotFound = "QueryIdNotFoundException", 404;
    ResourceArnNotValid = "ResourceARNNotValidException", 400;
    ResourceNotFound = "ResourceNotFoundException", 400;
    ResourcePolicyNotFound = "ResourcePolicyNotFoundException", 404;
    ResourcePolicyNotValid = "ResourcePolicyNotValidException", 400;
    ResourceTypeNotSupported = "ResourceTypeNotSupportedException", 400;
    TagsLimitExceeded = "TagsLimitExceededException", 400;
    UnsupportedOperation = "UnsupportedOperationException", 400;
}

/// An error as it goes on the wire: a code and a message that says what was
/// wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    /// The AWS error code.
    pub code: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}
