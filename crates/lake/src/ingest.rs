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
        let hint = denied.hint.clone().unwrap_or_else(|| {
            if same_account {
                "Remove or narrow the Deny statement in the channel's resource policy (aws cloudtrail get-resource-policy shows it).".to_string()
            } else {
                "The channel owner must allow it with aws cloudtrail put-resource-policy: a statement with Effect Allow, Principal {\"AWS\": \"<your account id or principal ARN>\"}, Action cloudtrail-data:PutAuditEvents and Resource the channel ARN; when that statement has a cloudtrail:ExternalId condition, pass the same value with --external-id.".to_string()
            }
        });
        let mut message = format!(
            "Account {} (principal {}) is not allowed to call PutAuditEvents on channel {} owned by account {}. {} {hint}",
            caller.account_id, caller.principal.arn, channel.arn, channel.account, denied.decision
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
