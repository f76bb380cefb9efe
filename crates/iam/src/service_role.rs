//! A service acting with a role of the account, as CloudTrail does with an
//! import's `S3BucketAccessRoleArn`: the role's trust policy must let the
//! service assume it, and the service then has exactly the role's
//! permissions (identity policies within its permissions boundary).

use crate::caller::{Caller, Identity};
use crate::entities::{split_arn, ROLE};
use crate::{Access, Iam};
use iam_policy::{Context, NamedPolicy, Policy, PolicyType, Principal};
use wire::{ApiError, ErrorCode};

impl Iam {
    /// The caller `service` (e.g. `cloudtrail.amazonaws.com`) becomes by
    /// assuming `role_arn` of `account`, for work it does on the account's
    /// behalf on resource `source_arn` (the trust policy's `aws:SourceArn`,
    /// as AWS's confused-deputy conditions expect); the session is named
    /// `session`. Refused (with a sentence
    /// saying what to change) when the ARN names no role of `account` or the
    /// role does not trust the service.
    pub fn service_session(
        &self,
        account: &str,
        role_arn: &str,
        service: &str,
        session: &str,
        source_arn: &str,
    ) -> Result<Caller, ApiError> {
        let refused = |m: String| ApiError::new(ErrorCode::AccessDenied, m);
        let role = match split_arn(role_arn, "role") {
            Some((a, _, name)) if a == account => self.entity(ROLE, account, name)?,
            Some(_) => {
                return Err(refused(format!(
                    "{role_arn} is a role of another account: {service} can only use a role of account {account}."
                )))
            }
            None => {
                return Err(ApiError::new(
                    ErrorCode::InvalidParameter,
                    format!("{role_arn} is not a role ARN: use arn:aws:iam::{account}:role/<name>."),
                ))
            }
        };
        let Some(role) = role.filter(|r| r.arn == role_arn) else {
            return Err(refused(format!(
                "There is no role {role_arn}: create it, trusting {service}."
            )));
        };
        let trust = role
            .trust_policy
            .as_deref()
            .map(|doc| Policy::parse(doc, PolicyType::Trust))
            .transpose()
            .map_err(|e| crate::internal(format!("a stored trust policy no longer parses: {e}")))?;
        // The service asks: a principal with no identity side, which only
        // the trust policy can let in.
        let mut asker = Caller::root(account);
        asker.principal = Principal::service(service);
        let access = Access {
            action: "sts:AssumeRole",
            resource: role_arn,
            resource_account: account,
            resource_policy: trust.as_ref().map(|policy| NamedPolicy {
                name: "role trust policy",
                policy,
            }),
            context: Context::new()
                .with("aws:SourceAccount", account)
                .with("aws:SourceArn", source_arn),
        };
        if self.authorize(&asker, access).is_err() {
            return Err(refused(format!(
                "The trust policy of role {role_arn} does not let {service} assume it: add a statement allowing sts:AssumeRole to the service principal {service}."
            )));
        }
        let mut principal =
            Principal::assumed_role(account, &role.path, &role.name, &role.id, session);
        principal.tags = role
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        Ok(Caller {
            principal,
            identity: Identity::ServiceRole {
                role_name: role.name.clone(),
            },
            ..Caller::root(account)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::{create_account, Access, Iam};
    use iam_policy::Context;
    use std::sync::Arc;
    use wire::iam as w;

    const TRUSTS_CLOUDTRAIL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    const TRUSTS_LAMBDA: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    const EDS: &str = "arn:aws:cloudtrail:us-east-1:111122223333:eventdatastore/e";
    const READS_LOGS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::trail-logs/AWSLogs/*"}]}"#;

    fn iam_with_roles(dir: &std::path::Path) -> (Iam, String) {
        let meta: Arc<dyn store::Metadata> =
            Arc::new(store::SqliteMetadata::open(&dir.join("meta.db")).unwrap());
        let iam = Iam::new(meta.clone(), "us-east-1", None);
        let now = time::OffsetDateTime::now_utc();
        let account = create_account(&*meta, "roles", &now).unwrap().account_id;
        let root = crate::Caller::root(&account);
        for (name, trust) in [("importer", TRUSTS_CLOUDTRAIL), ("lambda", TRUSTS_LAMBDA)] {
            iam.create_role(
                &root,
                w::CreateRoleRequest {
                    role_name: Some(name.into()),
                    assume_role_policy_document: Some(trust.into()),
                    ..Default::default()
                },
            )
            .unwrap();
            iam.put_role_policy(
                &root,
                w::PutRolePolicyRequest {
                    role_name: Some(name.into()),
                    policy_name: Some("logs".into()),
                    policy_document: Some(READS_LOGS.into()),
                },
            )
            .unwrap();
        }
        (iam, account)
    }

    fn may_read(iam: &Iam, caller: &crate::Caller, key: &str) -> bool {
        let resource = format!("arn:aws:s3:::{key}");
        iam.authorize(
            caller,
            Access {
                action: "s3:GetObject",
                resource: &resource,
                resource_account: &caller.account_id,
                resource_policy: None,
                context: Context::new(),
            },
        )
        .is_ok()
    }

    #[test]
    fn the_service_has_the_role_permissions_and_no_more() {
        let dir = tempfile::tempdir().unwrap();
        let (iam, account) = iam_with_roles(dir.path());
        let role = format!("arn:aws:iam::{account}:role/importer");
        let s = iam
            .service_session(&account, &role, "cloudtrail.amazonaws.com", "import", EDS)
            .unwrap();
        assert_eq!(
            s.principal.arn,
            format!("arn:aws:sts::{account}:assumed-role/importer/import")
        );
        assert!(may_read(
            &iam,
            &s,
            "trail-logs/AWSLogs/1/CloudTrail/x.json.gz"
        ));
        assert!(!may_read(&iam, &s, "trail-logs/other/x.json.gz"));
        assert!(!may_read(&iam, &s, "someone-elses/AWSLogs/x.json.gz"));
    }

    #[test]
    fn a_role_must_exist_be_ours_and_trust_the_service() {
        let dir = tempfile::tempdir().unwrap();
        let (iam, account) = iam_with_roles(dir.path());
        let session = |arn: &str| {
            iam.service_session(&account, arn, "cloudtrail.amazonaws.com", "import", EDS)
                .unwrap_err()
        };
        let e = session(&format!("arn:aws:iam::{account}:role/lambda"));
        assert!(
            e.message.contains("does not let cloudtrail.amazonaws.com"),
            "{e:?}"
        );
        let e = session(&format!("arn:aws:iam::{account}:role/missing"));
        assert!(e.message.contains("There is no role"), "{e:?}");
        let e = session("arn:aws:iam::999999999999:role/importer");
        assert!(e.message.contains("another account"), "{e:?}");
        let e = session("arn:aws:s3:::bucket");
        assert_eq!(e.code, wire::ErrorCode::InvalidParameter, "{e:?}");
    }
}
