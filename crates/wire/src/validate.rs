//! Constraint checks used by the generated `validate_into` methods.
//!
//! botocore checks only `required` and `min` client-side, so everything else
//! (max lengths, enums, patterns, ranges) reaches the server and must be
//! checked here. Messages follow AWS's framework form: "1 validation error
//! detected: Value 'x' at 'Name' failed to satisfy constraint: …".
//!
//! The path is whatever the generated code passes: the JSON services' types
//! use the model's member names (`Name`, `List.member`); the awsQuery (IAM,
//! STS) types use AWS IAM's own form, lower-camel with the 1-based index
//! before `member` (`userName`, `tags.1.member.key`), and match patterns
//! against the whole value ([`Validator::pattern_whole`]).

use regex::Regex;
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

/// Collects every constraint violation of one request.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<String>,
}

fn show(path: &str) -> &str {
    path.trim_start_matches('.')
}

fn preview(value: &str) -> String {
    const MAX: usize = 64;
    if value.chars().count() > MAX {
        format!("{}…", value.chars().take(MAX).collect::<String>())
    } else {
        value.to_string()
    }
}

impl Validator {
    /// A validator with no errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a violation in AWS's wording.
    pub fn fail(&mut self, path: &str, value: Option<&str>, constraint: String) {
        let at = show(path);
        match value {
            Some(v) => self.errors.push(format!(
                "Value '{}' at '{at}' failed to satisfy constraint: {constraint}",
                preview(v)
            )),
            None => self.errors.push(format!(
                "Value at '{at}' failed to satisfy constraint: {constraint}"
            )),
        }
    }

    /// A required member is absent.
    pub fn missing(&mut self, path: &str, member: &str) {
        let at = if show(path).is_empty() {
            member.to_string()
        } else {
            format!("{}.{member}", show(path))
        };
        self.errors.push(format!(
            "Value null at '{at}' failed to satisfy constraint: Member must not be null"
        ));
    }

    /// String length (in characters) at least `min`.
    pub fn min_len(&mut self, value: &str, path: &str, min: i64) {
        if (value.chars().count() as i64) < min {
            self.fail(
                path,
                Some(value),
                format!("Member must have length greater than or equal to {min}"),
            );
        }
    }

    /// String length (in characters) at most `max`.
    pub fn max_len(&mut self, value: &str, path: &str, max: i64) {
        if (value.chars().count() as i64) > max {
            self.fail(
                path,
                Some(value),
                format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// List length at least `min`.
    pub fn min_items(&mut self, len: usize, path: &str, min: i64) {
        if (len as i64) < min {
            self.fail(
                path,
                None,
                format!("Member must have length greater than or equal to {min}"),
            );
        }
    }

    /// List length at most `max`.
    pub fn max_items(&mut self, len: usize, path: &str, max: i64) {
        if (len as i64) > max {
            self.fail(
                path,
                None,
                format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// Number at least `min`.
    pub fn min_num(&mut self, value: i64, path: &str, min: i64) {
        if value < min {
            self.fail(
                path,
                Some(&value.to_string()),
                format!("Member must have value greater than or equal to {min}"),
            );
        }
    }

    /// Number at most `max`.
    pub fn max_num(&mut self, value: i64, path: &str, max: i64) {
        if value > max {
            self.fail(
                path,
                Some(&value.to_string()),
                format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    /// Value is one of the model's enum values.
    pub fn one_of(&mut self, value: &str, path: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.fail(
                path,
                Some(value),
                format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            );
        }
    }

    /// Value matches the model's regular expression.
    pub fn pattern(&mut self, value: &str, path: &str, pattern: &'static str) {
        if let Some(false) = matches(pattern, value) {
            self.fail(
                path,
                Some(value),
                format!("Member must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    /// Value matches the model's pattern as a whole, as AWS's awsQuery
    /// services check it (Java `matches()`). `regex` is the Rust form the
    /// generator derived from `pattern` (anchored, ASCII `\w`/`\d`);
    /// messages quote the model's `pattern`.
    pub fn pattern_whole(
        &mut self,
        value: &str,
        path: &str,
        pattern: &'static str,
        regex: &'static str,
    ) {
        if let Some(false) = matches(regex, value) {
            self.fail(
                path,
                Some(value),
                format!("Member must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    /// True when nothing was violated.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// The violations, in AWS's "N validation errors detected: …" form, or `None`.
    pub fn message(&self) -> Option<String> {
        match self.errors.len() {
            0 => None,
            1 => Some(format!(
                "1 validation error detected: {}",
                self.errors.join("; ")
            )),
            n => Some(format!(
                "{n} validation errors detected: {}",
                self.errors.join("; ")
            )),
        }
    }
}

/// Matches `value` against a model pattern; `None` when the pattern is not a
/// valid Rust regex (the check is then skipped rather than rejecting input).
pub(crate) fn matches(pattern: &'static str, value: &str) -> Option<bool> {
    static CACHE: OnceLock<RwLock<HashMap<&'static str, Option<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Ok(map) = cache.read() {
        if let Some(re) = map.get(pattern) {
            return re.as_ref().map(|re| re.is_match(value));
        }
    }
    let compiled = Regex::new(pattern).ok();
    let result = compiled.as_ref().map(|re| re.is_match(value));
    if let Ok(mut map) = cache.write() {
        map.insert(pattern, compiled);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_patterns_compile() {
        for p in [r"^[\w+=,.@:\/-]*$", "^[-_A-Za-z0-9]+$", "^arn:.*$"] {
            assert!(matches(p, "x").is_some(), "{p}");
        }
    }

    #[test]
    fn messages_follow_aws_form() {
        let mut v = Validator::new();
        v.max_len("abcd", ".Name", 3);
        assert_eq!(
            v.message().as_deref(),
            Some("1 validation error detected: Value 'abcd' at 'Name' failed to satisfy constraint: Member must have length less than or equal to 3")
        );
        v.missing("", "QueryId");
        assert!(v
            .message()
            .unwrap_or_default()
            .starts_with("2 validation errors detected"));
    }
}
