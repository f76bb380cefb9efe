//! Cairn's own API activity as CloudTrail records. Every authenticated
//! call, allowed or denied, becomes a record (a management event; for
//! PutAuditEvents a data event on the channel, as on AWS) delivered to the
//! event data stores of the caller's account, and of the channel owner's
//! for PutAuditEvents, whose advanced event selectors take it.
//!
//! Recording is off the request path: the handler queues the record and a
//! background task writes batches to the ingest log, so an API call never
//! waits for its own audit record (AWS, too, delivers management events
//! minutes after the call). A record is queryable once it is in the log;
//! management events also go to the account's event history (LookupEvents).

use crate::eds::Store;
use crate::Lake;
use iam_policy::PrincipalKind;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tables::LoggedEvent;
use time::OffsetDateTime;
use wire::cloudtrail::AdvancedEventSelector;

/// The CloudTrail record version Cairn writes.
const EVENT_VERSION: &str = "1.11";

/// What AWS writes in place of a secret.
const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// Request and response members whose values are never recorded.
const SECRET_KEYS: &[&str] = &[
    "secretaccesskey",
    "sessiontoken",
    "password",
    "newpassword",
    "oldpassword",
    "externalid",
];

/// Records waiting for the writer; beyond this many, new ones are dropped
/// (and counted) rather than holding up API calls.
const QUEUE: usize = 65_536;

/// Records the writer appends to the log at once.
const BATCH: usize = 1_000;

/// One API call, as the server saw it.
#[derive(Debug, Clone, Default)]
pub struct ApiCall {
    /// `cloudtrail.amazonaws.com`, `iam.amazonaws.com`, …
    pub event_source: String,
    /// The operation (`CreateEventDataStore`, `PutAuditEvents`, …).
    pub event_name: String,
    /// The region the call is recorded in (IAM: us-east-1, as AWS does).
    pub region: String,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The request's members (CloudTrail's lowerCamel names are applied here).
    pub request_parameters: Option<Value>,
    /// The response's members, for calls that change something.
    pub response_elements: Option<Value>,
    /// The error code and message of a failed or denied call.
    pub error: Option<(String, String)>,
    /// Resources the call names: (type, ARN).
    pub resources: Vec<(String, String)>,
    /// A data event (PutAuditEvents) rather than a management event.
    pub data_event: bool,
    /// Another account whose resource the call was on (a channel's owner):
    /// it gets the record too.
    pub resource_owner: Option<String>,
}

impl ApiCall {
    /// Whether the call only reads (CloudTrail's `readOnly`).
    pub fn read_only(&self) -> bool {
        ["Get", "List", "Describe", "Lookup", "Simulate"]
            .iter()
            .any(|p| self.event_name.starts_with(p))
    }
}

/// A queued record and the accounts it goes to.
struct Pending {
    accounts: Vec<String>,
    record: Value,
}

/// The request path's handle on the audit writer.
#[derive(Clone)]
pub struct AuditTrail {
    queue: tokio::sync::mpsc::Sender<Pending>,
    dropped: Arc<AtomicU64>,
}

impl AuditTrail {
    /// Queues the record of `call` by `caller` at `now`. Never waits.
    pub fn record(&self, caller: &crate::Caller, call: &ApiCall, now: OffsetDateTime) {
        let mut accounts = vec![caller.account_id.clone()];
        if let Some(owner) = &call.resource_owner {
            if *owner != caller.account_id {
                accounts.push(owner.clone());
            }
        }
        let record = record(caller, call, now, &uuid::Uuid::new_v4().to_string());
        if self.queue.try_send(Pending { accounts, record }).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    dropped = n,
                    "the audit writer is behind; API call records were dropped"
                );
            }
        }
    }
}

