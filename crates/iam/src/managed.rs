//! AWS managed policies that Cairn knows, so that the usual
//! `aws iam attach-role-policy --policy-arn arn:aws:iam::aws:policy/…` works.
//!
//! Only the statements that concern the services Cairn serves are kept
//! (CloudTrail, CloudTrail Data, IAM, STS); the AWS originals also grant
//! access to services Cairn does not have, which would change nothing here.

use crate::entities::{ManagedPolicy, PolicyVersion};

const CREATED: &str = "2015-02-06T18:39:46Z";

/// (name, unique id, default version document).
const POLICIES: &[(&str, &str, &str)] = &[
    (
        "AdministratorAccess",
        "ANPAIWMBCKSKIEE64ZLYK",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "PowerUserAccess",
        "ANPAJYRXTHIB4FOVS3ZXS",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization","account:ListRegions","account:GetAccountInformation"],"Resource":"*"}]}"#,
    ),
    (
        "IAMFullAccess",
        "ANPAI7XKCFMBPM3QQRRVQ",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
    ),
    (
        "IAMReadOnlyAccess",
        "ANPAJKSO7NDY4T57MWDSQ",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:GenerateServiceLastAccessedDetails","iam:Get*","iam:List*","iam:SimulateCustomPolicy","iam:SimulatePrincipalPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "AWSCloudTrail_FullAccess",
        "ANPAIQNUJTQYDRJPC3BNK",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"AWSCloudTrailFullAccess","Effect":"Allow","Action":"cloudtrail:*","Resource":"*"},{"Sid":"IamAccess","Effect":"Allow","Action":["iam:ListRoles","iam:GetRolePolicy","iam:GetUser"],"Resource":"*"},{"Sid":"IamPassRole","Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"cloudtrail.amazonaws.com"}}}]}"#,
    ),
    (
        "AWSCloudTrail_ReadOnlyAccess",
        "ANPAJDU7KJADWBSEQ3E7S",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cloudtrail:Get*","cloudtrail:Describe*","cloudtrail:List*","cloudtrail:LookupEvents"],"Resource":"*"}]}"#,
    ),
];

fn build(name: &str, id: &str, document: &str) -> ManagedPolicy {
    ManagedPolicy {
        name: name.to_string(),
        id: id.to_string(),
        path: "/".to_string(),
        arn: format!("arn:aws:iam::aws:policy/{name}"),
        created: CREATED.to_string(),
        updated: CREATED.to_string(),
        description: Some(format!("AWS managed policy {name} (the statements that concern CloudTrail, CloudTrail Data, IAM and STS).")),
        tags: Vec::new(),
        default_version: "v1".to_string(),
        versions: vec![PolicyVersion {
            id: "v1".to_string(),
            document: document.to_string(),
            created: CREATED.to_string(),
        }],
        next_version: 2,
    }
}

/// The AWS managed policy with this ARN, if Cairn has it.
pub(crate) fn aws_managed(arn: &str) -> Option<ManagedPolicy> {
    let name = arn.strip_prefix("arn:aws:iam::aws:policy/")?;
    POLICIES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(n, id, doc)| build(n, id, doc))
}

/// Every AWS managed policy Cairn has.
pub(crate) fn all() -> Vec<ManagedPolicy> {
    POLICIES
        .iter()
        .map(|(n, id, doc)| build(n, id, doc))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use iam_policy::{Policy, PolicyType};

    #[test]
    fn every_aws_managed_policy_parses() {
        for p in all() {
            let doc = p.default_document().unwrap_or_default();
            assert!(
                Policy::parse(doc, PolicyType::Identity).is_ok(),
                "{}",
                p.name
            );
            assert_eq!(aws_managed(&p.arn).map(|x| x.id), Some(p.id.clone()));
        }
        assert!(aws_managed("arn:aws:iam::aws:policy/NoSuchPolicy").is_none());
    }
}
