//! Timestamp normalisation to the integration schema's `yyyy-MM-ddTHH:mm:ssZ` (UTC).

use serde_json::Value;

/// Normalises a CloudTrail/Logstash timestamp to `yyyy-MM-ddTHH:mm:ssZ` in UTC.
///
/// Accepts RFC 3339-like strings (`T`, `t` or a space between date and time, optional
/// fraction, zone `Z`/`z`/`±hh:mm`/`±hhmm`/`±hh`/` UTC`, no zone = UTC) and numbers as Unix
/// epoch seconds (values above 10^11 are taken as milliseconds). Fractions are dropped
/// (truncated, not rounded). Returns `None` when the value is not a valid timestamp or the
/// resulting year is outside 0000–9999.
pub(crate) fn normalize(value: &Value) -> Option<String> {
    let epoch = match value {
        Value::String(s) => parse_text(s.trim())?,
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                if i.unsigned_abs() > 100_000_000_000 {
                    i.div_euclid(1000)
                } else {
                    i
                }
            } else {
                let f = n.as_f64()?;
                if !f.is_finite() {
                    return None;
                }
                let f = if f.abs() > 1e11 { f / 1000.0 } else { f };
                // Range-checked below through format(); the cast saturates.
                #[allow(clippy::cast_possible_truncation)]
                let secs = f.floor() as i64;
                secs
            }
        }
        _ => return None,
    };
    format(epoch)
}

fn parse_text(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // A leap second is folded into the last second of the minute.
    let second = second.min(59);
    let mut rest = b.get(19..)?;
    if let Some((&sep, tail)) = rest.split_first() {
        if sep == b'.' || sep == b',' {
            let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            rest = tail.get(n..)?;
        }
    }
    let offset = zone_offset(rest)?;
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Zone designator → offset east of UTC in seconds.
fn zone_offset(z: &[u8]) -> Option<i64> {
    match z {
        b"" | b"Z" | b"z" | b" UTC" | b" Z" | b"UTC" => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest.len() {
                2 => (digits(rest, 0, 2)?, 0),
                4 => (digits(rest, 0, 2)?, digits(rest, 2, 2)?),
                5 if rest.get(2) == Some(&b':') => (digits(rest, 0, 2)?, digits(rest, 3, 2)?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let off = h * 3600 + m * 60;
            Some(if *sign == b'-' { -off } else { off })
        }
        _ => None,
    }
}

fn digits(b: &[u8], start: usize, len: usize) -> Option<i64> {
    let part = b.get(start..start + len)?;
    let mut v: i64 = 0;
    for &c in part {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn format(epoch: i64) -> Option<String> {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    ))
}

#[cfg(test)]
mod tests {
    use super::normalize;
    use serde_json::json;

    fn n(v: serde_json::Value) -> Option<String> {
        normalize(&v)
    }

    #[test]
    fn cloudtrail_format_is_kept() {
        assert_eq!(
            n(json!("2023-07-10T11:45:01Z")).as_deref(),
            Some("2023-07-10T11:45:01Z")
        );
    }

    #[test]
    fn logstash_fraction_dropped() {
        assert_eq!(
            n(json!("2020-09-14T00:44:23.000Z")).as_deref(),
            Some("2020-09-14T00:44:23Z")
        );
        assert_eq!(
            n(json!("2020-09-14 00:44:23,999")).as_deref(),
            Some("2020-09-14T00:44:23Z")
        );
    }

    #[test]
    fn offsets_convert_to_utc() {
        assert_eq!(
            n(json!("2020-01-01T01:30:00+02:00")).as_deref(),
            Some("2019-12-31T23:30:00Z")
        );
        assert_eq!(
            n(json!("2020-02-28T23:00:00-0130")).as_deref(),
            Some("2020-02-29T00:30:00Z")
        );
        assert_eq!(
            n(json!("2020-02-28T23:00:00-01")).as_deref(),
            Some("2020-02-29T00:00:00Z")
        );
    }

    #[test]
    fn epoch_numbers() {
        assert_eq!(n(json!(0)).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            n(json!(1_600_044_263_000_i64)).as_deref(),
            Some("2020-09-14T00:44:23Z")
        );
        assert_eq!(
            n(json!(1_600_044_263.5)).as_deref(),
            Some("2020-09-14T00:44:23Z")
        );
    }

    #[test]
    fn garbage_rejected() {
        for bad in [
            json!("2025-10-21TT00:52:27Z"),
            json!("2023-02-30T00:00:00Z"),
            json!("2023-13-01T00:00:00Z"),
            json!("2023-01-01T24:00:00Z"),
            json!("2023-01-01T00:00:00Q"),
            json!("2023-01-01T00:00:00."),
            json!("Jul 19, 2023 9:25:09 PM"),
            json!("2023-01-01"),
            json!(true),
            json!(null),
            json!({}),
        ] {
            assert_eq!(n(bad.clone()), None, "{bad}");
        }
    }
}
