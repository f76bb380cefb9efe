//! The stored IAM entities and how to find them.

use crate::{from_doc, storage, to_doc, Iam};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use wire::{ApiError, ErrorCode};

pub(crate) const USER: &str = "iam-user";
pub(crate) const GROUP: &str = "iam-group";
pub(crate) const ROLE: &str = "iam-role";
pub(crate) const POLICY: &str = "iam-policy";

/// A tag on a user, role or policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Tag {
    pub key: String,
    pub value: String,
}

/// What users, groups and roles have in common: a name, a path, an id, an
/// ARN, policies. Inline policies are kept by name, in insertion order of
/// their names' sort (IAM lists them sorted).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entity {
    pub name: String,
    pub id: String,
    pub path: String,
    pub arn: String,
    pub created: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    #[serde(default)]
    pub attached: Vec<String>,
    /// Permissions boundary (managed policy ARN); users and roles only.
    #[serde(default)]
    pub boundary: Option<String>,
    /// Users: the groups they belong to (names).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Roles: the trust policy.
    #[serde(default)]
    pub trust_policy: Option<String>,
    /// Roles: description.
    #[serde(default)]
    pub description: Option<String>,
    /// Roles: maximum session duration in seconds (AWS default 3600).
    #[serde(default)]
    pub max_session_duration: Option<i64>,
}

/// A customer managed policy and its versions (AWS keeps at most five).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ManagedPolicy {
    pub name: String,
    pub id: String,
    pub path: String,
    pub arn: String,
    pub created: String,
    pub updated: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    pub default_version: String,
    pub versions: Vec<PolicyVersion>,
    /// The next version number to hand out (`v<N>`); never reused.
    pub next_version: u32,
}

/// One version of a managed policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PolicyVersion {
    pub id: String,
    pub document: String,
    pub created: String,
}

impl ManagedPolicy {
    pub fn default_document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.id == self.default_version)
            .map(|v| v.document.as_str())
    }
}

/// What an entity kind is called in AWS's messages.
pub(crate) fn kind_word(kind: &str) -> &'static str {
    match kind {
        USER => "user",
        GROUP => "group",
        ROLE => "role",
        _ => "policy",
    }
}

/// `arn:aws:iam::ACCOUNT:TYPE/PATH/NAME`.
pub(crate) fn arn(account: &str, ty: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:{ty}{path}{name}")
}

/// The account and `PATH/NAME` parts of an IAM ARN of type `ty`
/// (`arn:aws:iam::ACCOUNT:ty/…`).
pub(crate) fn split_arn<'a>(value: &'a str, ty: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let rest = value.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let tail = resource.strip_prefix(ty)?.strip_prefix('/')?;
    let name = tail.rsplit('/').next()?;
    let path = &resource[ty.len()..resource.len() - name.len()];
    (!name.is_empty()).then_some((account, path, name))
}

impl Iam {
    pub(crate) fn entity(
        &self,
        kind: &str,
        account: &str,
        name: &str,
    ) -> Result<Option<Entity>, ApiError> {
        match self
            .meta
            .get_by_name(kind, account, &name.to_lowercase())
            .map_err(storage)?
        {
            Some((_, doc)) => from_doc(&doc).map(Some),
            None => Ok(None),
        }
    }

