//! Every CloudTrail operation is authorized as `cloudtrail:<Operation>` on
//! the resource it names (event data store or channel ARN, `*` for
//! operations without one), with the resource's tags as `aws:ResourceTag/…`
//! and a request's tags as `aws:RequestTag/…`. The resource is looked up
//! before the decision (for its tags) but its absence is only reported
//! after, so that an unauthorized caller learns nothing about it.

use crate::arn::{self, Named};
use crate::{Caller, Lake};
use iam::{Access, Denied};
use iam_policy::Context;
use wire::cloudtrail::Tag;
use wire::{ApiError, ErrorCode};

/// The condition keys of a resource's tags.
pub(crate) fn resource_tags(tags: &[Tag]) -> Context {
    let mut ctx = Context::new();
    for t in tags {
        if let Some(k) = &t.key {
            ctx = ctx.with(
                &format!("aws:ResourceTag/{k}"),
                t.value.clone().unwrap_or_default(),
            );
        }
    }
    ctx
}

/// The condition keys of the tags a request sets.
pub(crate) fn request_tags(tags: &[Tag]) -> Context {
    let mut ctx = Context::new();
    for t in tags {
        if let Some(k) = &t.key {
            ctx = ctx.with(
                &format!("aws:RequestTag/{k}"),
                t.value.clone().unwrap_or_default(),
            );
        }
    }
    let keys: Vec<String> = tags.iter().filter_map(|t| t.key.clone()).collect();
    if !keys.is_empty() {
        ctx = ctx.with_values("aws:TagKeys", keys);
    }
    ctx
}

/// Why a caller can never be allowed a CloudTrail operation on another
/// account's channel or event data store: only PutAuditEvents goes through a
/// resource policy. The same whether the resource exists or not, so that
/// nothing is revealed.
fn owner_only_hint(resource: &str, owner: &str) -> String {
    if resource.contains(":channel/") {
        format!(
            "Channels are managed only by their owner account ({owner}): a channel's resource policy can allow other accounts cloudtrail-data:PutAuditEvents and nothing else."
        )
    } else {
        format!(
            "Event data stores and their queries are managed only by their owner account ({owner}): Cairn has no resource policies for them."
        )
    }
}

impl Lake {
    /// Authorizes `action` on `resource` of the caller's account; a denial
    /// is AccessDeniedException (403) in AWS's message form.
    pub(crate) fn allow(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
        context: Context,
    ) -> Result<(), ApiError> {
        self.allow_in(caller, action, resource, &caller.account_id, context)
    }

    /// As [`Lake::allow`], for a resource of `resource_account`.
    pub(crate) fn allow_in(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
        resource_account: &str,
        context: Context,
    ) -> Result<(), ApiError> {
        let access = Access {
            action,
            resource,
            resource_account,
            resource_policy: None,
            context,
        };
        self.iam.authorize(caller, access).map_err(|mut denied| {
            if resource_account != caller.account_id {
                denied.set_hint(owner_only_hint(resource, resource_account));
            }
            self.access_denied(caller, &denied)
        })
    }

    pub(crate) fn access_denied(&self, caller: &Caller, denied: &Denied) -> ApiError {
        let message = denied.message(&caller.request_id);
        self.iam
            .record_denial(caller, denied, ErrorCode::AccessDenied.as_str(), &message);
        ApiError::new(ErrorCode::AccessDenied, message)
    }

    /// The ARN an "ARN or id" parameter names (in the caller's account and
    /// this region when it is a bare id), and the id; `None` when malformed.
    pub(crate) fn named_arn(
        &self,
        caller: &Caller,
        value: &str,
        kind: &str,
    ) -> Option<(String, String, String)> {
        match arn::named(value, kind)? {
            Named::Arn(a) => Some((value.to_string(), a.account.clone(), a.id)),
            Named::Id(id) => Some((
                arn::format(&self.region, &caller.account_id, kind, &id),
                caller.account_id.clone(),
                id,
            )),
        }
    }
}
