//! Wildcard patterns (`*`, `?`) and policy variables (`${...}`).

use crate::context::Context;

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// `*`: any run of characters (including none, and including `:`).
    Star,
    /// `?`: exactly one character.
    One,
    /// `*` inside an ARN segment of a `Resource` pattern: any run of characters
    /// without a `:`.
    SegStar,
    /// `?` inside an ARN segment of a `Resource` pattern: one character, not `:`.
    SegOne,
    /// A literal character.
    Lit(char),
}

/// Compile a raw policy string into tokens. With `vars` set (policy version
/// 2012-10-17), `${...}` policy variables are substituted; an unresolvable
/// variable without a default yields `Err(name)`.
pub(crate) fn compile(raw: &str, vars: Option<&Context>) -> Result<Vec<Tok>, String> {
    compile_with(raw, vars, false)
}

/// Compile a `Resource`/`NotResource` pattern. AWS
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html>):
/// wildcards work within the colon-separated segments of an ARN, and "if the
/// `*` wildcard is the last character of a resource ARN segment, it can expand
/// to match beyond the colon boundaries"; policy variables are substituted
/// "only in the resource portion of the ARN", after the fifth colon
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html>).
/// So before the fifth colon a `*` followed by another character of its
/// segment, and every `?`, stay inside the segment, and `${...}` is literal
/// text; from the fifth colon on (the resource part, which may itself hold
/// colons) `*` and `?` match any characters.
pub(crate) fn compile_resource(raw: &str, vars: Option<&Context>) -> Result<Vec<Tok>, String> {
    compile_with(raw, vars, true)
}

fn compile_with(raw: &str, vars: Option<&Context>, arn_segments: bool) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut colons = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let in_prefix = arn_segments && colons < 5;
        if c == '$' && !in_prefix && chars.get(i + 1) == Some(&'{') {
            if let Some(ctx) = vars {
                if let Some(end) = chars[i + 2..].iter().position(|&x| x == '}') {
                    let inner: String = chars[i + 2..i + 2 + end].iter().collect();
                    let value = resolve_variable(&inner, ctx)?;
                    out.extend(value.chars().map(Tok::Lit));
                    i += end + 3;
                    continue;
                }
            }
        }
        out.push(match c {
            '*' if in_prefix => {
                // A `*` that ends its segment (or the pattern) may run past colons.
                match chars.get(i + 1) {
                    None | Some(':') => Tok::Star,
                    Some(_) => Tok::SegStar,
                }
            }
            '?' if in_prefix => Tok::SegOne,
            '*' => Tok::Star,
            '?' => Tok::One,
            other => {
                if other == ':' {
                    colons += 1;
                }
                Tok::Lit(other)
            }
        });
        i += 1;
    }
    Ok(out)
}

/// Resolve the inside of `${...}`: `*`, `?`, `$`, a condition key, or
/// `key, 'default'`. Multivalued keys cannot be variables ("You can use any
/// single-valued condition key as a variable"), so a key with several values
/// resolves like a missing one.
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
            Tok::Star | Tok::SegStar => '*',
            Tok::One | Tok::SegOne => '?',
            Tok::Lit(c) => *c,
        })
        .collect()
}