    /// The entity or AWS's `NoSuchEntity` ("The user with name X cannot be found.").
    pub(crate) fn existing(
        &self,
        kind: &str,
        account: &str,
        name: &str,
    ) -> Result<Entity, ApiError> {
        self.entity(kind, account, name)?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::NoSuchEntity,
                format!("The {} with name {name} cannot be found.", kind_word(kind)),
            )
        })
    }

    pub(crate) fn entities(&self, kind: &str, account: &str) -> Result<Vec<Entity>, ApiError> {
        let mut all: Vec<Entity> = self
            .meta
            .list(kind, account)
            .map_err(storage)?
            .iter()
            .map(|d| from_doc(d))
            .collect::<Result<_, _>>()?;
        all.sort_by_key(|e| e.name.to_lowercase());
        Ok(all)
    }

    pub(crate) fn insert_entity(
        &self,
        kind: &str,
        account: &str,
        e: &Entity,
    ) -> Result<(), ApiError> {
        match self.meta.insert(
            kind,
            account,
            &e.id,
            Some(&e.name.to_lowercase()),
            &to_doc(e)?,
        ) {
            Ok(()) => Ok(()),
            Err(store::Error::Conflict(_)) => Err(ApiError::new(
                ErrorCode::EntityAlreadyExists,
                format!(
                    "{} with name {} already exists.",
                    capitalised(kind_word(kind)),
                    e.name
                ),
            )),
            Err(err) => Err(storage(err)),
        }
    }

    pub(crate) fn save_entity(
        &self,
        kind: &str,
        account: &str,
        e: &Entity,
    ) -> Result<(), ApiError> {
        self.meta
            .replace(
                kind,
                account,
                &e.id,
                Some(&e.name.to_lowercase()),
                &to_doc(e)?,
            )
            .map_err(storage)?;
        Ok(())
    }

    pub(crate) fn delete_entity(
        &self,
        kind: &str,
        account: &str,
        e: &Entity,
    ) -> Result<(), ApiError> {
        self.meta.delete(kind, account, &e.id).map_err(storage)?;
        Ok(())
    }

    /// A customer managed policy of `account` by ARN, or an AWS managed one.
    pub(crate) fn managed_policy(
        &self,
        account: &str,
        policy_arn: &str,
    ) -> Result<Option<ManagedPolicy>, ApiError> {
        if let Some(p) = crate::managed::aws_managed(policy_arn) {
            return Ok(Some(p));
        }
        let Some((owner, path, name)) = split_arn(policy_arn, "policy") else {
            return Ok(None);
        };
        if owner != account {
            return Ok(None);
        }
        match self
            .meta
            .get_by_name(POLICY, account, &name.to_lowercase())
            .map_err(storage)?
        {
            Some((_, doc)) => {
                let p: ManagedPolicy = from_doc(&doc)?;
                Ok((p.path == path).then_some(p))
            }
            None => Ok(None),
        }
    }

    pub(crate) fn existing_policy(
        &self,
        account: &str,
        policy_arn: &str,
    ) -> Result<ManagedPolicy, ApiError> {
        self.managed_policy(account, policy_arn)?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::NoSuchEntity,
                format!("Policy {policy_arn} does not exist or is not attachable."),
            )
        })
    }

    pub(crate) fn policies(&self, account: &str) -> Result<Vec<ManagedPolicy>, ApiError> {
        self.meta
            .list(POLICY, account)
            .map_err(storage)?
            .iter()
            .map(|d| from_doc(d))
            .collect()
    }

    pub(crate) fn save_policy(
        &self,
        account: &str,
        p: &ManagedPolicy,
        new: bool,
    ) -> Result<(), ApiError> {
        let doc = to_doc(p)?;
        let name = p.name.to_lowercase();
        if new {
            return match self.meta.insert(POLICY, account, &p.id, Some(&name), &doc) {
                Ok(()) => Ok(()),
                Err(store::Error::Conflict(_)) => Err(ApiError::new(
                    ErrorCode::EntityAlreadyExists,
                    format!(
                        "A policy called {} already exists. Duplicate names are not allowed.",
                        p.name
                    ),
                )),
                Err(e) => Err(storage(e)),
            };
        }
        self.meta
            .replace(POLICY, account, &p.id, Some(&name), &doc)
            .map_err(storage)?;
        Ok(())
    }

    /// Every user, group and role of `account` with `policy_arn` attached
    /// (kind, entity).
    pub(crate) fn attachments(
        &self,
        account: &str,
        policy_arn: &str,
    ) -> Result<Vec<(&'static str, Entity)>, ApiError> {
        let mut out = Vec::new();
        for kind in [USER, GROUP, ROLE] {
            for e in self.entities(kind, account)? {
                if e.attached.iter().any(|a| a == policy_arn) {
                    out.push((kind, e));
                }
            }
        }
        Ok(out)
    }

    /// Users and roles that use `policy_arn` as their permissions boundary.
    pub(crate) fn boundary_uses(&self, account: &str, policy_arn: &str) -> Result<usize, ApiError> {
        let mut n = 0;
        for kind in [USER, ROLE] {
            n += self
                .entities(kind, account)?
                .iter()
                .filter(|e| e.boundary.as_deref() == Some(policy_arn))
                .count();
        }
        Ok(n)
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_arns_split_into_account_path_and_name() {
        assert_eq!(
            split_arn("arn:aws:iam::111122223333:user/alice", "user"),
            Some(("111122223333", "/", "alice"))
        );
        assert_eq!(
            split_arn("arn:aws:iam::111122223333:policy/team/a/p1", "policy"),
            Some(("111122223333", "/team/a/", "p1"))
        );
        assert_eq!(
            split_arn("arn:aws:iam::aws:policy/AdministratorAccess", "policy"),
            Some(("aws", "/", "AdministratorAccess"))
        );
        assert_eq!(split_arn("arn:aws:iam::111122223333:user/", "user"), None);
        assert_eq!(split_arn("arn:aws:iam::111122223333:role/r", "user"), None);
        assert_eq!(split_arn("arn:aws:s3:::bucket", "user"), None);
    }
}
