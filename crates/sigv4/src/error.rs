//! Errors, with AWS's own message texts as their `Display`.

use std::time::Duration;

use time::OffsetDateTime;

use crate::{amz_date, minus, plus};

/// Why a request failed authentication.
///
/// `Display` is the message AWS puts in the error body; the server picks the
/// error *code* per protocol (see each variant).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Neither an `Authorization` header nor an `X-Amz-Algorithm` query
    /// parameter. AWS: `MissingAuthenticationTokenException` (JSON) /
    /// `MissingAuthenticationToken` (query), HTTP 403.
    #[error("Missing Authentication Token")]
    MissingAuthentication,

    /// The authentication information is malformed or incomplete: missing
    /// `Credential`/`SignedHeaders`/`Signature`, no date, bad credential
    /// shape, `host` not signed, unparsable date, bad `X-Amz-Expires`.
    /// AWS: `IncompleteSignatureException` / `IncompleteSignature`, HTTP 400.
    #[error("{0}")]
    Incomplete(String),

    /// The credential scope names another region, service or terminator.
    /// AWS: `InvalidSignatureException` / `SignatureDoesNotMatch`, HTTP 403.
    #[error("{0}")]
    WrongScope(String),

    /// The date in the credential scope is not the date of the request time.
    /// AWS: `InvalidSignatureException` / `SignatureDoesNotMatch`, HTTP 403.
    #[error(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{}', from '{}'.",
        amz_date(*request_time).get(..8).unwrap_or_default(),
        amz_date(*request_time)
    )]
    ScopeDateMismatch {
        /// The `yyyymmdd` from the credential scope.
        scope_date: String,
        /// The request time (from `X-Amz-Date` or `Date`).
        request_time: OffsetDateTime,
    },

    /// The request time is older than `now - max_skew`. The text is parsed by
    /// SDKs' clock-skew correction, so it must stay byte-exact.
    /// AWS: `InvalidSignatureException` / `SignatureDoesNotMatch`, HTTP 403.
    #[error(
        "Signature expired: {} is now earlier than {} ({} - {}.)",
        amz_date(*request_time),
        amz_date(minus(*now, *max_skew)),
        amz_date(*now),
        window(*max_skew)
    )]
    Expired {
        /// When the client says it signed.
        request_time: OffsetDateTime,
        /// The server's clock.
        now: OffsetDateTime,
        /// The allowed skew window.
        max_skew: Duration,
    },

    /// The request time is later than `now + max_skew`.
    /// AWS: `InvalidSignatureException` / `SignatureDoesNotMatch`, HTTP 403.
    #[error(
        "Signature not yet current: {} is still later than {} ({} + {}.)",
        amz_date(*request_time),
        amz_date(plus(*now, *max_skew)),
        amz_date(*now),
        window(*max_skew)
    )]
    NotYetCurrent {
        /// When the client says it signed.
        request_time: OffsetDateTime,
        /// The server's clock.
        now: OffsetDateTime,
        /// The allowed skew window.
        max_skew: Duration,
    },

    /// A presigned URL used after `X-Amz-Date + X-Amz-Expires`. Same form as
    /// [`Error::Expired`], with the URL's lifetime as the window.
    #[error(
        "Signature expired: {} is now earlier than {} ({} - {}.)",
        amz_date(*request_time),
        amz_date(minus(*now, Duration::from_secs(*expires_secs))),
        amz_date(*now),
        window(Duration::from_secs(*expires_secs))
    )]
    PresignedExpired {
        /// `X-Amz-Date` of the presigned URL.
        request_time: OffsetDateTime,
        /// The server's clock.
        now: OffsetDateTime,
        /// `X-Amz-Expires`.
        expires_secs: u64,
    },

    /// The signature does not match. AWS: `InvalidSignatureException` (JSON) /
    /// `SignatureDoesNotMatch` (query), HTTP 403. Query-protocol services
    /// (STS, IAM) append the canonical request and string-to-sign: see
    /// [`Error::detailed_message`].
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")]
    Mismatch {
        /// The canonical request the server computed.
        canonical_request: String,
        /// The string to sign the server computed.
        string_to_sign: String,
    },
}

impl Error {
    /// The message with debugging detail, as STS and IAM (awsQuery) answer a
    /// signature mismatch; for every other variant, the plain message.
    #[must_use]
    pub fn detailed_message(&self) -> String {
        match self {
            Error::Mismatch {
                canonical_request,
                string_to_sign,
            } => format!(
                "{self}\n\nThe Canonical String for this request should have been\n'{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
            ),
            other => other.to_string(),
        }
    }
}

/// `5 min` for whole minutes (what AWS always shows); otherwise `N sec`.
fn window(d: Duration) -> String {
    let secs = d.as_secs();
    if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} sec")
    }
}
