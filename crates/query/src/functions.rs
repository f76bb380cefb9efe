//! Trino functions that CloudTrail Lake queries use and DataFusion lacks,
//! or has under the same name with other semantics (`date_format` takes
//! MySQL format specifiers in Trino, chrono's in DataFusion).
//!
//! Functions that are only another spelling of a DataFusion function
//! (`split`, `contains`, `count_if`, `max_by`, …) are rewritten in
//! [`crate::prepare`]; this module holds the ones that need code.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, Timelike, Utc};
use datafusion::arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use serde_json::Value;
use std::sync::Arc;

type Kernel = fn(&[ArrayRef]) -> Result<ArrayRef>;

/// A scalar function evaluated over whole argument arrays.
#[derive(Debug)]
struct Function {
    name: &'static str,
    aliases: Vec<String>,
    signature: Signature,
    returns: DataType,
    kernel: Kernel,
}

impl PartialEq for Function {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for Function {}
impl std::hash::Hash for Function {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for Function {
    fn name(&self) -> &str {
        self.name
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.returns.clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        Ok(ColumnarValue::Array((self.kernel)(&arrays)?))
    }
}

fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn function(name: &'static str, arity: &[usize], returns: DataType, kernel: Kernel) -> ScalarUDF {
    function_with_aliases(name, &[], arity, returns, kernel)
}

fn function_with_aliases(
    name: &'static str,
    aliases: &[&str],
    arity: &[usize],
    returns: DataType,
    kernel: Kernel,
) -> ScalarUDF {
    let signature = Signature::one_of(
        arity
            .iter()
            .map(|n| datafusion::logical_expr::TypeSignature::Any(*n))
            .collect(),
        Volatility::Immutable,
    );
    ScalarUDF::new_from_impl(Function {
        name,
        aliases: aliases.iter().map(|a| (*a).to_string()).collect(),
        signature,
        returns,
        kernel,
    })
}

/// Registers the Trino functions in `ctx`, replacing DataFusion's of the same name.
pub(crate) fn register(ctx: &SessionContext) {
    let parts: [(&'static str, &[&str], Kernel); 13] = [
        ("year", &[], |a| part(a, |t| i64::from(t.year()))),
        ("quarter", &[], |a| {
            part(a, |t| i64::from(t.month0() / 3 + 1))
        }),
        ("month", &[], |a| part(a, |t| i64::from(t.month()))),
        ("week", &["week_of_year"], |a| {
            part(a, |t| i64::from(t.iso_week().week()))
        }),
        ("day", &["day_of_month"], |a| {
            part(a, |t| i64::from(t.day()))
        }),
        ("day_of_week", &["dow"], |a| {
            part(a, |t| i64::from(t.weekday().number_from_monday()))
        }),
        ("day_of_year", &["doy"], |a| {
            part(a, |t| i64::from(t.ordinal()))
        }),
        ("year_of_week", &["yow"], |a| {
            part(a, |t| i64::from(t.iso_week().year()))
        }),
        ("hour", &[], |a| part(a, |t| i64::from(t.hour()))),
        ("minute", &[], |a| part(a, |t| i64::from(t.minute()))),
        ("second", &[], |a| part(a, |t| i64::from(t.second()))),
        ("millisecond", &[], |a| {
            part(a, |t| i64::from(t.nanosecond() / 1_000_000 % 1000))
        }),
        ("to_unixtime", &[], to_unixtime),
    ];
    for (name, aliases, kernel) in parts {
        let returns = if name == "to_unixtime" {
            DataType::Float64
        } else {
            DataType::Int64
        };
        ctx.register_udf(function_with_aliases(name, aliases, &[1], returns, kernel));
    }
    for udf in [
        function("date_add", &[3], utc(), date_add),
        function("date_diff", &[3], DataType::Int64, date_diff),
        function("date_format", &[2], DataType::Utf8, date_format),
        function("date_parse", &[2], utc(), date_parse),
        function("from_iso8601_timestamp", &[1], utc(), from_iso8601),
        function("to_iso8601", &[1], DataType::Utf8, to_iso8601),
        function("json_extract", &[2], DataType::Utf8, json_extract),
        function(
            "json_extract_scalar",
            &[2],
            DataType::Utf8,
            json_extract_scalar,
        ),
        function("json_format", &[1], DataType::Utf8, json_format),
        function("json_parse", &[1], DataType::Utf8, json_format),
        function("json_size", &[2], DataType::Int64, json_size),
        function(
            "json_array_length",
            &[1],
            DataType::Int64,
            json_array_length,
        ),
        function("regexp_extract", &[2, 3], DataType::Utf8, regexp_extract),
    ] {
        ctx.register_udf(udf);
    }
}

fn invalid(message: String) -> DataFusionError {
    DataFusionError::Execution(message)
}

fn strings(a: &ArrayRef) -> Result<StringArray> {
    let a = cast(a, &DataType::Utf8)?;
    a.as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .ok_or_else(|| invalid("expected a string argument".into()))
}

fn times(a: &ArrayRef) -> Result<TimestampMicrosecondArray> {
    let a = cast(a, &utc())?;
    a.as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .cloned()
        .ok_or_else(|| invalid("expected a timestamp argument".into()))
}

fn integers(a: &ArrayRef) -> Result<Int64Array> {
    let a = cast(a, &DataType::Int64)?;
    a.as_any()
        .downcast_ref::<Int64Array>()
        .cloned()
        .ok_or_else(|| invalid("expected an integer argument".into()))
}

fn to_time(micros: i64) -> Result<NaiveDateTime> {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|t| t.naive_utc())
        .ok_or_else(|| invalid(format!("timestamp out of range: {micros} µs")))
}

fn from_time(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

fn arg(args: &[ArrayRef], i: usize) -> Result<&ArrayRef> {
    args.get(i)
        .ok_or_else(|| invalid(format!("missing argument {}", i + 1)))
}

fn part(args: &[ArrayRef], f: fn(NaiveDateTime) -> i64) -> Result<ArrayRef> {
    let t = times(arg(args, 0)?)?;
    let out: Int64Array = t
        .iter()
        .map(|v| v.map(to_time).transpose().map(|t| t.map(f)))
        .collect::<Result<_>>()?;
    Ok(Arc::new(out))
}

fn to_unixtime(args: &[ArrayRef]) -> Result<ArrayRef> {
    let t = times(arg(args, 0)?)?;
    let out: Float64Array = t.iter().map(|v| v.map(|m| m as f64 / 1e6)).collect();
    Ok(Arc::new(out))
}

/// The units of `date_add` / `date_diff` / `date_trunc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Unit {
    fn parse(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "millisecond" => Self::Millisecond,
            "second" => Self::Second,
            "minute" => Self::Minute,
            "hour" => Self::Hour,
            "day" => Self::Day,
            "week" => Self::Week,
            "month" => Self::Month,
            "quarter" => Self::Quarter,
            "year" => Self::Year,
            other => {
                return Err(invalid(format!(
                "'{other}' is not a valid time unit: use millisecond, second, minute, hour, day, week, month, quarter or year"
            )))
            }
        })
    }