impl Lake {
    /// Starts the audit writer. It drains what is queued and ends once
    /// `stop` turns true (or every [`AuditTrail`] is gone).
    pub fn spawn_audit(
        self: &Arc<Self>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> (AuditTrail, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = tokio::sync::mpsc::channel(QUEUE);
        let lake = self.clone();
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            loop {
                let stopping = tokio::select! {
                    n = rx.recv_many(&mut batch, BATCH) => n == 0,
                    _ = stop.wait_for(|s| *s) => true,
                };
                if stopping {
                    while let Ok(p) = rx.try_recv() {
                        batch.push(p);
                    }
                }
                for chunk in batch.chunks(BATCH) {
                    lake.deliver(chunk).await;
                }
                batch.clear();
                if stopping {
                    return;
                }
            }
        });
        (
            AuditTrail {
                queue: tx,
                dropped: Arc::default(),
            },
            task,
        )
    }

    /// Appends `batch` to the ingest log for every store that selects it.
    async fn deliver(&self, batch: &[Pending]) {
        let mut stores: HashMap<&str, Vec<Store>> = HashMap::new();
        let mut lines = Vec::new();
        let mut history = Vec::new();
        for p in batch {
            for account in &p.accounts {
                history.extend(crate::history::history_event(account, &p.record));
                if !stores.contains_key(account.as_str()) {
                    let taking = match self.stores(account) {
                        Ok(all) => all
                            .into_iter()
                            .filter(|s| s.is_active() && !s.takes_integration_events())
                            .collect(),
                        Err(e) => {
                            tracing::error!(error = %e.message, "audit: cannot list event data stores");
                            Vec::new()
                        }
                    };
                    stores.insert(account, taking);
                }
                let eds: Vec<String> = stores[account.as_str()]
                    .iter()
                    .filter(|s| selects(&s.selectors, &p.record))
                    .map(|s| s.id.clone())
                    .collect();
                if eds.is_empty() {
                    continue;
                }
                let mut record = p.record.clone();
                record["recipientAccountId"] = json!(account);
                if let Ok(line) = serde_json::to_vec(&LoggedEvent { eds, record }) {
                    lines.push(line);
                }
            }
        }
        if !history.is_empty() {
            if let Err(e) = self.meta.append_history(&history) {
                tracing::error!(error = %e, events = history.len(), "audit: event history could not be written");
            }
        }
        if lines.is_empty() {
            return;
        }
        if let Err(full) = self.disk.admit() {
            tracing::warn!(%full, records = lines.len(), "audit records dropped: the disk is (nearly) full");
            return;
        }
        if let Err(e) = self.log.append(&lines).await {
            tracing::error!(error = %e, records = lines.len(), "audit records could not be written");
        }
    }
}

/// The CloudTrail record of `call` by `caller`.
fn record(caller: &crate::Caller, call: &ApiCall, now: OffsetDateTime, event_id: &str) -> Value {
    let mut r = Map::new();
    r.insert("eventVersion".into(), json!(EVENT_VERSION));
    r.insert("userIdentity".into(), user_identity(caller));
    r.insert(
        "eventTime".into(),
        json!(iam_policy::format_iso8601(now.unix_timestamp())),
    );
    r.insert("eventSource".into(), json!(call.event_source));
    r.insert("eventName".into(), json!(call.event_name));
    r.insert("awsRegion".into(), json!(call.region));
    r.insert(
        "sourceIPAddress".into(),
        json!(caller.source_ip.clone().unwrap_or_default()),
    );
    if let Some(agent) = &call.user_agent {
        r.insert("userAgent".into(), json!(agent));
    }
    if let Some((code, message)) = &call.error {
        r.insert("errorCode".into(), json!(code));
        r.insert("errorMessage".into(), json!(message));
    }
    r.insert(
        "requestParameters".into(),
        call.request_parameters
            .as_ref()
            .map_or(Value::Null, recorded),
    );
    r.insert(
        "responseElements".into(),
        match (&call.response_elements, &call.error) {
            (Some(v), None) if !call.read_only() => recorded(v),
            _ => Value::Null,
        },
    );
    r.insert("requestID".into(), json!(caller.request_id));
    r.insert("eventID".into(), json!(event_id));
    r.insert("readOnly".into(), json!(call.read_only()));
    if !call.resources.is_empty() {
        let resources: Vec<Value> = call
            .resources
            .iter()
            .map(|(kind, arn)| json!({"accountId": arn_account(arn), "type": kind, "ARN": arn}))
            .collect();
        r.insert("resources".into(), json!(resources));
    }
    r.insert("eventType".into(), json!("AwsApiCall"));
    r.insert("managementEvent".into(), json!(!call.data_event));
    r.insert("recipientAccountId".into(), json!(caller.account_id));
    r.insert(
        "eventCategory".into(),
        json!(if call.data_event {
            "Data"
        } else {
            "Management"
        }),
    );
    Value::Object(r)
}

fn arn_account(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or_default()
}

