//! SimulatePrincipalPolicy and SimulateCustomPolicy: the decision a request
//! would get, without making it. Same engine as real requests; the context
//! holds only what the caller passes in ContextEntries (plus the simulated
//! principal's own keys), as in AWS's simulator.

use crate::caller::{user_principal, Caller};
use crate::entities::{split_arn, Entity, GROUP, ROLE, USER};
use crate::Iam;
use iam_policy::{
    evaluate_set, Context, Decision, Effect, NamedPolicy, Policy, PolicySet, PolicyType, Principal,
    Side,
};
use std::collections::BTreeMap;
use wire::iam as w;
use wire::{ApiError, ErrorCode};

/// A simulation's answer, and what looks wrong in the simulated policies
/// (actions that do not exist, likely confusions) although AWS accepts them.
pub struct Simulation {
    /// The model's response.
    pub response: w::SimulatePolicyResponse,
    /// One sentence per warning, naming the policy.
    pub warnings: Vec<String>,
}

/// A named policy and what AWS calls its source type.
struct Source {
    name: String,
    kind: &'static str,
    policy: Policy,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidInput, message)
}

fn parse_input(doc: &str, what: &str, ty: PolicyType) -> Result<Policy, ApiError> {
    Policy::parse(doc, ty).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedPolicyDocument,
            format!("{what} is not a valid policy: {e}"),
        )
    })
}

fn context(entries: &Option<Vec<w::ContextEntry>>) -> Result<Context, ApiError> {
    let mut ctx = Context::new();
    for e in entries.iter().flatten() {
        let key = e.context_key_name.clone().unwrap_or_default();
        if key.is_empty() {
            return Err(invalid("Every ContextEntry needs a ContextKeyName."));
        }
        ctx.set(&key, e.context_key_values.clone().unwrap_or_default());
    }
    Ok(ctx)
}

fn decision_word(effect: Effect) -> &'static str {
    match effect {
        Effect::Allow => "allowed",
        Effect::ExplicitDeny => "explicitDeny",
        Effect::ImplicitDeny => "implicitDeny",
    }
}

impl Iam {
    fn entity_sources(
        &self,
        account: &str,
        word: &'static str,
        e: &Entity,
        out: &mut Vec<Source>,
    ) -> Result<(), ApiError> {
        for (name, doc) in &e.inline {
            out.push(Source {
                name: name.clone(),
                kind: word,
                policy: crate::authz::parse_stored(doc)?,
            });
        }
        for arn in &e.attached {
            if let Some(p) = self.managed_policy(account, arn)? {
                if let Some(doc) = p.default_document() {
                    out.push(Source {
                        name: arn.clone(),
                        kind: if arn.starts_with("arn:aws:iam::aws:") {
                            "aws-managed"
                        } else {
                            "user-managed"
                        },
                        policy: crate::authz::parse_stored(doc)?,
                    });
                }
            }
        }
        Ok(())
    }

    /// SimulatePrincipalPolicy.
    pub fn simulate_principal_policy(
        &self,
        caller: &Caller,
        input: w::SimulatePrincipalPolicyRequest,
    ) -> Result<Simulation, ApiError> {
        let source_arn = input.policy_source_arn.clone().unwrap_or_default();
        self.allow_simulation(caller, "iam:SimulatePrincipalPolicy", &source_arn)?;
        let account = caller.account_id.clone();
        let mut sources = Vec::new();
        let mut boundary = None;
        let principal = if let Some((acct, _, name)) = split_arn(&source_arn, "user") {
            let u = self.source_entity(USER, acct, &account, name, &source_arn)?;
            self.entity_sources(&account, "user", &u, &mut sources)?;
            for g in &u.groups {
                if let Some(group) = self.entity(GROUP, &account, g)? {
                    self.entity_sources(&account, "group", &group, &mut sources)?;
                }
            }
            boundary = u.boundary.clone();
            user_principal(&account, &u)
        } else if let Some((acct, _, name)) = split_arn(&source_arn, "role") {
            let r = self.source_entity(ROLE, acct, &account, name, &source_arn)?;
            self.entity_sources(&account, "role", &r, &mut sources)?;
            boundary = r.boundary.clone();
            Principal::from_arn(&r.arn).unwrap_or_else(|| Principal::root(&account))
        } else if let Some((acct, _, name)) = split_arn(&source_arn, "group") {
            let g = self.source_entity(GROUP, acct, &account, name, &source_arn)?;
            self.entity_sources(&account, "group", &g, &mut sources)?;
            // A group is not a principal: simulate a member of it.
            Principal::user(&account, &g.path, &g.name, &g.id)
        } else {
            return Err(invalid(format!("PolicySourceArn {source_arn} is not the ARN of a user, group or role in this account.")));
        };
        for (i, doc) in input.policy_input_list.iter().flatten().enumerate() {
            sources.push(Source {
                name: format!("PolicyInputList.{}", i + 1),
                kind: "none",
                policy: parse_input(
                    doc,
                    &format!("PolicyInputList.{}", i + 1),
                    PolicyType::Identity,
                )?,
            });
        }
        let boundary = match input
            .permissions_boundary_policy_input_list
            .as_ref()
            .and_then(|l| l.first())
        {
            Some(doc) => Some(parse_input(
                doc,
                "PermissionsBoundaryPolicyInputList.1",
                PolicyType::Identity,
            )?),
            None => match boundary {
                Some(arn) => self
                    .managed_policy(&account, &arn)?
                    .and_then(|p| p.default_document().map(str::to_string))
                    .map(|d| crate::authz::parse_stored(&d))
                    .transpose()?,
                None => None,
            },
        };
        let principal = match &input.caller_arn {
            Some(a) => Principal::from_arn(a).ok_or_else(|| {
                invalid(format!("CallerArn {a} is not the ARN of a user or role."))
            })?,
            None => principal,
        };
        self.simulate(
            &principal,
            sources,
            boundary,
            &input.action_names,
            &input.resource_arns,
            &input.resource_policy,
            input.resource_owner.as_deref(),
            &input.context_entries,
            input.marker.as_ref(),
            input.max_items,
        )
    }

