//! Hints for denials and AWS's AccessDenied messages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use iam_policy::*;

const CHAN: &str =
    "arn:aws:cloudtrail:us-east-1:111122223333:channel/EXAMPLE8-0558-4f7e-a06a-43969EXAMPLE";
const PUT: &str = "cloudtrail-data:PutAuditEvents";

fn pol(stmts: &str, ty: PolicyType) -> Policy {
    Policy::parse(
        &format!(r#"{{"Version":"2012-10-17","Statement":{stmts}}}"#),
        ty,
    )
    .unwrap()
}

struct Case<'a> {
    principal: Principal,
    action: &'a str,
    resource: &'a str,
    identity: Vec<(&'a str, Policy)>,
    resource_policy: Option<(&'a str, Policy)>,
    boundary: Option<(&'a str, Policy)>,
    session: Option<Vec<(&'a str, Policy)>>,
    context: Context,
}

impl<'a> Case<'a> {
    fn new(principal: Principal, action: &'a str, resource: &'a str) -> Self {
        Case {
            principal,
            action,
            resource,
            identity: Vec::new(),
            resource_policy: None,
            boundary: None,
            session: None,
            context: Context::new(),
        }
    }

    fn decide(&self) -> Decision {
        let account = self
            .resource
            .split(':')
            .nth(4)
            .filter(|a| !a.is_empty())
            .unwrap_or("111122223333");
        let identity: Vec<NamedPolicy> = self
            .identity
            .iter()
            .map(|(name, policy)| NamedPolicy { name, policy })
            .collect();
        let session: Option<Vec<NamedPolicy>> = self.session.as_ref().map(|s| {
            s.iter()
                .map(|(name, policy)| NamedPolicy { name, policy })
                .collect()
        });
        let req = Request {
            principal: &self.principal,
            action: self.action,
            resource: self.resource,
            resource_account: account,
            context: &self.context,
        };
        evaluate_set(
            &req,
            &PolicySet {
                identity: &identity,
                resource: self
                    .resource_policy
                    .as_ref()
                    .map(|(name, policy)| NamedPolicy { name, policy }),
                permissions_boundary: self
                    .boundary
                    .as_ref()
                    .map(|(name, policy)| NamedPolicy { name, policy }),
                session: session.as_deref(),
            },
        )
    }

    fn hint(&self) -> String {
        let d = self.decide();
        assert_ne!(d.effect, Effect::Allow, "{d}");
        d.hint().unwrap_or_else(|| panic!("no hint for {d}"))
    }
}

fn alice() -> Principal {
    Principal::user("111122223333", "/", "alice", "AIDAALICE")
}

fn channel_policy() -> Policy {
    pol(
        &format!(
            r#"{{"Sid":"Partner","Effect":"Allow","Principal":{{"AWS":"444455556666"}},"Action":"{PUT}","Resource":"{CHAN}","Condition":{{"StringEquals":{{"cloudtrail:ExternalId":"abc"}}}}}}"#
        ),
        PolicyType::Resource,
    )
}

#[test]
fn article_actions_hint_at_put_audit_events() {
    let mut c = Case::new(alice(), PUT, CHAN);
    c.identity.push((
        "user/alice inline policy ct",
        pol(
            r#"{"Effect":"Allow","Action":["cloudtrail:PutEvent","cloudtrail:PutLog","cloudtrail:PutMetric"],"Resource":"*"}"#,
            PolicyType::Identity,
        ),
    ));
    assert_eq!(
        c.hint(),
        "The identity policy 'user/alice inline policy ct' grants cloudtrail:PutEvent, cloudtrail:PutLog and cloudtrail:PutMetric, which are not actions; the action for PutAuditEvents is cloudtrail-data:PutAuditEvents."
    );
    let d = c.decide();
    assert_eq!(d.explanation.warnings.len(), 3);
    assert_eq!(
        d.explanation.warnings[1].warning.pattern,
        "cloudtrail:PutLog"
    );
    // The wrong prefix, and the confusable wildcard.
    c.identity[0].1 = pol(
        r#"{"Effect":"Allow","Action":"cloudtrail:PutAuditEvents","Resource":"*"}"#,
        PolicyType::Identity,
    );
    assert_eq!(
        c.hint(),
        "The identity policy 'user/alice inline policy ct' grants cloudtrail:PutAuditEvents, which is not an action; the action for PutAuditEvents is cloudtrail-data:PutAuditEvents."
    );
    c.identity[0].1 = pol(
        r#"{"Effect":"Allow","Action":"cloudtrail:PutEvent*","Resource":"*"}"#,
        PolicyType::Identity,
    );
    assert_eq!(
        c.hint(),
        "The identity policy 'user/alice inline policy ct' grants cloudtrail:PutEvent*, which covers only cloudtrail:PutEventConfiguration, cloudtrail:PutEventSelectors; the action for PutAuditEvents is cloudtrail-data:PutAuditEvents."
    );
    // Allowed requests carry no warnings and no hint.
    c.identity[0].1 = pol(
        r#"{"Effect":"Allow","Action":["cloudtrail:PutEvent","cloudtrail-data:PutAuditEvents"],"Resource":"*"}"#,
        PolicyType::Identity,
    );
    let d = c.decide();
    assert!(d.is_allowed());
    assert_eq!(d.hint(), None);
    assert!(d.explanation.warnings.is_empty());
}

#[test]
fn misspelling_hint() {
    let mut c = Case::new(alice(), "cloudtrail:GetChannel", CHAN);
    c.identity.push((
        "p",
        pol(
            r#"{"Effect":"Allow","Action":"cloudtrail:GetChanel","Resource":"*"}"#,
            PolicyType::Identity,
        ),
    ));
    assert_eq!(
        c.hint(),
        "The identity policy 'p' grants cloudtrail:GetChanel, which is not an action; the action for GetChannel is cloudtrail:GetChannel."
    );
}

#[test]
fn cross_account_hints() {
    let stranger = Principal::root("777788889999");
    let mut c = Case::new(stranger, PUT, CHAN);
    c.resource_policy = Some(("channel resource policy", channel_policy()));
    c.context = Context::new().with_cloudtrail_external_id("abc");
    assert_eq!(
        c.hint(),
        "The channel resource policy allows principal 444455556666, but the caller is in account 777788889999."
    );
    let partner = Principal::root("444455556666");
    let mut c = Case::new(partner, PUT, CHAN);
    c.resource_policy = Some(("channel resource policy", channel_policy()));
    c.context = Context::new().with_cloudtrail_external_id("abd");
    assert_eq!(
        c.hint(),
        "The channel resource policy requires cloudtrail:ExternalId 'abc'; the request's externalId was 'abd'."
    );
    c.context = Context::new();
    assert_eq!(
        c.hint(),
        "The channel resource policy requires cloudtrail:ExternalId 'abc'; the request had no externalId."
    );
    // No resource policy at all.
    c.resource_policy = None;
    assert_eq!(
        c.hint(),
        format!("{CHAN} has no resource-based policy that applies to {PUT}, so a caller from account 444455556666 cannot be allowed; its owner, account 111122223333, must add one that allows it.")
    );
    // The resource side allows, the caller's own account does not.
    let bob = Principal::user("444455556666", "/", "bob", "AIDABOB");
    let mut c = Case::new(bob, PUT, CHAN);
    c.resource_policy = Some(("channel resource policy", channel_policy()));
    c.context = Context::new().with_cloudtrail_external_id("abc");
    assert_eq!(
        c.hint(),
        format!("No policy is attached to user bob; a caller from another account needs its own account's policy to allow {PUT} too.")
    );
    let d = c.decide();
    assert_eq!(
        d.aws_access_denied_message(),
        format!("User: arn:aws:iam::444455556666:user/bob is not authorized to perform: {PUT} on resource: {CHAN} because no identity-based policy allows the {PUT} action")
    );
    // Named user of the right account, but not this one.
    let carol = Principal::user("444455556666", "/", "carol", "AIDACAROL");
    let mut c = Case::new(carol, PUT, CHAN);
    c.identity.push((
        "user/carol inline policy put",
        pol(
            &format!(r#"{{"Effect":"Allow","Action":"{PUT}","Resource":"*"}}"#),
            PolicyType::Identity,
        ),
    ));
    c.resource_policy = Some((
        "channel resource policy",
        pol(
            &format!(
                r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::444455556666:user/bob"}},"Action":"{PUT}","Resource":"*"}}"#
            ),
            PolicyType::Resource,
        ),
    ));
    assert_eq!(
        c.hint(),
        "The channel resource policy allows principal arn:aws:iam::444455556666:user/bob, not arn:aws:iam::444455556666:user/carol."
    );
    assert!(c.decide().aws_access_denied_message().ends_with(&format!(
        "because no resource-based policy allows the {PUT} action"
    )));
}

#[test]
fn identity_hints() {
    let c = Case::new(alice(), "cloudtrail:StartQuery", "*");
    assert_eq!(c.hint(), "No policy is attached to user alice.");
    let d = c.decide();
    // No "on resource:" for actions without a resource.
    assert_eq!(
        d.aws_access_denied_message(),
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: cloudtrail:StartQuery because no identity-based policy allows the cloudtrail:StartQuery action"
    );
    let mut c = Case::new(alice(), "cloudtrail:GetChannel", CHAN);
    c.identity.push((
        "p",
        pol(
            r#"{"Sid":"S","Effect":"Allow","Action":"cloudtrail:GetChannel","Resource":"arn:aws:cloudtrail:us-east-1:111122223333:channel/OTHER"}"#,
            PolicyType::Identity,
        ),
    ));
    assert_eq!(
        c.hint(),
        "Statement 'S' of the identity policy 'p' allows cloudtrail:GetChannel on a different resource (arn:aws:cloudtrail:us-east-1:111122223333:channel/OTHER)."
    );
    c.identity[0].1 = pol(
        r#"{"Effect":"Allow","Action":"cloudtrail:GetChannel","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}"#,
        PolicyType::Identity,
    );
    c.context = Context::new().with_source_ip("198.51.100.7");
    assert_eq!(
        c.hint(),
        "Statement 0 of the identity policy 'p' requires aws:SourceIp IpAddress '203.0.113.0/24'; the request's aws:SourceIp was '198.51.100.7'."
    );
    c.identity[0].1 = pol(
        r#"{"Effect":"Allow","Action":"cloudtrail:ListTrails","Resource":"*"}"#,
        PolicyType::Identity,
    );
    assert_eq!(
        c.hint(),
        "No identity policy of user alice allows cloudtrail:GetChannel."
    );
}

#[test]
fn deny_boundary_and_session_hints() {
    let mut c = Case::new(alice(), PUT, CHAN);
    c.identity.push((
        "p",
        pol(
            &format!(r#"[{{"Effect":"Allow","Action":"*","Resource":"*"}},{{"Sid":"NoPut","Effect":"Deny","Action":"{PUT}","Resource":"*"}}]"#),
            PolicyType::Identity,
        ),
    ));
    assert_eq!(
        c.hint(),
        format!("Statement 'NoPut' of the identity policy 'p' explicitly denies {PUT}; no Allow can override it.")
    );
    assert!(c
        .decide()
        .aws_access_denied_message()
        .ends_with("with an explicit deny in an identity-based policy"));
    c.identity[0].1 = pol(
        r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#,
        PolicyType::Identity,
    );
    c.boundary = Some((
        "permissions boundary arn:aws:iam::111122223333:policy/B",
        pol(
            r#"{"Effect":"Allow","Action":"cloudtrail:*","Resource":"*"}"#,
            PolicyType::Identity,
        ),
    ));
    assert_eq!(
        c.hint(),
        format!(
            "The permissions boundary arn:aws:iam::111122223333:policy/B does not allow {PUT}."
        )
    );
    assert!(c.decide().aws_access_denied_message().ends_with(&format!(
        "because no permissions boundary allows the {PUT} action"
    )));
    let session_user = Principal::assumed_role("111122223333", "/", "R", "AROAR", "s1");
    let mut c = Case::new(session_user, PUT, CHAN);
    c.identity.push((
        "role/R inline policy p",
        pol(
            r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#,
            PolicyType::Identity,
        ),
    ));
    c.session = Some(vec![(
        "inline session policy",
        pol(
            r#"{"Effect":"Allow","Action":"cloudtrail:List*","Resource":"*"}"#,
            PolicyType::Identity,
        ),
    )]);
    assert_eq!(
        c.hint(),
        format!("The inline session policy does not allow {PUT}.")
    );
    assert!(c.decide().aws_access_denied_message().ends_with(&format!(
        "because no session policy allows the {PUT} action"
    )));
    c.session.as_mut().unwrap()[0].1 = pol(
        &format!(
            r#"[{{"Effect":"Allow","Action":"*","Resource":"*"}},{{"Effect":"Deny","Action":"{PUT}","Resource":"*"}}]"#
        ),
        PolicyType::Identity,
    );
    assert!(c
        .decide()
        .aws_access_denied_message()
        .ends_with("with an explicit deny in a session policy"));
}

#[test]
fn resource_and_trust_policy_messages() {
    let mut c = Case::new(alice(), PUT, CHAN);
    c.identity.push((
        "p",
        pol(
            r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#,
            PolicyType::Identity,
        ),
    ));
    c.resource_policy = Some((
        "channel resource policy",
        pol(
            &format!(
                r#"{{"Sid":"Lock","Effect":"Deny","Principal":"*","Action":"{PUT}","Resource":"*"}}"#
            ),
            PolicyType::Resource,
        ),
    ));
    let d = c.decide();
    assert_eq!(
        d.aws_access_denied_message(),
        format!("User: arn:aws:iam::111122223333:user/alice is not authorized to perform: {PUT} on resource: {CHAN} with an explicit deny in a resource-based policy")
    );
    assert_eq!(
        d.hint().unwrap(),
        format!("Statement 'Lock' of the channel resource policy explicitly denies {PUT}; no Allow can override it.")
    );
    // Role trust policies have their own name in AWS's messages.
    let role = "arn:aws:iam::111122223333:role/R";
    let mut c = Case::new(alice(), "sts:AssumeRole", role);
    c.identity.push((
        "p",
        pol(
            r#"{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}"#,
            PolicyType::Identity,
        ),
    ));
    c.resource_policy = Some((
        "role trust policy",
        pol(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"sts:AssumeRole"}"#,
            PolicyType::Trust,
        ),
    ));
    // Same account: the identity policy alone allows AssumeRole here (the
    // iam crate decides whether a trust policy must also allow it).
    assert!(c.decide().is_allowed());
    c.identity.clear();
    let d = c.decide();
    assert_eq!(
        d.aws_access_denied_message(),
        format!("User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: {role} because no identity-based policy allows the sts:AssumeRole action")
    );
    c.principal = Principal::root("444455556666");
    let d = c.decide();
    assert_eq!(
        d.aws_access_denied_message(),
        format!("User: arn:aws:iam::444455556666:root is not authorized to perform: sts:AssumeRole on resource: {role} because no role trust policy allows the sts:AssumeRole action")
    );
    c.resource_policy = Some((
        "role trust policy",
        pol(
            r#"{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}"#,
            PolicyType::Trust,
        ),
    ));
    assert!(c
        .decide()
        .aws_access_denied_message()
        .ends_with("with an explicit deny in the role trust policy"));
}

#[test]
fn not_principal_deny_with_boundary_quirk() {
    // AWS: "The NotPrincipal element with a Deny effect will always deny any
    // IAM principal that has a permissions boundary policy attached".
    let mut c = Case::new(alice(), PUT, CHAN);
    c.identity.push((
        "p",
        pol(
            r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#,
            PolicyType::Identity,
        ),
    ));
    c.resource_policy = Some((
        "channel resource policy",
        pol(
            &format!(
                r#"{{"Sid":"OnlyAlice","Effect":"Deny","NotPrincipal":{{"AWS":["arn:aws:iam::111122223333:user/alice","111122223333"]}},"Action":"{PUT}","Resource":"*"}}"#
            ),
            PolicyType::Resource,
        ),
    ));
    assert!(c.decide().is_allowed());
    c.boundary = Some((
        "permissions boundary B",
        pol(
            r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#,
            PolicyType::Identity,
        ),
    ));
    let d = c.decide();
    assert_eq!(d.effect, Effect::ExplicitDeny);
    assert!(d.hint().unwrap().contains("permissions boundary"), "{d}");
    assert!(d.to_string().contains("NotPrincipal with Deny"), "{d}");
}

/// The hint a caller is shown never quotes another account's policy: not the
/// external id it requires, not its Sids or statement numbers, not the
/// principals or resources it names. The operator's hint still does.
#[test]
fn cross_account_caller_hints_quote_nothing_of_the_policy() {
    const SECRET: &str = "s3cr3t-ext-id-9931";
    let star = pol(
        &format!(
            r#"{{"Sid":"AnyoneWithSecret","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":"{PUT}","Resource":"{CHAN}","Condition":{{"StringEquals":{{"cloudtrail:ExternalId":"{SECRET}"}}}}}}"#
        ),
        PolicyType::Resource,
    );
    // X1: any account may send with the external id; a third account guesses.
    let third = Principal::root("777788889999");
    let mut c = Case::new(third, PUT, CHAN);
    c.resource_policy = Some(("channel resource policy", star.clone()));
    c.context = Context::new().with_cloudtrail_external_id("guess");
    let d = c.decide();
    assert_eq!(d.effect, Effect::ImplicitDeny);
    let told = d.caller_hint().unwrap();
    assert_eq!(
        told,
        "A statement of the channel's resource policy that would allow you requires a cloudtrail:ExternalId that your request does not match; ask its owner for the external id."
    );
    for secret in [
        SECRET,
        "AnyoneWithSecret",
        "Statement 0",
        "statement 0",
        "StringEquals",
    ] {
        assert!(!told.contains(secret), "{secret} in {told}");
    }
    // The operator's hint and explanation keep the value.
    assert!(d.hint().unwrap().contains(SECRET));
    assert!(d.to_string().contains(SECRET) && d.to_string().contains("AnyoneWithSecret"));
    // Without an external id.
    c.context = Context::new();
    let told = c.decide().caller_hint().unwrap();
    assert_eq!(
        told,
        "A statement of the channel's resource policy that would allow you requires a cloudtrail:ExternalId, and the request has none; pass the external id its owner gave you as externalId (--external-id in the AWS CLI)."
    );
    assert!(!told.contains(SECRET));

    // A named partner: a stranger learns neither who it is nor the Sid, and
    // cannot tell that from there being no policy at all.
    let generic = format!("The channel's owner must add a statement to its resource policy with your account id or principal ARN as Principal and {PUT} as Action.");
    let stranger = Principal::root("777788889999");
    let mut c = Case::new(stranger, PUT, CHAN);
    c.resource_policy = Some(("channel resource policy", channel_policy()));
    c.context = Context::new().with_cloudtrail_external_id("abc");
    let told = c.decide().caller_hint().unwrap();
    assert_eq!(told, generic);
    assert!(c.hint().contains("444455556666"));
    c.resource_policy = None;
    assert_eq!(c.decide().caller_hint().unwrap(), generic);
    // A statement for another resource, or with a misspelt action: the same.
    c.resource_policy = Some((
        "channel resource policy",
        pol(
            r#"{"Sid":"Other","Effect":"Allow","Principal":"*","Action":"cloudtrail:PutEvent","Resource":"*"}"#,
            PolicyType::Resource,
        ),
    ));
    let told = c.decide().caller_hint().unwrap();
    assert_eq!(told, generic);
    assert!(c.hint().contains("cloudtrail:PutEvent"), "{}", c.hint());

    // An explicit Deny: no Sid.
    let partner = Principal::root("444455556666");
    let mut c = Case::new(partner, PUT, CHAN);
    c.resource_policy = Some((
        "channel resource policy",
        pol(
            &format!(
                r#"[{{"Sid":"AllowPartner","Effect":"Allow","Principal":{{"AWS":"444455556666"}},"Action":"{PUT}","Resource":"{CHAN}"}},{{"Sid":"DenyPartner","Effect":"Deny","Principal":{{"AWS":["444455556666","arn:aws:iam::123456789012:root"]}},"Action":"{PUT}","Resource":"{CHAN}"}}]"#
            ),
            PolicyType::Resource,
        ),
    ));
    let d = c.decide();
    assert_eq!(d.effect, Effect::ExplicitDeny);
    let told = d.caller_hint().unwrap();
    assert_eq!(
        told,
        "The channel's resource policy has an explicit Deny for you, which no Allow overrides; only the channel's owner can change it."
    );
    assert!(d.hint().unwrap().contains("DenyPartner"));
    for secret in ["DenyPartner", "AllowPartner", "123456789012", "Statement 1"] {
        assert!(!told.contains(secret), "{secret} in {told}");
    }

    // Other condition keys are named, their values are not.
    let mut c = Case::new(Principal::root("444455556666"), PUT, CHAN);
    c.resource_policy = Some((
        "channel resource policy",
        pol(
            &format!(
                r#"{{"Effect":"Allow","Principal":{{"AWS":"444455556666"}},"Action":"{PUT}","Resource":"{CHAN}","Condition":{{"IpAddress":{{"aws:SourceIp":"203.0.113.0/24"}},"StringEquals":{{"CloudTrail:ExternalID":"{SECRET}"}}}}}}"#
            ),
            PolicyType::Resource,
        ),
    ));
    c.context = Context::new().with_source_ip("198.51.100.7");
    let told = c.decide().caller_hint().unwrap();
    assert!(
        told.starts_with(
            "A statement of the channel's resource policy that would allow you has a condition on "
        ),
        "{told}"
    );
    assert!(
        told.contains("aws:SourceIp") && told.contains("cloudtrail:ExternalId"),
        "{told}"
    );
    assert!(
        !told.contains("203.0.113") && !told.contains(SECRET),
        "{told}"
    );

    // The caller's own account's policies are its own to see.
    let bob = Principal::user("444455556666", "/", "bob", "AIDABOB");
    let mut c = Case::new(bob, PUT, CHAN);
    c.identity.push((
        "user/bob inline policy put",
        pol(
            r#"{"Sid":"Mine","Effect":"Allow","Action":"cloudtrail-data:PutAuditEvents","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}"#,
            PolicyType::Identity,
        ),
    ));
    c.resource_policy = Some(("channel resource policy", channel_policy()));
    c.context = Context::new()
        .with_cloudtrail_external_id("abc")
        .with_source_ip("198.51.100.7");
    let d = c.decide();
    assert_eq!(d.caller_hint(), d.hint());
    assert!(d.caller_hint().unwrap().contains("203.0.113.0/24"));
}

#[test]
fn cross_account_trust_policy_caller_hints() {
    let role = "arn:aws:iam::111122223333:role/R";
    let trust = |cond: &str, action: &str| {
        pol(
            &format!(
                r#"{{"Sid":"PartnerOnly","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::444455556666:root"}},"Action":"{action}"{cond}}}"#
            ),
            PolicyType::Trust,
        )
    };
    let partner_user = Principal::user("444455556666", "/", "app", "AIDAAPP");
    let mut c = Case::new(partner_user, "sts:AssumeRole", role);
    c.identity.push((
        "user/app inline policy assume",
        pol(
            r#"{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}"#,
            PolicyType::Identity,
        ),
    ));
    c.resource_policy = Some((
        "role trust policy",
        trust(
            r#","Condition":{"StringEquals":{"sts:ExternalId":"trust-secret-1"}}"#,
            "sts:AssumeRole",
        ),
    ));
    c.context = Context::new().with("sts:ExternalId", "nope");
    let d = c.decide();
    let told = d.caller_hint().unwrap();
    assert_eq!(
        told,
        "A statement of the role's trust policy that would allow you requires an sts:ExternalId that your request does not match; ask its owner for the external id."
    );
    assert!(d.hint().unwrap().contains("trust-secret-1"));
    // A stranger: the same sentence whether the role exists or not.
    let mut s = Case::new(
        Principal::user("777788889999", "/", "x", "AIDAX"),
        "sts:AssumeRole",
        role,
    );
    s.identity = vec![(
        "user/x inline policy assume",
        pol(
            r#"{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}"#,
            PolicyType::Identity,
        ),
    )];
    s.resource_policy = Some(("role trust policy", trust("", "sts:AssumeRole")));
    let existing = s.decide().caller_hint().unwrap();
    s.resource_policy = None;
    let missing = s.decide().caller_hint().unwrap();
    assert_eq!(existing, missing);
    assert_eq!(
        existing,
        "The role's owner must add a statement to its trust policy with your account id or principal ARN as Principal and sts:AssumeRole as Action."
    );
    // A misspelt action in the other account's trust policy is not quoted.
    s.resource_policy = Some(("role trust policy", trust("", "sts:AssumeRoles")));
    let d = s.decide();
    assert_eq!(d.caller_hint().unwrap(), existing);
    assert!(!d.caller_hint().unwrap().contains("PartnerOnly"));
}

#[test]
fn every_non_action_is_named() {
    let mut c = Case::new(alice(), PUT, CHAN);
    c.identity.push((
        "a",
        pol(
            r#"{"Effect":"Allow","Action":["cloudtrail:PutEvent","cloudtrail:PutLog*"],"Resource":"*"}"#,
            PolicyType::Identity,
        ),
    ));
    c.identity.push((
        "b",
        pol(
            r#"{"Effect":"Allow","Action":["cloudtrail:PutMetric"],"Resource":"*"}"#,
            PolicyType::Identity,
        ),
    ));
    assert_eq!(
        c.hint(),
        format!("The identity policy 'a' grants cloudtrail:PutEvent (which is not an action) and cloudtrail:PutLog* (which matches no action), and the identity policy 'b' grants cloudtrail:PutMetric, which is not an action; the action for PutAuditEvents is {PUT}.")
    );
}
