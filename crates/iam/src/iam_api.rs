//! The IAM API: users, groups, roles, inline and managed policies,
//! attachments, permissions boundaries, access keys and tags — with AWS's
//! errors, quotas and delete conflicts. Every operation is authorized as
//! `iam:<Operation>` on the entity's ARN before it looks at anything.

use crate::accounts::{new_access_key_id, new_secret};
use crate::authz::Access;
use crate::caller::{Caller, Identity};
use crate::entities::{
    arn, split_arn, Entity, ManagedPolicy, PolicyVersion, Tag, GROUP, ROLE, USER,
};
use crate::{iso, storage, unique_id, Iam};
use iam_policy::{Context, Policy, PolicyType};
use store::AccessKey;
use wire::iam as w;
use wire::{ApiError, ErrorCode};

/// IAM quotas (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
const ACCESS_KEYS_PER_USER: usize = 2;
const MANAGED_POLICIES_PER_ENTITY: usize = 10;
const GROUPS_PER_USER: usize = 10;
const TAGS_PER_ENTITY: usize = 50;
const VERSIONS_PER_POLICY: usize = 5;
/// Aggregate inline policy size, whitespace not counted.
const INLINE_USER_MAX: usize = 2048;
const INLINE_GROUP_MAX: usize = 5120;
const INLINE_ROLE_MAX: usize = 10240;
const MANAGED_POLICY_MAX: usize = 6144;
const TRUST_POLICY_MAX: usize = 2048;

fn no_such(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::NoSuchEntity, message)
}

fn invalid_input(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidInput, message)
}

fn limit(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::LimitExceeded, message)
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::DeleteConflict, message)
}

fn malformed(e: iam_policy::MalformedPolicy) -> ApiError {
    ApiError::new(ErrorCode::MalformedPolicyDocument, e.to_string())
}

fn req(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// Characters of a policy that count against IAM's size quotas.
fn policy_size(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

fn path_or_root(path: &Option<String>) -> String {
    path.clone().unwrap_or_else(|| "/".to_string())
}

fn to_tags(tags: &Option<Vec<w::Tag>>) -> Vec<Tag> {
    tags.iter()
        .flatten()
        .map(|t| Tag {
            key: req(&t.key),
            value: req(&t.value),
        })
        .collect()
}

fn wire_tags(tags: &[Tag]) -> Option<Vec<w::Tag>> {
    (!tags.is_empty()).then(|| {
        tags.iter()
            .map(|t| w::Tag {
                key: Some(t.key.clone()),
                value: Some(t.value.clone()),
            })
            .collect()
    })
}

/// Tags merged by key (case-insensitively, the new value winning), capped
/// at AWS's 50.
fn merge_tags(old: &[Tag], new: Vec<Tag>, what: &str) -> Result<Vec<Tag>, ApiError> {
    let mut out: Vec<Tag> = old
        .iter()
        .filter(|t| !new.iter().any(|n| n.key.eq_ignore_ascii_case(&t.key)))
        .cloned()
        .collect();
    out.extend(new);
    if out.len() > TAGS_PER_ENTITY {
        return Err(limit(format!(
            "The number of tags has reached the maximum limit: {what} can have at most {TAGS_PER_ENTITY} tags."
        )));
    }
    Ok(out)
}

/// The request's tag keys, for `aws:RequestTag/…` and `aws:TagKeys`.
fn tag_context(mut ctx: Context, tags: &[Tag]) -> Context {
    for t in tags {
        ctx = ctx.with(&format!("aws:RequestTag/{}", t.key), t.value.clone());
    }
    if !tags.is_empty() {
        ctx = ctx.with_values("aws:TagKeys", tags.iter().map(|t| t.key.clone()));
    }
    ctx
}

/// The entity's tags as `aws:ResourceTag/…` (and IAM's `iam:ResourceTag/…`).
fn resource_tags(mut ctx: Context, tags: &[Tag]) -> Context {
    for t in tags {
        ctx = ctx
            .with(&format!("aws:ResourceTag/{}", t.key), t.value.clone())
            .with(&format!("iam:ResourceTag/{}", t.key), t.value.clone());
    }
    ctx
}

/// One page of a listing, in IAM's terms.
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    pub is_truncated: Option<bool>,
    pub marker: Option<String>,
}

/// Where a listing starts and how long its page is (`Marker`, `MaxItems`).
#[derive(Clone, Copy)]
pub(crate) struct Paging<'a> {
    pub marker: &'a Option<String>,
    pub max_items: Option<i64>,
}

/// A page of `items` after `marker` (an offset Cairn handed out).
pub(crate) fn page<T>(
    items: Vec<T>,
    marker: &Option<String>,
    max_items: Option<i64>,
) -> Result<Page<T>, ApiError> {
    let start = match marker {
        None => 0,
        Some(m) => m
            .strip_prefix("cairn-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::QueryValidationError,
                    format!("Marker '{m}' is not one Cairn returned: pass the Marker of the previous response unchanged."),
                )
            })?,
    };
    let max = max_items.unwrap_or(100).clamp(1, 1000) as usize;
    let total = items.len();
    let out: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let end = start + out.len();
    let more = end < total;
    Ok(Page {
        items: out,
        is_truncated: Some(more),
        marker: more.then(|| format!("cairn-{end}")),
    })
}

fn wire_boundary(e: &Entity) -> Option<w::AttachedPermissionsBoundary> {
    e.boundary.as_ref().map(|b| w::AttachedPermissionsBoundary {
        permissions_boundary_type: Some("PermissionsBoundaryPolicy".into()),
        permissions_boundary_arn: Some(b.clone()),
    })
}

fn wire_user(e: &Entity, full: bool) -> w::User {
    w::User {
        path: Some(e.path.clone()),
        user_name: Some(e.name.clone()),
        user_id: Some(e.id.clone()),
        arn: Some(e.arn.clone()),
        create_date: Some(e.created.clone()),
        permissions_boundary: if full { wire_boundary(e) } else { None },
        tags: if full { wire_tags(&e.tags) } else { None },
        ..Default::default()
    }
}

fn wire_group(e: &Entity) -> w::Group {
    w::Group {
        path: Some(e.path.clone()),
        group_name: Some(e.name.clone()),
        group_id: Some(e.id.clone()),
        arn: Some(e.arn.clone()),
        create_date: Some(e.created.clone()),
    }
}

fn wire_role(e: &Entity, full: bool) -> w::Role {
    w::Role {
        path: Some(e.path.clone()),
        role_name: Some(e.name.clone()),
        role_id: Some(e.id.clone()),
        arn: Some(e.arn.clone()),
        create_date: Some(e.created.clone()),
        assume_role_policy_document: e.trust_policy.clone(),
        description: e.description.clone(),
        max_session_duration: Some(e.max_session_duration.unwrap_or(3600)),
        permissions_boundary: if full { wire_boundary(e) } else { None },
        tags: if full { wire_tags(&e.tags) } else { None },
        ..Default::default()
    }
}

/// What CreateUser, CreateGroup and CreateRole have in common.
struct NewEntity<'a> {
    kind: &'static str,
    name: &'a str,
    path: &'a str,
    tags: Vec<Tag>,
    context: Context,
}

/// Checks a path: `/`, or `/` + segments + `/`.
fn check_path(path: &str) -> Result<(), ApiError> {
    if path.starts_with('/') && path.ends_with('/') && !path.contains("//") || path == "/" {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::QueryValidationError,
        format!("The specified value for path is invalid: '{path}'. A path begins and ends with '/', like /division_abc/subdivision_xyz/."),
    ))
}

impl Iam {
    /// Authorizes `iam:<op>` on `resource` in the caller's account.
    fn allow(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
        context: Context,
    ) -> Result<(), ApiError> {
        let access = Access {
            action,
            resource,
            resource_account: &caller.account_id,
            resource_policy: None,
            context,
        };
        self.authorize(caller, access).map_err(|denied| {
            let message = denied.message(&caller.request_id);
            self.record_denial(caller, &denied, "AccessDenied", &message);
            ApiError::new(ErrorCode::QueryAccessDenied, message)
        })
    }

