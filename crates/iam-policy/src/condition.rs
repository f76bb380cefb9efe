//! Condition operators.
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>

use crate::context::Context;
use crate::parse::{BaseOperator, Condition, SetQualifier};
use crate::pattern::{compile, literal, matches, Tok};
use serde::Serialize;
use std::net::IpAddr;

/// A condition test that did not hold, for explanations and hints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConditionMiss {
    /// The operator as written, e.g. `StringEquals`.
    pub operator: String,
    /// The condition key as written in the policy.
    pub key: String,
    /// The policy's values (before variable substitution).
    pub values: Vec<String>,
    /// The request's values of the key; `None` when the request has no such key.
    pub actual: Option<Vec<String>>,
    /// Policy variables in the values that the request could not resolve.
    pub unresolved: Vec<String>,
    /// One clause, e.g. `requires cloudtrail:ExternalId StringEquals "abc" but
    /// the request has no cloudtrail:ExternalId`.
    pub reason: String,
}

/// Evaluate one condition test. `Ok(())` when it holds, otherwise why not.
pub(crate) fn eval(c: &Condition, ctx: &Context, vars: bool) -> Result<(), Box<ConditionMiss>> {
    let op = &c.operator;
    let raw = ctx.get(&c.key);
    let present = raw.filter(|v| !v.is_empty());
    let want = || quoted_list(&c.values);
    let miss = |reason: String, unresolved: Vec<String>| {
        Box::new(ConditionMiss {
            operator: op.name.clone(),
            key: c.key.clone(),
            values: c.values.clone(),
            actual: raw.map(<[String]>::to_vec),
            unresolved,
            reason,
        })
    };

    if op.base == BaseOperator::Null {
        // "true": the key must be absent; "false": present. Several values: any.
        let ok = c
            .values
            .iter()
            .any(|v| v.eq_ignore_ascii_case("true") == present.is_none());
        return if ok {
            Ok(())
        } else if present.is_some() {
            Err(miss(
                format!(
                    "requires {} to be absent (Null true) but the request has it",
                    c.key
                ),
                Vec::new(),
            ))
        } else {
            Err(miss(
                format!(
                    "requires {} to be present (Null false) but the request has none",
                    c.key
                ),
                Vec::new(),
            ))
        };
    }

    // Substitute policy variables in the policy values: only string, ARN and
    // Bool operators take variables ("You can't use a policy variable with
    // other operators, such as Numeric, Date, ... Binary, IP Address, or Null";
    // the condition-operator reference lists Bool as supported).
    let substitute = vars && op.base.takes_variables();
    let mut pats: Vec<Vec<Tok>> = Vec::with_capacity(c.values.len());
    let mut unresolved = Vec::new();
    for v in &c.values {
        match compile(v, substitute.then_some(ctx)) {
            Ok(t) => pats.push(t),
            Err(name) => unresolved.push(name),
        }
    }

    // A set operator treats an empty data set (no values, or only empty
    // strings) like a missing key: "The ForAllValues qualifier returns true if
    // there are no context keys in the request or if the context key value
    // resolves to a null dataset, such as an empty string."
    let present = match op.qualifier {
        Some(_) => present.filter(|v| v.iter().any(|x| !x.is_empty())),
        None => present,
    };
    let negated = op.base.is_negated();
    let Some(actual) = present else {
        // Missing key: positive operators are false, negated ones true,
        // `…IfExists` true; `ForAllValues:` is true and `ForAnyValue:` false
        // whatever the operator ("For no matching context key or if the key
        // does not exist, the condition returns false").
        let ok = op.if_exists
            || match op.qualifier {
                Some(SetQualifier::ForAllValues) => true,
                Some(SetQualifier::ForAnyValue) => false,
                None => negated,
            };
        if ok {
            return Ok(());
        }
        let has = if raw.is_some() {
            format!("the request's {} is empty", c.key)
        } else {
            format!("the request has no {}", c.key)
        };
        return Err(miss(
            format!("requires {} {} {} but {has}", c.key, op.name, want()),
            unresolved,
        ));
    };

    let hit = |value: &str| pats.iter().any(|p| base_match(op.base, value, p));
    // A value "satisfies" the operator: positive → matches some policy value;
    // negated → matches none of them.
    let satisfies = |value: &str| hit(value) != negated;
    let ok = match op.qualifier {
        Some(SetQualifier::ForAllValues) => actual.iter().all(|v| satisfies(v)),
        Some(SetQualifier::ForAnyValue) => actual.iter().any(|v| satisfies(v)),
        None if negated => !actual.iter().any(|v| hit(v)),
        None => actual.iter().any(|v| hit(v)),
    };
    if ok {
        return Ok(());
    }
    let mut why = format!(
        "requires {} {} {} but the request's {} is {}",
        c.key,
        op.name,
        want(),
        c.key,
        quoted_list(actual)
    );
    if !unresolved.is_empty() {
        why.push_str(&format!(
            " (policy variable{} {} could not be resolved)",
            if unresolved.len() > 1 { "s" } else { "" },
            unresolved.join(", ")
        ));
    }
    Err(miss(why, unresolved))
}