    /// Months per unit, for the calendar units.
    fn months(self) -> Option<i64> {
        match self {
            Self::Month => Some(1),
            Self::Quarter => Some(3),
            Self::Year => Some(12),
            _ => None,
        }
    }

    fn micros(self) -> i64 {
        match self {
            Self::Millisecond => 1_000,
            Self::Second => 1_000_000,
            Self::Minute => 60_000_000,
            Self::Hour => 3_600_000_000,
            Self::Day => 86_400_000_000,
            _ => 7 * 86_400_000_000,
        }
    }
}

fn add(unit: Unit, n: i64, t: NaiveDateTime) -> Result<NaiveDateTime> {
    let overflow = || invalid(format!("date_add overflows: {n} {unit:?} from {t}"));
    match unit.months() {
        Some(per) => {
            let months = n.checked_mul(per).ok_or_else(overflow)?;
            let magnitude =
                Months::new(u32::try_from(months.unsigned_abs()).map_err(|_| overflow())?);
            if months >= 0 {
                t.checked_add_months(magnitude)
            } else {
                t.checked_sub_months(magnitude)
            }
            .ok_or_else(overflow)
        }
        None => {
            let micros = n.checked_mul(unit.micros()).ok_or_else(overflow)?;
            t.checked_add_signed(Duration::microseconds(micros))
                .ok_or_else(overflow)
        }
    }
}