    /// The ARN an operation on entity `name` of `kind` is authorized
    /// against: the entity's own when it exists, else the path-less one.
    fn target(
        &self,
        kind: &str,
        account: &str,
        name: &str,
    ) -> Result<(Option<Entity>, String), ApiError> {
        let ty = crate::entities::kind_word(kind);
        let e = self.entity(kind, account, name)?;
        let a = e
            .as_ref()
            .map(|e| e.arn.clone())
            .unwrap_or_else(|| arn(account, ty, "/", name));
        Ok((e, a))
    }

    /// Authorizes `action` on an existing entity and returns it.
    fn authorized_entity(
        &self,
        caller: &Caller,
        action: &str,
        kind: &str,
        name: &str,
        context: Context,
    ) -> Result<Entity, ApiError> {
        let (e, a) = self.target(kind, &caller.account_id, name)?;
        let context = match &e {
            Some(e) => resource_tags(context, &e.tags),
            None => context,
        };
        self.allow(caller, action, &a, context)?;
        e.ok_or_else(|| {
            no_such(format!(
                "The {} with name {name} cannot be found.",
                crate::entities::kind_word(kind)
            ))
        })
    }

    fn create_entity(
        &self,
        caller: &Caller,
        new: NewEntity<'_>,
        fill: impl FnOnce(&mut Entity),
    ) -> Result<Entity, ApiError> {
        let NewEntity {
            kind,
            name,
            path,
            tags,
            context,
        } = new;
        let action = match kind {
            USER => "iam:CreateUser",
            GROUP => "iam:CreateGroup",
            _ => "iam:CreateRole",
        };
        check_path(path)?;
        let ty = crate::entities::kind_word(kind);
        let a = arn(&caller.account_id, ty, path, name);
        self.allow(caller, action, &a, tag_context(context, &tags))?;
        if tags.len() > TAGS_PER_ENTITY {
            return Err(limit(format!(
                "A {ty} can have at most {TAGS_PER_ENTITY} tags."
            )));
        }
        let prefix = match kind {
            USER => "AIDA",
            GROUP => "AGPA",
            _ => "AROA",
        };
        let mut e = Entity {
            name: name.to_string(),
            id: unique_id(prefix),
            path: path.to_string(),
            arn: a,
            created: iso(self.now()),
            tags,
            inline: Default::default(),
            attached: Vec::new(),
            boundary: None,
            groups: Vec::new(),
            trust_policy: None,
            description: None,
            max_session_duration: None,
        };
        fill(&mut e);
        let _guard = self.lock();
        self.insert_entity(kind, &caller.account_id, &e)?;
        Ok(e)
    }

    /// A boundary must be an existing managed policy of the account (or AWS's).
    fn check_boundary(&self, account: &str, policy_arn: &str) -> Result<(), ApiError> {
        match self.managed_policy(account, policy_arn)? {
            Some(_) => Ok(()),
            None => Err(no_such(format!(
                "Scope ARN: {policy_arn} does not exist or is not attachable."
            ))),
        }
    }

    // ----- users -----

    /// CreateUser.
    pub fn create_user(
        &self,
        caller: &Caller,
        input: w::CreateUserRequest,
    ) -> Result<w::CreateUserResponse, ApiError> {
        let name = req(&input.user_name);
        let path = path_or_root(&input.path);
        let mut ctx = Context::new();
        if let Some(b) = &input.permissions_boundary {
            ctx = ctx.with("iam:PermissionsBoundary", b.clone());
            self.check_boundary(&caller.account_id, b)?;
        }
        let boundary = input.permissions_boundary.clone();
        let e = self.create_entity(
            caller,
            NewEntity {
                kind: USER,
                name: &name,
                path: &path,
                tags: to_tags(&input.tags),
                context: ctx,
            },
            |e| {
                e.boundary = boundary;
            },
        )?;
        Ok(w::CreateUserResponse {
            user: Some(wire_user(&e, true)),
        })
    }

    /// GetUser: without a name, the calling user.
    pub fn get_user(
        &self,
        caller: &Caller,
        input: w::GetUserRequest,
    ) -> Result<w::GetUserResponse, ApiError> {
        let name = match (&input.user_name, &caller.identity) {
            (Some(n), _) => n.clone(),
            (None, Identity::User { name }) => name.clone(),
            (None, Identity::Root) => {
                self.allow(caller, "iam:GetUser", &caller.principal.arn, Context::new())?;
                return Ok(w::GetUserResponse {
                    user: Some(w::User {
                        path: None,
                        user_name: None,
                        user_id: Some(caller.account_id.clone()),
                        arn: Some(caller.principal.arn.clone()),
                        create_date: self
                            .meta
                            .accounts()
                            .map_err(storage)?
                            .into_iter()
                            .find(|a| a.id == caller.account_id)
                            .map(|a| a.created_at),
                        ..Default::default()
                    }),
                });
            }
            (None, Identity::Session { .. } | Identity::ServiceRole { .. }) => {
                return Err(ApiError::new(
                    ErrorCode::QueryValidationError,
                    "Must specify userName when calling with non-User credentials",
                ))
            }
        };
        let e = self.authorized_entity(caller, "iam:GetUser", USER, &name, Context::new())?;
        Ok(w::GetUserResponse {
            user: Some(wire_user(&e, true)),
        })
    }

    /// ListUsers.
    pub fn list_users(
        &self,
        caller: &Caller,
        input: w::ListUsersRequest,
    ) -> Result<w::ListUsersResponse, ApiError> {
        self.allow(
            caller,
            "iam:ListUsers",
            &arn(&caller.account_id, "user", "/", ""),
            Context::new(),
        )?;
        let prefix = path_or_root(&input.path_prefix);
        let all: Vec<w::User> = self
            .entities(USER, &caller.account_id)?
            .iter()
            .filter(|e| e.path.starts_with(&prefix))
            .map(|e| wire_user(e, false))
            .collect();
        let Page {
            items: users,
            is_truncated,
            marker,
        } = page(all, &input.marker, input.max_items)?;
        Ok(w::ListUsersResponse {
            users: Some(users),
            is_truncated,
            marker,
        })
    }