fn quoted_list(v: &[String]) -> String {
    match v {
        [one] => format!("\"{one}\""),
        many => format!(
            "one of [{}]",
            many.iter()
                .map(|x| format!("\"{x}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Does the request value `value` match the policy value `pat` under the
/// *positive* form of `base`?
fn base_match(base: BaseOperator, value: &str, pat: &[Tok]) -> bool {
    use BaseOperator::*;
    match base {
        StringEquals | StringNotEquals => value == literal(pat),
        StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => {
            value.to_lowercase() == literal(pat).to_lowercase()
        }
        StringLike | StringNotLike => matches(pat, value, false),
        NumericEquals | NumericNotEquals => num_cmp(value, pat, |a, b| a == b),
        NumericLessThan => num_cmp(value, pat, |a, b| a < b),
        NumericLessThanEquals => num_cmp(value, pat, |a, b| a <= b),
        NumericGreaterThan => num_cmp(value, pat, |a, b| a > b),
        NumericGreaterThanEquals => num_cmp(value, pat, |a, b| a >= b),
        DateEquals | DateNotEquals => date_cmp(value, pat, |a, b| a == b),
        DateLessThan => date_cmp(value, pat, |a, b| a < b),
        DateLessThanEquals => date_cmp(value, pat, |a, b| a <= b),
        DateGreaterThan => date_cmp(value, pat, |a, b| a > b),
        DateGreaterThanEquals => date_cmp(value, pat, |a, b| a >= b),
        Bool => value.eq_ignore_ascii_case(&literal(pat)),
        BinaryEquals => value == literal(pat),
        IpAddress | NotIpAddress => ip_in(value, &literal(pat)),
        ArnEquals | ArnNotEquals | ArnLike | ArnNotLike => arn_like(value, pat),
        Null => false,
    }
}

fn num_cmp(value: &str, pat: &[Tok], f: impl Fn(f64, f64) -> bool) -> bool {
    match (
        value.trim().parse::<f64>(),
        literal(pat).trim().parse::<f64>(),
    ) {
        (Ok(a), Ok(b)) if a.is_finite() && b.is_finite() => f(a, b),
        _ => false,
    }
}

fn date_cmp(value: &str, pat: &[Tok], f: impl Fn(i128, i128) -> bool) -> bool {
    match (parse_date(value), parse_date(&literal(pat))) {
        (Some(a), Some(b)) => f(a, b),
        _ => false,
    }
}

/// Parse an IAM date value into milliseconds since the epoch: epoch seconds
/// (`1700000000`), or ISO 8601 `YYYY[-MM[-DD]][Thh[:mm[:ss[.fff]]]][Z|±hh[:mm]]`.
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok().map(|secs| i128::from(secs) * 1000);
    }
    let (date, time) = match s.find(['T', 't']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let year: i64 = dp.next()?.parse().ok()?;
    let month: u32 = dp.next().map_or(Some(1), |m| m.parse().ok())?;
    let day: u32 = dp.next().map_or(Some(1), |d| d.parse().ok())?;
    if dp.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    if !(-292_275_054..=292_278_993).contains(&year) {
        return None;
    }
    let mut ms: i128 = i128::from(days_from_civil(year, month, day)) * 86_400_000;
    if let Some(t) = time {
        // Split off the zone.
        let (clock, offset_min) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
            (c, 0i64)
        } else if let Some(i) = t.rfind(['+', '-']) {
            let (c, z) = t.split_at(i);
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let z = &z[1..];
            let (h, m) = match z.split_once(':') {
                Some((h, m)) => (h, m),
                None if z.len() == 4 => z.split_at(2),
                None => (z, "0"),
            };
            let h: i64 = h.parse().ok()?;
            let m: i64 = m.parse().ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            (c, sign * (h * 60 + m))
        } else {
            (t, 0)
        };
        let mut cp = clock.split(':');
        let h: i64 = cp
            .next()
            .filter(|x| !x.is_empty())
            .map_or(Some(0), |x| x.parse().ok())?;
        let mi: i64 = cp.next().map_or(Some(0), |x| x.parse().ok())?;
        let (sec, frac_ms) = match cp.next() {
            None => (0i64, 0i64),
            Some(x) => match x.split_once('.') {
                Some((sec, frac)) => {
                    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    let padded: String = frac.chars().chain("000".chars()).take(3).collect();
                    (sec.parse().ok()?, padded.parse().ok()?)
                }
                None => (x.parse().ok()?, 0),
            },
        };
        if cp.next().is_some() || h > 23 || mi > 59 || sec > 60 || h < 0 || mi < 0 || sec < 0 {
            return None;
        }
        ms += i128::from(((h * 60 + mi - offset_min) * 60 + sec) * 1000 + frac_ms);
    }
    Some(ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let d = i64::from(d);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Is `value` (an IP address) inside `cidr` (an address or CIDR block)?
fn ip_in(value: &str, cidr: &str) -> bool {
    let Ok(ip) = value.trim().parse::<IpAddr>() else {
        return false;
    };
    let (net, len) = match cidr.trim().split_once('/') {
        Some((n, l)) => match (n.parse::<IpAddr>(), l.parse::<u32>()) {
            (Ok(n), Ok(l)) => (n, l),
            _ => return false,
        },
        None => match cidr.trim().parse::<IpAddr>() {
            Ok(n) => (n, if n.is_ipv4() { 32 } else { 128 }),
            Err(_) => return false,
        },
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) if len <= 32 => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if len <= 128 => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V4(n)) if len <= 32 => match a.to_ipv4_mapped() {
            Some(a4) => ip_in(&a4.to_string(), &format!("{n}/{len}")),
            None => false,
        },
        _ => false,
    }
}

/// `ArnLike`/`ArnEquals`: the six colon-separated parts are matched one by
/// one, case-sensitively, with `*`/`?` wildcards; the last part may hold colons.
fn arn_like(value: &str, pat: &[Tok]) -> bool {
    let vparts: Vec<&str> = value.splitn(6, ':').collect();
    let mut pparts: Vec<Vec<Tok>> = vec![Vec::new()];
    for t in pat {
        if *t == Tok::Lit(':') && pparts.len() < 6 {
            pparts.push(Vec::new());
        } else if let Some(last) = pparts.last_mut() {
            last.push(t.clone());
        }
    }
    if vparts.len() != 6 {
        return false;
    }
    if pparts.len() < 6 {
        // A pattern with fewer segments matches when its last segment ends
        // with `*`, which then covers the rest of the ARN (`arn:aws:s3:*`).
        let n = pparts.len();
        let ends_with_star = pparts.last().is_some_and(|p| p.last() == Some(&Tok::Star));
        if !ends_with_star {
            return false;
        }
        let rest = vparts[n - 1..].join(":");
        return vparts[..n - 1]
            .iter()
            .zip(pparts.iter())
            .all(|(v, p)| matches(p, v, false))
            && pparts.last().is_some_and(|p| matches(p, &rest, false));
    }
    vparts
        .iter()
        .zip(pparts.iter())
        .all(|(v, p)| matches(p, v, false))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::parse::Operator;

    fn cond(op: &str, key: &str, vals: &[&str]) -> Condition {
        Condition {
            operator: Operator::parse(op).unwrap(),
            key: key.into(),
            values: vals.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn check(op: &str, key: &str, vals: &[&str], ctx: &Context) -> bool {
        eval(&cond(op, key, vals), ctx, true).is_ok()
    }

    #[test]
    fn strings() {
        let ctx = Context::new().with("k:a", "Hello");
        assert!(check("StringEquals", "k:a", &["Hello"], &ctx));
        assert!(!check("StringEquals", "k:a", &["hello"], &ctx));
        assert!(check("StringEquals", "K:A", &["x", "Hello"], &ctx));
        assert!(check("StringEqualsIgnoreCase", "k:a", &["hello"], &ctx));
        assert!(!check("StringNotEqualsIgnoreCase", "k:a", &["HELLO"], &ctx));
        assert!(check("StringNotEquals", "k:a", &["x", "y"], &ctx));
        assert!(!check("StringNotEquals", "k:a", &["x", "Hello"], &ctx));
        assert!(check("StringLike", "k:a", &["H*o"], &ctx));
        assert!(check("StringLike", "k:a", &["H?llo"], &ctx));
        assert!(!check("StringLike", "k:a", &["h*"], &ctx));
        assert!(check("StringNotLike", "k:a", &["x*"], &ctx));
        // StringEquals compares literally: `*` is not a wildcard.
        assert!(!check("StringEquals", "k:a", &["*"], &ctx));
    }

    #[test]
    fn missing_keys() {
        let ctx = Context::new();
        assert!(!check("StringEquals", "k:a", &["x"], &ctx));
        assert!(check("StringNotEquals", "k:a", &["x"], &ctx));
        assert!(check("StringNotLike", "k:a", &["x"], &ctx));
        assert!(check("StringEqualsIfExists", "k:a", &["x"], &ctx));
        assert!(check("Null", "k:a", &["true"], &ctx));
        assert!(!check("Null", "k:a", &["false"], &ctx));
        assert!(check("ForAllValues:StringEquals", "k:a", &["x"], &ctx));
        assert!(!check("ForAnyValue:StringEquals", "k:a", &["x"], &ctx));
        assert!(!check("NumericLessThan", "k:a", &["1"], &ctx));
        assert!(check("NotIpAddress", "k:a", &["10.0.0.0/8"], &ctx));
        let err = eval(
            &cond("StringEquals", "cloudtrail:ExternalId", &["abc"]),
            &ctx,
            true,
        )
        .unwrap_err();
        assert_eq!(err.actual, None);
        assert_eq!(
            err.reason,
            "requires cloudtrail:ExternalId StringEquals \"abc\" but the request has no cloudtrail:ExternalId"
        );
        let ctx = Context::new().with("k:a", "x");
        assert!(!check("Null", "k:a", &["true"], &ctx));
        assert!(check("Null", "k:a", &["false"], &ctx));
        assert!(!check("StringEqualsIfExists", "k:a", &["y"], &ctx));
    }

    #[test]
    fn numeric_date_bool_binary() {
        let ctx = Context::new()
            .with("n", "10")
            .with("d", "2024-01-15T12:00:00Z")
            .with("b", "true")
            .with("bin", "QmluYXJ5");
        assert!(check("NumericEquals", "n", &["10.0"], &ctx));
        assert!(check("NumericLessThan", "n", &["11"], &ctx));
        assert!(!check("NumericLessThan", "n", &["10"], &ctx));
        assert!(check("NumericLessThanEquals", "n", &["10"], &ctx));
        assert!(check("NumericGreaterThan", "n", &["9.5"], &ctx));
        assert!(check("NumericGreaterThanEquals", "n", &["10"], &ctx));
        assert!(check("NumericNotEquals", "n", &["11"], &ctx));
        assert!(!check("NumericEquals", "n", &["abc"], &ctx));
        assert!(check("DateGreaterThan", "d", &["2024-01-01"], &ctx));
        assert!(check(
            "DateLessThan",
            "d",
            &["2024-01-15T13:00:00+00:30"],
            &ctx
        ));
        assert!(check(
            "DateEquals",
            "d",
            &["2024-01-15T13:00:00+01:00"],
            &ctx
        ));
        assert!(check("DateEquals", "d", &["1705320000"], &ctx));
        assert!(check("DateNotEquals", "d", &["2024-01-15T12:00:01Z"], &ctx));
        assert!(check(
            "DateLessThanEquals",
            "d",
            &["2024-01-15T12:00:00.000Z"],
            &ctx
        ));
        assert!(check(
            "DateGreaterThanEquals",
            "d",
            &["2024-01-15T12:00:00Z"],
            &ctx
        ));
        assert!(check("Bool", "b", &["True"], &ctx));
        assert!(!check("Bool", "b", &["false"], &ctx));
        assert!(check("BinaryEquals", "bin", &["QmluYXJ5"], &ctx));
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_date("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_date("2000-03-01T00:00:00Z"), Some(951_868_800_000));
        assert_eq!(
            parse_date("2024-01-15T12:00:00.5Z"),
            Some(1_705_320_000_500)
        );
        assert_eq!(parse_date("nope"), None);
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_date("2024-01-01T25:00:00Z"), None);
    }

    #[test]
    fn ip() {
        let ctx = Context::new().with("aws:SourceIp", "203.0.113.7");
        assert!(check(
            "IpAddress",
            "aws:SourceIp",
            &["203.0.113.0/24"],
            &ctx
        ));
        assert!(check(
            "IpAddress",
            "aws:SourceIp",
            &["10.0.0.0/8", "203.0.113.7"],
            &ctx
        ));
        assert!(!check(
            "IpAddress",
            "aws:SourceIp",
            &["203.0.114.0/24"],
            &ctx
        ));
        assert!(check("NotIpAddress", "aws:SourceIp", &["10.0.0.0/8"], &ctx));
        assert!(check("IpAddress", "aws:SourceIp", &["0.0.0.0/0"], &ctx));
        let ctx6 = Context::new().with("aws:SourceIp", "2001:db8::1");
        assert!(check(
            "IpAddress",
            "aws:SourceIp",
            &["2001:db8::/32"],
            &ctx6
        ));
        assert!(!check(
            "IpAddress",
            "aws:SourceIp",
            &["2001:db9::/32"],
            &ctx6
        ));
        assert!(!check(
            "IpAddress",
            "aws:SourceIp",
            &["203.0.113.0/24"],
            &ctx6
        ));
        assert!(!check("IpAddress", "aws:SourceIp", &["garbage"], &ctx));
    }

    #[test]
    fn arns() {
        let ctx = Context::new().with(
            "aws:SourceArn",
            "arn:aws:cloudtrail:us-east-1:111122223333:channel/abc",
        );
        assert!(check(
            "ArnLike",
            "aws:SourceArn",
            &["arn:aws:cloudtrail:*:111122223333:channel/*"],
            &ctx
        ));
        assert!(check(
            "ArnEquals",
            "aws:SourceArn",
            &["arn:aws:cloudtrail:us-east-1:111122223333:channel/abc"],
            &ctx
        ));
        assert!(!check(
            "ArnLike",
            "aws:SourceArn",
            &["arn:aws:cloudtrail:*:111122223333:channel/ABC"],
            &ctx
        ));
        // `*` in the region part does not span colons.
        assert!(!check(
            "ArnLike",
            "aws:SourceArn",
            &["arn:aws:cloudtrail:*:channel/abc"],
            &ctx
        ));
        assert!(check(
            "ArnNotLike",
            "aws:SourceArn",
            &["arn:aws:s3:::*"],
            &ctx
        ));
        assert!(!check("ArnLike", "aws:SourceArn", &["not-an-arn"], &ctx));
    }

    #[test]
    fn set_operators() {
        let ctx = Context::new().with_values("aws:TagKeys", ["env", "team"]);
        assert!(check(
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            &["env", "team", "cost"],
            &ctx
        ));
        assert!(!check(
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            &["env"],
            &ctx
        ));
        assert!(check(
            "ForAnyValue:StringEquals",
            "aws:TagKeys",
            &["env"],
            &ctx
        ));
        assert!(!check(
            "ForAnyValue:StringEquals",
            "aws:TagKeys",
            &["cost"],
            &ctx
        ));
        assert!(check(
            "ForAnyValue:StringNotEquals",
            "aws:TagKeys",
            &["env"],
            &ctx
        ));
        assert!(!check(
            "ForAllValues:StringNotEquals",
            "aws:TagKeys",
            &["env"],
            &ctx
        ));
        assert!(check(
            "ForAllValues:StringNotEquals",
            "aws:TagKeys",
            &["cost"],
            &ctx
        ));
        assert!(check(
            "ForAllValues:StringLike",
            "aws:TagKeys",
            &["e*", "t*"],
            &ctx
        ));
        // Empty set: ForAllValues is vacuously true.
        let empty = Context::new().with_values("aws:TagKeys", Vec::<String>::new());
        assert!(check(
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            &["x"],
            &empty
        ));
    }

    #[test]
    fn audit_fixes() {
        let empty = Context::new();
        // ForAnyValue is false for a missing key whatever the operator.
        assert!(!check(
            "ForAnyValue:StringNotEquals",
            "aws:TagKeys",
            &["x"],
            &empty
        ));
        assert!(!check(
            "ForAnyValue:StringNotLike",
            "aws:TagKeys",
            &["x*"],
            &empty
        ));
        assert!(check(
            "ForAnyValue:StringNotEqualsIfExists",
            "aws:TagKeys",
            &["x"],
            &empty
        ));
        assert!(check(
            "ForAllValues:StringNotEquals",
            "aws:TagKeys",
            &["x"],
            &empty
        ));
        // An empty string is an empty data set for set operators only.
        let blank = Context::new().with("aws:TagKeys", "");
        assert!(check(
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            &["x"],
            &blank
        ));
        assert!(!check(
            "ForAnyValue:StringEquals",
            "aws:TagKeys",
            &["x"],
            &blank
        ));
        assert!(check("StringEquals", "aws:TagKeys", &[""], &blank));
        assert!(check("Null", "aws:TagKeys", &["false"], &blank));
        // Variables: string, ARN and Bool operators only.
        let ctx = Context::new()
            .with("k:n", "5")
            .with("k:m", "5")
            .with("k:b", "true")
            .with("aws:SourceIp", "203.0.113.9")
            .with("k:net", "203.0.113.0/24");
        assert!(!check("NumericEquals", "k:n", &["${k:m}"], &ctx));
        assert!(check("Bool", "k:b", &["${k:b}"], &ctx));
        assert!(!check("IpAddress", "aws:SourceIp", &["${k:net}"], &ctx));
        assert!(check("StringEquals", "k:n", &["${k:m}"], &ctx));
        // ArnLike with a trailing `*` over the remaining segments.
        let arn = Context::new().with("aws:SourceArn", "arn:aws:s3:::bucket/key");
        assert!(check("ArnLike", "aws:SourceArn", &["arn:aws:s3:*"], &arn));
        assert!(!check("ArnLike", "aws:SourceArn", &["arn:aws:sqs:*"], &arn));
        assert!(!check("ArnLike", "aws:SourceArn", &["arn:aws:s3"], &arn));
        // The miss carries the request's values.
        let m = eval(&cond("StringEquals", "k:n", &["6"]), &ctx, true).unwrap_err();
        assert_eq!(m.actual, Some(vec!["5".to_string()]));
        assert_eq!(m.operator, "StringEquals");
    }

    #[test]
    fn variables_in_conditions() {
        let ctx = Context::new()
            .with("aws:username", "alice")
            .with("s3:prefix", "home/alice/x");
        assert!(check(
            "StringLike",
            "s3:prefix",
            &["home/${aws:username}/*"],
            &ctx
        ));
        assert!(eval(
            &cond("StringLike", "s3:prefix", &["home/${aws:username}/*"]),
            &ctx,
            false
        )
        .is_err());
        assert!(!check(
            "StringLike",
            "s3:prefix",
            &["home/${aws:nope}/*"],
            &ctx
        ));
        assert!(check(
            "StringLike",
            "s3:prefix",
            &["home/${aws:nope,'alice'}/*"],
            &ctx
        ));
    }
}
