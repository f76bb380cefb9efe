//! Canonical request pieces, exactly as AWS computes them for non-S3 services.

/// Percent-encodes `bytes` with the SigV4 rule: every byte except
/// `A-Z a-z 0-9 - _ . ~` (and `/` when `keep_slash`) becomes `%XX`, upper-case.
pub(crate) fn uri_encode(bytes: &[u8], keep_slash: bool, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays literal.
/// `+` stays `+`: in SigV4 the query is not form-encoded, a wire `+` is a
/// literal plus (it canonicalises to `%2B`).
pub(crate) fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|c| char::from(*c).to_digit(16));
            let lo = bytes.get(i + 2).and_then(|c| char::from(*c).to_digit(16));
            if let (Some(hi), Some(lo)) = (hi, lo) {
                // Both digits are < 16, so the value fits a byte.
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// The canonical URI for a non-S3 service: the wire path with dot segments and
/// empty segments removed (RFC 3986 5.2.4, as the SDKs do), then URI-encoded
/// once more. The wire path is already encoded by the client, so this is the
/// "double encoding" AWS documents: a wire `%3D` becomes `%253D`, a wire `@`
/// becomes `%40`.
pub(crate) fn canonical_uri(path: &str) -> String {
    let normalized = normalize_path(path);
    let mut out = String::with_capacity(normalized.len() + 8);
    uri_encode(normalized.as_bytes(), true, &mut out);
    out
}

fn normalize_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    // "/a/b/", "/a/b/.", "/a/b/.." keep their trailing slash (RFC 3986 5.2.4 B, C).
    let trailing = ["/", "/.", "/..", "/./", "/../"]
        .iter()
        .any(|end| path.ends_with(end));
    if out.is_empty() || (trailing && !out.ends_with('/')) {
        out.push('/');
    }
    out
}

/// One query parameter, decoded from the wire.
pub(crate) struct QueryParam {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

/// Splits a raw query string into decoded parameters, in wire order. Empty
/// pieces (`a=1&&b=2`) are skipped; a piece without `=` has an empty value.
pub(crate) fn parse_query(query: &str) -> Vec<QueryParam> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            QueryParam {
                name: percent_decode(name),
                value: percent_decode(value),
            }
        })
        .collect()
}

/// The canonical query string: each name and value re-encoded with the SigV4
/// unreserved set, sorted by encoded name then encoded value, `name=value`
/// joined with `&`. `skip` names parameters to leave out (the presigned
/// `X-Amz-Signature`).
pub(crate) fn canonical_query(params: &[QueryParam], skip: &[&[u8]]) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|p| !skip.contains(&p.name.as_slice()))
        .map(|p| {
            let mut name = String::new();
            let mut value = String::new();
            uri_encode(&p.name, false, &mut name);
            uri_encode(&p.value, false, &mut value);
            (name, value)
        })
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// How runs of whitespace inside a header value are collapsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Whitespace {
    /// Any run of ASCII whitespace (space, tab, CR, LF; so obs-fold line
    /// breaks too) becomes one space, as botocore and the JS SDK do.
    Any,
    /// Only runs of spaces collapse, only spaces are trimmed, as the Rust and
    /// Go SDKs do. Differs from `Any` only for values with tabs or line breaks.
    SpacesOnly,
}

/// Trims a header value and collapses inner whitespace runs to one space.
/// Runs are collapsed even inside double quotes, as the published test suite
/// (`get-header-value-trim`) signs.
pub(crate) fn trim_all(value: &str, ws: Whitespace, out: &mut String) {
    let is_ws = |c: char| match ws {
        Whitespace::Any => matches!(c, ' ' | '\t' | '\r' | '\n'),
        Whitespace::SpacesOnly => c == ' ',
    };
    let mut pending_space = false;
    let mut started = false;
    for c in value.chars() {
        if is_ws(c) {
            pending_space = started;
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
            started = true;
        }
    }
}

/// Canonical headers block (each line ends with `\n`) for the `signed` names,
/// in the order given. Values of repeated headers are joined with `,` in wire
/// order; a signed name the request lacks gets an empty value.
pub(crate) fn canonical_headers(
    headers: &[(&str, &str)],
    signed: &[String],
    ws: Whitespace,
) -> String {
    let mut out = String::new();
    for name in signed {
        out.push_str(name);
        out.push(':');
        let mut first = true;
        for (_, value) in headers
            .iter()
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        {
            if !first {
                out.push(',');
            }
            first = false;
            trim_all(value, ws, &mut out);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalise_like_the_suite() {
        let cases = [
            ("", "/"),
            ("/", "/"),
            ("//example//", "/example/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/./", "/"),
            ("/example/.", "/example/"),
            ("/./example", "/example"),
            ("/../a", "/a"),
            ("/example space/", "/example%20space/"),
            ("/\u{1234}", "/%E1%88%B4"),
            (
                "/test/@connections/JBDvjfGEIAMCERw%3D",
                "/test/%40connections/JBDvjfGEIAMCERw%253D",
            ),
            ("a/b", "/a/b"),
        ];
        for (input, want) in cases {
            assert_eq!(canonical_uri(input), want, "input {input:?}");
        }
    }

    #[test]
    fn plus_is_literal_and_space_is_percent_20() {
        let q = parse_query("a=b+c&d=e%20f&g&h=");
        assert_eq!(canonical_query(&q, &[]), "a=b%2Bc&d=e%20f&g=&h=");
    }

    #[test]
    fn query_sorts_by_encoded_name_then_value() {
        let q = parse_query("Param1=value2&Param1=Value1&%E1%88%B4=x&Param-3=y");
        assert_eq!(
            canonical_query(&q, &[]),
            "%E1%88%B4=x&Param-3=y&Param1=Value1&Param1=value2"
        );
    }

    #[test]
    fn bad_escapes_stay_literal() {
        assert_eq!(percent_decode("%zz%4"), b"%zz%4".to_vec());
        assert_eq!(percent_decode("%41%2b"), b"A+".to_vec());
    }

    #[test]
    fn trim_all_collapses_runs() {
        let mut out = String::new();
        trim_all("  \"a   b   c\"  ", Whitespace::Any, &mut out);
        assert_eq!(out, "\"a b c\"");
        out.clear();
        trim_all("value1\r\n  value2\n     value3", Whitespace::Any, &mut out);
        assert_eq!(out, "value1 value2 value3");
        out.clear();
        trim_all(" a\t\tb ", Whitespace::SpacesOnly, &mut out);
        assert_eq!(out, "a\t\tb");
        out.clear();
        trim_all("   ", Whitespace::Any, &mut out);
        assert_eq!(out, "");
    }
}
