//! Event data stores: create, read, update, delete (with the 7-day
//! PENDING_DELETION window) and restore.

use crate::arn::{self, Named};
use crate::{epoch, from_doc, paging, storage, to_doc, Caller, Lake};
use serde::{Deserialize, Serialize};
use wire::cloudtrail::*;
use wire::{ApiError, ErrorCode};

pub(crate) const KIND: &str = "eds";
pub(crate) const ACTIVITY_AUDIT_LOG: &str = "ActivityAuditLog";

const EXTENDABLE: &str = "EXTENDABLE_RETENTION_PRICING";
const FIXED: &str = "FIXED_RETENTION_PRICING";

/// The fields an advanced event selector may test (CloudTrail's list).
const SELECTOR_FIELDS: &[&str] = &[
    "eventCategory",
    "eventSource",
    "eventName",
    "eventType",
    "readOnly",
    "resources.type",
    "resources.ARN",
    "userIdentity.arn",
    "errorCode",
    "sessionCredentialFromConsole",
    "vpcEndpointId",
];

/// A stored event data store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Store {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub status: String,
    pub selectors: Vec<AdvancedEventSelector>,
    pub multi_region_enabled: bool,
    pub organization_enabled: bool,
    pub retention_period: i64,
    pub termination_protection_enabled: bool,
    pub billing_mode: String,
    pub tags: Vec<Tag>,
    pub created: f64,
    pub updated: f64,
}

impl Store {
    /// The event categories its selectors take; no selectors means management events.
    pub fn categories(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .selectors
            .iter()
            .flat_map(|s| s.field_selectors.iter().flatten())
            .filter(|f| f.field.as_deref() == Some("eventCategory"))
            .flat_map(|f| f.equals.iter().flatten().cloned())
            .collect();
        if out.is_empty() {
            out.push("Management".into());
        }
        out
    }

    pub fn takes_integration_events(&self) -> bool {
        self.categories().iter().any(|c| c == ACTIVITY_AUDIT_LOG)
    }

    /// What its table holds: integration events, or CloudTrail records.
    pub fn layout(&self) -> query::Layout {
        if self.takes_integration_events() {
            query::Layout::Integration
        } else {
            query::Layout::CloudTrail
        }
    }

    /// What the event tables need to know of it at `now`.
    pub fn table_spec(&self, now: time::OffsetDateTime) -> tables::TableSpec {
        tables::TableSpec {
            layout: self.layout(),
            keep_from: crate::maintain::oldest_kept(now, self.retention_period),
        }
    }

    pub fn is_active(&self) -> bool {
        self.status == "ENABLED"
    }

    fn summary(&self) -> EventDataStore {
        EventDataStore {
            event_data_store_arn: Some(self.arn.clone()),
            name: Some(self.name.clone()),
            termination_protection_enabled: Some(self.termination_protection_enabled),
            status: Some(self.status.clone()),
            advanced_event_selectors: Some(self.selectors.clone()),
            multi_region_enabled: Some(self.multi_region_enabled),
            organization_enabled: Some(self.organization_enabled),
            retention_period: Some(self.retention_period),
            created_timestamp: Some(self.created),
            updated_timestamp: Some(self.updated),
        }
    }
}

