//! awsQuery, the protocol of IAM and STS: decoding the form body, telling
//! the two services apart, and writing the XML documents.
//!
//! A request is `POST /` with an `application/x-www-form-urlencoded` body,
//! `Action=CreateUser&Version=2010-05-08&UserName=bob&Tags.member.1.Key=k`,
//! serialized as botocore's `QuerySerializer` does: scalars by member name,
//! structures `Parent.Child`, lists `Name.member.N` (1-based; an empty list is
//! `Name=`), maps `Name.entry.N.key` / `Name.entry.N.value`, booleans
//! `true`/`false`, numbers in decimal, timestamps ISO 8601.
//!
//! The generated `from_query` methods (see `generated/iam.rs`) read their
//! members through [`QueryForm`]'s typed readers, so the rules above live
//! here once. Decoding is lenient where AWS is (unknown parameters are
//! ignored; the first of repeated parameters wins) and strict where types
//! are concerned (a `MaxItems` that is not a number is a `ValidationError`).
//!
//! Responses are built as text: every value is escaped, and members whose
//! shape is IAM's `policyDocumentType` are URL-encoded, as AWS sends them
//! (botocore url-decodes and JSON-parses them).

use crate::validate::Validator;
use crate::{iam, sts, ApiError, ErrorCode, WireResponse};
use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// The awsQuery services Cairn serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryService {
    /// IAM, `Version=2010-05-08`.
    Iam,
    /// STS, `Version=2011-06-15`.
    Sts,
}

impl QueryService {
    /// Both services.
    pub const ALL: [QueryService; 2] = [QueryService::Iam, QueryService::Sts];

    /// The service whose API version is `version`.
    pub fn from_version(version: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.version() == version)
    }

    /// The service whose SigV4 name (credential scope) is `name`.
    pub fn from_signing_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.signing_name() == name)
    }

    /// The service a request is for: named by its `Version` or, when the
    /// request has none, by the service of its signature's credential scope.
    ///
    /// Errors: `MissingAction` without an `Action`; `InvalidAction` for a
    /// `Version` Cairn does not serve; `MissingParameter` when neither the
    /// version nor the signing name tells.
    pub fn for_form(form: &QueryForm, signing_name: Option<&str>) -> Result<Self, ApiError> {
        let action = form.action()?;
        match form.version() {
            Some(version) => Self::from_version(version).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::QueryInvalidAction,
                    format!(
                        "Could not find operation {action} for version {version}: Cairn serves IAM (Version={}) and STS (Version={}).",
                        iam::VERSION,
                        sts::VERSION
                    ),
                )
            }),
            None => signing_name.and_then(Self::from_signing_name).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::QueryMissingParameter,
                    format!(
                        "The request must contain the parameter Version: send Version={} for IAM or Version={} for STS.",
                        iam::VERSION,
                        sts::VERSION
                    ),
                )
            }),
        }
    }

    /// The API version (`Version`).
    pub fn version(self) -> &'static str {
        match self {
            Self::Iam => iam::VERSION,
            Self::Sts => sts::VERSION,
        }
    }

    /// The XML namespace of the service's responses and errors.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::Iam => iam::XML_NAMESPACE,
            Self::Sts => sts::XML_NAMESPACE,
        }
    }

    /// The SigV4 service name: `iam` or `sts`.
    pub fn signing_name(self) -> &'static str {
        match self {
            Self::Iam => iam::SIGNING_NAME,
            Self::Sts => sts::SIGNING_NAME,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Iam => "IAM",
            Self::Sts => "STS",
        }
    }

    fn model_actions(self) -> &'static [&'static str] {
        match self {
            Self::Iam => iam::MODEL_ACTIONS,
            Self::Sts => sts::MODEL_ACTIONS,
        }
    }

    fn example_action(self) -> &'static str {
        match self {
            Self::Iam => iam::Operation::ALL.first().map_or("", |o| o.name()),
            Self::Sts => sts::Operation::ALL.first().map_or("", |o| o.name()),
        }
    }

    /// Decodes and validates the request of this service's `Action`.
    pub fn decode(self, form: &QueryForm) -> Result<QueryRequest, ApiError> {
        Ok(match self {
            Self::Iam => QueryRequest::Iam(iam::Request::decode(form)?),
            Self::Sts => QueryRequest::Sts(sts::Request::decode(form)?),
        })
    }
}

