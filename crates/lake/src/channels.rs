//! Channels and their resource policies.

use crate::arn::{self, Named};
use crate::eds::Store;
use crate::{epoch, from_doc, paging, storage, to_doc, Caller, Lake};
use iam_policy::{Policy, PolicyType, PrincipalEntry};
use serde::{Deserialize, Serialize};
use wire::cloudtrail::*;
use wire::{ApiError, ErrorCode};

pub(crate) const KIND: &str = "channel";
pub(crate) const PUT_AUDIT_EVENTS: &str = "cloudtrail-data:PutAuditEvents";

/// Partner sources CloudTrail Lake integrations know (besides `Custom`).
const PARTNER_SOURCES: &[&str] = &[
    "CloudStorageSecurityConsole",
    "Clumio",
    "CrowdStrike",
    "CyberArk",
    "GitHub",
    "KongGatewayEnterprise",
    "LaunchDarkly",
    "NetskopeCloudExchange",
    "IBMMulticloud",
    "MontyCloud",
    "OktaSystemLogEvents",
    "OneLogin",
    "Shoreline",
    "Snyk",
    "WizAuditLogs",
];

/// A stored channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Channel {
    pub id: String,
    pub arn: String,
    pub account: String,
    pub name: String,
    pub source: String,
    pub destinations: Vec<Destination>,
    pub tags: Vec<Tag>,
    pub created: f64,
    pub resource_policy: Option<String>,
}