fn invalid(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

fn validate_selectors(selectors: &[AdvancedEventSelector]) -> Result<(), ApiError> {
    let bad = |m: String| invalid(ErrorCode::InvalidEventSelectors, m);
    if selectors.len() > 5 {
        return Err(bad(format!(
            "An event data store can have at most 5 advanced event selectors; {} were given.",
            selectors.len()
        )));
    }
    let mut categories = std::collections::BTreeSet::new();
    for (i, s) in selectors.iter().enumerate() {
        let fields = s.field_selectors.as_deref().unwrap_or_default();
        if fields.is_empty() {
            return Err(bad(format!(
                "Advanced event selector {i} has no field selectors."
            )));
        }
        for f in fields {
            let field = f.field.as_deref().unwrap_or_default();
            if !SELECTOR_FIELDS.contains(&field) {
                return Err(bad(format!(
                    "Field '{field}' in advanced event selector {i} is not a selectable field. Use one of: {}.",
                    SELECTOR_FIELDS.join(", ")
                )));
            }
            let lists = [
                &f.equals,
                &f.starts_with,
                &f.ends_with,
                &f.not_equals,
                &f.not_starts_with,
                &f.not_ends_with,
            ];
            if lists
                .iter()
                .all(|l| l.as_ref().is_none_or(|v| v.is_empty()))
            {
                return Err(bad(format!("Field selector '{field}' in advanced event selector {i} has no operator: give Equals, StartsWith, EndsWith or a Not… form.")));
            }
            if field == "eventCategory" {
                if f.equals.as_ref().is_none_or(|v| v.is_empty())
                    || lists.iter().skip(1).any(|l| l.is_some())
                {
                    return Err(bad(format!("eventCategory in advanced event selector {i} supports only the Equals operator.")));
                }
                categories.extend(f.equals.iter().flatten().cloned());
            }
        }
        let has_integration = fields.iter().any(|f| {
            f.field.as_deref() == Some("eventCategory")
                && f.equals.iter().flatten().any(|c| c == ACTIVITY_AUDIT_LOG)
        });
        if has_integration && fields.len() > 1 {
            return Err(bad(format!(
                "Advanced event selector {i} selects ActivityAuditLog events; such a selector may only test eventCategory."
            )));
        }
    }
    if categories.contains(ACTIVITY_AUDIT_LOG) && categories.len() > 1 {
        return Err(bad(
            "An event data store for integration events (eventCategory ActivityAuditLog) cannot also select other event categories.".into(),
        ));
    }
    Ok(())
}

fn retention(billing_mode: &str, period: Option<i64>) -> Result<i64, ApiError> {
    let (default, max) = if billing_mode == FIXED {
        (2557, 2557)
    } else {
        (366, 3653)
    };
    let period = period.unwrap_or(default);
    if !(7..=max).contains(&period) {
        return Err(invalid(
            ErrorCode::InvalidParameter,
            format!(
                "RetentionPeriod {period} is out of range for {billing_mode}: use 7 to {max} days."
            ),
        ));
    }
    Ok(period)
}

fn validate_tags(tags: &[Tag]) -> Result<(), ApiError> {
    if tags.len() > 50 {
        return Err(invalid(
            ErrorCode::TagsLimitExceeded,
            format!(
                "A resource can have at most 50 tags; {} were given.",
                tags.len()
            ),
        ));
    }
    let mut keys = std::collections::BTreeSet::new();
    for t in tags {
        let key = t.key.as_deref().unwrap_or_default();
        if key.starts_with("aws:") {
            return Err(invalid(
                ErrorCode::InvalidTagParameter,
                format!("Tag key '{key}' uses the reserved prefix 'aws:'."),
            ));
        }
        if !keys.insert(key) {
            return Err(invalid(
                ErrorCode::InvalidTagParameter,
                format!("Tag key '{key}' is given more than once."),
            ));
        }
    }
    Ok(())
}

fn unsupported_options(organization: Option<bool>, kms: Option<&String>) -> Result<(), ApiError> {
    if organization == Some(true) {
        return Err(invalid(
            ErrorCode::UnsupportedOperation,
            "Cairn has no AWS Organizations: OrganizationEnabled must be false or omitted.",
        ));
    }
    if kms.is_some() {
        return Err(invalid(
            ErrorCode::UnsupportedOperation,
            "Cairn does not encrypt with AWS KMS keys: omit KmsKeyId.",
        ));
    }
    Ok(())
}

impl Lake {
    pub(crate) fn stores(&self, account: &str) -> Result<Vec<Store>, ApiError> {
        self.documents(KIND, account)
    }

    fn save_store(&self, account: &str, s: &Store, new: bool) -> Result<(), ApiError> {
        let doc = to_doc(s)?;
        let result = if new {
            self.meta.insert(KIND, account, &s.id, Some(&s.name), &doc)
        } else {
            self.meta
                .replace(KIND, account, &s.id, Some(&s.name), &doc)
                .map(|_| ())
        };
        result.map_err(|e| match e {
            store::Error::Conflict(_) => invalid(
                ErrorCode::EventDataStoreAlreadyExists,
                format!("An event data store named '{}' already exists in this account: choose another name.", s.name),
            ),
            other => storage(other),
        })
    }

    /// Resolves an "ARN or id" event data store parameter in the caller's account.
    pub(crate) fn find_store(&self, caller: &Caller, value: &str) -> Result<Store, ApiError> {
        let named = arn::named(value, "eventdatastore").ok_or_else(|| {
            invalid(
                ErrorCode::EventDataStoreArnInvalid,
                format!("'{value}' is not a valid event data store ARN or ID: use arn:aws:cloudtrail:<region>:<account>:eventdatastore/<id> or the id alone."),
            )
        })?;
        let not_found = || {
            invalid(
                ErrorCode::EventDataStoreNotFound,
                format!(
                    "Event data store {value} was not found in account {} in {}.",
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

    /// Authorizes `action` on the event data store `value` names, then
    /// resolves it (see [`crate::authz`] for the order).
    pub(crate) fn authorized_store(
        &self,
        caller: &Caller,
        action: &str,
        value: &str,
    ) -> Result<Store, ApiError> {
        let Some((target, account, _)) = self.named_arn(caller, value, "eventdatastore") else {
            return self.find_store(caller, value);
        };
        let found = self.find_store(caller, value);
        let tags = found
            .as_ref()
            .map(|s| s.tags.as_slice())
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

    fn find_active_store(
        &self,
        caller: &Caller,
        action: &str,
        value: &str,
    ) -> Result<Store, ApiError> {
        let s = self.authorized_store(caller, action, value)?;
        if s.status == "PENDING_DELETION" {
            return Err(invalid(
                ErrorCode::InactiveEventDataStore,
                format!("Event data store {} is pending deletion: restore it with RestoreEventDataStore first.", s.arn),
            ));
        }
        Ok(s)
    }

    /// CreateEventDataStore.
    pub async fn create_event_data_store(
        &self,
        caller: &Caller,
        input: CreateEventDataStoreRequest,
    ) -> Result<CreateEventDataStoreResponse, ApiError> {
        let id = uuid::Uuid::new_v4().to_string();
        let tags = input.tags_list.unwrap_or_default();
        self.allow(
            caller,
            "cloudtrail:CreateEventDataStore",
            &arn::format(&self.region, &caller.account_id, "eventdatastore", &id),
            crate::authz::request_tags(&tags),
        )?;
        let _guard = self.control.lock().await;
        unsupported_options(input.organization_enabled, input.kms_key_id.as_ref())?;
        let selectors = input.advanced_event_selectors.unwrap_or_default();
        validate_selectors(&selectors)?;
        validate_tags(&tags)?;
        let billing_mode = input.billing_mode.unwrap_or_else(|| EXTENDABLE.into());
        let retention_period = retention(&billing_mode, input.retention_period)?;
        let name = input.name.unwrap_or_default();
        let existing = self.stores(&caller.account_id)?;
        if existing.iter().any(|s| s.name == name) {
            return Err(invalid(
                ErrorCode::EventDataStoreAlreadyExists,
                format!("An event data store named '{name}' already exists in this account: choose another name."),
            ));
        }
        if existing.len() >= self.quotas.event_data_stores {
            return Err(invalid(
                ErrorCode::EventDataStoreMaxLimitExceeded,
                format!(
                    "Account {} already has {} event data stores (the limit, counting those pending deletion). Delete one first.",
                    caller.account_id,
                    existing.len()
                ),
            ));
        }
        let now = epoch(self.now());
        let s = Store {
            arn: arn::format(&self.region, &caller.account_id, "eventdatastore", &id),
            id,
            name,
            status: if input.start_ingestion == Some(false) {
                "STOPPED_INGESTION"
            } else {
                "ENABLED"
            }
            .into(),
            selectors,
            multi_region_enabled: input.multi_region_enabled.unwrap_or(true),
            organization_enabled: false,
            retention_period,
            termination_protection_enabled: input.termination_protection_enabled.unwrap_or(true),
            billing_mode,
            tags,
            created: now,
            updated: now,
        };
        self.save_store(&caller.account_id, &s, true)?;
        Ok(CreateEventDataStoreResponse {
            event_data_store_arn: Some(s.arn),
            name: Some(s.name),
            status: Some(s.status),
            advanced_event_selectors: Some(s.selectors),
            multi_region_enabled: Some(s.multi_region_enabled),
            organization_enabled: Some(s.organization_enabled),
            retention_period: Some(s.retention_period),
            termination_protection_enabled: Some(s.termination_protection_enabled),
            tags_list: Some(s.tags),
            created_timestamp: Some(s.created),
            updated_timestamp: Some(s.updated),
            kms_key_id: None,
            billing_mode: Some(s.billing_mode),
        })
    }

    /// GetEventDataStore.
    pub async fn get_event_data_store(
        &self,
        caller: &Caller,
        input: GetEventDataStoreRequest,
    ) -> Result<GetEventDataStoreResponse, ApiError> {
        let s = self.authorized_store(
            caller,
            "cloudtrail:GetEventDataStore",
            input.event_data_store.as_deref().unwrap_or_default(),
        )?;
        Ok(get_response(s))
    }

    /// ListEventDataStores.
    pub async fn list_event_data_stores(
        &self,
        caller: &Caller,
        input: ListEventDataStoresRequest,
    ) -> Result<ListEventDataStoresResponse, ApiError> {
        self.allow(
            caller,
            "cloudtrail:ListEventDataStores",
            "*",
            Default::default(),
        )?;
        let size = paging::page_size(input.max_results, 1000, 1000)?;
        let start = paging::offset("eds", input.next_token.as_deref())?;
        let all: Vec<EventDataStore> = self
            .stores(&caller.account_id)?
            .iter()
            .map(Store::summary)
            .collect();
        let (page, next) = paging::page("eds", &all, start, size);
        Ok(ListEventDataStoresResponse {
            event_data_stores: Some(page),
            next_token: next,
        })
    }

    /// UpdateEventDataStore.
    pub async fn update_event_data_store(
        &self,
        caller: &Caller,
        input: UpdateEventDataStoreRequest,
    ) -> Result<UpdateEventDataStoreResponse, ApiError> {
        let _guard = self.control.lock().await;
        let mut s = self.find_active_store(
            caller,
            "cloudtrail:UpdateEventDataStore",
            input.event_data_store.as_deref().unwrap_or_default(),
        )?;
        let nothing = input.name.is_none()
            && input.advanced_event_selectors.is_none()
            && input.multi_region_enabled.is_none()
            && input.organization_enabled.is_none()
            && input.retention_period.is_none()
            && input.termination_protection_enabled.is_none()
            && input.kms_key_id.is_none()
            && input.billing_mode.is_none();
        if nothing {
            return Err(invalid(
                ErrorCode::InvalidParameter,
                "UpdateEventDataStore needs at least one of Name, AdvancedEventSelectors, MultiRegionEnabled, OrganizationEnabled, RetentionPeriod, TerminationProtectionEnabled, KmsKeyId or BillingMode.",
            ));
        }
        unsupported_options(input.organization_enabled, input.kms_key_id.as_ref())?;
        if let Some(selectors) = input.advanced_event_selectors {
            validate_selectors(&selectors)?;
            s.selectors = selectors;
        }
        if let Some(mode) = input.billing_mode {
            if s.billing_mode == EXTENDABLE && mode == FIXED {
                return Err(invalid(
                    ErrorCode::InvalidParameter,
                    "BillingMode cannot change from EXTENDABLE_RETENTION_PRICING to FIXED_RETENTION_PRICING.",
                ));
            }
            s.billing_mode = mode;
        }
        if input.retention_period.is_some() || s.billing_mode == FIXED {
            s.retention_period = retention(
                &s.billing_mode,
                input.retention_period.or(Some(s.retention_period)),
            )?;
        }
        if let Some(name) = input.name {
            s.name = name;
        }
        if let Some(v) = input.multi_region_enabled {
            s.multi_region_enabled = v;
        }
        if let Some(v) = input.termination_protection_enabled {
            s.termination_protection_enabled = v;
        }
        s.updated = epoch(self.now());
        self.save_store(&caller.account_id, &s, false)?;
        let g = get_response(s);
        Ok(UpdateEventDataStoreResponse {
            event_data_store_arn: g.event_data_store_arn,
            name: g.name,
            status: g.status,
            advanced_event_selectors: g.advanced_event_selectors,
            multi_region_enabled: g.multi_region_enabled,
            organization_enabled: g.organization_enabled,
            retention_period: g.retention_period,
            termination_protection_enabled: g.termination_protection_enabled,
            created_timestamp: g.created_timestamp,
            updated_timestamp: g.updated_timestamp,
            kms_key_id: None,
            billing_mode: g.billing_mode,
            federation_status: g.federation_status,
            federation_role_arn: None,
        })
    }

    /// DeleteEventDataStore: the store goes to PENDING_DELETION and can be
    /// restored for 7 days.
    pub async fn delete_event_data_store(
        &self,
        caller: &Caller,
        input: DeleteEventDataStoreRequest,
    ) -> Result<DeleteEventDataStoreResponse, ApiError> {
        let _guard = self.control.lock().await;
        let mut s = self.find_active_store(
            caller,
            "cloudtrail:DeleteEventDataStore",
            input.event_data_store.as_deref().unwrap_or_default(),
        )?;
        if s.termination_protection_enabled {
            return Err(invalid(
                ErrorCode::EventDataStoreTerminationProtected,
                format!(
                    "Event data store {} has termination protection enabled. Run UpdateEventDataStore with TerminationProtectionEnabled false first.",
                    s.arn
                ),
            ));
        }
        let users: Vec<String> = self
            .channels(&caller.account_id)?
            .into_iter()
            .filter(|c| {
                c.destinations
                    .iter()
                    .any(|d| d.location.as_deref() == Some(s.arn.as_str()))
            })
            .map(|c| c.arn)
            .collect();
        if !users.is_empty() {
            return Err(invalid(
                ErrorCode::ChannelExistsForEds,
                format!("Event data store {} is the destination of channel(s) {}: delete or update those channels first.", s.arn, users.join(", ")),
            ));
        }
        s.status = "PENDING_DELETION".into();
        s.updated = epoch(self.now());
        self.save_store(&caller.account_id, &s, false)?;
        Ok(DeleteEventDataStoreResponse {})
    }

    /// RestoreEventDataStore.
    pub async fn restore_event_data_store(
        &self,
        caller: &Caller,
        input: RestoreEventDataStoreRequest,
    ) -> Result<RestoreEventDataStoreResponse, ApiError> {
        let _guard = self.control.lock().await;
        let mut s = self.authorized_store(
            caller,
            "cloudtrail:RestoreEventDataStore",
            input.event_data_store.as_deref().unwrap_or_default(),
        )?;
        if s.status != "PENDING_DELETION" {
            return Err(invalid(
                ErrorCode::InvalidEventDataStoreStatus,
                format!("Event data store {} is {}, not PENDING_DELETION: only a deleted store can be restored.", s.arn, s.status),
            ));
        }
        s.status = "ENABLED".into();
        s.updated = epoch(self.now());
        self.save_store(&caller.account_id, &s, false)?;
        let g = get_response(s);
        Ok(RestoreEventDataStoreResponse {
            event_data_store_arn: g.event_data_store_arn,
            name: g.name,
            status: g.status,
            advanced_event_selectors: g.advanced_event_selectors,
            multi_region_enabled: g.multi_region_enabled,
            organization_enabled: g.organization_enabled,
            retention_period: g.retention_period,
            termination_protection_enabled: g.termination_protection_enabled,
            created_timestamp: g.created_timestamp,
            updated_timestamp: g.updated_timestamp,
            kms_key_id: None,
            billing_mode: g.billing_mode,
        })
    }
}

impl Lake {
    /// StartEventDataStoreIngestion.
    pub async fn start_event_data_store_ingestion(
        &self,
        caller: &Caller,
        input: StartEventDataStoreIngestionRequest,
    ) -> Result<StartEventDataStoreIngestionResponse, ApiError> {
        self.switch_ingestion(caller, input.event_data_store.as_deref(), true)
            .await?;
        Ok(StartEventDataStoreIngestionResponse {})
    }

    /// StopEventDataStoreIngestion.
    pub async fn stop_event_data_store_ingestion(
        &self,
        caller: &Caller,
        input: StopEventDataStoreIngestionRequest,
    ) -> Result<StopEventDataStoreIngestionResponse, ApiError> {
        self.switch_ingestion(caller, input.event_data_store.as_deref(), false)
            .await?;
        Ok(StopEventDataStoreIngestionResponse {})
    }

    /// Stop/Start apply, as on AWS, to stores of CloudTrail events only
    /// (management, data, network activity; configuration items), and move
    /// ENABLED <-> STOPPED_INGESTION.
    async fn switch_ingestion(
        &self,
        caller: &Caller,
        value: Option<&str>,
        start: bool,
    ) -> Result<(), ApiError> {
        let (op, from, to) = if start {
            (
                "StartEventDataStoreIngestion",
                "STOPPED_INGESTION",
                "ENABLED",
            )
        } else {
            (
                "StopEventDataStoreIngestion",
                "ENABLED",
                "STOPPED_INGESTION",
            )
        };
        let _guard = self.control.lock().await;
        let mut s = self.authorized_store(
            caller,
            &format!("cloudtrail:{op}"),
            value.unwrap_or_default(),
        )?;
        if s.takes_integration_events() {
            return Err(invalid(
                ErrorCode::InvalidEventDataStoreCategory,
                format!("Event data store {} collects integration events (ActivityAuditLog); {op} applies only to stores of CloudTrail events and configuration items. To stop events from a channel, delete the channel or point it at another store.", s.arn),
            ));
        }
        if s.status != from {
            return Err(invalid(
                ErrorCode::InvalidEventDataStoreStatus,
                format!(
                    "Event data store {} is {}; {op} needs it to be {from}.",
                    s.arn, s.status
                ),
            ));
        }
        s.status = to.into();
        s.updated = epoch(self.now());
        self.save_store(&caller.account_id, &s, false)
    }
}

fn get_response(s: Store) -> GetEventDataStoreResponse {
    GetEventDataStoreResponse {
        event_data_store_arn: Some(s.arn),
        name: Some(s.name),
        status: Some(s.status),
        advanced_event_selectors: Some(s.selectors),
        multi_region_enabled: Some(s.multi_region_enabled),
        organization_enabled: Some(s.organization_enabled),
        retention_period: Some(s.retention_period),
        termination_protection_enabled: Some(s.termination_protection_enabled),
        created_timestamp: Some(s.created),
        updated_timestamp: Some(s.updated),
        kms_key_id: None,
        billing_mode: Some(s.billing_mode),
        federation_status: Some("DISABLED".into()),
        federation_role_arn: None,
        partition_keys: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selector(fields: Vec<(&str, Vec<&str>)>) -> AdvancedEventSelector {
        AdvancedEventSelector {
            name: Some("s".into()),
            field_selectors: Some(
                fields
                    .into_iter()
                    .map(|(f, eq)| AdvancedFieldSelector {
                        field: Some(f.into()),
                        equals: Some(eq.into_iter().map(String::from).collect()),
                        ..Default::default()
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn selector_rules() {
        assert!(
            validate_selectors(&[selector(vec![("eventCategory", vec!["ActivityAuditLog"])])])
                .is_ok()
        );
        assert!(validate_selectors(&[selector(vec![
            ("eventCategory", vec!["Management"]),
            ("readOnly", vec!["true"])
        ])])
        .is_ok());
        assert!(validate_selectors(&[selector(vec![
            ("eventCategory", vec!["ActivityAuditLog"]),
            ("eventName", vec!["x"])
        ])])
        .is_err());
        assert!(validate_selectors(&[selector(vec![(
            "eventCategory",
            vec!["ActivityAuditLog", "Management"]
        )])])
        .is_err());
        assert!(validate_selectors(&[selector(vec![("nosuch", vec!["x"])])]).is_err());
        assert!(validate_selectors(&vec![
            selector(vec![("eventCategory", vec!["Management"])]);
            6
        ])
        .is_err());
    }

    #[test]
    fn retention_ranges_follow_billing_mode() {
        assert_eq!(retention(EXTENDABLE, None).ok(), Some(366));
        assert_eq!(retention(FIXED, None).ok(), Some(2557));
        assert!(retention(FIXED, Some(3000)).is_err());
        assert!(retention(EXTENDABLE, Some(6)).is_err());
        assert!(retention(EXTENDABLE, Some(3653)).is_ok());
    }
}
