//! Reading CloudTrail log files in the shapes users actually have them.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::Error;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads every CloudTrail record of one file. See the crate documentation for the accepted
/// shapes. Errors name the file and, for syntax errors, the line and column (counted in the
/// decompressed text for gzip input).
pub fn read_records(path: &Path) -> Result<Vec<Value>, Error> {
    let raw = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_records(&raw, path)
}

/// Like [`read_records`] for bytes already in memory (e.g. stdin); `path` is only used to
/// name the input in errors. Gzip is detected by its magic bytes.
pub fn parse_records(raw: &[u8], path: &Path) -> Result<Vec<Value>, Error> {
    if raw.starts_with(&GZIP_MAGIC) {
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(raw)
            .read_to_end(&mut text)
            .map_err(|source| Error::Gzip {
                path: path.to_path_buf(),
                source,
            })?;
        parse_text(&text, path, true)
    } else {
        parse_text(raw, path, false)
    }
}

fn parse_text(bytes: &[u8], path: &Path, gzip: bool) -> Result<Vec<Value>, Error> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<Value>();
    let mut records = Vec::new();
    loop {
        let start = stream.byte_offset();
        let value = match stream.next() {
            None => break,
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                let full = e.to_string();
                let message = match full.rsplit_once(" at line ") {
                    Some((m, _)) => m.to_string(),
                    None => full,
                };
                return Err(Error::Json {
                    path: path.to_path_buf(),
                    line: e.line(),
                    column: e.column(),
                    message,
                    gzip,
                });
            }
        };
        let line = line_of(bytes, start);
        let format_err = |message: String| Error::Format {
            path: path.to_path_buf(),
            message,
        };
        match value {
            Value::Object(mut map) => {
                if let Some(inner) = map.remove("Records") {
                    match inner {
                        Value::Array(items) => push_all(
                            &mut records,
                            items,
                            &format!("the Records array of the document at line {line}"),
                            path,
                        )?,
                        other => {
                            return Err(format_err(format!(
                                "line {line}: `Records` is {}, expected an array",
                                crate::kind(&other)
                            )))
                        }
                    }
                } else if is_digest(&map) {
                    return Err(format_err(format!(
                        "line {line}: this is a CloudTrail digest file (CloudTrail-Digest/), \
                         not an event log file; it holds no records to convert"
                    )));
                } else {
                    records.push(Value::Object(map));
                }
            }
            Value::Array(items) => push_all(
                &mut records,
                items,
                &format!("the array at line {line}"),
                path,
            )?,
            other => {
                return Err(format_err(format!(
                    "line {line}: expected a JSON object or array (a log file, a record or a \
                     list of records), found {}",
                    crate::kind(&other)
                )))
            }
        }
    }
    Ok(records)
}

fn push_all(
    records: &mut Vec<Value>,
    items: Vec<Value>,
    what: &str,
    path: &Path,
) -> Result<(), Error> {
    for (i, item) in items.into_iter().enumerate() {
        if !item.is_object() {
            return Err(Error::Format {
                path: PathBuf::from(path),
                message: format!(
                    "element {i} (0-based) of {what} is {}, expected a record object",
                    crate::kind(&item)
                ),
            });
        }
        records.push(item);
    }
    Ok(())
}

fn is_digest(map: &serde_json::Map<String, Value>) -> bool {
    !map.contains_key("eventName")
        && (map.contains_key("digestStartTime")
            || map.contains_key("digestS3Object")
            || map.contains_key("logFiles"))
}

/// 1-based line of the first non-whitespace byte at or after `offset`.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    let start = bytes
        .iter()
        .skip(offset)
        .position(|b| !b.is_ascii_whitespace())
        .map_or(bytes.len(), |p| offset + p);
    bytes.iter().take(start).filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use std::io::Write;

    fn parse(s: &str) -> Result<Vec<Value>, Error> {
        parse_records(s.as_bytes(), Path::new("t.json"))
    }

    fn gz(s: &str) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(s.as_bytes()).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn shapes() {
        assert_eq!(parse(r#"{"Records":[{"a":1},{"a":2}]}"#).unwrap().len(), 2);
        assert_eq!(parse(r#"[{"a":1},{"a":2},{"a":3}]"#).unwrap().len(), 3);
        assert_eq!(
            parse("{\"a\":1}\n{\"a\":2}\n\n{\"a\":3}\n").unwrap().len(),
            3
        );
        assert_eq!(parse(r#"{"eventName":"X"}"#).unwrap().len(), 1);
        assert_eq!(parse("\u{feff}{\"Records\":[]}").unwrap().len(), 0);
        assert_eq!(parse("").unwrap().len(), 0);
        assert_eq!(parse("  \n").unwrap().len(), 0);
    }

    #[test]
    fn gzip_by_magic_not_name() {
        let data = gz(r#"{"Records":[{"a":1}]}"#);
        let got = parse_records(&data, Path::new("plain.json")).unwrap();
        assert_eq!(got.len(), 1);
        // Concatenated gzip members are one stream.
        let mut two = gz("{\"a\":1}\n");
        two.extend(gz("{\"a\":2}\n"));
        assert_eq!(parse_records(&two, Path::new("x")).unwrap().len(), 2);
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let data = gz(r#"{"Records":[{"a":1}]}"#);
        let err = parse_records(&data[..data.len() - 6], Path::new("cut.gz")).unwrap_err();
        assert!(matches!(err, Error::Gzip { .. }), "{err}");
        assert!(err.to_string().contains("cut.gz"));
    }

    #[test]
    fn syntax_error_position() {
        let err = parse("{\"a\":1}\n{\"a\":2\n{\"a\":3}\n").unwrap_err();
        match &err {
            Error::Json { line, .. } => assert_eq!(*line, 3),
            other => panic!("{other}"),
        }
        let text = err.to_string();
        assert!(
            text.starts_with("t.json: invalid JSON at line 3, column"),
            "{text}"
        );
    }

    #[test]
    fn bad_shapes() {
        for (input, needle) in [
            (r#"{"Records":{"a":1}}"#, "`Records` is an object"),
            (r#"[{"a":1}, 3]"#, "element 1 (0-based)"),
            (r#"{"Records":[null]}"#, "is null"),
            ("\"text\"", "found a string"),
            (r#"{"digestStartTime":"x","logFiles":[]}"#, "digest file"),
        ] {
            let err = parse(input).unwrap_err().to_string();
            assert!(err.contains(needle), "{input}: {err}");
            assert!(err.starts_with("t.json"), "{err}");
        }
    }

    #[test]
    fn line_numbers_of_documents() {
        let err = parse("{\"a\":1}\n\n  7\n").unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
    }
}
