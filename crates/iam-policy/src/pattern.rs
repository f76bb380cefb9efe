//! Wildcard patterns (`*`, `?`) and policy variables (`${...}`).

use crate::context::Context;

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// `*`: any run of characters (including none, and including `:`).
    Star,
    /// `?`: exactly one character.
    One,
    /// A literal character.
    Lit(char),
}

/// Compile a raw policy string into tokens. With `vars` set (policy version
/// 2012-10-17), `${...}` policy variables are substituted; an unresolvable
/// variable without a default yields `Err(name)`.
pub(crate) fn compile(raw: &str, vars: Option<&Context>) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '$' && vars.is_some() && chars.get(i + 1) == Some(&'{') {
            if let Some(end) = chars[i + 2..].iter().position(|&x| x == '}') {
                let inner: String = chars[i + 2..i + 2 + end].iter().collect();
                let ctx = vars.ok_or_else(String::new)?;
                let value = resolve_variable(&inner, ctx)?;
                out.extend(value.chars().map(Tok::Lit));
                i += end + 3;
                continue;
            }
        }
        out.push(match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            other => Tok::Lit(other),
        });
        i += 1;
    }
    Ok(out)
}

/// Resolve the inside of `${...}`: `*`, `?`, `$`, a condition key, or
/// `key, 'default'`.
fn resolve_variable(inner: &str, ctx: &Context) -> Result<String, String> {
    let (key_part, default) = match inner.split_once(',') {
        Some((k, d)) => {
            let d = d.trim();
            let d = d
                .strip_prefix('\'')
                .and_then(|x| x.strip_suffix('\''))
                .unwrap_or(d);
            (k.trim(), Some(d.to_string()))
        }
        None => (inner.trim(), None),
    };
    match key_part {
        "*" => return Ok("*".into()),
        "?" => return Ok("?".into()),
        "$" => return Ok("$".into()),
        _ => {}
    }
    match ctx.get(key_part) {
        Some([single]) => Ok(single.clone()),
        _ => default.ok_or_else(|| key_part.to_string()),
    }
}

/// The literal text of a token list (`Star` → `*`, `One` → `?`).
pub(crate) fn literal(toks: &[Tok]) -> String {
    toks.iter()
        .map(|t| match t {
            Tok::Star => '*',
            Tok::One => '?',
            Tok::Lit(c) => *c,
        })
        .collect()
}

/// Wildcard match of `text` against `pat`. Iterative, O(len(pat) * len(text)).
pub(crate) fn matches(pat: &[Tok], text: &str, ignore_case: bool) -> bool {
    let text: Vec<char> = if ignore_case {
        text.chars().flat_map(char::to_lowercase).collect()
    } else {
        text.chars().collect()
    };
    let lower_pat;
    let pat = if ignore_case {
        lower_pat = pat
            .iter()
            .flat_map(|t| match t {
                Tok::Lit(c) => c.to_lowercase().map(Tok::Lit).collect::<Vec<_>>(),
                other => vec![other.clone()],
            })
            .collect::<Vec<_>>();
        &lower_pat[..]
    } else {
        pat
    };
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some(Tok::Star) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Tok::One) => {
                p += 1;
                t += 1;
            }
            Some(Tok::Lit(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    while let Some(Tok::Star) = pat.get(p) {
        p += 1;
    }
    p == pat.len()
}

/// Convenience: match a raw pattern string (no variables).
pub(crate) fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    match compile(pattern, None) {
        Ok(toks) => matches(&toks, text, ignore_case),
        Err(_) => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(glob("*", "", false));
        assert!(glob("*", "abc", false));
        assert!(glob("a*c", "abbbc", false));
        assert!(glob("a?c", "abc", false));
        assert!(!glob("a?c", "ac", false));
        assert!(glob("cloudtrail:*Query", "cloudtrail:StartQuery", false));
        assert!(!glob("cloudtrail:*Query", "cloudtrail:ListQueries", false));
        assert!(glob("CLOUDTRAIL:startquery", "cloudtrail:StartQuery", true));
        assert!(!glob(
            "CLOUDTRAIL:startquery",
            "cloudtrail:StartQuery",
            false
        ));
        assert!(glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/x:y/z", false));
        assert!(glob("a*b*c", "aXbYbZc", false));
        assert!(!glob("a*b*c", "aXbYbZ", false));
    }

    #[test]
    fn variables() {
        let ctx = Context::new()
            .with("aws:username", "alice")
            .with("aws:PrincipalTag/team", "sec");
        let t = compile("home/${aws:username}/*", Some(&ctx)).unwrap();
        assert!(matches(&t, "home/alice/x", false));
        assert!(!matches(&t, "home/bob/x", false));
        let t = compile("a${*}b${?}c${$}", Some(&ctx)).unwrap();
        assert_eq!(literal(&t), "a*b?c$");
        assert!(matches(&t, "a*b?c$", false));
        assert!(!matches(&t, "aXbYc$", false));
        let t = compile("${aws:PRINCIPALTAG/team}", Some(&ctx)).unwrap();
        assert_eq!(literal(&t), "sec");
        assert_eq!(
            compile("${aws:nothere}", Some(&ctx)),
            Err("aws:nothere".into())
        );
        let t = compile("${aws:nothere, 'dflt'}", Some(&ctx)).unwrap();
        assert_eq!(literal(&t), "dflt");
        // Without variables (2008-10-17) the text is literal, and `*` inside it a wildcard.
        let t = compile("${aws:username}", None).unwrap();
        assert!(matches(&t, "${aws:username}", false));
    }
}
