//! The one authorization question every operation asks: may this caller do
//! this action on this resource? Answered by AWS's evaluation rules over the
//! caller's identity policies, permissions boundary and session policies and
//! the resource's policy; every denial is explained and kept by request id.

use crate::caller::{Caller, Identity};
use crate::entities::{Entity, GROUP, ROLE, USER};
use crate::sts_api::{Session, SESSION};
use crate::{from_doc, iso, storage, to_doc, Iam};
use iam_policy::{evaluate_set, Context, Decision, NamedPolicy, Policy, PolicySet, PolicyType};
use serde::{Deserialize, Serialize};
use wire::ApiError;

/// One request to authorize.
pub struct Access<'a> {
    /// The IAM action, e.g. `cloudtrail:CreateChannel`.
    pub action: &'a str,
    /// The resource ARN, or `*` for actions without one (List…).
    pub resource: &'a str,
    /// The account that owns the resource.
    pub resource_account: &'a str,
    /// The resource's own policy (channel policy, role trust policy), if any.
    pub resource_policy: Option<NamedPolicy<'a>>,
    /// Request-specific condition keys (`cloudtrail:ExternalId`,
    /// `aws:RequestTag/…`, `aws:ResourceTag/…`, …). The global keys of the
    /// caller and the request are added here.
    pub context: Context,
}

/// A denied request: AWS's decision, its explanation, and a message.
#[derive(Debug, Clone)]
pub struct Denied {
    /// The decision with its full explanation.
    pub decision: Decision,
    /// AWS's AccessDenied message ("User: … is not authorized to perform: …").
    pub aws_message: String,
    /// One short sentence on what to change, when Cairn can tell, safe to
    /// show the caller: for a caller from another account it quotes nothing
    /// of the resource's policy (see [`iam_policy::Decision::caller_hint`]).
    pub hint: Option<String>,
    /// The same with every detail of every policy considered (condition
    /// values, Sids, principals): for `cairn explain` only, never for the
    /// caller.
    pub operator_hint: Option<String>,
    /// The account that owns the resource.
    pub resource_account: String,
}

impl Denied {
    /// Replaces the hint, for the caller and for `cairn explain` alike (a
    /// sentence that quotes no policy).
    pub fn set_hint(&mut self, hint: String) {
        self.operator_hint = Some(hint.clone());
        self.hint = Some(hint);
    }

    /// AWS's message, the hint, and where to read the whole explanation.
    pub fn message(&self, request_id: &str) -> String {
        let mut m = self.aws_message.clone();
        if let Some(h) = &self.hint {
            m.push_str(". ");
            m.push_str(h);
        }
        if !request_id.is_empty() {
            if !m.ends_with('.') {
                m.push('.');
            }
            m.push_str(&format!(" (cairn explain {request_id} shows why.)"));
        }
        m
    }
}

/// The kept explanation of one denied request (`cairn explain REQUEST_ID`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DenialRecord {
    /// The request's id (`x-amzn-RequestId`).
    pub request_id: String,
    /// When (ISO 8601).
    pub time: String,
    /// The caller's principal ARN.
    pub caller: String,
    /// The caller's account.
    pub caller_account: String,
    /// The access key used.
    pub access_key_id: String,
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// The resource's account.
    pub resource_account: String,
    /// `ExplicitDeny` or `ImplicitDeny`.
    pub effect: String,
    /// The error code the caller got.
    pub error_code: String,
    /// The message the caller got.
    pub message: String,
    /// The short hint, if any, with every detail (for the operator; the
    /// caller got the one in `message`).
    pub hint: Option<String>,
    /// The explanation in plain sentences.
    pub summary: String,
    /// What looks wrong in the policies considered (actions that do not
    /// exist, likely confusions), although AWS accepts them.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The explanation as data: policies considered, statements matched,
    /// the deciding statement, what was missing.
    pub explanation: serde_json::Value,
}

pub(crate) const DENIAL: &str = "denial";

/// The policies of one caller, parsed, with names for explanations.
#[derive(Default)]
pub(crate) struct CallerPolicies {
    pub identity: Vec<(String, Policy)>,
    pub boundary: Option<(String, Policy)>,
    pub session: Option<Vec<(String, Policy)>>,
}