/// CloudTrail's `userIdentity` for `caller`.
fn user_identity(caller: &crate::Caller) -> Value {
    let p = &caller.principal;
    let mut u = Map::new();
    let kind = match &p.kind {
        PrincipalKind::Root => "Root",
        PrincipalKind::User => "IAMUser",
        PrincipalKind::Role | PrincipalKind::AssumedRole { .. } => "AssumedRole",
        PrincipalKind::FederatedUser => "FederatedUser",
        PrincipalKind::Service => "AWSService",
        PrincipalKind::Anonymous => "Unknown",
    };
    u.insert("type".into(), json!(kind));
    u.insert("principalId".into(), json!(p.user_id));
    u.insert("arn".into(), json!(p.arn));
    u.insert("accountId".into(), json!(caller.account_id));
    if !caller.access_key_id.is_empty() {
        u.insert("accessKeyId".into(), json!(caller.access_key_id));
    }
    if let Some(name) = &p.username {
        u.insert("userName".into(), json!(name));
    }
    if let PrincipalKind::AssumedRole { role_arn } = &p.kind {
        let role_id = p.user_id.split(':').next().unwrap_or_default();
        let role_name = role_arn.rsplit('/').next().unwrap_or_default();
        let mut attributes = Map::new();
        if let Some(issued) = &caller.token_issued {
            attributes.insert("creationDate".into(), json!(issued));
        }
        attributes.insert(
            "mfaAuthenticated".into(),
            json!(caller.mfa.unwrap_or(false).to_string()),
        );
        u.insert(
            "sessionContext".into(),
            json!({
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": role_arn,
                    "accountId": arn_account(role_arn),
                    "userName": role_name,
                },
                "attributes": attributes,
            }),
        );
    }
    Value::Object(u)
}

/// `v` as CloudTrail records request and response members: lowerCamel
/// names, secrets hidden.
fn recorded(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = lower_camel(k);
                    let value = if SECRET_KEYS.contains(&key.to_ascii_lowercase().as_str()) {
                        json!(HIDDEN)
                    } else {
                        recorded(v)
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(recorded).collect()),
        other => other.clone(),
    }
}

