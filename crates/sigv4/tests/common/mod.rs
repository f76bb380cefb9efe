//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sigv4::Request;
use time::OffsetDateTime;

pub const AKID: &str = "AKIDEXAMPLE";
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// An owned HTTP request that lends itself out as a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Owned {
    pub fn with<R>(&self, f: impl FnOnce(&Request) -> R) -> R {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        f(&Request {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            body: &self.body,
        })
    }

    /// Sets the target (`/path?query`).
    pub fn set_target(&mut self, target: &str) {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        self.path = path.to_owned();
        self.query = query.to_owned();
    }

    /// Parses then verifies with `now` = the request time and a 5-minute window.
    pub fn check(&self, secret: &str) -> Result<(), sigv4::Error> {
        self.with(|r| {
            let p = sigv4::parse(r)?;
            sigv4::verify(
                r,
                &p,
                secret,
                p.request_time,
                std::time::Duration::from_secs(300),
            )
        })
    }

    pub fn check_at(&self, secret: &str, now: OffsetDateTime) -> Result<(), sigv4::Error> {
        self.with(|r| {
            let p = sigv4::parse(r)?;
            sigv4::verify(r, &p, secret, now, std::time::Duration::from_secs(300))
        })
    }

    pub fn header_mut(&mut self, name: &str) -> Option<&mut String> {
        self.headers
            .iter_mut()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// Parses the suite's HTTP text format: request line, `Name:value` headers
/// (continuation lines starting with whitespace are obs-fold and appended with
/// a line break), a blank line, the body.
pub fn parse_http(text: &str) -> Owned {
    let (head, body) = match text.find("\n\n") {
        Some(i) => (&text[..i], &text[i + 2..]),
        None => (text.trim_end_matches('\n'), ""),
    };
    let mut lines = head.split('\n');
    let request_line = lines.next().unwrap();
    let (method, rest) = request_line.split_once(' ').unwrap();
    let target = rest.rsplit_once(' ').map_or(rest, |(t, _)| t);
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().unwrap();
            last.1.push('\n');
            last.1.push_str(line);
        } else {
            let (n, v) = line.split_once(':').unwrap();
            headers.push((n.to_owned(), v.trim_start_matches([' ', '\t']).to_owned()));
        }
    }
    let mut owned = Owned {
        method: method.to_owned(),
        path: String::new(),
        query: String::new(),
        headers,
        body: body.as_bytes().to_vec(),
    };
    owned.set_target(target);
    owned
}

/// Changes one alphanumeric character of `s` (the one at or after `from`),
/// keeping it alphanumeric so the encoded form changes too.
pub fn flip_char(s: &str, from: usize) -> Option<String> {
    let (i, c) = s
        .char_indices()
        .rfind(|(i, c)| *i >= from && c.is_ascii_alphanumeric())?;
    let new = match c {
        'z' => 'a',
        'Z' => 'A',
        '9' => '0',
        c => char::from(c as u8 + 1),
    };
    let mut out = s.to_owned();
    out.replace_range(i..i + 1, &new.to_string());
    Some(out)
}

pub fn is_mismatch(r: &Result<(), sigv4::Error>) -> bool {
    matches!(r, Err(sigv4::Error::Mismatch { .. }))
}