    /// DeleteUser: only once it has no keys, policies or groups.
    pub fn delete_user(
        &self,
        caller: &Caller,
        input: w::DeleteUserRequest,
    ) -> Result<(), ApiError> {
        let name = req(&input.user_name);
        let e = self.authorized_entity(caller, "iam:DeleteUser", USER, &name, Context::new())?;
        let _guard = self.lock();
        if !self
            .meta
            .access_keys_of(&e.arn)
            .map_err(storage)?
            .is_empty()
        {
            return Err(conflict(
                "Cannot delete entity, must delete access keys first.",
            ));
        }
        if !e.inline.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !e.attached.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        if !e.groups.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must remove users from group first.",
            ));
        }
        self.delete_entity(USER, &caller.account_id, &e)
    }

    // ----- groups -----

    /// CreateGroup.
    pub fn create_group(
        &self,
        caller: &Caller,
        input: w::CreateGroupRequest,
    ) -> Result<w::CreateGroupResponse, ApiError> {
        let name = req(&input.group_name);
        let path = path_or_root(&input.path);
        let e = self.create_entity(
            caller,
            NewEntity {
                kind: GROUP,
                name: &name,
                path: &path,
                tags: Vec::new(),
                context: Context::new(),
            },
            |_| {},
        )?;
        Ok(w::CreateGroupResponse {
            group: Some(wire_group(&e)),
        })
    }

    /// GetGroup: the group and its users.
    pub fn get_group(
        &self,
        caller: &Caller,
        input: w::GetGroupRequest,
    ) -> Result<w::GetGroupResponse, ApiError> {
        let name = req(&input.group_name);
        let g = self.authorized_entity(caller, "iam:GetGroup", GROUP, &name, Context::new())?;
        let members: Vec<w::User> = self
            .entities(USER, &caller.account_id)?
            .iter()
            .filter(|u| u.groups.iter().any(|x| x.eq_ignore_ascii_case(&g.name)))
            .map(|u| wire_user(u, false))
            .collect();
        let Page {
            items: users,
            is_truncated,
            marker,
        } = page(members, &input.marker, input.max_items)?;
        Ok(w::GetGroupResponse {
            group: Some(wire_group(&g)),
            users: Some(users),
            is_truncated,
            marker,
        })
    }

    /// ListGroups.
    pub fn list_groups(
        &self,
        caller: &Caller,
        input: w::ListGroupsRequest,
    ) -> Result<w::ListGroupsResponse, ApiError> {
        self.allow(
            caller,
            "iam:ListGroups",
            &arn(&caller.account_id, "group", "/", ""),
            Context::new(),
        )?;
        let prefix = path_or_root(&input.path_prefix);
        let all: Vec<w::Group> = self
            .entities(GROUP, &caller.account_id)?
            .iter()
            .filter(|e| e.path.starts_with(&prefix))
            .map(wire_group)
            .collect();
        let Page {
            items: groups,
            is_truncated,
            marker,
        } = page(all, &input.marker, input.max_items)?;
        Ok(w::ListGroupsResponse {
            groups: Some(groups),
            is_truncated,
            marker,
        })
    }

    /// DeleteGroup: only once it has no members or policies.
    pub fn delete_group(
        &self,
        caller: &Caller,
        input: w::DeleteGroupRequest,
    ) -> Result<(), ApiError> {
        let name = req(&input.group_name);
        let g = self.authorized_entity(caller, "iam:DeleteGroup", GROUP, &name, Context::new())?;
        let _guard = self.lock();
        if self
            .entities(USER, &caller.account_id)?
            .iter()
            .any(|u| u.groups.iter().any(|x| x.eq_ignore_ascii_case(&g.name)))
        {
            return Err(conflict(
                "Cannot delete entity, must remove users from group first.",
            ));
        }
        if !g.inline.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !g.attached.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        self.delete_entity(GROUP, &caller.account_id, &g)
    }

    /// AddUserToGroup.
    pub fn add_user_to_group(
        &self,
        caller: &Caller,
        input: w::AddUserToGroupRequest,
    ) -> Result<(), ApiError> {
        let g = self.authorized_entity(
            caller,
            "iam:AddUserToGroup",
            GROUP,
            &req(&input.group_name),
            Context::new(),
        )?;
        let _guard = self.lock();
        let mut u = self.existing(USER, &caller.account_id, &req(&input.user_name))?;
        if u.groups.iter().any(|x| x.eq_ignore_ascii_case(&g.name)) {
            return Ok(());
        }
        if u.groups.len() >= GROUPS_PER_USER {
            return Err(limit(format!(
                "Cannot exceed quota for GroupsPerUser: {GROUPS_PER_USER}"
            )));
        }
        u.groups.push(g.name.clone());
        self.save_entity(USER, &caller.account_id, &u)
    }

    /// RemoveUserFromGroup.
    pub fn remove_user_from_group(
        &self,
        caller: &Caller,
        input: w::RemoveUserFromGroupRequest,
    ) -> Result<(), ApiError> {
        let g = self.authorized_entity(
            caller,
            "iam:RemoveUserFromGroup",
            GROUP,
            &req(&input.group_name),
            Context::new(),
        )?;
        let _guard = self.lock();
        let mut u = self.existing(USER, &caller.account_id, &req(&input.user_name))?;
        let before = u.groups.len();
        u.groups.retain(|x| !x.eq_ignore_ascii_case(&g.name));
        if u.groups.len() == before {
            return Err(no_such(format!(
                "User {} is not in group {}.",
                u.name, g.name
            )));
        }
        self.save_entity(USER, &caller.account_id, &u)
    }

    /// ListGroupsForUser.
    pub fn list_groups_for_user(
        &self,
        caller: &Caller,
        input: w::ListGroupsForUserRequest,
    ) -> Result<w::ListGroupsForUserResponse, ApiError> {
        let u = self.authorized_entity(
            caller,
            "iam:ListGroupsForUser",
            USER,
            &req(&input.user_name),
            Context::new(),
        )?;
        let groups: Vec<w::Group> = u
            .groups
            .iter()
            .filter_map(|g| self.entity(GROUP, &caller.account_id, g).transpose())
            .collect::<Result<Vec<_>, _>>()?
            .iter()
            .map(wire_group)
            .collect();
        let Page {
            items: groups,
            is_truncated,
            marker,
        } = page(groups, &input.marker, input.max_items)?;
        Ok(w::ListGroupsForUserResponse {
            groups: Some(groups),
            is_truncated,
            marker,
        })
    }

    // ----- roles -----

    /// CreateRole.
    pub fn create_role(
        &self,
        caller: &Caller,
        input: w::CreateRoleRequest,
    ) -> Result<w::CreateRoleResponse, ApiError> {
        let name = req(&input.role_name);
        let path = path_or_root(&input.path);
        let trust = req(&input.assume_role_policy_document);
        check_trust_policy(&trust)?;
        let mut ctx = Context::new();
        if let Some(b) = &input.permissions_boundary {
            ctx = ctx.with("iam:PermissionsBoundary", b.clone());
            self.check_boundary(&caller.account_id, b)?;
        }
        let boundary = input.permissions_boundary.clone();
        let e = self.create_entity(
            caller,
            NewEntity {
                kind: ROLE,
                name: &name,
                path: &path,
                tags: to_tags(&input.tags),
                context: ctx,
            },
            |e| {
                e.trust_policy = Some(trust);
                e.description = input.description.clone();
                e.max_session_duration = input.max_session_duration;
                e.boundary = boundary;
            },
        )?;
        Ok(w::CreateRoleResponse {
            role: Some(wire_role(&e, false)),
        })
    }

    /// GetRole.
    pub fn get_role(
        &self,
        caller: &Caller,
        input: w::GetRoleRequest,
    ) -> Result<w::GetRoleResponse, ApiError> {
        let e = self.authorized_entity(
            caller,
            "iam:GetRole",
            ROLE,
            &req(&input.role_name),
            Context::new(),
        )?;
        Ok(w::GetRoleResponse {
            role: Some(wire_role(&e, true)),
        })
    }

    /// ListRoles.
    pub fn list_roles(
        &self,
        caller: &Caller,
        input: w::ListRolesRequest,
    ) -> Result<w::ListRolesResponse, ApiError> {
        self.allow(
            caller,
            "iam:ListRoles",
            &arn(&caller.account_id, "role", "/", ""),
            Context::new(),
        )?;
        let prefix = path_or_root(&input.path_prefix);
        let all: Vec<w::Role> = self
            .entities(ROLE, &caller.account_id)?
            .iter()
            .filter(|e| e.path.starts_with(&prefix))
            .map(|e| wire_role(e, false))
            .collect();
        let Page {
            items: roles,
            is_truncated,
            marker,
        } = page(all, &input.marker, input.max_items)?;
        Ok(w::ListRolesResponse {
            roles: Some(roles),
            is_truncated,
            marker,
        })
    }

    /// DeleteRole: only once it has no policies; its sessions stop working.
    pub fn delete_role(
        &self,
        caller: &Caller,
        input: w::DeleteRoleRequest,
    ) -> Result<(), ApiError> {
        let e = self.authorized_entity(
            caller,
            "iam:DeleteRole",
            ROLE,
            &req(&input.role_name),
            Context::new(),
        )?;
        let _guard = self.lock();
        if !e.inline.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !e.attached.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        self.delete_entity(ROLE, &caller.account_id, &e)
    }

    /// UpdateAssumeRolePolicy.
    pub fn update_assume_role_policy(
        &self,
        caller: &Caller,
        input: w::UpdateAssumeRolePolicyRequest,
    ) -> Result<(), ApiError> {
        let e = self.authorized_entity(
            caller,
            "iam:UpdateAssumeRolePolicy",
            ROLE,
            &req(&input.role_name),
            Context::new(),
        )?;
        let doc = req(&input.policy_document);
        check_trust_policy(&doc)?;
        let _guard = self.lock();
        let mut e = self.existing(ROLE, &caller.account_id, &e.name)?;
        e.trust_policy = Some(doc);
        self.save_entity(ROLE, &caller.account_id, &e)
    }

    // ----- inline policies (users, groups, roles) -----

    fn put_inline(
        &self,
        caller: &Caller,
        kind: &str,
        op: &str,
        name: &str,
        policy_name: &str,
        doc: &str,
    ) -> Result<(), ApiError> {
        let e = self.authorized_entity(caller, op, kind, name, Context::new())?;
        Policy::parse(doc, PolicyType::Identity).map_err(malformed)?;
        let _guard = self.lock();
        let mut e = self.existing(kind, &caller.account_id, &e.name)?;
        e.inline.insert(policy_name.to_string(), doc.to_string());
        let (max, word) = match kind {
            USER => (INLINE_USER_MAX, "user"),
            GROUP => (INLINE_GROUP_MAX, "group"),
            _ => (INLINE_ROLE_MAX, "role"),
        };
        let total: usize = e.inline.values().map(|d| policy_size(d)).sum();
        if total > max {
            return Err(limit(format!(
                "Maximum policy size of {max} bytes exceeded for {word} {}",
                e.name
            )));
        }
        self.save_entity(kind, &caller.account_id, &e)
    }

    fn get_inline(
        &self,
        caller: &Caller,
        kind: &str,
        op: &str,
        name: &str,
        policy_name: &str,
    ) -> Result<(Entity, String), ApiError> {
        let e = self.authorized_entity(caller, op, kind, name, Context::new())?;
        let doc = e.inline.get(policy_name).cloned().ok_or_else(|| {
            no_such(format!(
                "The {} policy with name {policy_name} cannot be found.",
                crate::entities::kind_word(kind)
            ))
        })?;
        Ok((e, doc))
    }

    fn delete_inline(
        &self,
        caller: &Caller,
        kind: &str,
        op: &str,
        name: &str,
        policy_name: &str,
    ) -> Result<(), ApiError> {
        let e = self.authorized_entity(caller, op, kind, name, Context::new())?;
        let _guard = self.lock();
        let mut e = self.existing(kind, &caller.account_id, &e.name)?;
        if e.inline.remove(policy_name).is_none() {
            return Err(no_such(format!(
                "The {} policy with name {policy_name} cannot be found.",
                crate::entities::kind_word(kind)
            )));
        }
        self.save_entity(kind, &caller.account_id, &e)
    }

    fn list_inline(
        &self,
        caller: &Caller,
        kind: &str,
        op: &str,
        name: &str,
        marker: &Option<String>,
        max: Option<i64>,
    ) -> Result<Page<String>, ApiError> {
        let e = self.authorized_entity(caller, op, kind, name, Context::new())?;
        page(e.inline.keys().cloned().collect(), marker, max)
    }

    /// PutUserPolicy.
    pub fn put_user_policy(
        &self,
        caller: &Caller,
        input: w::PutUserPolicyRequest,
    ) -> Result<(), ApiError> {
        self.put_inline(
            caller,
            USER,
            "iam:PutUserPolicy",
            &req(&input.user_name),
            &req(&input.policy_name),
            &req(&input.policy_document),
        )
    }
    /// GetUserPolicy.
    pub fn get_user_policy(
        &self,
        caller: &Caller,
        input: w::GetUserPolicyRequest,
    ) -> Result<w::GetUserPolicyResponse, ApiError> {
        let policy_name = req(&input.policy_name);
        let (e, doc) = self.get_inline(
            caller,
            USER,
            "iam:GetUserPolicy",
            &req(&input.user_name),
            &policy_name,
        )?;
        Ok(w::GetUserPolicyResponse {
            user_name: Some(e.name),
            policy_name: Some(policy_name),
            policy_document: Some(doc),
        })
    }
    /// DeleteUserPolicy.
    pub fn delete_user_policy(
        &self,
        caller: &Caller,
        input: w::DeleteUserPolicyRequest,
    ) -> Result<(), ApiError> {
        self.delete_inline(
            caller,
            USER,
            "iam:DeleteUserPolicy",
            &req(&input.user_name),
            &req(&input.policy_name),
        )
    }
    /// ListUserPolicies.
    pub fn list_user_policies(
        &self,
        caller: &Caller,
        input: w::ListUserPoliciesRequest,
    ) -> Result<w::ListUserPoliciesResponse, ApiError> {
        let Page {
            items: names,
            is_truncated,
            marker,
        } = self.list_inline(
            caller,
            USER,
            "iam:ListUserPolicies",
            &req(&input.user_name),
            &input.marker,
            input.max_items,
        )?;
        Ok(w::ListUserPoliciesResponse {
            policy_names: Some(names),
            is_truncated,
            marker,
        })
    }
    /// PutGroupPolicy.
    pub fn put_group_policy(
        &self,
        caller: &Caller,
        input: w::PutGroupPolicyRequest,
    ) -> Result<(), ApiError> {
        self.put_inline(
            caller,
            GROUP,
            "iam:PutGroupPolicy",
            &req(&input.group_name),
            &req(&input.policy_name),
            &req(&input.policy_document),
        )
    }
    /// GetGroupPolicy.
    pub fn get_group_policy(
        &self,
        caller: &Caller,
        input: w::GetGroupPolicyRequest,
    ) -> Result<w::GetGroupPolicyResponse, ApiError> {
        let policy_name = req(&input.policy_name);
        let (e, doc) = self.get_inline(
            caller,
            GROUP,
            "iam:GetGroupPolicy",
            &req(&input.group_name),
            &policy_name,
        )?;
        Ok(w::GetGroupPolicyResponse {
            group_name: Some(e.name),
            policy_name: Some(policy_name),
            policy_document: Some(doc),
        })
    }
    /// DeleteGroupPolicy.
    pub fn delete_group_policy(
        &self,
        caller: &Caller,
        input: w::DeleteGroupPolicyRequest,
    ) -> Result<(), ApiError> {
        self.delete_inline(
            caller,
            GROUP,
            "iam:DeleteGroupPolicy",
            &req(&input.group_name),
            &req(&input.policy_name),
        )
    }
    /// ListGroupPolicies.
    pub fn list_group_policies(
        &self,
        caller: &Caller,
        input: w::ListGroupPoliciesRequest,
    ) -> Result<w::ListGroupPoliciesResponse, ApiError> {
        let Page {
            items: names,
            is_truncated,
            marker,
        } = self.list_inline(
            caller,
            GROUP,
            "iam:ListGroupPolicies",
            &req(&input.group_name),
            &input.marker,
            input.max_items,
        )?;
        Ok(w::ListGroupPoliciesResponse {
            policy_names: Some(names),
            is_truncated,
            marker,
        })
    }
    /// PutRolePolicy.
    pub fn put_role_policy(
        &self,
        caller: &Caller,
        input: w::PutRolePolicyRequest,
    ) -> Result<(), ApiError> {
        self.put_inline(
            caller,
            ROLE,
            "iam:PutRolePolicy",
            &req(&input.role_name),
            &req(&input.policy_name),
            &req(&input.policy_document),
        )
    }
    /// GetRolePolicy.
    pub fn get_role_policy(
        &self,
        caller: &Caller,
        input: w::GetRolePolicyRequest,
    ) -> Result<w::GetRolePolicyResponse, ApiError> {
        let policy_name = req(&input.policy_name);
        let (e, doc) = self.get_inline(
            caller,
            ROLE,
            "iam:GetRolePolicy",
            &req(&input.role_name),
            &policy_name,
        )?;
        Ok(w::GetRolePolicyResponse {
            role_name: Some(e.name),
            policy_name: Some(policy_name),
            policy_document: Some(doc),
        })
    }
    /// DeleteRolePolicy.
    pub fn delete_role_policy(
        &self,
        caller: &Caller,
        input: w::DeleteRolePolicyRequest,
    ) -> Result<(), ApiError> {
        self.delete_inline(
            caller,
            ROLE,
            "iam:DeleteRolePolicy",
            &req(&input.role_name),
            &req(&input.policy_name),
        )
    }
    /// ListRolePolicies.
    pub fn list_role_policies(
        &self,
        caller: &Caller,
        input: w::ListRolePoliciesRequest,
    ) -> Result<w::ListRolePoliciesResponse, ApiError> {
        let Page {
            items: names,
            is_truncated,
            marker,
        } = self.list_inline(
            caller,
            ROLE,
            "iam:ListRolePolicies",
            &req(&input.role_name),
            &input.marker,
            input.max_items,
        )?;
        Ok(w::ListRolePoliciesResponse {
            policy_names: Some(names),
            is_truncated,
            marker,
        })
    }

    // ----- managed policies -----

    fn wire_policy(&self, account: &str, p: &ManagedPolicy) -> Result<w::Policy, ApiError> {
        Ok(w::Policy {
            policy_name: Some(p.name.clone()),
            policy_id: Some(p.id.clone()),
            arn: Some(p.arn.clone()),
            path: Some(p.path.clone()),
            default_version_id: Some(p.default_version.clone()),
            attachment_count: Some(self.attachments(account, &p.arn)?.len() as i64),
            permissions_boundary_usage_count: Some(self.boundary_uses(account, &p.arn)? as i64),
            is_attachable: Some(true),
            description: p.description.clone(),
            create_date: Some(p.created.clone()),
            update_date: Some(p.updated.clone()),
            tags: wire_tags(&p.tags),
        })
    }

    fn authorized_policy(
        &self,
        caller: &Caller,
        action: &str,
        policy_arn: &str,
    ) -> Result<ManagedPolicy, ApiError> {
        if split_arn(policy_arn, "policy").is_none() {
            return Err(invalid_input(format!("ARN {policy_arn} is not valid: a managed policy ARN is arn:aws:iam::<account or aws>:policy/<path><name>.")));
        }
        self.allow(caller, action, policy_arn, Context::new())?;
        self.existing_policy(&caller.account_id, policy_arn)
    }

    fn customer_policy(
        &self,
        caller: &Caller,
        action: &str,
        policy_arn: &str,
    ) -> Result<ManagedPolicy, ApiError> {
        let p = self.authorized_policy(caller, action, policy_arn)?;
        if crate::managed::aws_managed(policy_arn).is_some() {
            return Err(ApiError::new(
                ErrorCode::QueryAccessDenied,
                format!("{policy_arn} is an AWS managed policy: it cannot be changed or deleted. Create a customer managed policy instead."),
            ));
        }
        Ok(p)
    }

    /// CreatePolicy.
    pub fn create_policy(
        &self,
        caller: &Caller,
        input: w::CreatePolicyRequest,
    ) -> Result<w::CreatePolicyResponse, ApiError> {
        let name = req(&input.policy_name);
        let path = path_or_root(&input.path);
        check_path(&path)?;
        let a = arn(&caller.account_id, "policy", &path, &name);
        let tags = to_tags(&input.tags);
        self.allow(
            caller,
            "iam:CreatePolicy",
            &a,
            tag_context(Context::new(), &tags),
        )?;
        let doc = req(&input.policy_document);
        Policy::parse(&doc, PolicyType::Identity).map_err(malformed)?;
        if policy_size(&doc) > MANAGED_POLICY_MAX {
            return Err(limit(format!(
                "Cannot exceed quota for PolicySize: {MANAGED_POLICY_MAX}"
            )));
        }
        let now = iso(self.now());
        let p = ManagedPolicy {
            name,
            id: unique_id("ANPA"),
            path,
            arn: a,
            created: now.clone(),
            updated: now.clone(),
            description: input.description.clone(),
            tags,
            default_version: "v1".into(),
            versions: vec![PolicyVersion {
                id: "v1".into(),
                document: doc,
                created: now,
            }],
            next_version: 2,
        };
        let _guard = self.lock();
        self.save_policy(&caller.account_id, &p, true)?;
        Ok(w::CreatePolicyResponse {
            policy: Some(self.wire_policy(&caller.account_id, &p)?),
        })
    }

    /// GetPolicy.
    pub fn get_policy(
        &self,
        caller: &Caller,
        input: w::GetPolicyRequest,
    ) -> Result<w::GetPolicyResponse, ApiError> {
        let p = self.authorized_policy(caller, "iam:GetPolicy", &req(&input.policy_arn))?;
        Ok(w::GetPolicyResponse {
            policy: Some(self.wire_policy(&caller.account_id, &p)?),
        })
    }

    /// DeletePolicy: only when nothing uses it and only its default version is left.
    pub fn delete_policy(
        &self,
        caller: &Caller,
        input: w::DeletePolicyRequest,
    ) -> Result<(), ApiError> {
        let policy_arn = req(&input.policy_arn);
        let p = self.customer_policy(caller, "iam:DeletePolicy", &policy_arn)?;
        let _guard = self.lock();
        if !self.attachments(&caller.account_id, &p.arn)?.is_empty()
            || self.boundary_uses(&caller.account_id, &p.arn)? > 0
        {
            return Err(conflict("Cannot delete a policy attached to entities."));
        }
        if p.versions.len() > 1 {
            return Err(conflict("This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy."));
        }
        self.meta
            .delete(crate::entities::POLICY, &caller.account_id, &p.id)
            .map_err(storage)?;
        Ok(())
    }

    /// ListPolicies (Scope All, AWS or Local; OnlyAttached; PathPrefix; PolicyUsageFilter).
    pub fn list_policies(
        &self,
        caller: &Caller,
        input: w::ListPoliciesRequest,
    ) -> Result<w::ListPoliciesResponse, ApiError> {
        self.allow(
            caller,
            "iam:ListPolicies",
            &arn(&caller.account_id, "policy", "/", ""),
            Context::new(),
        )?;
        let account = &caller.account_id;
        let scope = input.scope.clone().unwrap_or_else(|| "All".into());
        let mut all = Vec::new();
        if scope != "Local" {
            all.extend(crate::managed::all());
        }
        if scope != "AWS" {
            all.extend(self.policies(account)?);
        }
        let prefix = path_or_root(&input.path_prefix);
        let mut out = Vec::new();
        for p in all.iter().filter(|p| p.path.starts_with(&prefix)) {
            let wp = self.wire_policy(account, p)?;
            let attached = wp.attachment_count.unwrap_or(0) > 0;
            let boundary = wp.permissions_boundary_usage_count.unwrap_or(0) > 0;
            if input.only_attached == Some(true) && !attached && !boundary {
                continue;
            }
            match input.policy_usage_filter.as_deref() {
                Some("PermissionsPolicy") if !attached => continue,
                Some("PermissionsBoundary") if !boundary => continue,
                _ => {}
            }
            out.push(wp);
        }
        let Page {
            items: policies,
            is_truncated,
            marker,
        } = page(out, &input.marker, input.max_items)?;
        Ok(w::ListPoliciesResponse {
            policies: Some(policies),
            is_truncated,
            marker,
        })
    }

    fn wire_version(p: &ManagedPolicy, v: &PolicyVersion, with_document: bool) -> w::PolicyVersion {
        w::PolicyVersion {
            document: with_document.then(|| v.document.clone()),
            version_id: Some(v.id.clone()),
            is_default_version: Some(v.id == p.default_version),
            create_date: Some(v.created.clone()),
        }
    }

    /// GetPolicyVersion.
    pub fn get_policy_version(
        &self,
        caller: &Caller,
        input: w::GetPolicyVersionRequest,
    ) -> Result<w::GetPolicyVersionResponse, ApiError> {
        let p = self.authorized_policy(caller, "iam:GetPolicyVersion", &req(&input.policy_arn))?;
        let id = req(&input.version_id);
        let v = p.versions.iter().find(|v| v.id == id).ok_or_else(|| {
            no_such(format!(
                "Policy {} version {id} does not exist or is not attachable.",
                p.arn
            ))
        })?;
        Ok(w::GetPolicyVersionResponse {
            policy_version: Some(Self::wire_version(&p, v, true)),
        })
    }

    /// CreatePolicyVersion.
    pub fn create_policy_version(
        &self,
        caller: &Caller,
        input: w::CreatePolicyVersionRequest,
    ) -> Result<w::CreatePolicyVersionResponse, ApiError> {
        let p = self.customer_policy(caller, "iam:CreatePolicyVersion", &req(&input.policy_arn))?;
        let doc = req(&input.policy_document);
        Policy::parse(&doc, PolicyType::Identity).map_err(malformed)?;
        if policy_size(&doc) > MANAGED_POLICY_MAX {
            return Err(limit(format!(
                "Cannot exceed quota for PolicySize: {MANAGED_POLICY_MAX}"
            )));
        }
        let _guard = self.lock();
        let mut p = self.existing_policy(&caller.account_id, &p.arn)?;
        if p.versions.len() >= VERSIONS_PER_POLICY {
            return Err(limit(format!("A managed policy can have up to {VERSIONS_PER_POLICY} versions. Before you create a new version, you must delete an existing version.")));
        }
        let now = iso(self.now());
        let v = PolicyVersion {
            id: format!("v{}", p.next_version),
            document: doc,
            created: now.clone(),
        };
        p.next_version += 1;
        p.updated = now;
        if input.set_as_default == Some(true) {
            p.default_version = v.id.clone();
        }
        p.versions.push(v.clone());
        self.save_policy(&caller.account_id, &p, false)?;
        Ok(w::CreatePolicyVersionResponse {
            policy_version: Some(Self::wire_version(&p, &v, false)),
        })
    }

    /// ListPolicyVersions.
    pub fn list_policy_versions(
        &self,
        caller: &Caller,
        input: w::ListPolicyVersionsRequest,
    ) -> Result<w::ListPolicyVersionsResponse, ApiError> {
        let p =
            self.authorized_policy(caller, "iam:ListPolicyVersions", &req(&input.policy_arn))?;
        let mut versions: Vec<w::PolicyVersion> = p
            .versions
            .iter()
            .map(|v| Self::wire_version(&p, v, false))
            .collect();
        versions.reverse();
        let Page {
            items: versions,
            is_truncated,
            marker,
        } = page(versions, &input.marker, input.max_items)?;
        Ok(w::ListPolicyVersionsResponse {
            versions: Some(versions),
            is_truncated,
            marker,
        })
    }

    /// DeletePolicyVersion (never the default one).
    pub fn delete_policy_version(
        &self,
        caller: &Caller,
        input: w::DeletePolicyVersionRequest,
    ) -> Result<(), ApiError> {
        let p = self.customer_policy(caller, "iam:DeletePolicyVersion", &req(&input.policy_arn))?;
        let id = req(&input.version_id);
        let _guard = self.lock();
        let mut p = self.existing_policy(&caller.account_id, &p.arn)?;
        if p.default_version == id {
            return Err(conflict("Cannot delete the default version of a policy."));
        }
        let before = p.versions.len();
        p.versions.retain(|v| v.id != id);
        if p.versions.len() == before {
            return Err(no_such(format!(
                "Policy {} version {id} does not exist or is not attachable.",
                p.arn
            )));
        }
        self.save_policy(&caller.account_id, &p, false)
    }

    /// SetDefaultPolicyVersion.
    pub fn set_default_policy_version(
        &self,
        caller: &Caller,
        input: w::SetDefaultPolicyVersionRequest,
    ) -> Result<(), ApiError> {
        let p = self.customer_policy(
            caller,
            "iam:SetDefaultPolicyVersion",
            &req(&input.policy_arn),
        )?;
        let id = req(&input.version_id);
        let _guard = self.lock();
        let mut p = self.existing_policy(&caller.account_id, &p.arn)?;
        if !p.versions.iter().any(|v| v.id == id) {
            return Err(no_such(format!(
                "Policy {} version {id} does not exist or is not attachable.",
                p.arn
            )));
        }
        p.default_version = id;
        p.updated = iso(self.now());
        self.save_policy(&caller.account_id, &p, false)
    }

    // ----- attachments -----

    fn attach(
        &self,
        caller: &Caller,
        kind: &str,
        op: &str,
        name: &str,
        policy_arn: &str,
    ) -> Result<(), ApiError> {
        let ctx = Context::new().with("iam:PolicyARN", policy_arn.to_string());
        let e = self.authorized_entity(caller, op, kind, name, ctx)?;
        if split_arn(policy_arn, "policy").is_none() {
            return Err(invalid_input(format!("ARN {policy_arn} is not valid.")));
        }
        self.existing_policy(&caller.account_id, policy_arn)?;
        let _guard = self.lock();
        let mut e = self.existing(kind, &caller.account_id, &e.name)?;
        if e.attached.iter().any(|a| a == policy_arn) {
            return Ok(());
        }
        if e.attached.len() >= MANAGED_POLICIES_PER_ENTITY {
            let quota = match kind {
                USER => "PoliciesPerUser",
                GROUP => "PoliciesPerGroup",
                _ => "PoliciesPerRole",
            };
            return Err(limit(format!(
                "Cannot exceed quota for {quota}: {MANAGED_POLICIES_PER_ENTITY}"
            )));
        }
        e.attached.push(policy_arn.to_string());
        self.save_entity(kind, &caller.account_id, &e)
    }

    fn detach(
        &self,
        caller: &Caller,
        kind: &str,
        op: &str,
        name: &str,
        policy_arn: &str,
    ) -> Result<(), ApiError> {
        let ctx = Context::new().with("iam:PolicyARN", policy_arn.to_string());
        let e = self.authorized_entity(caller, op, kind, name, ctx)?;
        let _guard = self.lock();
        let mut e = self.existing(kind, &caller.account_id, &e.name)?;
        let before = e.attached.len();
        e.attached.retain(|a| a != policy_arn);
        if e.attached.len() == before {
            return Err(no_such(format!("Policy {policy_arn} was not found.")));
        }
        self.save_entity(kind, &caller.account_id, &e)
    }

    fn list_attached(
        &self,
        caller: &Caller,
        kind: &str,
        op: &str,
        name: &str,
        prefix: &Option<String>,
        paging: Paging<'_>,
    ) -> Result<Page<w::AttachedPolicy>, ApiError> {
        let e = self.authorized_entity(caller, op, kind, name, Context::new())?;
        let prefix = path_or_root(prefix);
        let mut out = Vec::new();
        for a in &e.attached {
            if let Some(p) = self.managed_policy(&caller.account_id, a)? {
                if p.path.starts_with(&prefix) {
                    out.push(w::AttachedPolicy {
                        policy_name: Some(p.name),
                        policy_arn: Some(p.arn),
                    });
                }
            }
        }
        page(out, paging.marker, paging.max_items)
    }

    /// AttachUserPolicy.
    pub fn attach_user_policy(
        &self,
        caller: &Caller,
        input: w::AttachUserPolicyRequest,
    ) -> Result<(), ApiError> {
        self.attach(
            caller,
            USER,
            "iam:AttachUserPolicy",
            &req(&input.user_name),
            &req(&input.policy_arn),
        )
    }
    /// DetachUserPolicy.
    pub fn detach_user_policy(
        &self,
        caller: &Caller,
        input: w::DetachUserPolicyRequest,
    ) -> Result<(), ApiError> {
        self.detach(
            caller,
            USER,
            "iam:DetachUserPolicy",
            &req(&input.user_name),
            &req(&input.policy_arn),
        )
    }
    /// AttachGroupPolicy.
    pub fn attach_group_policy(
        &self,
        caller: &Caller,
        input: w::AttachGroupPolicyRequest,
    ) -> Result<(), ApiError> {
        self.attach(
            caller,
            GROUP,
            "iam:AttachGroupPolicy",
            &req(&input.group_name),
            &req(&input.policy_arn),
        )
    }
    /// DetachGroupPolicy.
    pub fn detach_group_policy(
        &self,
        caller: &Caller,
        input: w::DetachGroupPolicyRequest,
    ) -> Result<(), ApiError> {
        self.detach(
            caller,
            GROUP,
            "iam:DetachGroupPolicy",
            &req(&input.group_name),
            &req(&input.policy_arn),
        )
    }
    /// AttachRolePolicy.
    pub fn attach_role_policy(
        &self,
        caller: &Caller,
        input: w::AttachRolePolicyRequest,
    ) -> Result<(), ApiError> {
        self.attach(
            caller,
            ROLE,
            "iam:AttachRolePolicy",
            &req(&input.role_name),
            &req(&input.policy_arn),
        )
    }
    /// DetachRolePolicy.
    pub fn detach_role_policy(
        &self,
        caller: &Caller,
        input: w::DetachRolePolicyRequest,
    ) -> Result<(), ApiError> {
        self.detach(
            caller,
            ROLE,
            "iam:DetachRolePolicy",
            &req(&input.role_name),
            &req(&input.policy_arn),
        )
    }
    /// ListAttachedUserPolicies.
    pub fn list_attached_user_policies(
        &self,
        caller: &Caller,
        input: w::ListAttachedUserPoliciesRequest,
    ) -> Result<w::ListAttachedUserPoliciesResponse, ApiError> {
        let Page {
            items: attached_policies,
            is_truncated,
            marker,
        } = self.list_attached(
            caller,
            USER,
            "iam:ListAttachedUserPolicies",
            &req(&input.user_name),
            &input.path_prefix,
            Paging {
                marker: &input.marker,
                max_items: input.max_items,
            },
        )?;
        Ok(w::ListAttachedUserPoliciesResponse {
            attached_policies: Some(attached_policies),
            is_truncated,
            marker,
        })
    }
    /// ListAttachedGroupPolicies.
    pub fn list_attached_group_policies(
        &self,
        caller: &Caller,
        input: w::ListAttachedGroupPoliciesRequest,
    ) -> Result<w::ListAttachedGroupPoliciesResponse, ApiError> {
        let Page {
            items: attached_policies,
            is_truncated,
            marker,
        } = self.list_attached(
            caller,
            GROUP,
            "iam:ListAttachedGroupPolicies",
            &req(&input.group_name),
            &input.path_prefix,
            Paging {
                marker: &input.marker,
                max_items: input.max_items,
            },
        )?;
        Ok(w::ListAttachedGroupPoliciesResponse {
            attached_policies: Some(attached_policies),
            is_truncated,
            marker,
        })
    }
    /// ListAttachedRolePolicies.
    pub fn list_attached_role_policies(
        &self,
        caller: &Caller,
        input: w::ListAttachedRolePoliciesRequest,
    ) -> Result<w::ListAttachedRolePoliciesResponse, ApiError> {
        let Page {
            items: attached_policies,
            is_truncated,
            marker,
        } = self.list_attached(
            caller,
            ROLE,
            "iam:ListAttachedRolePolicies",
            &req(&input.role_name),
            &input.path_prefix,
            Paging {
                marker: &input.marker,
                max_items: input.max_items,
            },
        )?;
        Ok(w::ListAttachedRolePoliciesResponse {
            attached_policies: Some(attached_policies),
            is_truncated,
            marker,
        })
    }

    // ----- permissions boundaries -----

    fn set_boundary(
        &self,
        caller: &Caller,
        kind: &str,
        op: &str,
        name: &str,
        boundary: Option<String>,
    ) -> Result<(), ApiError> {
        let mut ctx = Context::new();
        if let Some(b) = &boundary {
            ctx = ctx.with("iam:PermissionsBoundary", b.clone());
        }
        let e = self.authorized_entity(caller, op, kind, name, ctx)?;
        if let Some(b) = &boundary {
            self.check_boundary(&caller.account_id, b)?;
        }
        let _guard = self.lock();
        let mut e = self.existing(kind, &caller.account_id, &e.name)?;
        e.boundary = boundary;
        self.save_entity(kind, &caller.account_id, &e)
    }

    /// PutUserPermissionsBoundary.
    pub fn put_user_permissions_boundary(
        &self,
        caller: &Caller,
        input: w::PutUserPermissionsBoundaryRequest,
    ) -> Result<(), ApiError> {
        self.set_boundary(
            caller,
            USER,
            "iam:PutUserPermissionsBoundary",
            &req(&input.user_name),
            input.permissions_boundary,
        )
    }
    /// DeleteUserPermissionsBoundary.
    pub fn delete_user_permissions_boundary(
        &self,
        caller: &Caller,
        input: w::DeleteUserPermissionsBoundaryRequest,
    ) -> Result<(), ApiError> {
        self.set_boundary(
            caller,
            USER,
            "iam:DeleteUserPermissionsBoundary",
            &req(&input.user_name),
            None,
        )
    }
    /// PutRolePermissionsBoundary.
    pub fn put_role_permissions_boundary(
        &self,
        caller: &Caller,
        input: w::PutRolePermissionsBoundaryRequest,
    ) -> Result<(), ApiError> {
        self.set_boundary(
            caller,
            ROLE,
            "iam:PutRolePermissionsBoundary",
            &req(&input.role_name),
            input.permissions_boundary,
        )
    }
    /// DeleteRolePermissionsBoundary.
    pub fn delete_role_permissions_boundary(
        &self,
        caller: &Caller,
        input: w::DeleteRolePermissionsBoundaryRequest,
    ) -> Result<(), ApiError> {
        self.set_boundary(
            caller,
            ROLE,
            "iam:DeleteRolePermissionsBoundary",
            &req(&input.role_name),
            None,
        )
    }

    // ----- access keys -----

    /// The principal ARN whose keys an access-key operation manages: the
    /// named user, or the caller itself (a user, or the root user).
    fn key_owner(
        &self,
        caller: &Caller,
        action: &str,
        user_name: &Option<String>,
    ) -> Result<(String, Option<String>), ApiError> {
        let name = match (user_name, &caller.identity) {
            (Some(n), _) => n.clone(),
            (None, Identity::User { name }) => name.clone(),
            (None, Identity::Root) => {
                self.allow(caller, action, &caller.principal.arn, Context::new())?;
                return Ok((caller.principal.arn.clone(), None));
            }
            (None, Identity::Session { .. } | Identity::ServiceRole { .. }) => {
                return Err(ApiError::new(
                    ErrorCode::QueryValidationError,
                    "Must specify userName when calling with non-User credentials",
                ))
            }
        };
        let u = self.authorized_entity(caller, action, USER, &name, Context::new())?;
        Ok((u.arn, Some(u.name)))
    }

    /// CreateAccessKey (at most two per user).
    pub fn create_access_key(
        &self,
        caller: &Caller,
        input: w::CreateAccessKeyRequest,
    ) -> Result<w::CreateAccessKeyResponse, ApiError> {
        let (owner, user_name) = self.key_owner(caller, "iam:CreateAccessKey", &input.user_name)?;
        let _guard = self.lock();
        if self.meta.access_keys_of(&owner).map_err(storage)?.len() >= ACCESS_KEYS_PER_USER {
            return Err(limit(format!(
                "Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}"
            )));
        }
        let key = AccessKey {
            access_key_id: new_access_key_id("AKIA"),
            secret_access_key: new_secret(),
            account_id: caller.account_id.clone(),
            principal_arn: owner,
            status: "Active".into(),
            created_at: iso(self.now()),
        };
        self.meta.insert_access_key(&key).map_err(storage)?;
        Ok(w::CreateAccessKeyResponse {
            access_key: Some(w::AccessKey {
                user_name,
                access_key_id: Some(key.access_key_id),
                status: Some(key.status),
                secret_access_key: Some(key.secret_access_key),
                create_date: Some(key.created_at),
            }),
        })
    }

    /// ListAccessKeys.
    pub fn list_access_keys(
        &self,
        caller: &Caller,
        input: w::ListAccessKeysRequest,
    ) -> Result<w::ListAccessKeysResponse, ApiError> {
        let (owner, user_name) = self.key_owner(caller, "iam:ListAccessKeys", &input.user_name)?;
        let keys: Vec<w::AccessKeyMetadata> = self
            .meta
            .access_keys_of(&owner)
            .map_err(storage)?
            .into_iter()
            .map(|k| w::AccessKeyMetadata {
                user_name: user_name.clone(),
                access_key_id: Some(k.access_key_id),
                status: Some(k.status),
                create_date: Some(k.created_at),
            })
            .collect();
        let Page {
            items: keys,
            is_truncated,
            marker,
        } = page(keys, &input.marker, input.max_items)?;
        Ok(w::ListAccessKeysResponse {
            access_key_metadata: Some(keys),
            is_truncated,
            marker,
        })
    }

    fn owned_key(&self, owner: &str, access_key_id: &str) -> Result<AccessKey, ApiError> {
        self.meta
            .access_key(access_key_id)
            .map_err(storage)?
            .filter(|k| k.principal_arn == owner)
            .ok_or_else(|| {
                no_such(format!(
                    "The Access Key with id {access_key_id} cannot be found."
                ))
            })
    }

    /// UpdateAccessKey (Active / Inactive).
    pub fn update_access_key(
        &self,
        caller: &Caller,
        input: w::UpdateAccessKeyRequest,
    ) -> Result<(), ApiError> {
        let (owner, _) = self.key_owner(caller, "iam:UpdateAccessKey", &input.user_name)?;
        let id = req(&input.access_key_id);
        let status = req(&input.status);
        if status != "Active" && status != "Inactive" {
            return Err(invalid_input(format!(
                "Status '{status}' is not valid: use Active or Inactive."
            )));
        }
        self.owned_key(&owner, &id)?;
        self.meta
            .set_access_key_status(&id, &status)
            .map_err(storage)?;
        Ok(())
    }

    /// DeleteAccessKey.
    pub fn delete_access_key(
        &self,
        caller: &Caller,
        input: w::DeleteAccessKeyRequest,
    ) -> Result<(), ApiError> {
        let (owner, _) = self.key_owner(caller, "iam:DeleteAccessKey", &input.user_name)?;
        let id = req(&input.access_key_id);
        self.owned_key(&owner, &id)?;
        self.meta.delete_access_key(&id).map_err(storage)?;
        Ok(())
    }

    // ----- tags -----

    fn tag(
        &self,
        caller: &Caller,
        kind: &str,
        op: &str,
        name: &str,
        tags: Vec<Tag>,
    ) -> Result<(), ApiError> {
        let e =
            self.authorized_entity(caller, op, kind, name, tag_context(Context::new(), &tags))?;
        let _guard = self.lock();
        let mut e = self.existing(kind, &caller.account_id, &e.name)?;
        e.tags = merge_tags(&e.tags, tags, crate::entities::kind_word(kind))?;
        self.save_entity(kind, &caller.account_id, &e)
    }

    fn untag(
        &self,
        caller: &Caller,
        kind: &str,
        op: &str,
        name: &str,
        keys: Vec<String>,
    ) -> Result<(), ApiError> {
        let ctx = if keys.is_empty() {
            Context::new()
        } else {
            Context::new().with_values("aws:TagKeys", keys.iter().cloned())
        };
        let e = self.authorized_entity(caller, op, kind, name, ctx)?;
        let _guard = self.lock();
        let mut e = self.existing(kind, &caller.account_id, &e.name)?;
        e.tags
            .retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
        self.save_entity(kind, &caller.account_id, &e)
    }

    fn list_tags(
        &self,
        caller: &Caller,
        kind: &str,
        op: &str,
        name: &str,
        marker: &Option<String>,
        max: Option<i64>,
    ) -> Result<Page<w::Tag>, ApiError> {
        let e = self.authorized_entity(caller, op, kind, name, Context::new())?;
        page(wire_tags(&e.tags).unwrap_or_default(), marker, max)
    }

    /// TagUser.
    pub fn tag_user(&self, caller: &Caller, input: w::TagUserRequest) -> Result<(), ApiError> {
        self.tag(
            caller,
            USER,
            "iam:TagUser",
            &req(&input.user_name),
            to_tags(&input.tags),
        )
    }
    /// UntagUser.
    pub fn untag_user(&self, caller: &Caller, input: w::UntagUserRequest) -> Result<(), ApiError> {
        self.untag(
            caller,
            USER,
            "iam:UntagUser",
            &req(&input.user_name),
            input.tag_keys.unwrap_or_default(),
        )
    }
    /// ListUserTags.
    pub fn list_user_tags(
        &self,
        caller: &Caller,
        input: w::ListUserTagsRequest,
    ) -> Result<w::ListUserTagsResponse, ApiError> {
        let Page {
            items: tags,
            is_truncated,
            marker,
        } = self.list_tags(
            caller,
            USER,
            "iam:ListUserTags",
            &req(&input.user_name),
            &input.marker,
            input.max_items,
        )?;
        Ok(w::ListUserTagsResponse {
            tags: Some(tags),
            is_truncated,
            marker,
        })
    }
    /// TagRole.
    pub fn tag_role(&self, caller: &Caller, input: w::TagRoleRequest) -> Result<(), ApiError> {
        self.tag(
            caller,
            ROLE,
            "iam:TagRole",
            &req(&input.role_name),
            to_tags(&input.tags),
        )
    }
    /// UntagRole.
    pub fn untag_role(&self, caller: &Caller, input: w::UntagRoleRequest) -> Result<(), ApiError> {
        self.untag(
            caller,
            ROLE,
            "iam:UntagRole",
            &req(&input.role_name),
            input.tag_keys.unwrap_or_default(),
        )
    }
    /// ListRoleTags.
    pub fn list_role_tags(
        &self,
        caller: &Caller,
        input: w::ListRoleTagsRequest,
    ) -> Result<w::ListRoleTagsResponse, ApiError> {
        let Page {
            items: tags,
            is_truncated,
            marker,
        } = self.list_tags(
            caller,
            ROLE,
            "iam:ListRoleTags",
            &req(&input.role_name),
            &input.marker,
            input.max_items,
        )?;
        Ok(w::ListRoleTagsResponse {
            tags: Some(tags),
            is_truncated,
            marker,
        })
    }
}