    /// SimulateCustomPolicy.
    pub fn simulate_custom_policy(
        &self,
        caller: &Caller,
        input: w::SimulateCustomPolicyRequest,
    ) -> Result<Simulation, ApiError> {
        self.allow_simulation(caller, "iam:SimulateCustomPolicy", "*")?;
        let mut sources = Vec::new();
        for (i, doc) in input.policy_input_list.iter().flatten().enumerate() {
            sources.push(Source {
                name: format!("PolicyInputList.{}", i + 1),
                kind: "none",
                policy: parse_input(
                    doc,
                    &format!("PolicyInputList.{}", i + 1),
                    PolicyType::Identity,
                )?,
            });
        }
        let boundary = input
            .permissions_boundary_policy_input_list
            .as_ref()
            .and_then(|l| l.first())
            .map(|doc| {
                parse_input(
                    doc,
                    "PermissionsBoundaryPolicyInputList.1",
                    PolicyType::Identity,
                )
            })
            .transpose()?;
        if input.resource_policy.is_some() && input.caller_arn.is_none() {
            return Err(invalid("CallerArn is required with a ResourcePolicy, so that its Principal element has a caller to match."));
        }
        let principal = match &input.caller_arn {
            Some(a) => Principal::from_arn(a).ok_or_else(|| {
                invalid(format!("CallerArn {a} is not the ARN of a user or role."))
            })?,
            // Identity policies alone: a user of the caller's account.
            None => Principal::user(
                &caller.account_id,
                "/",
                "simulated-user",
                "AIDACAIRNSIMULATED",
            ),
        };
        self.simulate(
            &principal,
            sources,
            boundary,
            &input.action_names,
            &input.resource_arns,
            &input.resource_policy,
            input.resource_owner.as_deref(),
            &input.context_entries,
            input.marker.as_ref(),
            input.max_items,
        )
    }

    fn allow_simulation(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
    ) -> Result<(), ApiError> {
        let access = crate::authz::Access {
            action,
            resource,
            resource_account: &caller.account_id,
            resource_policy: None,
            context: Context::new(),
        };
        self.authorize(caller, access).map_err(|denied| {
            let message = denied.message(&caller.request_id);
            self.record_denial(caller, &denied, "AccessDenied", &message);
            ApiError::new(ErrorCode::QueryAccessDenied, message)
        })
    }