/// A decoded, validated awsQuery request of either service.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryRequest {
    /// An IAM request.
    Iam(iam::Request),
    /// An STS request.
    Sts(sts::Request),
}

impl QueryRequest {
    /// The service requested.
    pub fn service(&self) -> QueryService {
        match self {
            Self::Iam(_) => QueryService::Iam,
            Self::Sts(_) => QueryService::Sts,
        }
    }

    /// The `Action` name.
    pub fn action(&self) -> &'static str {
        match self {
            Self::Iam(r) => r.operation().name(),
            Self::Sts(r) => r.operation().name(),
        }
    }
}

/// A result of either service.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResponse {
    /// An IAM result.
    Iam(iam::Response),
    /// An STS result.
    Sts(sts::Response),
}

impl QueryResponse {
    /// The HTTP response: 200, `text/xml`, the `<{Op}Response>` document.
    pub fn to_wire(&self, request_id: &str) -> WireResponse {
        match self {
            Self::Iam(r) => r.to_wire(request_id),
            Self::Sts(r) => r.to_wire(request_id),
        }
    }
}

/// The parameters of an awsQuery form body, decoded once.
///
/// Keys and values are percent-decoded as UTF-8 with `+` meaning space. Of
/// repeated parameters the first wins; parameters without `=` have an empty
/// value; empty `&&` segments are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryForm {
    params: BTreeMap<String, String>,
}