/// `EventDataStore` -> `eventDataStore`; `ARN` stays `ARN`-like (`aRN`
/// would be wrong), so a name in capitals is left alone.
fn lower_camel(name: &str) -> String {
    if name.chars().all(|c| !c.is_lowercase()) {
        return name.to_string();
    }
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Whether an event data store with `selectors` takes `record`: some
/// selector matches every one of its field selectors. No selectors means
/// all management events (CloudTrail's default).
pub(crate) fn selects(selectors: &[AdvancedEventSelector], record: &Value) -> bool {
    if selectors.is_empty() {
        return record["eventCategory"] == "Management";
    }
    selectors.iter().any(|s| {
        s.field_selectors
            .iter()
            .flatten()
            .all(|f| field_matches(f, record))
    })
}

fn field_matches(f: &wire::cloudtrail::AdvancedFieldSelector, record: &Value) -> bool {
    let values = field_values(f.field.as_deref().unwrap_or_default(), record);
    let any = |list: &Option<Vec<String>>, test: &dyn Fn(&str, &str) -> bool| {
        list.iter()
            .flatten()
            .any(|want| values.iter().any(|v| test(v, want)))
    };
    let eq = |v: &str, w: &str| v == w;
    let starts = |v: &str, w: &str| v.starts_with(w);
    let ends = |v: &str, w: &str| v.ends_with(w);
    let positive = [
        (&f.equals, &eq as &dyn Fn(&str, &str) -> bool),
        (&f.starts_with, &starts),
        (&f.ends_with, &ends),
    ];
    let negative = [
        (&f.not_equals, &eq as &dyn Fn(&str, &str) -> bool),
        (&f.not_starts_with, &starts),
        (&f.not_ends_with, &ends),
    ];
    positive
        .iter()
        .filter(|(list, _)| list.as_ref().is_some_and(|l| !l.is_empty()))
        .all(|(list, test)| any(list, *test))
        && negative.iter().all(|(list, test)| !any(list, *test))
}

/// The values a selector field has in `record` (several for resources).
fn field_values(field: &str, record: &Value) -> Vec<String> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match field {
        "resources.type" | "resources.ARN" => {
            let key = if field == "resources.type" {
                "type"
            } else {
                "ARN"
            };
            record["resources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| text(&r[key]))
                .collect()
        }
        "userIdentity.arn" => text(&record["userIdentity"]["arn"]).into_iter().collect(),
        other => text(&record[other]).into_iter().collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use iam_policy::Principal;
    use wire::cloudtrail::AdvancedFieldSelector;

    fn field(name: &str, op: &str, values: &[&str]) -> AdvancedFieldSelector {
        let v = Some(values.iter().map(|s| s.to_string()).collect());
        let mut f = AdvancedFieldSelector {
            field: Some(name.into()),
            ..Default::default()
        };
        match op {
            "Equals" => f.equals = v,
            "StartsWith" => f.starts_with = v,
            "EndsWith" => f.ends_with = v,
            "NotEquals" => f.not_equals = v,
            "NotStartsWith" => f.not_starts_with = v,
            "NotEndsWith" => f.not_ends_with = v,
            _ => panic!("{op}"),
        }
        f
    }

    fn selector(fields: Vec<AdvancedFieldSelector>) -> AdvancedEventSelector {
        AdvancedEventSelector {
            name: None,
            field_selectors: Some(fields),
        }
    }

    fn user() -> crate::Caller {
        let mut c = crate::Caller::root("111122223333");
        c.principal = Principal {
            arn: "arn:aws:iam::111122223333:user/alice".into(),
            account_id: "111122223333".into(),
            kind: PrincipalKind::User,
            user_id: "AIDAEXAMPLE".into(),
            username: Some("alice".into()),
            tags: vec![],
        };
        c.access_key_id = "AKIAEXAMPLE".into();
        c.source_ip = Some("10.0.0.1".into());
        c.request_id = "req-1".into();
        c
    }

    fn call(name: &str) -> ApiCall {
        ApiCall {
            event_source: "cloudtrail.amazonaws.com".into(),
            event_name: name.into(),
            region: "us-east-1".into(),
            ..Default::default()
        }
    }

    fn when() -> OffsetDateTime {
        time::macros::datetime!(2026-12-04 10:11:12.345 UTC)
    }

    #[test]
    fn a_call_becomes_a_cloudtrail_record_with_the_callers_identity() {
        let mut c = call("CreateChannel");
        c.user_agent = Some("aws-cli/1.46.3".into());
        c.request_parameters =
            Some(json!({"Name": "ch", "Source": "Custom", "Tags": [{"Key": "k"}]}));
        c.response_elements =
            Some(json!({"ChannelArn": "arn:aws:cloudtrail:us-east-1:111122223333:channel/x"}));
        let r = record(&user(), &c, when(), "ev-1");
        assert_eq!(r["eventTime"], "2026-12-04T10:11:12Z");
        assert_eq!(r["userIdentity"]["type"], "IAMUser");
        assert_eq!(r["userIdentity"]["userName"], "alice");
        assert_eq!(r["userIdentity"]["accessKeyId"], "AKIAEXAMPLE");
        assert_eq!(r["sourceIPAddress"], "10.0.0.1");
        assert_eq!(
            r["requestParameters"],
            json!({"name": "ch", "source": "Custom", "tags": [{"key": "k"}]})
        );
        assert_eq!(
            r["responseElements"]["channelArn"],
            "arn:aws:cloudtrail:us-east-1:111122223333:channel/x"
        );
        assert_eq!(r["readOnly"], false);
        assert_eq!(r["managementEvent"], true);
        assert_eq!(r["eventCategory"], "Management");
        assert_eq!(r["requestID"], "req-1");
        assert_eq!(r["eventID"], "ev-1");
        assert!(r.get("errorCode").is_none());
    }

    #[test]
    fn failures_carry_the_error_and_no_response_and_reads_no_response() {
        let mut c = call("GetChannel");
        c.response_elements = Some(json!({"Name": "ch"}));
        let r = record(&user(), &c, when(), "e");
        assert_eq!(r["readOnly"], true);
        assert_eq!(r["responseElements"], Value::Null);
        let mut c = call("DeleteChannel");
        c.response_elements = Some(json!({}));
        c.error = Some(("ChannelNotFoundException".into(), "no such channel".into()));
        let r = record(&user(), &c, when(), "e");
        assert_eq!(r["errorCode"], "ChannelNotFoundException");
        assert_eq!(r["errorMessage"], "no such channel");
        assert_eq!(r["responseElements"], Value::Null);
    }

    #[test]
    fn secrets_are_hidden_at_any_depth() {
        let mut c = call("CreateAccessKey");
        c.response_elements =
            Some(json!({"AccessKey": {"AccessKeyId": "AKIA1", "SecretAccessKey": "s3cret"}}));
        c.request_parameters = Some(json!({"channelArn": "arn:x", "externalId": "shh"}));
        let r = record(&user(), &c, when(), "e");
        assert_eq!(r["responseElements"]["accessKey"]["accessKeyId"], "AKIA1");
        assert_eq!(
            r["responseElements"]["accessKey"]["secretAccessKey"],
            HIDDEN
        );
        assert_eq!(r["requestParameters"]["externalId"], HIDDEN);
        assert!(!r.to_string().contains("s3cret") && !r.to_string().contains("shh"));
    }

    #[test]
    fn role_sessions_name_their_issuer() {
        let mut caller = user();
        caller.principal = Principal {
            arn: "arn:aws:sts::111122223333:assumed-role/Writer/s1".into(),
            account_id: "111122223333".into(),
            kind: PrincipalKind::AssumedRole {
                role_arn: "arn:aws:iam::111122223333:role/app/Writer".into(),
            },
            user_id: "AROAEXAMPLE:s1".into(),
            username: None,
            tags: vec![],
        };
        caller.token_issued = Some("2026-12-04T10:00:00Z".into());
        let u = &record(&caller, &call("ListChannels"), when(), "e")["userIdentity"];
        assert_eq!(u["type"], "AssumedRole");
        let issuer = &u["sessionContext"]["sessionIssuer"];
        assert_eq!(issuer["principalId"], "AROAEXAMPLE");
        assert_eq!(issuer["userName"], "Writer");
        assert_eq!(issuer["arn"], "arn:aws:iam::111122223333:role/app/Writer");
        assert_eq!(
            u["sessionContext"]["attributes"]["creationDate"],
            "2026-12-04T10:00:00Z"
        );
        assert_eq!(
            u["sessionContext"]["attributes"]["mfaAuthenticated"],
            "false"
        );
    }

    #[test]
    fn no_selectors_take_management_events_only() {
        let mgmt = record(&user(), &call("ListChannels"), when(), "e");
        let mut put = call("PutAuditEvents");
        put.data_event = true;
        let data = record(&user(), &put, when(), "e");
        assert!(selects(&[], &mgmt));
        assert!(!selects(&[], &data));
    }

    #[test]
    fn selectors_test_every_field_and_any_selector_may_match() {
        let mut put = call("PutAuditEvents");
        put.data_event = true;
        put.event_source = "cloudtrail-data.amazonaws.com".into();
        put.resources = vec![(
            "AWS::CloudTrail::Channel".into(),
            "arn:aws:cloudtrail:us-east-1:111122223333:channel/abc".into(),
        )];
        put.error = Some(("ChannelInsufficientPermission".into(), "denied".into()));
        let r = record(&user(), &put, when(), "e");
        let channel_data = selector(vec![
            field("eventCategory", "Equals", &["Data"]),
            field("resources.type", "Equals", &["AWS::CloudTrail::Channel"]),
        ]);
        assert!(selects(std::slice::from_ref(&channel_data), &r));
        let other_type = selector(vec![
            field("eventCategory", "Equals", &["Data"]),
            field("resources.type", "Equals", &["AWS::S3::Object"]),
        ]);
        assert!(!selects(std::slice::from_ref(&other_type), &r));
        assert!(selects(&[other_type.clone(), channel_data], &r));
        let by_arn = |op, v: &[&str]| selector(vec![field("resources.ARN", op, v)]);
        assert!(selects(
            &[by_arn(
                "StartsWith",
                &["arn:aws:cloudtrail:us-east-1:111122223333:channel/"]
            )],
            &r
        ));
        assert!(selects(&[by_arn("EndsWith", &["/abc"])], &r));
        assert!(!selects(&[by_arn("NotEndsWith", &["/abc"])], &r));
        assert!(selects(&[by_arn("NotEquals", &["arn:other"])], &r));
        let errors = selector(vec![field(
            "errorCode",
            "Equals",
            &["ChannelInsufficientPermission"],
        )]);
        assert!(selects(&[errors], &r));
        let writes = selector(vec![field("readOnly", "Equals", &["true"])]);
        assert!(!selects(&[writes], &r));
        let who = selector(vec![field(
            "userIdentity.arn",
            "NotStartsWith",
            &["arn:aws:iam::111122223333:user/"],
        )]);
        assert!(!selects(&[who], &r));
        // A field the record lacks: Equals fails, NotEquals holds.
        let vpc = |op| selector(vec![field("vpcEndpointId", op, &["vpce-1"])]);
        assert!(!selects(&[vpc("Equals")], &r));
        assert!(selects(&[vpc("NotEquals")], &r));
    }

    #[test]
    fn lower_camel_keeps_all_capital_names() {
        assert_eq!(lower_camel("EventDataStore"), "eventDataStore");
        assert_eq!(lower_camel("ARN"), "ARN");
        assert_eq!(lower_camel("x"), "x");
        assert_eq!(lower_camel(""), "");
    }
}
