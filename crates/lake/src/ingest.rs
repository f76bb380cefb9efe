//! PutAuditEvents: who may send to a channel, which events are accepted, and
//! the durable append.

use crate::arn::{self, Named};
use crate::channels::{Channel, PUT_AUDIT_EVENTS};
use crate::records::{check_event, stored_record, EventError};
use crate::{epoch, from_doc, storage, to_doc, Caller, Lake};
use iam_policy::{NamedPolicy, Policy, PolicyType, Side};
use std::collections::HashSet;
use tables::LoggedEvent;
use wire::cloudtrail::IngestionStatus;
use wire::cloudtrail_data::{
    AuditEvent, AuditEventResultEntry, PutAuditEventsResponse, ResultErrorEntry,
};
use wire::{ApiError, ErrorCode};

pub(crate) const STATUS_KIND: &str = "ingestion";

/// What one PutAuditEvents call did.
pub struct IngestOutcome {
    /// The response for the caller.
    pub response: PutAuditEventsResponse,
    /// The channel's owner account (for auditing).
    pub channel_owner: String,
}

fn err(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

impl Lake {
    /// PutAuditEvents. `channel_arn`/`external_id` come from the query string.
    pub async fn put_audit_events(
        &self,
        caller: &Caller,
        channel_arn: &str,
        external_id: Option<&str>,
        events: Vec<AuditEvent>,
    ) -> Result<IngestOutcome, ApiError> {
        let named = arn::named(channel_arn, "channel").ok_or_else(|| {
            err(
                ErrorCode::InvalidChannelArn,
                format!("'{channel_arn}' is not a valid channel ARN: use arn:aws:cloudtrail:<region>:<account>:channel/<id> (or the channel id alone)."),
            )
        })?;
        let not_found = || {
            err(
                ErrorCode::ChannelNotFound,
                format!("Channel {channel_arn} was not found in {}.", self.region),
            )
        };
        let channel = self.channel_by_id(named.id())?.ok_or_else(not_found)?;
        if let Named::Arn(a) = &named {
            if a.account != channel.account || a.region != self.region {
                return Err(not_found());
            }
        }
        let result = self
            .ingest_into(caller, &channel, external_id, events)
            .await;
        let now = epoch(self.now());
        let mut status = self.ingestion_status(&channel.id).unwrap_or_default();
        status.latest_ingestion_attempt_time = Some(now);
        match &result {
            Ok(response) => {
                let last_ok = response
                    .successful
                    .as_ref()
                    .and_then(|s| s.last())
                    .and_then(|e| e.event_id.clone());
                let first_failed = response
                    .failed
                    .as_ref()
                    .and_then(|f| f.first())
                    .and_then(|f| f.error_code.clone());
                status.latest_ingestion_attempt_event_id =
                    last_ok.clone().or(status.latest_ingestion_attempt_event_id);
                if let Some(id) = last_ok {
                    status.latest_ingestion_success_time = Some(now);
                    status.latest_ingestion_success_event_id = Some(id);
                }
                if let Some(code) = first_failed {
                    status.latest_ingestion_error_code = Some(code);
                }
            }
            Err(e) => status.latest_ingestion_error_code = Some(e.code.as_str().to_string()),
        }
        // The events are already durable (or refused): a failure to record
        // the status (a full disk, say) must not turn their answer into an
        // error the client would retry, storing them twice.
        if let Err(e) = self.save_ingestion_status(&channel, &status) {
            tracing::warn!(channel = %channel.arn, error = %e.message, "could not record the channel's ingestion status");
        }
        result.map(|response| IngestOutcome {
            response,
            channel_owner: channel.account.clone(),
        })
    }

    pub(crate) fn ingestion_status(&self, channel_id: &str) -> Result<IngestionStatus, ApiError> {
        match self.meta.find(STATUS_KIND, channel_id).map_err(storage)? {
            Some((_, doc)) => from_doc(&doc),
            None => Ok(IngestionStatus::default()),
        }
    }

    fn save_ingestion_status(
        &self,
        channel: &Channel,
        status: &IngestionStatus,
    ) -> Result<(), ApiError> {
        let doc = to_doc(status)?;
        let updated = self
            .meta
            .replace(STATUS_KIND, &channel.account, &channel.id, None, &doc)
            .map_err(storage)?;
        if !updated {
            match self
                .meta
                .insert(STATUS_KIND, &channel.account, &channel.id, None, &doc)
            {
                Ok(()) | Err(store::Error::Conflict(_)) => {}
                Err(e) => return Err(storage(e)),
            }
        }
        Ok(())
    }

    /// Who may send to a channel. The channel policy is the resource policy;
    /// the caller's identity policies (and boundary, session policies) are
    /// the identity side. A caller from another account that the channel
    /// policy does not let in, or that the policy denies, is
    /// ChannelInsufficientPermission; a caller of the owner account whose own
    /// policies do not allow it is AccessDeniedException, as AWS answers.
    fn authorize_put(
        &self,
        caller: &Caller,
        channel: &Channel,
        external_id: Option<&str>,
    ) -> Result<(), ApiError> {
        let policy = match &channel.resource_policy {
            Some(doc) => Some(Policy::parse(doc, PolicyType::Resource).map_err(|e| {
                crate::internal(format!(
                    "the stored resource policy of {} no longer parses: {e}",
                    channel.arn
                ))
            })?),
            None => None,
        };
        let mut context = crate::authz::resource_tags(&channel.tags);
        if let Some(x) = external_id {
            context = context.with("cloudtrail:ExternalId", x);
        }
        let access = iam::Access {
            action: PUT_AUDIT_EVENTS,
            resource: &channel.arn,
            resource_account: &channel.account,
            resource_policy: policy.as_ref().map(|p| NamedPolicy {
                name: "channel resource policy",
                policy: p,
            }),
            context,
        };
        let Err(denied) = self.iam.authorize(caller, access) else {
            return Ok(());
        };
        let by_channel_policy = denied
            .decision
            .explanation
            .deciding
            .as_ref()
            .is_some_and(|d| d.side == Side::Resource);
        let same_account = caller.account_id == channel.account;
        if same_account && !by_channel_policy {
            return Err(self.access_denied(caller, &denied));
        }
        // Only the caller-safe hint: for a caller from another account it
        // says what kind of thing the channel policy lacks, never its values,
        // Sids or principals (those are for `cairn explain`). The decision's
        // own explanation quotes the policy, so it is not part of the answer.
        let hint = denied.hint.clone().unwrap_or_else(|| {
            if same_account {
                "Remove or narrow the Deny statement in the channel's resource policy (aws cloudtrail get-resource-policy shows it).".to_string()
            } else {
                "The channel owner must allow it with aws cloudtrail put-resource-policy: a statement with Effect Allow, Principal {\"AWS\": \"<your account id or principal ARN>\"}, Action cloudtrail-data:PutAuditEvents and Resource the channel ARN; when that statement has a cloudtrail:ExternalId condition, pass the same value with --external-id.".to_string()
            }
        });
        let mut message = format!(
            "Account {} (principal {}) is not allowed to call PutAuditEvents on channel {} owned by account {}. {hint}",
            caller.account_id, caller.principal.arn, channel.arn, channel.account
        );
        if !caller.request_id.is_empty() {
            message.push_str(&format!(
                " (cairn explain {} shows why.)",
                caller.request_id
            ));
        }
        self.iam.record_denial(
            caller,
            &denied,
            ErrorCode::ChannelInsufficientPermission.as_str(),
            &message,
        );
        Err(err(ErrorCode::ChannelInsufficientPermission, message))
    }

    async fn ingest_into(
        &self,
        caller: &Caller,
        channel: &Channel,
        external_id: Option<&str>,
        events: Vec<AuditEvent>,
    ) -> Result<PutAuditEventsResponse, ApiError> {
        self.authorize_put(caller, channel, external_id)?;
        let mut seen = HashSet::new();
        if let Some(dup) = events
            .iter()
            .filter_map(|e| e.id.as_deref())
            .find(|id| !seen.insert(*id))
        {
            return Err(err(
                ErrorCode::DuplicatedAuditEventId,
                format!("Two or more entries in the request have the same id '{dup}': give each entry of one request its own id."),
            ));
        }
        let stores = self.stores(&channel.account)?;
        let destinations: Vec<_> = channel
            .destinations
            .iter()
            .filter_map(|d| {
                stores
                    .iter()
                    .find(|s| Some(s.arn.as_str()) == d.location.as_deref())
            })
            .collect();
        let taking: Vec<_> = destinations
            .iter()
            .filter(|s| s.takes_integration_events())
            .collect();
        if taking.is_empty() {
            return Err(err(
                ErrorCode::ChannelUnsupportedSchema,
                format!(
                    "No destination of channel {} takes integration (ActivityAuditLog) events: point the channel at an event data store whose advanced event selectors select eventCategory ActivityAuditLog.",
                    channel.arn
                ),
            ));
        }
        let active: Vec<String> = taking
            .iter()
            .filter(|s| s.is_active())
            .map(|s| s.id.clone())
            .collect();
        if active.is_empty() {
            return Err(err(
                ErrorCode::DataUnsupportedOperation,
                format!(
                    "The destination event data stores of channel {} are not ingesting ({}): restore or start them first.",
                    channel.arn,
                    taking.iter().map(|s| format!("{} is {}", s.arn, s.status)).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let now = self.now();
        let mut successful = Vec::new();
        let mut failed = Vec::new();
        let mut lines = Vec::new();
        for e in events {
            let id = e.id.unwrap_or_default();
            let data = e.event_data.unwrap_or_default();
            match check_event(&data, e.event_data_checksum.as_deref(), &channel.account) {
                Ok((event_data, event_time)) => {
                    let event_id = uuid::Uuid::new_v4().to_string();
                    let record = stored_record(
                        &event_id,
                        event_data,
                        event_time,
                        &self.region,
                        &channel.account,
                        &channel.arn,
                        now,
                    );
                    let line = serde_json::to_vec(&LoggedEvent {
                        eds: active.clone(),
                        record,
                    })
                    .map_err(|e| crate::internal(format!("could not encode an event: {e}")))?;
                    lines.push(line);
                    successful.push(AuditEventResultEntry {
                        id: Some(id),
                        event_id: Some(event_id),
                    });
                }
                Err(EventError { code, message }) => failed.push(ResultErrorEntry {
                    id: Some(id),
                    error_code: Some(code.to_string()),
                    error_message: Some(message),
                }),
            }
        }
        if !lines.is_empty() {
            if let Err(full) = self.disk.admit() {
                tracing::warn!(%full, "ingest refused: the disk is (nearly) full");
                return Err(err(
                    ErrorCode::InternalFailure,
                    format!("Cairn's disk is nearly full ({full}), so it accepts no new events until space is freed; none of this request's events were stored. Events already stored are safe, and reads and queries keep working. Retry later."),
                ));
            }
            self.log.append(&lines).await.map_err(|e| {
                tracing::error!(error = %e, "ingest log append failed");
                err(
                    ErrorCode::InternalFailure,
                    "The events could not be stored durably (storage error); none of this request's events were stored. Retry the request.",
                )
            })?;
        }
        Ok(PutAuditEventsResponse {
            successful: Some(successful),
            failed: Some(failed),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    const OWNER: &str = "111122223333";
    const PARTNER: &str = "444455556666";
    const THIRD: &str = "777788889999";
    const SECRET: &str = "s3cr3t-ext-id-9931";

    struct Fixture {
        _dir: tempfile::TempDir,
        lake: Lake,
        channel: String,
        eds: String,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let lake = crate::test_lake(dir.path());
        let owner = Caller::root(OWNER);
        let eds = lake
            .create_event_data_store(
                &owner,
                serde_json::from_value(json!({
                    "Name": "eds",
                    "AdvancedEventSelectors": [{"Name": "i", "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["ActivityAuditLog"]}]}],
                }))
                .unwrap(),
            )
            .await
            .unwrap();
        let channel = lake
            .create_channel(
                &owner,
                serde_json::from_value(json!({
                    "Name": "chan",
                    "Source": "Custom",
                    "Destinations": [{"Type": "EVENT_DATA_STORE", "Location": eds.event_data_store_arn}],
                }))
                .unwrap(),
            )
            .await
            .unwrap()
            .channel_arn
            .unwrap();
        Fixture {
            _dir: dir,
            lake,
            channel,
            eds: eds.event_data_store_arn.unwrap(),
        }
    }

    impl Fixture {
        async fn policy(&self, statements: serde_json::Value) {
            let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
            self.lake
                .put_resource_policy(
                    &Caller::root(OWNER),
                    serde_json::from_value(
                        json!({"ResourceArn": self.channel, "ResourcePolicy": doc}),
                    )
                    .unwrap(),
                )
                .await
                .unwrap();
        }

        /// The error a PutAuditEvents by the root user of `account` gets.
        async fn put(&self, account: &str, external_id: Option<&str>) -> ApiError {
            let mut caller = Caller::root(account);
            caller.request_id = uuid::Uuid::new_v4().to_string();
            let data = json!({
                "version": "1.0", "eventSource": "app", "eventName": "E",
                "eventTime": "2024-01-01T00:00:00Z", "UID": "u1", "recipientAccountId": OWNER,
                "userIdentity": {"type": "T", "principalId": "p"},
            })
            .to_string();
            let events = vec![AuditEvent {
                id: Some("e1".into()),
                event_data: Some(data),
                event_data_checksum: None,
            }];
            match self
                .lake
                .put_audit_events(&caller, &self.channel, external_id, events)
                .await
            {
                Ok(_) => panic!("{account} was allowed"),
                Err(e) => e,
            }
        }

        /// What `cairn explain` shows the operator for the denial `e`.
        fn explained(&self, e: &ApiError) -> iam::DenialRecord {
            let id = e
                .message
                .rsplit("(cairn explain ")
                .next()
                .and_then(|r| r.split(' ').next())
                .unwrap();
            self.lake
                .iam
                .denial(id)
                .unwrap()
                .expect("the denial is kept")
        }
    }

    fn assert_quotes_nothing(message: &str, secrets: &[&str]) {
        for s in secrets {
            assert!(!message.contains(s), "{s:?} in {message:?}");
        }
        let numbered = message
            .match_indices("tatement ")
            .any(|(i, m)| message[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()));
        assert!(!numbered, "a statement number in {message:?}");
    }

    /// X1: Principal "*" with an external id; a third account guesses. The
    /// answer says an external id is missing, never which; `cairn explain`
    /// (the operator) still sees it.
    #[tokio::test]
    async fn a_guessing_account_never_learns_the_external_id() {
        let f = fixture().await;
        f.policy(json!([{
            "Sid": "AnyoneWithSecret", "Effect": "Allow", "Principal": {"AWS": "*"},
            "Action": PUT_AUDIT_EVENTS, "Resource": f.channel,
            "Condition": {"StringEquals": {"cloudtrail:ExternalId": SECRET}},
        }]))
        .await;
        for guess in [Some("guess"), None] {
            let e = f.put(THIRD, guess).await;
            assert_eq!(e.code, ErrorCode::ChannelInsufficientPermission);
            assert_quotes_nothing(&e.message, &[SECRET, "AnyoneWithSecret", "StringEquals"]);
            assert!(e.message.contains("cloudtrail:ExternalId"), "{}", e.message);
            assert!(e.message.contains(&f.channel) && e.message.contains(OWNER));
            assert!(e.message.ends_with(" shows why.)"), "{}", e.message);
            let kept = f.explained(&e);
            assert_eq!(kept.message, e.message);
            assert!(kept.summary.contains(SECRET) && kept.summary.contains("AnyoneWithSecret"));
            assert!(kept.hint.unwrap().contains(SECRET));
        }
        // The right id gets in.
        let mut caller = Caller::root(THIRD);
        caller.request_id = "ok".into();
        let data = json!({
            "version": "1.0", "eventSource": "app", "eventName": "E",
            "eventTime": "2024-01-01T00:00:00Z", "UID": "u1", "recipientAccountId": OWNER,
            "userIdentity": {"type": "T", "principalId": "p"},
        })
        .to_string();
        let events = vec![AuditEvent {
            id: Some("e1".into()),
            event_data: Some(data),
            event_data_checksum: None,
        }];
        let ok = f
            .lake
            .put_audit_events(&caller, &f.channel, Some(SECRET), events)
            .await
            .unwrap();
        assert_eq!(ok.response.successful.unwrap().len(), 1);
    }

    /// A named partner with an external id, and a Deny: an unrelated
    /// account learns neither the partner, the Sids nor the id; the partner
    /// learns an id is missing, not which; only the owner sees its Sids.
    #[tokio::test]
    async fn cross_account_denials_quote_nothing_of_the_channel_policy() {
        let f = fixture().await;
        f.policy(json!([
            {"Sid": "PartnerWithExternalId", "Effect": "Allow",
             "Principal": {"AWS": format!("arn:aws:iam::{PARTNER}:root")},
             "Action": PUT_AUDIT_EVENTS, "Resource": f.channel,
             "Condition": {"StringEquals": {"cloudtrail:ExternalId": SECRET}}},
            {"Sid": "DenyOwnerAccount", "Effect": "Deny",
             "Principal": {"AWS": format!("arn:aws:iam::{OWNER}:root")},
             "Action": PUT_AUDIT_EVENTS, "Resource": f.channel},
        ]))
        .await;
        let secrets = [
            SECRET,
            "PartnerWithExternalId",
            "DenyOwnerAccount",
            "StringEquals",
        ];
        let third = f.put(THIRD, None).await;
        assert_eq!(third.code, ErrorCode::ChannelInsufficientPermission);
        assert_quotes_nothing(&third.message, &secrets);
        assert!(!third.message.contains(PARTNER), "{}", third.message);
        assert!(f.explained(&third).summary.contains(PARTNER));
        // Indistinguishable from a channel without a policy for this caller.
        let without = fixture().await;
        let bare = without.put(THIRD, None).await;
        let strip = |m: &str, chan: &str| {
            m.replace(chan, "C")
                .split(" (cairn explain ")
                .next()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            strip(&third.message, &f.channel),
            strip(&bare.message, &without.channel)
        );
        for wrong in [None, Some("wrong-id")] {
            let partner = f.put(PARTNER, wrong).await;
            assert_quotes_nothing(&partner.message, &secrets);
            assert!(partner.message.contains("cloudtrail:ExternalId"));
            if let Some(w) = wrong {
                // Its own value may be repeated; this one is not.
                assert!(!partner.message.contains(w), "{}", partner.message);
            }
        }
        // The owner is denied by its own policy and may see which statement.
        let owner = f.put(OWNER, None).await;
        assert_eq!(owner.code, ErrorCode::ChannelInsufficientPermission);
        assert!(
            owner.message.contains("DenyOwnerAccount"),
            "{}",
            owner.message
        );
        // A Deny of the partner: the partner is not told which statement.
        f.policy(json!([
            {"Sid": "AllowPartner", "Effect": "Allow", "Principal": {"AWS": PARTNER},
             "Action": PUT_AUDIT_EVENTS, "Resource": f.channel},
            {"Sid": "DenyPartner", "Effect": "Deny", "Principal": {"AWS": [PARTNER, "arn:aws:iam::123456789012:root"]},
             "Action": PUT_AUDIT_EVENTS, "Resource": f.channel},
        ]))
        .await;
        let denied = f.put(PARTNER, None).await;
        assert_quotes_nothing(
            &denied.message,
            &["DenyPartner", "AllowPartner", "123456789012"],
        );
        assert!(
            denied.message.contains("explicit Deny"),
            "{}",
            denied.message
        );
        assert!(f.explained(&denied).summary.contains("DenyPartner"));
    }

    /// A CloudTrail call on another account's channel: the hint says what is
    /// true (only the owner manages it; a channel policy grants
    /// PutAuditEvents alone), not "add a resource policy that allows
    /// cloudtrail:GetChannel", which PutResourcePolicy would refuse; the same
    /// whether the channel exists, has a policy, or not.
    #[tokio::test]
    async fn another_accounts_channel_is_managed_only_by_its_owner() {
        let f = fixture().await;
        f.policy(json!([{
            "Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": PARTNER},
            "Action": PUT_AUDIT_EVENTS, "Resource": f.channel,
        }]))
        .await;
        let mut caller = Caller::root(PARTNER);
        caller.request_id = uuid::Uuid::new_v4().to_string();
        let get = |channel: String| {
            let caller = caller.clone();
            let lake = &f.lake;
            async move {
                lake.get_channel(
                    &caller,
                    serde_json::from_value(json!({ "Channel": channel })).unwrap(),
                )
                .await
                .expect_err("denied")
            }
        };
        let e = get(f.channel.clone()).await;
        assert_eq!(e.code, ErrorCode::AccessDenied);
        assert!(e.message.starts_with(&format!(
            "User: arn:aws:iam::{PARTNER}:root is not authorized to perform: cloudtrail:GetChannel on resource: {} because no resource-based policy allows the cloudtrail:GetChannel action. Channels are managed only by their owner account ({OWNER}): a channel's resource policy can allow other accounts cloudtrail-data:PutAuditEvents and nothing else.",
            f.channel
        )), "{}", e.message);
        assert!(!e.message.contains("must add"), "{}", e.message);
        let kept = f.explained(&e);
        assert_eq!(
            kept.hint,
            Some(e.message.split(". ").nth(1).unwrap().to_string() + ".")
        );
        assert!(
            !kept.summary.contains("has no resource-based policy,"),
            "{}",
            kept.summary
        );
        // A channel id that does not exist: the same answer.
        let missing = f.channel.rsplit_once('/').unwrap().0.to_string()
            + "/00000000-0000-4000-8000-000000000000";
        let e2 = get(missing.clone()).await;
        assert_eq!(
            e2.message.replace(&missing, "C").split(" (cairn").next(),
            e.message.replace(&f.channel, "C").split(" (cairn").next()
        );
        // Event data stores likewise.
        let e = f
            .lake
            .get_event_data_store(
                &caller,
                serde_json::from_value(json!({ "EventDataStore": f.eds })).unwrap(),
            )
            .await
            .expect_err("denied");
        assert_eq!(e.code, ErrorCode::AccessDenied);
        assert!(e.message.contains(&format!("Event data stores and their queries are managed only by their owner account ({OWNER})")), "{}", e.message);
    }
}
