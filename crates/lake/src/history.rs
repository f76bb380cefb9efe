//! Event history and LookupEvents: every account's management events of the
//! last 90 days, whatever its event data stores select (as CloudTrail's
//! event history works without any trail).

use crate::{paging, storage, Caller, Lake};
use serde_json::Value;
use store::{HistoryEvent, HistoryQuery};
use time::OffsetDateTime;
use wire::cloudtrail::{Event, LookupEventsRequest, LookupEventsResponse, Resource};
use wire::{ApiError, ErrorCode};

/// How long the event history keeps an event (AWS: 90 days).
pub const HISTORY_DAYS: i64 = 90;

/// LookupEvents' page size, default and most (AWS: 50).
const PAGE: usize = 50;

/// The history entry of `record` in `account`; `None` for what the
/// history does not keep (data events).
pub(crate) fn history_event(account: &str, record: &Value) -> Option<HistoryEvent> {
    if record["managementEvent"] != Value::Bool(true) {
        return None;
    }
    let event_time_ms = event_time_ms(record["eventTime"].as_str()?)?;
    let text = |v: &Value| v.as_str().map(str::to_string);
    let mut lookup = Vec::new();
    let mut add = |key: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            lookup.push((key.to_string(), v));
        }
    };
    add("EventId", text(&record["eventID"]));
    add("EventName", text(&record["eventName"]));
    add("EventSource", text(&record["eventSource"]));
    add(
        "ReadOnly",
        record["readOnly"].as_bool().map(|b| b.to_string()),
    );
    add("Username", username(record));
    add("AccessKeyId", text(&record["userIdentity"]["accessKeyId"]));
    for r in record["resources"].as_array().into_iter().flatten() {
        add("ResourceType", text(&r["type"]));
        // By its ARN or by its name (`bob` for arn:aws:iam::…:user/bob).
        let arn = text(&r["ARN"]);
        let name = arn
            .as_deref()
            .and_then(|a| a.rsplit_once('/'))
            .map(|(_, n)| n.to_string());
        add("ResourceName", arn);
        add("ResourceName", name);
    }
    Some(HistoryEvent {
        account_id: account.to_string(),
        event_time_ms,
        lookup,
        record: record.to_string(),
    })
}

/// Epoch milliseconds of an eventTime, read as the event tables read it.
fn event_time_ms(s: &str) -> Option<i64> {
    let t = query::parse_event_time(s)?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// The history's user name: the IAM user's name, `root`, or a role
/// session's name, as CloudTrail's event history shows it.
fn username(record: &Value) -> Option<String> {
    let who = &record["userIdentity"];
    if let Some(name) = who["userName"].as_str() {
        return Some(name.to_string());
    }
    match who["type"].as_str()? {
        "Root" => Some("root".into()),
        "AssumedRole" | "FederatedUser" => who["arn"]
            .as_str()
            .and_then(|a| a.rsplit('/').next())
            .map(str::to_string),
        _ => None,
    }
}

fn summary(record: &str, time_ms: i64) -> Event {
    let r: Value = serde_json::from_str(record).unwrap_or(Value::Null);
    let text = |v: &Value| v.as_str().map(str::to_string);
    let resources: Vec<Resource> = r["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| Resource {
            resource_type: text(&x["type"]),
            resource_name: text(&x["ARN"]),
        })
        .collect();
    Event {
        event_id: text(&r["eventID"]),
        event_name: text(&r["eventName"]),
        read_only: r["readOnly"].as_bool().map(|b| b.to_string()),
        access_key_id: text(&r["userIdentity"]["accessKeyId"]),
        event_time: Some(time_ms as f64 / 1000.0),
        event_source: text(&r["eventSource"]),
        username: username(&r),
        resources: Some(resources),
        cloud_trail_event: Some(record.to_string()),
    }
}

const TOKEN: &str = "history";

fn next_token(position: (i64, i64)) -> String {
    format!("{TOKEN}.{}.{}", position.0, position.1)
}

fn position(token: Option<&str>) -> Result<Option<(i64, i64)>, ApiError> {
    let Some(t) = token else { return Ok(None) };
    let parsed = t.strip_prefix(TOKEN).and_then(|rest| {
        let mut parts = rest.strip_prefix('.')?.split('.');
        let time = parts.next()?.parse().ok()?;
        let seq = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some((time, seq))
    });
    parsed.map(Some).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidNextToken,
            "The NextToken is not one LookupEvents gave: pass the previous page's NextToken unchanged, with the same lookup attribute and time range, or omit it to start over.",
        )
    })
}