fn err(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

impl Lake {
    pub(crate) fn channels(&self, account: &str) -> Result<Vec<Channel>, ApiError> {
        self.documents(KIND, account)
    }

    pub(crate) fn save_channel(&self, c: &Channel, new: bool) -> Result<(), ApiError> {
        let doc = to_doc(c)?;
        let result = if new {
            self.meta
                .insert(KIND, &c.account, &c.id, Some(&c.name), &doc)
        } else {
            self.meta
                .replace(KIND, &c.account, &c.id, Some(&c.name), &doc)
                .map(|_| ())
        };
        result.map_err(|e| match e {
            store::Error::Conflict(_) => err(
                ErrorCode::ChannelAlreadyExists,
                format!(
                    "A channel named '{}' already exists in this account: choose another name.",
                    c.name
                ),
            ),
            other => storage(other),
        })
    }

    /// A channel by id in any account (PutAuditEvents may come from another account).
    pub(crate) fn channel_by_id(&self, id: &str) -> Result<Option<Channel>, ApiError> {
        match self.meta.find(KIND, id).map_err(storage)? {
            Some((_, doc)) => from_doc(&doc).map(Some),
            None => Ok(None),
        }
    }

    fn find_channel(&self, caller: &Caller, value: &str) -> Result<Channel, ApiError> {
        let named = arn::named(value, "channel").ok_or_else(|| {
            err(
                ErrorCode::ChannelArnInvalid,
                format!("'{value}' is not a valid channel ARN or ID: use arn:aws:cloudtrail:<region>:<account>:channel/<id> or the id alone."),
            )
        })?;
        let not_found = || {
            err(
                ErrorCode::ChannelNotFoundException,
                format!(
                    "Channel {value} was not found in account {} in {}.",
                    caller.account_id, self.region
                ),
            )
        };
        if let Named::Arn(a) = &named {
            if a.account != caller.account_id || a.region != self.region {
                return Err(not_found());
            }
        }
        let doc = self
            .meta
            .get(KIND, &caller.account_id, named.id())
            .map_err(storage)?
            .ok_or_else(not_found)?;
        from_doc(&doc)
    }

    /// Authorizes `action` on the channel `value` names, then resolves it.
    fn authorized_channel(
        &self,
        caller: &Caller,
        action: &str,
        value: &str,
    ) -> Result<Channel, ApiError> {
        let Some((target, account, _)) = self.named_arn(caller, value, "channel") else {
            return self.find_channel(caller, value);
        };
        let found = self.find_channel(caller, value);
        let tags = found
            .as_ref()
            .map(|c| c.tags.as_slice())
            .unwrap_or_default();
        self.allow_in(
            caller,
            action,
            &target,
            &account,
            crate::authz::resource_tags(tags),
        )?;
        found
    }

    /// Checks destinations and returns them with locations as EDS ARNs.
    fn resolve_destinations(
        &self,
        caller: &Caller,
        destinations: Vec<Destination>,
    ) -> Result<Vec<Destination>, ApiError> {
        let mut out: Vec<Destination> = Vec::new();
        for d in destinations {
            let location = d.location.unwrap_or_default();
            if d.r#type.as_deref() != Some("EVENT_DATA_STORE") {
                return Err(err(
                    ErrorCode::InvalidParameter,
                    "Only EVENT_DATA_STORE destinations can be set on a channel: AWS_SERVICE channels are created by services, not by users.",
                ));
            }
            let s: Store = self.find_store(caller, &location)?;
            if s.status == "PENDING_DELETION" {
                return Err(err(
                    ErrorCode::InactiveEventDataStore,
                    format!("Event data store {} is pending deletion and cannot receive events: restore it first.", s.arn),
                ));
            }
            if !s.takes_integration_events() {
                return Err(err(
                    ErrorCode::InvalidEventDataStoreCategory,
                    format!(
                        "Event data store {} takes {} events; a channel needs a store whose advanced event selectors select eventCategory ActivityAuditLog.",
                        s.arn,
                        s.categories().join(", ")
                    ),
                ));
            }
            if out
                .iter()
                .any(|o| o.location.as_deref() == Some(s.arn.as_str()))
            {
                continue;
            }
            out.push(Destination {
                r#type: Some("EVENT_DATA_STORE".into()),
                location: Some(s.arn),
            });
        }
        Ok(out)
    }

    /// CreateChannel.
    pub async fn create_channel(
        &self,
        caller: &Caller,
        input: CreateChannelRequest,
    ) -> Result<CreateChannelResponse, ApiError> {
        let id = uuid::Uuid::new_v4().to_string();
        let tags = input.tags.unwrap_or_default();
        self.allow(
            caller,
            "cloudtrail:CreateChannel",
            &arn::format(&self.region, &caller.account_id, "channel", &id),
            crate::authz::request_tags(&tags),
        )?;
        let _guard = self.control.lock().await;
        let source = input.source.unwrap_or_default();
        if source != "Custom" && !PARTNER_SOURCES.contains(&source.as_str()) {
            return Err(err(
                ErrorCode::InvalidSource,
                format!("Source '{source}' is not valid: use Custom for your own applications, or a partner source name ({}).", PARTNER_SOURCES.join(", ")),
            ));
        }
        if tags.len() > 50 {
            return Err(err(
                ErrorCode::TagsLimitExceeded,
                format!(
                    "A resource can have at most 50 tags; {} were given.",
                    tags.len()
                ),
            ));
        }
        let name = input.name.unwrap_or_default();
        let existing = self.channels(&caller.account_id)?;
        if existing.iter().any(|c| c.name == name) {
            return Err(err(
                ErrorCode::ChannelAlreadyExists,
                format!(
                    "A channel named '{name}' already exists in this account: choose another name."
                ),
            ));
        }
        if source != "Custom" && existing.iter().any(|c| c.source == source) {
            return Err(err(
                ErrorCode::ChannelAlreadyExists,
                format!("A channel for source {source} already exists in this account; only one channel is allowed per partner source."),
            ));
        }
        if existing.len() >= self.quotas.channels {
            return Err(err(
                ErrorCode::ChannelMaxLimitExceeded,
                format!(
                    "Account {} already has {} channels (the limit). Delete one first.",
                    caller.account_id,
                    existing.len()
                ),
            ));
        }
        let destinations =
            self.resolve_destinations(caller, input.destinations.unwrap_or_default())?;
        let c = Channel {
            arn: arn::format(&self.region, &caller.account_id, "channel", &id),
            id,
            account: caller.account_id.clone(),
            name,
            source,
            destinations,
            tags,
            created: epoch(self.now()),
            resource_policy: None,
        };
        self.save_channel(&c, true)?;
        Ok(CreateChannelResponse {
            channel_arn: Some(c.arn),
            name: Some(c.name),
            source: Some(c.source),
            destinations: Some(c.destinations),
            tags: Some(c.tags),
        })
    }

    /// GetChannel.
    pub async fn get_channel(
        &self,
        caller: &Caller,
        input: GetChannelRequest,
    ) -> Result<GetChannelResponse, ApiError> {
        let c = self.authorized_channel(
            caller,
            "cloudtrail:GetChannel",
            input.channel.as_deref().unwrap_or_default(),
        )?;
        Ok(GetChannelResponse {
            channel_arn: Some(c.arn),
            name: Some(c.name),
            source: Some(c.source),
            source_config: Some(SourceConfig {
                apply_to_all_regions: Some(false),
                advanced_event_selectors: Some(Vec::new()),
            }),
            destinations: Some(c.destinations),
            ingestion_status: Some(self.ingestion_status(&c.id)?),
        })
    }

    /// ListChannels.
    pub async fn list_channels(
        &self,
        caller: &Caller,
        input: ListChannelsRequest,
    ) -> Result<ListChannelsResponse, ApiError> {
        self.allow(caller, "cloudtrail:ListChannels", "*", Default::default())?;
        let size = paging::page_size(input.max_results, 1000, 1000)?;
        let start = paging::offset("channels", input.next_token.as_deref())?;
        let all: Vec<wire::cloudtrail::Channel> = self
            .channels(&caller.account_id)?
            .into_iter()
            .map(|c| wire::cloudtrail::Channel {
                channel_arn: Some(c.arn),
                name: Some(c.name),
            })
            .collect();
        let (page, next) = paging::page("channels", &all, start, size);
        Ok(ListChannelsResponse {
            channels: Some(page),
            next_token: next,
        })
    }

    /// UpdateChannel.
    pub async fn update_channel(
        &self,
        caller: &Caller,
        input: UpdateChannelRequest,
    ) -> Result<UpdateChannelResponse, ApiError> {
        let _guard = self.control.lock().await;
        let mut c = self.authorized_channel(
            caller,
            "cloudtrail:UpdateChannel",
            input.channel.as_deref().unwrap_or_default(),
        )?;
        if let Some(d) = input.destinations {
            c.destinations = self.resolve_destinations(caller, d)?;
        }
        if let Some(name) = input.name {
            c.name = name;
        }
        self.save_channel(&c, false)?;
        Ok(UpdateChannelResponse {
            channel_arn: Some(c.arn),
            name: Some(c.name),
            source: Some(c.source),
            destinations: Some(c.destinations),
        })
    }

    /// DeleteChannel: ingestion through it stops at once.
    pub async fn delete_channel(
        &self,
        caller: &Caller,
        input: DeleteChannelRequest,
    ) -> Result<DeleteChannelResponse, ApiError> {
        let _guard = self.control.lock().await;
        let c = self.authorized_channel(
            caller,
            "cloudtrail:DeleteChannel",
            input.channel.as_deref().unwrap_or_default(),
        )?;
        self.meta
            .delete(KIND, &caller.account_id, &c.id)
            .map_err(storage)?;
        self.meta
            .delete(crate::ingest::STATUS_KIND, &caller.account_id, &c.id)
            .map_err(storage)?;
        Ok(DeleteChannelResponse {})
    }

    /// The channel a resource-policy call names; AWS answers these errors
    /// with the Resource* codes, not the Channel* ones.
    fn policy_channel(
        &self,
        caller: &Caller,
        action: &str,
        resource_arn: &str,
    ) -> Result<Channel, ApiError> {
        let Some(a) = arn::parse(resource_arn) else {
            return Err(err(
                ErrorCode::ResourceArnNotValid,
                format!("'{resource_arn}' is not a valid CloudTrail resource ARN: use arn:aws:cloudtrail:<region>:<account>:channel/<id>."),
            ));
        };
        match a.kind.as_str() {
            "channel" => {}
            "eventdatastore" | "dashboard" => {
                return Err(err(
                    ErrorCode::ResourceTypeNotSupported,
                    format!(
                        "Cairn supports resource policies on channels only, not on {} resources.",
                        a.kind
                    ),
                ))
            }
            _ => {
                return Err(err(
                    ErrorCode::ResourceArnNotValid,
                    format!(
                        "'{resource_arn}' is not a channel, event data store or dashboard ARN."
                    ),
                ))
            }
        }
        let found = self.find_channel(caller, resource_arn);
        let tags = found
            .as_ref()
            .map(|c| c.tags.as_slice())
            .unwrap_or_default();
        self.allow_in(
            caller,
            action,
            resource_arn,
            &a.account,
            crate::authz::resource_tags(tags),
        )?;
        found.map_err(|_| {
            err(
                ErrorCode::ResourceNotFound,
                format!(
                    "Channel {resource_arn} was not found in account {} in {}.",
                    caller.account_id, self.region
                ),
            )
        })
    }

    /// PutResourcePolicy (channels).
    pub async fn put_resource_policy(
        &self,
        caller: &Caller,
        input: PutResourcePolicyRequest,
    ) -> Result<PutResourcePolicyResponse, ApiError> {
        let _guard = self.control.lock().await;
        let resource_arn = input.resource_arn.unwrap_or_default();
        let mut c = self.policy_channel(caller, "cloudtrail:PutResourcePolicy", &resource_arn)?;
        let document = input.resource_policy.unwrap_or_default();
        validate_channel_policy(&document, &c.arn)?;
        c.resource_policy = Some(document.clone());
        self.save_channel(&c, false)?;
        Ok(PutResourcePolicyResponse {
            resource_arn: Some(c.arn),
            resource_policy: Some(document),
            delegated_admin_resource_policy: None,
        })
    }

    /// GetResourcePolicy.
    pub async fn get_resource_policy(
        &self,
        caller: &Caller,
        input: GetResourcePolicyRequest,
    ) -> Result<GetResourcePolicyResponse, ApiError> {
        let c = self.policy_channel(
            caller,
            "cloudtrail:GetResourcePolicy",
            input.resource_arn.as_deref().unwrap_or_default(),
        )?;
        let policy = c.resource_policy.ok_or_else(|| {
            err(
                ErrorCode::ResourcePolicyNotFound,
                format!("Channel {} has no resource policy.", c.arn),
            )
        })?;
        Ok(GetResourcePolicyResponse {
            resource_arn: Some(c.arn),
            resource_policy: Some(policy),
            delegated_admin_resource_policy: None,
        })
    }

    /// DeleteResourcePolicy.
    pub async fn delete_resource_policy(
        &self,
        caller: &Caller,
        input: DeleteResourcePolicyRequest,
    ) -> Result<DeleteResourcePolicyResponse, ApiError> {
        let _guard = self.control.lock().await;
        let mut c = self.policy_channel(
            caller,
            "cloudtrail:DeleteResourcePolicy",
            input.resource_arn.as_deref().unwrap_or_default(),
        )?;
        if c.resource_policy.take().is_none() {
            return Err(err(
                ErrorCode::ResourcePolicyNotFound,
                format!("Channel {} has no resource policy.", c.arn),
            ));
        }
        self.save_channel(&c, false)?;
        Ok(DeleteResourcePolicyResponse {})
    }
}