impl Iam {
    /// Decides `access` for `caller`; a denial is recorded under the
    /// caller's request id and returned with its explanation.
    pub fn authorize(&self, caller: &Caller, access: Access<'_>) -> Result<(), Box<Denied>> {
        let decision = match self.decide(caller, &access) {
            Ok(d) => d,
            Err(e) => {
                // Could not read the caller's policies: deny, and say so.
                tracing::error!(error = %e.message, "reading policies for authorization failed");
                let principal = &caller.principal;
                let req = iam_policy::Request {
                    principal,
                    action: access.action,
                    resource: access.resource,
                    resource_account: access.resource_account,
                    context: &access.context,
                };
                evaluate_set(&req, &PolicySet::default())
            }
        };
        if decision.is_allowed() {
            return Ok(());
        }
        Err(Box::new(Denied {
            aws_message: decision.aws_access_denied_message(),
            hint: decision.caller_hint(),
            operator_hint: decision.hint(),
            resource_account: access.resource_account.to_string(),
            decision,
        }))
    }

    /// Keeps a denial's explanation under the request id, as answered with
    /// `error_code`. Failing to keep it never changes the answer.
    pub fn record_denial(&self, caller: &Caller, denied: &Denied, error_code: &str, message: &str) {
        if caller.request_id.is_empty() {
            return;
        }
        let e = &denied.decision.explanation;
        let record = DenialRecord {
            request_id: caller.request_id.clone(),
            time: iso(self.now()),
            caller: caller.principal.arn.clone(),
            caller_account: caller.account_id.clone(),
            access_key_id: caller.access_key_id.clone(),
            action: e.action.clone(),
            resource: e.resource.clone(),
            resource_account: denied.resource_account.clone(),
            effect: format!("{:?}", denied.decision.effect),
            error_code: error_code.to_string(),
            message: message.to_string(),
            hint: denied.operator_hint.clone(),
            summary: denied.decision.to_string(),
            warnings: e
                .warnings
                .iter()
                .map(|w| format!("{}: {}", w.policy, w.warning))
                .collect(),
            explanation: serde_json::to_value(e).unwrap_or_default(),
        };
        let result = to_doc(&record).and_then(|doc| {
            self.meta
                .insert(DENIAL, &caller.account_id, &caller.request_id, None, &doc)
                .map_err(storage)
        });
        if let Err(e) = result {
            tracing::warn!(error = %e.message, request_id = %caller.request_id, "could not keep a denial's explanation");
        }
    }

    /// The kept explanation of a denied request.
    pub fn denial(&self, request_id: &str) -> Result<Option<DenialRecord>, ApiError> {
        match self.meta.find(DENIAL, request_id).map_err(storage)? {
            Some((_, doc)) => from_doc(&doc).map(Some),
            None => Ok(None),
        }
    }

    fn decide(&self, caller: &Caller, access: &Access<'_>) -> Result<Decision, ApiError> {
        let policies = self.caller_policies(caller)?;
        let context = self.request_context(caller, access.context.clone());
        let identity: Vec<NamedPolicy> = policies
            .identity
            .iter()
            .map(|(name, policy)| NamedPolicy { name, policy })
            .collect();
        let session: Option<Vec<NamedPolicy>> = policies.session.as_ref().map(|s| {
            s.iter()
                .map(|(name, policy)| NamedPolicy { name, policy })
                .collect()
        });
        let set = PolicySet {
            identity: &identity,
            resource: access.resource_policy,
            permissions_boundary: policies
                .boundary
                .as_ref()
                .map(|(name, policy)| NamedPolicy { name, policy }),
            session: session.as_deref(),
        };
        let req = iam_policy::Request {
            principal: &caller.principal,
            action: access.action,
            resource: access.resource,
            resource_account: access.resource_account,
            context: &context,
        };
        Ok(evaluate_set(&req, &set))
    }

    /// The global condition keys of a request by `caller`, added to `base`.
    pub(crate) fn request_context(&self, caller: &Caller, base: Context) -> Context {
        let now = self.now();
        let mut ctx = base
            .with("aws:CurrentTime", iso(now))
            .with("aws:EpochTime", now.unix_timestamp().to_string())
            .with("aws:RequestedRegion", self.region.clone())
            // Cairn serves plain HTTP; TLS in front of it is not visible here.
            .with("aws:SecureTransport", "false");
        if let Some(ip) = &caller.source_ip {
            ctx = ctx.with("aws:SourceIp", ip.clone());
        }
        if let Some(mfa) = caller.mfa {
            ctx = ctx.with("aws:MultiFactorAuthPresent", mfa.to_string());
        }
        if let Some(t) = &caller.token_issued {
            ctx = ctx.with("aws:TokenIssueTime", t.clone());
        }
        ctx
    }