/// Whole units from `a` to `b`, as Trino counts them (truncated toward zero).
fn diff(unit: Unit, a: NaiveDateTime, b: NaiveDateTime) -> i64 {
    match unit.months() {
        Some(per) => {
            let months = |t: NaiveDateTime| i64::from(t.year()) * 12 + i64::from(t.month0());
            let mut whole = months(b) - months(a);
            // A month only counts once the day and time of month are reached.
            let rest = |t: NaiveDateTime| (t.day(), t.time());
            if whole > 0 && rest(b) < rest(a) {
                whole -= 1;
            } else if whole < 0 && rest(b) > rest(a) {
                whole += 1;
            }
            whole / per
        }
        None => (from_time(b) - from_time(a)) / unit.micros(),
    }
}

fn date_add(args: &[ArrayRef]) -> Result<ArrayRef> {
    let units = strings(arg(args, 0)?)?;
    let n = integers(arg(args, 1)?)?;
    let t = times(arg(args, 2)?)?;
    let mut out = Vec::with_capacity(t.len());
    for i in 0..t.len() {
        if units.is_null(i) || n.is_null(i) || t.is_null(i) {
            out.push(None);
            continue;
        }
        let unit = Unit::parse(units.value(i))?;
        out.push(Some(from_time(add(
            unit,
            n.value(i),
            to_time(t.value(i))?,
        )?)));
    }
    Ok(Arc::new(
        TimestampMicrosecondArray::from(out).with_timezone("UTC"),
    ))
}

fn date_diff(args: &[ArrayRef]) -> Result<ArrayRef> {
    let units = strings(arg(args, 0)?)?;
    let a = times(arg(args, 1)?)?;
    let b = times(arg(args, 2)?)?;
    let mut out = Vec::with_capacity(a.len());
    for i in 0..a.len() {
        if units.is_null(i) || a.is_null(i) || b.is_null(i) {
            out.push(None);
            continue;
        }
        let unit = Unit::parse(units.value(i))?;
        out.push(Some(diff(unit, to_time(a.value(i))?, to_time(b.value(i))?)));
    }
    Ok(Arc::new(Int64Array::from(out)))
}

/// A Trino (MySQL) date format in chrono's terms.
fn chrono_format(mysql: &str) -> Result<String> {
    let mut out = String::with_capacity(mysql.len() + 8);
    let mut chars = mysql.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(spec) = chars.next() else {
            return Err(invalid(format!("the format '{mysql}' ends with a lone %")));
        };
        out.push_str(match spec {
            'a' => "%a",
            'b' => "%b",
            'c' => "%-m",
            'd' => "%d",
            'e' => "%-d",
            'f' => "%6f",
            'H' => "%H",
            'h' | 'I' => "%I",
            'i' => "%M",
            'j' => "%j",
            'k' => "%-H",
            'l' => "%-I",
            'M' => "%B",
            'm' => "%m",
            'p' => "%p",
            'r' => "%I:%M:%S %p",
            'S' | 's' => "%S",
            'T' => "%H:%M:%S",
            'v' => "%V",
            'W' => "%A",
            'Y' => "%Y",
            'y' => "%y",
            '%' => "%%",
            other => {
                return Err(invalid(format!(
                    "%{other} is not a supported date format specifier"
                )))
            }
        });
    }
    Ok(out)
}

fn date_format(args: &[ArrayRef]) -> Result<ArrayRef> {
    let t = times(arg(args, 0)?)?;
    let formats = strings(arg(args, 1)?)?;
    let mut out = Vec::with_capacity(t.len());
    let mut last: Option<(String, String)> = None;
    for i in 0..t.len() {
        if t.is_null(i) || formats.is_null(i) {
            out.push(None);
            continue;
        }
        let given = formats.value(i);
        let format = match &last {
            Some((g, f)) if g == given => f.clone(),
            _ => {
                let f = chrono_format(given)?;
                last = Some((given.to_string(), f.clone()));
                f
            }
        };
        out.push(Some(to_time(t.value(i))?.format(&format).to_string()));
    }
    Ok(Arc::new(StringArray::from(out)))
}

fn date_parse(args: &[ArrayRef]) -> Result<ArrayRef> {
    let text = strings(arg(args, 0)?)?;
    let formats = strings(arg(args, 1)?)?;
    let mut out = Vec::with_capacity(text.len());
    for i in 0..text.len() {
        if text.is_null(i) || formats.is_null(i) {
            out.push(None);
            continue;
        }
        let format = chrono_format(formats.value(i))?;
        let value = text.value(i);
        let parsed = NaiveDateTime::parse_from_str(value, &format)
            .or_else(|_| {
                NaiveDate::parse_from_str(value, &format)
                    .map(|d| d.and_time(chrono::NaiveTime::MIN))
            })
            .map_err(|e| {
                invalid(format!(
                    "'{value}' does not match the format '{}': {e}",
                    formats.value(i)
                ))
            })?;
        out.push(Some(from_time(parsed)));
    }
    Ok(Arc::new(
        TimestampMicrosecondArray::from(out).with_timezone("UTC"),
    ))
}