impl QueryForm {
    /// Decodes a form body. Fails (`ValidationError`) only when a key or
    /// value is not UTF-8 once percent-decoded.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let mut params = BTreeMap::new();
        for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let mut parts = pair.splitn(2, |b| *b == b'=');
            let key = decode_component(parts.next().unwrap_or_default())?;
            let value = decode_component(parts.next().unwrap_or_default())?;
            params.entry(key).or_insert(value);
        }
        Ok(Self { params })
    }

    /// A form of already-decoded parameters (the first of repeated keys wins).
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut params = BTreeMap::new();
        for (k, v) in pairs {
            params.entry(k.into()).or_insert_with(|| v.into());
        }
        Self { params }
    }

    /// The `Action`; `MissingAction` when absent or empty.
    pub fn action(&self) -> Result<&str, ApiError> {
        self.get("Action").filter(|a| !a.is_empty()).ok_or_else(|| {
            ApiError::new(
                ErrorCode::QueryMissingAction,
                format!(
                    "Could not find Action in the request: awsQuery requests name the operation in the form parameter Action, e.g. Action=GetCallerIdentity&Version={}.",
                    sts::VERSION
                ),
            )
        })
    }

    /// The `Version`, if sent.
    pub fn version(&self) -> Option<&str> {
        self.get("Version")
    }

    /// The value of one parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// Every parameter, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A string member (and timestamps, which stay ISO 8601 text).
    pub fn string(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_string)
    }

    /// A 32-bit `integer` member.
    pub fn integer(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.number(key, i32::MIN.into(), i32::MAX.into())
    }

    /// A 64-bit `long` member.
    pub fn long(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.number(key, i64::MIN, i64::MAX)
    }

    fn number(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(text) = self.get(key) else {
            return Ok(None);
        };
        match text.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(type_error(
                key,
                text,
                &format!("Member must be a whole number from {min} to {max}, in decimal digits"),
            )),
        }
    }

    /// A `boolean` member: `true` or `false` (any case).
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(t) if t.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(t) if t.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(t) => Err(type_error(key, t, "Member must be true or false")),
        }
    }

    /// True when some parameter's key starts with `prefix`.
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.keys_from(prefix).next().is_some()
    }

    fn keys_from<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.params
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .map_while(move |(k, _)| k.strip_prefix(prefix))
    }

    /// The distinct 1-based indices `N` of keys `{base}N` and `{base}N.…`.
    fn indices(&self, base: &str) -> BTreeSet<u32> {
        self.keys_from(base)
            .filter_map(|rest| index(rest.split_once('.').map_or(rest, |(n, _)| n)))
            .collect()
    }

    /// A structure member: present when some key starts with `{key}.`;
    /// `read` gets the prefix of its members.
    pub fn structure<T>(
        &self,
        key: &str,
        read: impl FnOnce(&QueryForm, &str) -> Result<T, ApiError>,
    ) -> Result<Option<T>, ApiError> {
        let prefix = format!("{key}.");
        if self.has_prefix(&prefix) {
            read(self, &prefix).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A list member: elements `{key}.{member}.N`, in index order (gaps are
    /// skipped); `key=` with an empty value and no elements is the empty list.
    /// `element` reads one element at the key it is given; `None` skips it.
    pub fn list<T>(
        &self,
        key: &str,
        member: &str,
        mut element: impl FnMut(&QueryForm, &str) -> Result<Option<T>, ApiError>,
    ) -> Result<Option<Vec<T>>, ApiError> {
        let base = format!("{key}.{member}.");
        let indices = self.indices(&base);
        if indices.is_empty() {
            return Ok(self.get(key).filter(|v| v.is_empty()).map(|_| Vec::new()));
        }
        let mut items = Vec::with_capacity(indices.len());
        for n in indices {
            if let Some(item) = element(self, &format!("{base}{n}"))? {
                items.push(item);
            }
        }
        Ok(Some(items))
    }

    /// A map member: entries `{key}.entry.N.{key_name}` /
    /// `{key}.entry.N.{value_name}`; entries without a key are skipped, and
    /// the first of repeated keys wins.
    pub fn map<V>(
        &self,
        key: &str,
        key_name: &str,
        value_name: &str,
        mut value: impl FnMut(&QueryForm, &str) -> Result<Option<V>, ApiError>,
    ) -> Result<Option<BTreeMap<String, V>>, ApiError> {
        let base = format!("{key}.entry.");
        let indices = self.indices(&base);
        if indices.is_empty() {
            return Ok(self
                .get(key)
                .filter(|v| v.is_empty())
                .map(|_| BTreeMap::new()));
        }
        let mut entries = BTreeMap::new();
        for n in indices {
            let Some(k) = self.get(&format!("{base}{n}.{key_name}")) else {
                continue;
            };
            if entries.contains_key(k) {
                continue;
            }
            if let Some(v) = value(self, &format!("{base}{n}.{value_name}"))? {
                entries.insert(k.to_string(), v);
            }
        }
        Ok(Some(entries))
    }
}

fn decode_component(raw: &[u8]) -> Result<String, ApiError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let bytes: Vec<u8> = percent_decode(&plus_as_space).collect();
    String::from_utf8(bytes).map_err(|_| {
        ApiError::new(
            ErrorCode::QueryValidationError,
            "The request body is not UTF-8 once percent-decoded: send an application/x-www-form-urlencoded body whose text is UTF-8.",
        )
    })
}

/// A canonical 1-based index: digits, no leading zero.
fn index(s: &str) -> Option<u32> {
    if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// AWS's name for the member at form key `key`, as validation messages
/// spell it: `Tags.member.1.Key` is `tags.1.member.key`.
pub(crate) fn aws_path(key: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut segments = key.split('.').peekable();
    while let Some(segment) = segments.next() {
        if segment == "member" || segment == "entry" {
            if let Some(n) = segments.peek().copied().filter(|n| index(n).is_some()) {
                segments.next();
                out.push(if segment == "member" {
                    format!("{n}.member")
                } else {
                    format!("entry.{n}")
                });
                continue;
            }
        }
        let mut chars = segment.chars();
        out.push(match chars.next() {
            Some(first) => first.to_lowercase().chain(chars).collect(),
            None => String::new(),
        });
    }
    out.join(".")
}

fn type_error(key: &str, value: &str, constraint: &str) -> ApiError {
    let mut v = Validator::new();
    v.fail(&aws_path(key), Some(value), constraint.to_string());
    ApiError::new(
        ErrorCode::QueryValidationError,
        v.message().unwrap_or_default(),
    )
}

/// Runs a generated validator; violations become one `ValidationError`.
pub(crate) fn checked<T>(
    input: T,
    validate: impl FnOnce(&T, &mut Validator),
) -> Result<T, ApiError> {
    let mut v = Validator::new();
    validate(&input, &mut v);
    match v.message() {
        None => Ok(input),
        Some(message) => Err(ApiError::new(ErrorCode::QueryValidationError, message)),
    }
}

/// `InvalidAction` for an `Action` the service does not serve, saying
/// whether AWS has it (and Cairn does not implement it) or nobody does.
pub(crate) fn unknown_action(service: QueryService, action: &str, version: &str) -> ApiError {
    let title = service.title();
    let advice = if service.model_actions().contains(&action) {
        format!("{action} is an {title} operation that Cairn does not implement")
    } else {
        format!(
            "{title} has no operation of that name (Action is case-sensitive, e.g. {})",
            service.example_action()
        )
    };
    ApiError::new(
        ErrorCode::QueryInvalidAction,
        format!("Could not find operation {action} for version {version}: {advice}."),
    )
}

/// Appends `text` as XML character data: `&`, `<`, `>` escaped, carriage
/// returns as `&#xD;` (so parsers keep them), and the characters XML 1.0
/// cannot carry at all (most C0 controls, U+FFFE, U+FFFF) as U+FFFD.
pub fn xml_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Everything but the RFC 3986 unreserved characters is percent-encoded,
/// so botocore's `unquote` (which leaves `+` alone) restores the text.
const POLICY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A policy document as IAM sends it in responses: percent-encoded UTF-8
/// (`{"Version"` becomes `%7B%22Version%22`).
pub fn encode_policy_document(json: &str) -> String {
    utf8_percent_encode(json, POLICY_ENCODE).to_string()
}

/// The inverse of [`encode_policy_document`] (what botocore does before
/// `json.loads`); `None` when the result is not UTF-8.
pub fn decode_policy_document(encoded: &str) -> Option<String> {
    percent_decode(encoded.as_bytes())
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The `<{action}Response>` document: the result wrapper (when the
/// operation has output) around `result`, then the request id.
pub(crate) fn envelope(
    service: QueryService,
    action: &str,
    result: Option<(&str, &str)>,
    request_id: &str,
) -> String {
    let mut out = String::with_capacity(256 + result.map_or(0, |(_, r)| r.len()));
    out.push('<');
    out.push_str(action);
    out.push_str("Response xmlns=\"");
    out.push_str(service.namespace());
    out.push_str("\">");
    if let Some((wrapper, body)) = result {
        out.push('<');
        out.push_str(wrapper);
        out.push('>');
        out.push_str(body);
        out.push_str("</");
        out.push_str(wrapper);
        out.push('>');
    }
    out.push_str("<ResponseMetadata><RequestId>");
    xml_text(&mut out, request_id);
    out.push_str("</RequestId></ResponseMetadata></");
    out.push_str(action);
    out.push_str("Response>");
    out
}

pub(crate) fn xml_response(body: String) -> WireResponse {
    WireResponse {
        status: 200,
        headers: vec![("content-type", "text/xml".to_string())],
        body: body.into_bytes(),
    }
}

/// A successful awsQuery response. `result` is the model's `resultWrapper`
/// and the XML of the output's members (`None` for operations without
/// output); the generated `Response::to_wire` methods fill both in.
pub fn query_response(
    service: QueryService,
    action: &str,
    result: Option<(&str, &str)>,
    request_id: &str,
) -> WireResponse {
    xml_response(envelope(service, action, result, request_id))
}

/// An awsQuery error: `<ErrorResponse xmlns=…><Error><Type>Sender|Receiver</Type>
/// <Code>…</Code><Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>`
/// with the code's HTTP status (`Receiver` for 5xx).
pub fn query_error_response(
    service: QueryService,
    err: &ApiError,
    request_id: &str,
) -> WireResponse {
    let kind = if err.code.status() >= 500 {
        "Receiver"
    } else {
        "Sender"
    };
    let mut out = String::with_capacity(256 + err.message.len());
    out.push_str("<ErrorResponse xmlns=\"");
    out.push_str(service.namespace());
    out.push_str("\"><Error><Type>");
    out.push_str(kind);
    out.push_str("</Type><Code>");
    xml_text(&mut out, err.code.as_str());
    out.push_str("</Code><Message>");
    xml_text(&mut out, &err.message);
    out.push_str("</Message></Error><RequestId>");
    xml_text(&mut out, request_id);
    out.push_str("</RequestId></ErrorResponse>");
    WireResponse {
        status: err.code.status(),
        headers: vec![("content-type", "text/xml".to_string())],
        body: out.into_bytes(),
    }
}