    fn source_entity(
        &self,
        kind: &str,
        arn_account: &str,
        account: &str,
        name: &str,
        arn: &str,
    ) -> Result<Entity, ApiError> {
        let found = if arn_account == account {
            self.entity(kind, account, name)?
        } else {
            None
        };
        found.filter(|e| e.arn == arn).ok_or_else(|| {
            ApiError::new(
                ErrorCode::NoSuchEntity,
                format!("PolicySourceArn {arn} does not exist in account {account}."),
            )
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn simulate(
        &self,
        principal: &Principal,
        sources: Vec<Source>,
        boundary: Option<Policy>,
        actions: &Option<Vec<String>>,
        resources: &Option<Vec<String>>,
        resource_policy: &Option<String>,
        resource_owner: Option<&str>,
        entries: &Option<Vec<w::ContextEntry>>,
        marker: Option<&String>,
        max_items: Option<i64>,
    ) -> Result<Simulation, ApiError> {
        let ctx = context(entries)?;
        let resource_policy = resource_policy
            .as_deref()
            .map(|d| parse_input(d, "ResourcePolicy", PolicyType::Resource))
            .transpose()?;
        let owner = resource_owner
            .map(|o| {
                o.strip_prefix("arn:aws:iam::")
                    .and_then(|r| r.strip_suffix(":root"))
                    .unwrap_or(o)
                    .to_string()
            })
            .unwrap_or_else(|| principal.account_id.clone());
        let kinds: BTreeMap<&str, &str> =
            sources.iter().map(|s| (s.name.as_str(), s.kind)).collect();
        let named: Vec<NamedPolicy> = sources
            .iter()
            .map(|s| NamedPolicy {
                name: &s.name,
                policy: &s.policy,
            })
            .collect();
        let resource_named = resource_policy.as_ref().map(|policy| NamedPolicy {
            name: "ResourcePolicy",
            policy,
        });
        let boundary_named = boundary.as_ref().map(|policy| NamedPolicy {
            name: "PermissionsBoundaryPolicy",
            policy,
        });
        let missing_keys =
            missing_context(&sources, boundary.as_ref(), resource_policy.as_ref(), &ctx);
        let default_resources = vec!["*".to_string()];
        let resources = resources
            .as_ref()
            .filter(|r| !r.is_empty())
            .unwrap_or(&default_resources);
        let mut results = Vec::new();
        for action in actions.iter().flatten() {
            for resource in resources {
                let req = iam_policy::Request {
                    principal,
                    action,
                    resource,
                    resource_account: &owner,
                    context: &ctx,
                };
                let set = PolicySet {
                    identity: &named,
                    resource: resource_named,
                    permissions_boundary: boundary_named,
                    session: None,
                };
                let d = evaluate_set(&req, &set);
                results.push(result(
                    action,
                    resource,
                    &d,
                    &kinds,
                    boundary.is_some(),
                    &missing_keys,
                ));
            }
        }
        let page = crate::iam_api::page(results, &marker.cloned(), max_items)?;
        let warnings = sources
            .iter()
            .flat_map(|s| {
                s.policy
                    .warnings()
                    .into_iter()
                    .map(move |w| format!("{}: {w}", s.name))
            })
            .collect();
        Ok(Simulation {
            response: w::SimulatePolicyResponse {
                evaluation_results: Some(page.items),
                is_truncated: page.is_truncated,
                marker: page.marker,
            },
            warnings,
        })
    }
}

fn result(
    action: &str,
    resource: &str,
    d: &Decision,
    kinds: &BTreeMap<&str, &str>,
    has_boundary: bool,
    missing: &[String],
) -> w::EvaluationResult {
    let e = &d.explanation;
    let deciding_effect = match d.effect {
        Effect::Allow => Some(iam_policy::StatementEffect::Allow),
        Effect::ExplicitDeny => Some(iam_policy::StatementEffect::Deny),
        Effect::ImplicitDeny => None,
    };
    let matched: Vec<w::Statement> = e
        .matched
        .iter()
        .filter(|m| Some(m.effect) == deciding_effect)
        .filter(|m| m.side != Side::PermissionsBoundary)
        .map(|m| w::Statement {
            source_policy_id: Some(m.policy.clone()),
            source_policy_type: Some(
                match m.side {
                    Side::Resource => "resource",
                    _ => kinds.get(m.policy.as_str()).copied().unwrap_or("none"),
                }
                .to_string(),
            ),
            ..Default::default()
        })
        .collect();
    let mut details = BTreeMap::new();
    details.insert(
        "IAM Policy".to_string(),
        decision_word(d.effect).to_string(),
    );
    let boundary_allows = !e
        .missing
        .iter()
        .any(|m| m.side == Side::PermissionsBoundary)
        && !e
            .deciding
            .as_ref()
            .is_some_and(|s| s.side == Side::PermissionsBoundary);
    w::EvaluationResult {
        eval_action_name: Some(action.to_string()),
        eval_resource_name: Some(resource.to_string()),
        eval_decision: Some(decision_word(d.effect).to_string()),
        matched_statements: Some(matched),
        missing_context_values: Some(missing.to_vec()),
        permissions_boundary_decision_detail: has_boundary.then_some(
            w::PermissionsBoundaryDecisionDetail {
                allowed_by_permissions_boundary: Some(boundary_allows),
            },
        ),
        eval_decision_details: Some(details),
        ..Default::default()
    }
}

/// Condition keys the policies test that the context does not supply
/// (keys about the principal are supplied by the simulated principal).
fn missing_context(
    sources: &[Source],
    boundary: Option<&Policy>,
    resource: Option<&Policy>,
    ctx: &Context,
) -> Vec<String> {
    let principal_keys = [
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principaltype",
        "aws:userid",
        "aws:username",
        "aws:resourceaccount",
    ];
    let mut keys: Vec<String> = Vec::new();
    let policies = sources
        .iter()
        .map(|s| &s.policy)
        .chain(boundary)
        .chain(resource);
    for p in policies {
        for s in p.statements() {
            for c in &s.conditions {
                let lower = c.key.to_ascii_lowercase();
                if principal_keys.contains(&lower.as_str())
                    || lower.starts_with("aws:principaltag/")
                {
                    continue;
                }
                if ctx.get(&c.key).is_none() && !keys.iter().any(|k| k.eq_ignore_ascii_case(&c.key))
                {
                    keys.push(c.key.clone());
                }
            }
        }
    }
    keys
}