impl Lake {
    /// LookupEvents: the caller's account's management events, newest
    /// first, by at most one attribute and a time range.
    pub async fn lookup_events(
        &self,
        caller: &Caller,
        input: LookupEventsRequest,
    ) -> Result<LookupEventsResponse, ApiError> {
        self.allow(caller, "cloudtrail:LookupEvents", "*", Default::default())?;
        let attributes = input.lookup_attributes.unwrap_or_default();
        if attributes.len() > 1 {
            return Err(ApiError::new(
                ErrorCode::InvalidLookupAttributes,
                format!("LookupEvents takes at most one lookup attribute; {} were given. Look up by one and filter the rest yourself, or query an event data store with SQL.", attributes.len()),
            ));
        }
        let attribute = match attributes.first() {
            None => None,
            Some(a) => match (a.attribute_key.as_deref(), a.attribute_value.as_deref()) {
                (Some(k), Some(v)) => Some((k, v)),
                _ => {
                    return Err(ApiError::new(
                        ErrorCode::InvalidLookupAttributes,
                        "A lookup attribute needs both AttributeKey and AttributeValue.",
                    ))
                }
            },
        };
        let size = paging::page_size(input.max_results, PAGE, PAGE)?;
        let after = position(input.next_token.as_deref())?;
        let now = self.now();
        let ms = |secs: f64| (secs * 1000.0).floor() as i64;
        let end_ms = input.end_time.map_or_else(
            || i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX),
            ms,
        );
        let start_ms = input.start_time.map_or(0, ms);
        if start_ms > end_ms {
            return Err(ApiError::new(
                ErrorCode::InvalidTimeRange,
                "StartTime is after EndTime: give a StartTime at or before the EndTime.",
            ));
        }
        // Insights are not recorded: that category is always empty.
        if input.event_category.is_some() {
            return Ok(LookupEventsResponse {
                events: Some(Vec::new()),
                next_token: None,
            });
        }
        let mut hits = self
            .meta
            .lookup_history(&HistoryQuery {
                account_id: &caller.account_id,
                attribute,
                start_ms,
                end_ms,
                after,
                limit: size + 1,
            })
            .map_err(storage)?;
        let next = (hits.len() > size).then(|| next_token(hits[size - 1].position));
        hits.truncate(size);
        Ok(LookupEventsResponse {
            events: Some(
                hits.iter()
                    .map(|h| summary(&h.record, h.position.0))
                    .collect(),
            ),
            next_token: next,
        })
    }

    /// Drops history older than 90 days before `now`.
    pub(crate) fn expire_history(&self, now: OffsetDateTime) -> Result<usize, ApiError> {
        let cutoff = now - time::Duration::days(HISTORY_DAYS);
        let ms = i64::try_from(cutoff.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        self.meta.expire_history(ms).map_err(storage)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn management_events_are_kept_with_every_lookup_value() {
        let r = json!({
            "eventID": "e-1", "eventName": "CreateChannel", "eventSource": "cloudtrail.amazonaws.com",
            "eventTime": "2026-12-04T10:00:00Z", "readOnly": false, "managementEvent": true,
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/R/sess", "accessKeyId": "ASIA1"},
            "resources": [{"type": "AWS::CloudTrail::Channel", "ARN": "arn:c/x"}],
        });
        let h = history_event("111122223333", &r).unwrap();
        assert_eq!(h.event_time_ms, 1_796_378_400_000);
        let has = |k: &str, v: &str| h.lookup.contains(&(k.to_string(), v.to_string()));
        assert!(
            has("EventId", "e-1") && has("EventName", "CreateChannel") && has("ReadOnly", "false")
        );
        assert!(has("Username", "sess") && has("AccessKeyId", "ASIA1"));
        assert!(has("ResourceType", "AWS::CloudTrail::Channel") && has("ResourceName", "arn:c/x"));
        assert!(has("ResourceName", "x"));
        assert!(has("EventSource", "cloudtrail.amazonaws.com"));
        let e = summary(&h.record, h.event_time_ms);
        assert_eq!(e.username.as_deref(), Some("sess"));
        assert_eq!(e.read_only.as_deref(), Some("false"));
        assert_eq!(e.event_time, Some(1_796_378_400.0));
        let mut data = r.clone();
        data["managementEvent"] = json!(false);
        assert!(history_event("1", &data).is_none());
    }

    #[test]
    fn root_is_looked_up_as_root_and_tokens_round_trip() {
        assert_eq!(
            username(&json!({"userIdentity": {"type": "Root"}})).as_deref(),
            Some("root")
        );
        assert_eq!(
            username(&json!({"userIdentity": {"type": "IAMUser", "userName": "bob"}})).as_deref(),
            Some("bob")
        );
        assert_eq!(position(Some(&next_token((5, 7)))).unwrap(), Some((5, 7)));
        for bad in [
            "history.5",
            "history.5.7.9",
            "channels.00000001",
            "history.x.1",
        ] {
            assert!(position(Some(bad)).is_err(), "{bad}");
        }
    }
}