/// ISO 8601 text as Trino's from_iso8601_timestamp reads it: a date, or a
/// date and time with an optional zone (UTC without one).
fn parse_iso8601(s: &str) -> Option<NaiveDateTime> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.naive_utc());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z"] {
        if let Ok(t) = DateTime::parse_from_str(s, format) {
            return Some(t.naive_utc());
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t);
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_time(chrono::NaiveTime::MIN))
}

fn from_iso8601(args: &[ArrayRef]) -> Result<ArrayRef> {
    let text = strings(arg(args, 0)?)?;
    let out: Vec<Option<i64>> = text
        .iter()
        .map(|v| {
            v.map(|s| {
                parse_iso8601(s)
                    .map(from_time)
                    .ok_or_else(|| invalid(format!("'{s}' is not an ISO 8601 timestamp")))
            })
            .transpose()
        })
        .collect::<Result<_>>()?;
    Ok(Arc::new(
        TimestampMicrosecondArray::from(out).with_timezone("UTC"),
    ))
}

fn to_iso8601(args: &[ArrayRef]) -> Result<ArrayRef> {
    let t = times(arg(args, 0)?)?;
    let out: Vec<Option<String>> = t
        .iter()
        .map(|v| {
            v.map(|m| to_time(m).map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()))
                .transpose()
        })
        .collect::<Result<_>>()?;
    Ok(Arc::new(StringArray::from(out)))
}

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Parses the JSON paths Trino's json_extract takes: `$`, then `.key`,
/// `["key"]` / `['key']` and `[n]` steps.
fn parse_path(path: &str) -> Result<Vec<Step>> {
    let bad = || {
        invalid(format!(
            "'{path}' is not a valid JSON path (like $.a.b[0] or $[\"a\"])"
        ))
    };
    let rest = path.trim().strip_prefix('$').ok_or_else(bad)?;
    let b = rest.as_bytes();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'.' => {
                let start = i + 1;
                let mut end = start;
                while end < b.len() && b[end] != b'.' && b[end] != b'[' {
                    end += 1;
                }
                let key = rest.get(start..end).ok_or_else(bad)?;
                if key.is_empty() {
                    return Err(bad());
                }
                steps.push(Step::Key(key.to_string()));
                i = end;
            }
            b'[' => {
                let close = rest[i..].find(']').map(|c| c + i).ok_or_else(bad)?;
                let inner = rest.get(i + 1..close).ok_or_else(bad)?.trim();
                let quoted = inner
                    .strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .or_else(|| inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')));
                steps.push(match quoted {
                    Some(key) => Step::Key(key.to_string()),
                    None => Step::Index(inner.parse().map_err(|_| bad())?),
                });
                i = close + 1;
            }
            _ => return Err(bad()),
        }
    }
    Ok(steps)
}

fn walk<'a>(mut v: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    for step in steps {
        v = match (step, v) {
            (Step::Key(k), Value::Object(o)) => o.get(k)?,
            (Step::Index(n), Value::Array(a)) => a.get(*n)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Applies `f` to each (parsed JSON, path) pair; text that is not JSON gives NULL.
fn with_json<T>(
    args: &[ArrayRef],
    f: impl Fn(&Value, &[Step]) -> Option<T>,
) -> Result<Vec<Option<T>>> {
    let json = strings(arg(args, 0)?)?;
    let paths = match args.get(1) {
        Some(p) => Some(strings(p)?),
        None => None,
    };
    let mut cached: Option<(String, Vec<Step>)> = None;
    let mut out = Vec::with_capacity(json.len());
    for i in 0..json.len() {
        let path = match &paths {
            Some(p) if p.is_null(i) => {
                out.push(None);
                continue;
            }
            Some(p) => p.value(i),
            None => "$",
        };
        if json.is_null(i) {
            out.push(None);
            continue;
        }
        if cached.as_ref().is_none_or(|(p, _)| p != path) {
            cached = Some((path.to_string(), parse_path(path)?));
        }
        let steps = cached.as_ref().map_or(&[][..], |(_, s)| s.as_slice());
        out.push(
            serde_json::from_str::<Value>(json.value(i))
                .ok()
                .and_then(|v| f(&v, steps)),
        );
    }
    Ok(out)
}

fn json_extract(args: &[ArrayRef]) -> Result<ArrayRef> {
    let out = with_json(args, |v, steps| walk(v, steps).map(Value::to_string))?;
    Ok(Arc::new(StringArray::from(out)))
}

fn json_extract_scalar(args: &[ArrayRef]) -> Result<ArrayRef> {
    let out = with_json(args, |v, steps| match walk(v, steps)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })?;
    Ok(Arc::new(StringArray::from(out)))
}