/// CloudTrail's rules for channel resource policies (on top of IAM's
/// grammar): 1-20 statements, each with 1-50 principals, only the
/// `cloudtrail-data:PutAuditEvents` action, and the channel's own ARN as the
/// resource.
pub(crate) fn validate_channel_policy(
    document: &str,
    channel_arn: &str,
) -> Result<Policy, ApiError> {
    let bad = |m: String| err(ErrorCode::ResourcePolicyNotValid, m);
    let policy = Policy::parse(document, PolicyType::Resource).map_err(|e| {
        bad(format!(
            "The resource policy is not valid: {}",
            e.detailed()
        ))
    })?;
    let statements = policy.statements();
    if statements.is_empty() || statements.len() > 20 {
        return Err(bad(format!(
            "A channel resource policy must have 1 to 20 statements; it has {}.",
            statements.len()
        )));
    }
    for s in statements {
        let at = match &s.sid {
            Some(sid) => format!("Statement {} (Sid \"{sid}\")", s.index),
            None => format!("Statement {}", s.index),
        };
        let Some(principals) = &s.principal else {
            return Err(bad(format!(
                "{at} has no Principal: name the accounts or principals that may send events."
            )));
        };
        if principals.negated {
            return Err(bad(format!(
                "{at} uses NotPrincipal, which channel policies do not support: use Principal."
            )));
        }
        let n = principals.entries.len();
        if n == 0 || n > 50 {
            return Err(bad(format!(
                "{at} must name 1 to 50 principals; it names {n}."
            )));
        }
        if principals
            .entries
            .iter()
            .any(|p| !matches!(p, PrincipalEntry::Aws(_) | PrincipalEntry::Everyone))
        {
            return Err(bad(format!("{at} names a non-AWS principal; channel policies take AWS account or IAM principals only.")));
        }
        if s.action.negated
            || s.action
                .patterns
                .iter()
                .any(|a| !a.eq_ignore_ascii_case(PUT_AUDIT_EVENTS))
        {
            return Err(bad(format!(
                "{at} has action(s) {}: a channel policy may only name {PUT_AUDIT_EVENTS}.",
                s.action.patterns.join(", ")
            )));
        }
        match &s.resource {
            Some(r) if !r.negated && !r.patterns.is_empty() && r.patterns.iter().all(|p| p == channel_arn) => {}
            _ => {
                return Err(bad(format!(
                    "{at} must name exactly this channel as its Resource: \"Resource\": \"{channel_arn}\"."
                )))
            }
        }
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAN: &str =
        "arn:aws:cloudtrail:us-east-1:111122223333:channel/EXAMPLE8-0558-4f7e-a06a-43969EXAMPLE";

    fn policy(statement: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#)
    }

    #[test]
    fn channel_policy_rules() {
        let ok = policy(&format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::444455556666:root","777788889999"]}},"Action":"cloudtrail-data:PutAuditEvents","Resource":"{CHAN}","Condition":{{"StringEquals":{{"cloudtrail:ExternalId":"x"}}}}}}"#
        ));
        assert!(validate_channel_policy(&ok, CHAN).is_ok());
        for bad in [
            policy(&format!(
                r#"{{"Effect":"Allow","Principal":{{"AWS":"444455556666"}},"Action":"cloudtrail:*","Resource":"{CHAN}"}}"#
            )),
            policy(&format!(
                r#"{{"Effect":"Allow","Action":"cloudtrail-data:PutAuditEvents","Resource":"{CHAN}"}}"#
            )),
            policy(
                r#"{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"cloudtrail-data:PutAuditEvents","Resource":"arn:aws:cloudtrail:us-east-1:111122223333:channel/other"}"#,
            ),
            policy(&format!(
                r#"{{"Effect":"Allow","Principal":{{"Service":"x.amazonaws.com"}},"Action":"cloudtrail-data:PutAuditEvents","Resource":"{CHAN}"}}"#
            )),
            "{not json".to_string(),
            policy(""),
        ] {
            let e = validate_channel_policy(&bad, CHAN).err();
            assert_eq!(
                e.map(|e| e.code),
                Some(ErrorCode::ResourcePolicyNotValid),
                "{bad}"
            );
        }
    }
}