/// Wildcard match of the whole `text` against `pat`: a dynamic programme over
/// the text positions, O(len(pat) * len(text)), no backtracking blow-up.
pub(crate) fn matches(pat: &[Tok], text: &str, ignore_case: bool) -> bool {
    let text: Vec<char> = if ignore_case {
        text.chars().flat_map(char::to_lowercase).collect()
    } else {
        text.chars().collect()
    };
    let lowered: Vec<Tok>;
    let pat = if ignore_case {
        lowered = pat
            .iter()
            .flat_map(|t| match t {
                Tok::Lit(c) => c.to_lowercase().map(Tok::Lit).collect::<Vec<_>>(),
                other => vec![other.clone()],
            })
            .collect();
        &lowered[..]
    } else {
        pat
    };
    let n = text.len();
    // reach[j]: the tokens so far can match text[..j].
    let mut reach = vec![false; n + 1];
    reach[0] = true;
    let mut next = vec![false; n + 1];
    for tok in pat {
        next.iter_mut().for_each(|x| *x = false);
        match tok {
            Tok::Star => {
                let mut any = false;
                for j in 0..=n {
                    any |= reach[j];
                    next[j] = any;
                }
            }
            Tok::SegStar => {
                let mut run = false;
                for j in 0..=n {
                    run |= reach[j];
                    next[j] = run;
                    if j < n && text[j] == ':' {
                        run = false;
                    }
                }
            }
            Tok::One | Tok::SegOne | Tok::Lit(_) => {
                for j in 0..n {
                    if !reach[j] {
                        continue;
                    }
                    let ok = match tok {
                        Tok::One => true,
                        Tok::SegOne => text[j] != ':',
                        Tok::Lit(c) => *c == text[j],
                        _ => false,
                    };
                    if ok {
                        next[j + 1] = true;
                    }
                }
            }
        }
        std::mem::swap(&mut reach, &mut next);
        if !reach.iter().any(|x| *x) {
            return false;
        }
    }
    reach[n]
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

    fn res(pattern: &str, arn: &str) -> bool {
        matches(&compile_resource(pattern, None).unwrap(), arn, false)
    }

    #[test]
    fn resource_segments() {
        let chan = "arn:aws:cloudtrail:us-east-1:111122223333:channel/abc";
        assert!(res("*", chan));
        assert!(res("arn:aws:cloudtrail:*", chan));
        assert!(res("arn:aws:cloudtrail:*:111122223333:channel/*", chan));
        assert!(res("arn:aws:cloudtrail:us-*:111122223333:*", chan));
        // A `*` inside a segment does not cross a colon.
        assert!(!res("arn:aws:cloud*l:111122223333:channel/abc", chan));
        assert!(res(
            "arn:aws:cloud*l:us-east-1:111122223333:channel/abc",
            chan
        ));
        // A `*` ending a segment may (AWS: "can expand to match beyond the colon boundaries").
        assert!(res("arn:aws:*:channel/abc", chan));
        // `?` stays in its segment before the resource part.
        assert!(!res(
            "arn:aws:cloudtrail?us-east-1:111122223333:channel/abc",
            chan
        ));
        // In the resource part `*` and `?` match colons.
        assert!(res("arn:aws:s3:::b/*", "arn:aws:s3:::b/x:y/z"));
        assert!(res("arn:aws:s3:::b/x?y", "arn:aws:s3:::b/x:y"));
        // Case-sensitive.
        assert!(!res("arn:aws:cloudtrail:*:111122223333:channel/ABC", chan));
    }

    #[test]
    fn resource_variables_only_after_fifth_colon() {
        let ctx = Context::new()
            .with("aws:username", "alice")
            .with("aws:PrincipalAccount", "111122223333");
        let t = compile_resource("arn:aws:s3:::b/${aws:username}/*", Some(&ctx)).unwrap();
        assert!(matches(&t, "arn:aws:s3:::b/alice/x", false));
        // Before the fifth colon `${...}` is literal text.
        let t =
            compile_resource("arn:aws:iam::${aws:PrincipalAccount}:user/x", Some(&ctx)).unwrap();
        assert!(!matches(&t, "arn:aws:iam::111122223333:user/x", false));
        assert_eq!(
            compile_resource("arn:aws:s3:::${aws:nothere}", Some(&ctx)),
            Err("aws:nothere".into())
        );
    }

    #[test]
    fn multivalued_keys_are_not_variables() {
        let ctx = Context::new().with_values("aws:TagKeys", ["a", "b"]);
        assert_eq!(
            compile("${aws:TagKeys}", Some(&ctx)),
            Err("aws:TagKeys".into())
        );
        assert_eq!(
            literal(&compile("${aws:TagKeys, 'd'}", Some(&ctx)).unwrap()),
            "d"
        );
    }

    #[test]
    fn dp_matcher_handles_many_stars() {
        let pat = "*a*a*a*a*a*a*a*a*a*a*b";
        let text = "a".repeat(200);
        assert!(!glob(pat, &text, false));
        assert!(glob(pat, &format!("{text}b"), false));
        assert!(glob("İ*", "i̇x", true));
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