    /// The identity-side policies of `caller`, parsed.
    pub(crate) fn caller_policies(&self, caller: &Caller) -> Result<CallerPolicies, ApiError> {
        let account = &caller.account_id;
        match &caller.identity {
            Identity::Root => Ok(CallerPolicies::default()),
            Identity::User { name } => {
                let user = self.existing(USER, account, name)?;
                let mut out = CallerPolicies::default();
                self.entity_policies(account, "user", &user, &mut out.identity)?;
                for g in &user.groups {
                    if let Some(group) = self.entity(GROUP, account, g)? {
                        self.entity_policies(account, "group", &group, &mut out.identity)?;
                    }
                }
                out.boundary = self.boundary(account, &user)?;
                Ok(out)
            }
            Identity::Session { access_key_id } => {
                let Some((_, doc)) = self.meta.find(SESSION, access_key_id).map_err(storage)?
                else {
                    return Ok(CallerPolicies::default());
                };
                let s: Session = from_doc(&doc)?;
                let mut out = self.role_policies(account, &s.role_name)?;
                if s.has_session_policies() {
                    let mut session = Vec::new();
                    if let Some(doc) = &s.policy {
                        session.push(("inline session policy".to_string(), parse_stored(doc)?));
                    }
                    for arn in &s.policy_arns {
                        if let Some(p) = self.managed_policy(account, arn)? {
                            if let Some(doc) = p.default_document() {
                                session.push((
                                    format!("managed session policy {arn}"),
                                    parse_stored(doc)?,
                                ));
                            }
                        }
                    }
                    out.session = Some(session);
                }
                Ok(out)
            }
            Identity::ServiceRole { role_name } => self.role_policies(account, role_name),
        }
    }

    /// The identity policies and boundary of role `name`.
    fn role_policies(&self, account: &str, name: &str) -> Result<CallerPolicies, ApiError> {
        let role = self.existing(ROLE, account, name)?;
        let mut out = CallerPolicies::default();
        self.entity_policies(account, "role", &role, &mut out.identity)?;
        out.boundary = self.boundary(account, &role)?;
        Ok(out)
    }

    fn entity_policies(
        &self,
        account: &str,
        word: &str,
        e: &Entity,
        out: &mut Vec<(String, Policy)>,
    ) -> Result<(), ApiError> {
        for (name, doc) in &e.inline {
            out.push((
                format!("{word}/{} inline policy {name}", e.name),
                parse_stored(doc)?,
            ));
        }
        for arn in &e.attached {
            if let Some(p) = self.managed_policy(account, arn)? {
                if let Some(doc) = p.default_document() {
                    out.push((
                        format!("managed policy {arn} (attached to {word}/{})", e.name),
                        parse_stored(doc)?,
                    ));
                }
            }
        }
        Ok(())
    }

    fn boundary(&self, account: &str, e: &Entity) -> Result<Option<(String, Policy)>, ApiError> {
        let Some(arn) = &e.boundary else {
            return Ok(None);
        };
        // A boundary whose policy is gone allows nothing (IAM refuses to
        // delete a policy in use as a boundary, so this is only defensive).
        const ALLOWS_NOTHING: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"cairn:NothingAtAll","Resource":"*"}}"#;
        let doc = self
            .managed_policy(account, arn)?
            .and_then(|p| p.default_document().map(str::to_string))
            .unwrap_or_else(|| ALLOWS_NOTHING.to_string());
        Ok(Some((
            format!("permissions boundary {arn}"),
            parse_stored(&doc)?,
        )))
    }
}

/// Stored policies were validated when they were put; one that no longer
/// parses is an internal error, not the caller's.
pub(crate) fn parse_stored(doc: &str) -> Result<Policy, ApiError> {
    Policy::parse(doc, PolicyType::Identity)
        .map_err(|e| crate::internal(format!("a stored policy no longer parses: {e}")))
}