/// A role trust policy must parse as one and fit IAM's quota.
fn check_trust_policy(doc: &str) -> Result<(), ApiError> {
    Policy::parse(doc, PolicyType::Trust).map_err(malformed)?;
    if policy_size(doc) > TRUST_POLICY_MAX {
        return Err(limit(format!(
            "Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_MAX}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_hand_out_markers_that_resume() {
        let items: Vec<u32> = (0..5).collect();
        let parts = |marker: &Option<String>| {
            page(items.clone(), marker, Some(2))
                .map(|p| (p.items, p.is_truncated, p.marker))
                .unwrap_or_default()
        };
        let (a, t, m) = parts(&None);
        assert_eq!((a, t), (vec![0, 1], Some(true)));
        let (b, t, m) = parts(&m);
        assert_eq!((b, t), (vec![2, 3], Some(true)));
        let (c, t, m) = parts(&m);
        assert_eq!((c, t, m), (vec![4], Some(false), None));
        assert!(page(items.clone(), &Some("x".into()), None).is_err());
        assert!(page(items, &Some("cairn-9".into()), None).is_err());
    }

    #[test]
    fn tags_merge_by_key_case_insensitively() {
        let old = vec![Tag {
            key: "Team".into(),
            value: "a".into(),
        }];
        let merged = merge_tags(
            &old,
            vec![Tag {
                key: "team".into(),
                value: "b".into(),
            }],
            "user",
        )
        .unwrap_or_default();
        assert_eq!(
            merged,
            vec![Tag {
                key: "team".into(),
                value: "b".into()
            }]
        );
        let many: Vec<Tag> = (0..51)
            .map(|i| Tag {
                key: format!("k{i}"),
                value: String::new(),
            })
            .collect();
        assert!(merge_tags(&[], many, "user").is_err());
    }

    #[test]
    fn paths_begin_and_end_with_a_slash() {
        assert!(check_path("/").is_ok());
        assert!(check_path("/a/b/").is_ok());
        assert!(check_path("a/").is_err());
        assert!(check_path("/a").is_err());
        assert!(check_path("/a//b/").is_err());
    }
}