fn json_format(args: &[ArrayRef]) -> Result<ArrayRef> {
    let out = with_json(args, |v, _| Some(v.to_string()))?;
    Ok(Arc::new(StringArray::from(out)))
}

fn json_size(args: &[ArrayRef]) -> Result<ArrayRef> {
    let out = with_json(args, |v, steps| {
        Some(match walk(v, steps)? {
            Value::Object(o) => o.len() as i64,
            Value::Array(a) => a.len() as i64,
            _ => 0,
        })
    })?;
    Ok(Arc::new(Int64Array::from(out)))
}

fn json_array_length(args: &[ArrayRef]) -> Result<ArrayRef> {
    let out = with_json(args, |v, _| match v {
        Value::Array(a) => Some(a.len() as i64),
        _ => None,
    })?;
    Ok(Arc::new(Int64Array::from(out)))
}

fn regexp_extract(args: &[ArrayRef]) -> Result<ArrayRef> {
    let text = strings(arg(args, 0)?)?;
    let patterns = strings(arg(args, 1)?)?;
    let groups = match args.get(2) {
        Some(g) => Some(integers(g)?),
        None => None,
    };
    let mut cached: Option<(String, regex::Regex)> = None;
    let mut out = Vec::with_capacity(text.len());
    for i in 0..text.len() {
        if text.is_null(i) || patterns.is_null(i) || groups.as_ref().is_some_and(|g| g.is_null(i)) {
            out.push(None);
            continue;
        }
        let pattern = patterns.value(i);
        if cached.as_ref().is_none_or(|(p, _)| p != pattern) {
            let re = regex::Regex::new(pattern).map_err(|e| {
                invalid(format!(
                    "'{pattern}' is not a valid regular expression: {e}"
                ))
            })?;
            cached = Some((pattern.to_string(), re));
        }
        let Some((_, re)) = &cached else {
            out.push(None);
            continue;
        };
        let group = groups.as_ref().map_or(0, |g| g.value(i));
        let index = usize::try_from(group)
            .ok()
            .filter(|g| *g < re.captures_len())
            .ok_or_else(|| {
                invalid(format!(
                    "group {group} does not exist in '{pattern}', which has {} groups",
                    re.captures_len() - 1
                ))
            })?;
        out.push(
            re.captures(text.value(i))
                .and_then(|c| c.get(index))
                .map(|m| m.as_str().to_string()),
        );
    }
    Ok(Arc::new(StringArray::from(out)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> NaiveDateTime {
        parse_iso8601(s).unwrap()
    }

    #[test]
    fn date_diff_counts_whole_units_like_trino() {
        assert_eq!(
            diff(
                Unit::Day,
                t("2023-01-01T12:00:00"),
                t("2023-01-03T11:59:59")
            ),
            1
        );
        assert_eq!(
            diff(
                Unit::Day,
                t("2023-01-03T11:59:59"),
                t("2023-01-01T12:00:00")
            ),
            -1
        );
        assert_eq!(
            diff(
                Unit::Month,
                t("2023-01-31T00:00:00"),
                t("2023-02-28T00:00:00")
            ),
            0
        );
        assert_eq!(
            diff(
                Unit::Month,
                t("2023-01-15T00:00:00"),
                t("2023-03-15T00:00:00")
            ),
            2
        );
        assert_eq!(
            diff(
                Unit::Year,
                t("2020-02-29T00:00:00"),
                t("2023-02-28T00:00:00")
            ),
            2
        );
        assert_eq!(
            diff(
                Unit::Quarter,
                t("2023-01-01T00:00:00"),
                t("2023-12-31T00:00:00")
            ),
            3
        );
    }

    #[test]
    fn date_add_clamps_month_ends() {
        assert_eq!(
            add(Unit::Month, 1, t("2023-01-31T10:00:00")).unwrap(),
            t("2023-02-28T10:00:00")
        );
        assert_eq!(
            add(Unit::Day, -1, t("2023-03-01T00:00:00")).unwrap(),
            t("2023-02-28T00:00:00")
        );
        assert!(add(Unit::Year, i64::MAX, t("2023-03-01T00:00:00")).is_err());
    }

    #[test]
    fn mysql_formats_translate() {
        assert_eq!(
            chrono_format("%Y-%m-%d %H:%i:%s").unwrap(),
            "%Y-%m-%d %H:%M:%S"
        );
        assert_eq!(
            t("2023-01-22T16:53:53.123")
                .format(&chrono_format("%W %e %M %Y %T.%f").unwrap())
                .to_string(),
            "Sunday 22 January 2023 16:53:53.123000"
        );
        assert!(chrono_format("%Q").is_err());
        assert!(chrono_format("abc%").is_err());
    }

    #[test]
    fn iso8601_forms() {
        assert_eq!(t("2023-01-22T16:53:53Z"), t("2023-01-22T16:53:53"));
        assert_eq!(t("2023-01-22T18:53:53+02:00"), t("2023-01-22T16:53:53"));
        assert_eq!(t("2023-01-22"), t("2023-01-22T00:00:00"));
        assert!(parse_iso8601("22/01/2023").is_none());
    }

    #[test]
    fn json_paths() {
        let v: Value = serde_json::from_str(r#"{"a":{"b":[10,{"c":"x"}]},"d.e":true}"#).unwrap();
        let at = |p: &str| walk(&v, &parse_path(p).unwrap()).cloned();
        assert_eq!(at("$.a.b[0]"), Some(Value::from(10)));
        assert_eq!(at("$.a.b[1].c"), Some(Value::from("x")));
        assert_eq!(at("$[\"d.e\"]"), Some(Value::from(true)));
        assert_eq!(at("$['a']['b'][5]"), None);
        assert_eq!(at("$"), Some(v.clone()));
        for bad in ["a.b", "$.", "$[", "$[x]", "$..a"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kernels_handle_nulls_and_bad_json() {
        let json: ArrayRef = Arc::new(StringArray::from(vec![
            Some(r#"{"k":"v","n":1}"#),
            Some("not json"),
            None,
        ]));
        let path: ArrayRef = Arc::new(StringArray::from(vec!["$.k"; 3]));
        let out = json_extract_scalar(&[json.clone(), path]).unwrap();
        let out = strings(&out).unwrap();
        assert_eq!(out.iter().collect::<Vec<_>>(), vec![Some("v"), None, None]);
        let text: ArrayRef = Arc::new(StringArray::from(vec!["user/alice", "none"]));
        let pattern: ArrayRef = Arc::new(StringArray::from(vec!["user/(\\w+)"; 2]));
        let group: ArrayRef = Arc::new(Int64Array::from(vec![1, 1]));
        let out = regexp_extract(&[text.clone(), pattern.clone(), group]).unwrap();
        assert_eq!(
            strings(&out).unwrap().iter().collect::<Vec<_>>(),
            vec![Some("alice"), None]
        );
        let group: ArrayRef = Arc::new(Int64Array::from(vec![2, 2]));
        assert!(regexp_extract(&[text, pattern, group]).is_err());
    }

    proptest! {
        #[test]
        fn adding_then_diffing_fixed_units_round_trips(
            secs in 0i64..4_000_000_000, n in -100_000i64..100_000, unit in 0usize..5
        ) {
            let unit = [Unit::Millisecond, Unit::Second, Unit::Minute, Unit::Hour, Unit::Day][unit];
            let start = to_time(secs * 1_000_000).unwrap();
            let end = add(unit, n, start).unwrap();
            prop_assert_eq!(diff(unit, start, end), n);
        }

        #[test]
        fn month_diff_never_overshoots(secs in 0i64..4_000_000_000, n in -240i64..240) {
            let start = to_time(secs * 1_000_000).unwrap();
            let end = add(Unit::Month, n, start).unwrap();
            let d = diff(Unit::Month, start, end);
            // Clamping to a shorter month can lose at most the last month.
            prop_assert!(d == n || d == n - n.signum(), "{} {} {}", start, n, d);
        }

        #[test]
        fn path_parser_never_panics(p in "\\PC{0,20}") {
            let _ = parse_path(&p);
        }
    }
}
