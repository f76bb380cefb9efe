//! CASES.md section B (IAM-01..05) and the PutAuditEvents authorization
//! scenarios the server relies on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use iam_policy::*;

const CHAN: &str =
    "arn:aws:cloudtrail:us-east-1:111122223333:channel/EXAMPLE8-0558-4f7e-a06a-43969EXAMPLE";
const OWNER: &str = "111122223333";
const PUT: &str = "cloudtrail-data:PutAuditEvents";

fn idp(stmts: &str) -> Policy {
    Policy::parse(
        &format!(r#"{{"Version":"2012-10-17","Statement":{stmts}}}"#),
        PolicyType::Identity,
    )
    .unwrap()
}

fn rp(stmts: &str) -> Policy {
    Policy::parse(
        &format!(r#"{{"Version":"2012-10-17","Statement":{stmts}}}"#),
        PolicyType::Resource,
    )
    .unwrap()
}

fn alice() -> Principal {
    Principal::user(OWNER, "/", "alice", "AIDAALICE")
}

fn decide(
    p: &Principal,
    action: &str,
    resource: &str,
    ids: &[&Policy],
    res: Option<&Policy>,
    ctx: &Context,
) -> Decision {
    let named: Vec<NamedPolicy> = ids
        .iter()
        .enumerate()
        .map(|(i, pol)| NamedPolicy {
            name: [
                "identity policy p0",
                "identity policy p1",
                "identity policy p2",
            ][i.min(2)],
            policy: pol,
        })
        .collect();
    let acct = resource
        .split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .unwrap_or(OWNER);
    let req = Request {
        principal: p,
        action,
        resource,
        resource_account: acct,
        context: ctx,
    };
    evaluate(
        &req,
        &named,
        res.map(|policy| NamedPolicy {
            name: "channel resource policy",
            policy,
        }),
    )
}

fn eff(p: &Principal, action: &str, resource: &str, ids: &[&Policy]) -> Effect {
    decide(p, action, resource, ids, None, &Context::new()).effect
}

#[test]
fn iam_01_explicit_deny_and_case_insensitive_actions() {
    let pol = idp(
        r#"[{"Effect":"Allow","Action":"cloudtrail-data:*","Resource":"*"},{"Effect":"Deny","Action":"CloudTrail-Data:putauditevents","Resource":"*"}]"#,
    );
    assert_eq!(eff(&alice(), PUT, CHAN, &[&pol]), Effect::ExplicitDeny);
    let pol2 = idp(r#"{"Effect":"Allow","Action":"CLOUDTRAIL:startquery","Resource":"*"}"#);
    assert_eq!(
        eff(&alice(), "cloudtrail:StartQuery", "*", &[&pol2]),
        Effect::Allow
    );
}

#[test]
fn iam_02_wildcards_and_case_sensitive_arns() {
    let pol = idp(
        r#"{"Effect":"Allow","Action":["cloudtrail:*Query","cloudtrail:?etChannel","cloudtrail-data:PutAuditEvents"],"Resource":["arn:aws:cloudtrail:us-east-1:111122223333:channel/EXAMPLE?-*","arn:aws:cloudtrail:*:111122223333:eventdatastore/*"]}"#,
    );
    let eds = "arn:aws:cloudtrail:eu-west-1:111122223333:eventdatastore/EXAMPLE-1";
    let a = alice();
    assert_eq!(
        eff(&a, "cloudtrail:StartQuery", eds, &[&pol]),
        Effect::Allow
    );
    assert_eq!(
        eff(&a, "cloudtrail:ListQueries", eds, &[&pol]),
        Effect::ImplicitDeny
    );
    assert_eq!(
        eff(&a, "cloudtrail:GetChannel", CHAN, &[&pol]),
        Effect::Allow
    );
    assert_eq!(eff(&a, PUT, CHAN, &[&pol]), Effect::Allow);
    let lower =
        "arn:aws:cloudtrail:us-east-1:111122223333:channel/example8-0558-4f7e-a06a-43969EXAMPLE";
    assert_eq!(eff(&a, PUT, lower, &[&pol]), Effect::ImplicitDeny);
    let short = "arn:aws:cloudtrail:us-east-1:111122223333:channel/EXAMPLE-8";
    assert_eq!(eff(&a, PUT, short, &[&pol]), Effect::ImplicitDeny);
}

#[test]
fn iam_03_not_action_with_allow() {
    let a = idp(r#"{"Effect":"Allow","NotAction":"prowler:action","Resource":"*"}"#);
    assert_eq!(eff(&alice(), "iam:CreateUser", "*", &[&a]), Effect::Allow);
    assert_eq!(eff(&alice(), PUT, CHAN, &[&a]), Effect::Allow);
    let b = idp(
        r#"[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization","account:ListRegions","account:GetAccountInformation"],"Resource":"*"}]"#,
    );
    assert_eq!(
        eff(&alice(), "iam:CreateUser", "*", &[&b]),
        Effect::ImplicitDeny
    );
    assert_eq!(eff(&alice(), "iam:ListRoles", "*", &[&b]), Effect::Allow);
    assert_eq!(
        eff(&alice(), "cloudtrail:StartQuery", "*", &[&b]),
        Effect::Allow
    );
    assert_eq!(
        eff(&alice(), "IAM:createuser", "*", &[&b]),
        Effect::ImplicitDeny
    );
    // moto's valid-policy list: odd action text is accepted.
    assert!(Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam: asdf safdsf af ","Resource":"*"}}"#, PolicyType::Identity).is_ok());
}

#[test]
fn iam_04_not_resource_with_deny() {
    let pol = idp(
        r#"[{"Effect":"Allow","Action":"cloudtrail-data:PutAuditEvents","Resource":"*"},{"Effect":"Deny","Action":"cloudtrail-data:PutAuditEvents","NotResource":"arn:aws:cloudtrail:us-east-1:111122223333:channel/EXAMPLE8-*"}]"#,
    );
    assert_eq!(eff(&alice(), PUT, CHAN, &[&pol]), Effect::Allow);
    let other = "arn:aws:cloudtrail:us-east-1:111122223333:channel/OTHER-1";
    assert_eq!(eff(&alice(), PUT, other, &[&pol]), Effect::ExplicitDeny);
    let both = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"x:y"}}"#;
    assert_eq!(
        Policy::parse(both, PolicyType::Identity)
            .unwrap_err()
            .to_string(),
        "Syntax errors in policy."
    );
}

#[test]
fn iam_05_missing_condition_keys() {
    let run = |cond: &str, resource: &str| {
        let pol = idp(&format!(
            r#"{{"Effect":"Allow","Action":"cloudtrail:StartQuery","Resource":"*","Condition":{cond}}}"#
        ));
        eff(&alice(), "cloudtrail:StartQuery", resource, &[&pol])
    };
    let eds = "arn:aws:cloudtrail:us-east-1:111122223333:eventdatastore/x";
    assert_eq!(
        run(r#"{"StringEquals":{"aws:PrincipalTag/team":"sec"}}"#, eds),
        Effect::ImplicitDeny
    );
    assert_eq!(
        run(
            r#"{"StringNotEquals":{"aws:PrincipalTag/team":"sec"}}"#,
            eds
        ),
        Effect::Allow
    );
    assert_eq!(
        run(
            r#"{"StringEqualsIfExists":{"aws:PrincipalTag/team":"sec"}}"#,
            eds
        ),
        Effect::Allow
    );
    assert_eq!(
        run(r#"{"Null":{"aws:PrincipalTag/team":"true"}}"#, eds),
        Effect::Allow
    );
    assert_eq!(
        run(r#"{"Null":{"aws:PrincipalTag/team":"false"}}"#, eds),
        Effect::ImplicitDeny
    );
    assert_eq!(
        run(
            r#"{"StringEquals":{"aws:ResourceAccount":"111122223333"}}"#,
            eds
        ),
        Effect::Allow
    );
    assert_eq!(
        run(r#"{"StringEquals":{"AWS:principaltag/Team":"sec"}}"#, eds),
        Effect::ImplicitDeny
    );
    // With the tag: key names case-insensitive, values case-sensitive.
    let tagged = alice().with_tag("team", "sec");
    let pol = idp(
        r#"{"Effect":"Allow","Action":"cloudtrail:StartQuery","Resource":"*","Condition":{"StringEquals":{"AWS:principaltag/Team":"sec"}}}"#,
    );
    assert_eq!(
        eff(&tagged, "cloudtrail:StartQuery", eds, &[&pol]),
        Effect::Allow
    );
    let pol = idp(
        r#"{"Effect":"Allow","Action":"cloudtrail:StartQuery","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"SEC"}}}"#,
    );
    assert_eq!(
        eff(&tagged, "cloudtrail:StartQuery", eds, &[&pol]),
        Effect::ImplicitDeny
    );
}

// ---- PutAuditEvents against a channel resource policy ----

const PARTNER: &str = "444455556666";

fn partner_policy() -> Policy {
    rp(&format!(
        r#"[{{"Sid":"Partner","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::777788889999:root"}},"Action":"{PUT}","Resource":"{CHAN}"}},
            {{"Sid":"WithExternalId","Effect":"Allow","Principal":{{"AWS":"{PARTNER}"}},"Action":"{PUT}","Resource":"{CHAN}","Condition":{{"StringEquals":{{"cloudtrail:ExternalId":"abc"}}}}}}]"#
    ))
}

#[test]
fn owner_root_needs_no_policy_but_resource_deny_wins() {
    let root = Principal::root(OWNER);
    let d = decide(&root, PUT, CHAN, &[], None, &Context::new());
    assert_eq!(d.effect, Effect::Allow);
    assert_eq!(d.explanation.basis, Basis::AccountRoot);
    let deny = rp(&format!(
        r#"{{"Sid":"NoOne","Effect":"Deny","Principal":"*","Action":"{PUT}","Resource":"{CHAN}"}}"#
    ));
    let d = decide(&root, PUT, CHAN, &[], Some(&deny), &Context::new());
    assert_eq!(d.effect, Effect::ExplicitDeny);
    assert_eq!(
        d.explanation.deciding.as_ref().unwrap().sid.as_deref(),
        Some("NoOne")
    );
    assert_eq!(
        d.explanation.deciding.as_ref().unwrap().side,
        Side::Resource
    );
    assert!(d
        .aws_access_denied_message()
        .ends_with("with an explicit deny in a resource-based policy"));
    // A deny naming the account applies to its root too.
    let deny_acct = rp(&format!(
        r#"{{"Sid":"NoOwner","Effect":"Deny","Principal":{{"AWS":"{OWNER}"}},"Action":"{PUT}","Resource":"{CHAN}"}}"#
    ));
    assert_eq!(
        decide(&root, PUT, CHAN, &[], Some(&deny_acct), &Context::new()).effect,
        Effect::ExplicitDeny
    );
    assert_eq!(
        decide(
            &alice(),
            PUT,
            CHAN,
            &[&idp(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#)],
            Some(&deny_acct),
            &Context::new()
        )
        .effect,
        Effect::ExplicitDeny
    );
}

#[test]
fn same_account_identity_or_resource() {
    let allow = idp(&format!(
        r#"{{"Effect":"Allow","Action":"{PUT}","Resource":"{CHAN}"}}"#
    ));
    // identity alone
    assert_eq!(
        decide(&alice(), PUT, CHAN, &[&allow], None, &Context::new()).effect,
        Effect::Allow
    );
    // nothing
    let d = decide(&alice(), PUT, CHAN, &[], None, &Context::new());
    assert_eq!(d.effect, Effect::ImplicitDeny);
    assert_eq!(
        d.aws_access_denied_message(),
        format!("User: arn:aws:iam::111122223333:user/alice is not authorized to perform: {PUT} on resource: {CHAN} because no identity-based policy allows the {PUT} action")
    );
    // resource policy naming the user directly: allowed without identity policy
    let by_user = rp(&format!(
        r#"{{"Sid":"Alice","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OWNER}:user/alice"}},"Action":"{PUT}","Resource":"{CHAN}"}}"#
    ));
    let d = decide(&alice(), PUT, CHAN, &[], Some(&by_user), &Context::new());
    assert_eq!(d.effect, Effect::Allow);
    assert_eq!(d.explanation.basis, Basis::ResourcePolicy);
    // resource policy naming only the account: delegates, identity still needed
    let by_acct = rp(&format!(
        r#"{{"Sid":"Acct","Effect":"Allow","Principal":{{"AWS":"{OWNER}"}},"Action":"{PUT}","Resource":"{CHAN}"}}"#
    ));
    let d = decide(&alice(), PUT, CHAN, &[], Some(&by_acct), &Context::new());
    assert_eq!(d.effect, Effect::ImplicitDeny);
    assert!(
        d.to_string().contains("names the account 111122223333"),
        "{d}"
    );
    assert_eq!(
        decide(
            &alice(),
            PUT,
            CHAN,
            &[&allow],
            Some(&by_acct),
            &Context::new()
        )
        .effect,
        Effect::Allow
    );
    // "*" grants same-account users directly
    let star = rp(&format!(
        r#"{{"Effect":"Allow","Principal":"*","Action":"{PUT}","Resource":"{CHAN}"}}"#
    ));
    assert_eq!(
        decide(&alice(), PUT, CHAN, &[], Some(&star), &Context::new()).effect,
        Effect::Allow
    );
}

#[test]
fn cross_account_needs_both_sides() {
    let pol = partner_policy();
    let ctx = Context::new().with("cloudtrail:ExternalId", "abc");
    // Partner root: identity side implicit.
    let proot = Principal::root(PARTNER);
    let d = decide(&proot, PUT, CHAN, &[], Some(&pol), &ctx);
    assert_eq!(d.effect, Effect::Allow, "{d}");
    assert_eq!(d.explanation.basis, Basis::CrossAccount);
    assert_eq!(
        d.explanation.deciding.as_ref().unwrap().sid.as_deref(),
        Some("WithExternalId")
    );
    // Wrong / missing external id.
    let d = decide(
        &proot,
        PUT,
        CHAN,
        &[],
        Some(&pol),
        &Context::new().with("cloudtrail:ExternalId", "xyz"),
    );
    assert_eq!(d.effect, Effect::ImplicitDeny);
    let d = decide(&proot, PUT, CHAN, &[], Some(&pol), &Context::new());
    assert_eq!(d.effect, Effect::ImplicitDeny);
    let text = d.to_string();
    assert!(
        text.contains(
            "No statement of the channel resource policy allows cloudtrail-data:PutAuditEvents"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "statement 0 (Sid \"Partner\") names principal arn:aws:iam::777788889999:root"
        ),
        "{text}"
    );
    assert!(text.contains("statement 1 (Sid \"WithExternalId\") requires cloudtrail:ExternalId StringEquals \"abc\" but the request has no cloudtrail:ExternalId"), "{text}");
    assert_eq!(d.explanation.missing[0].side, Side::Resource);
    // Partner user: needs its own identity policy too.
    let puser = Principal::user(PARTNER, "/", "bob", "AIDABOB");
    assert_eq!(
        decide(&puser, PUT, CHAN, &[], Some(&pol), &ctx).effect,
        Effect::ImplicitDeny
    );
    let own = idp(&format!(
        r#"{{"Effect":"Allow","Action":"{PUT}","Resource":"*"}}"#
    ));
    assert_eq!(
        decide(&puser, PUT, CHAN, &[&own], Some(&pol), &ctx).effect,
        Effect::Allow
    );
    // Without a resource policy, nobody from elsewhere.
    let d = decide(&proot, PUT, CHAN, &[&own], None, &ctx);
    assert_eq!(d.effect, Effect::ImplicitDeny);
    assert!(d.to_string().contains("has no resource-based policy"));
    // Another account entirely.
    let stranger = Principal::root("999999999999");
    assert_eq!(
        decide(&stranger, PUT, CHAN, &[], Some(&pol), &ctx).effect,
        Effect::ImplicitDeny
    );
}

#[test]
fn principal_forms() {
    let mk = |principal: &str| {
        rp(&format!(
            r#"{{"Sid":"S","Effect":"Allow","Principal":{principal},"Action":"{PUT}","Resource":"{CHAN}"}}"#
        ))
    };
    let own = idp(&format!(
        r#"{{"Effect":"Allow","Action":"{PUT}","Resource":"*"}}"#
    ));
    let session = Principal::assumed_role(PARTNER, "/", "Ingest", "AROAINGEST", "s1");
    let user = Principal::user(PARTNER, "/", "bob", "AIDABOB");
    let ok = |pol: &Policy, p: &Principal| {
        decide(p, PUT, CHAN, &[&own], Some(pol), &Context::new()).effect == Effect::Allow
    };
    assert!(ok(&mk(r#""*""#), &user));
    assert!(ok(&mk(r#"{"AWS":"*"}"#), &user));
    assert!(ok(&mk(r#"{"AWS":"444455556666"}"#), &user));
    assert!(ok(
        &mk(r#"{"AWS":"arn:aws:iam::444455556666:root"}"#),
        &session
    ));
    assert!(ok(
        &mk(r#"{"AWS":"arn:aws:iam::444455556666:user/bob"}"#),
        &user
    ));
    assert!(!ok(
        &mk(r#"{"AWS":"arn:aws:iam::444455556666:user/bob"}"#),
        &session
    ));
    assert!(ok(
        &mk(r#"{"AWS":"arn:aws:iam::444455556666:role/Ingest"}"#),
        &session
    ));
    assert!(ok(
        &mk(r#"{"AWS":"arn:aws:sts::444455556666:assumed-role/Ingest/s1"}"#),
        &session
    ));
    assert!(!ok(
        &mk(r#"{"AWS":"arn:aws:sts::444455556666:assumed-role/Ingest/s2"}"#),
        &session
    ));
    assert!(ok(
        &mk(r#"{"AWS":["arn:aws:iam::777788889999:root","arn:aws:iam::444455556666:root"]}"#),
        &user
    ));
    let svc = Principal::service("cloudtrail.amazonaws.com");
    assert!(ok(&mk(r#"{"Service":"cloudtrail.amazonaws.com"}"#), &svc));
    assert!(!ok(&mk(r#"{"Service":"s3.amazonaws.com"}"#), &svc));
    assert!(!ok(&mk(r#"{"AWS":"444455556666"}"#), &svc));
    // NotPrincipal with Allow: everyone except the listed chain.
    let np = rp(&format!(
        r#"{{"Effect":"Allow","NotPrincipal":{{"AWS":["arn:aws:iam::444455556666:root","arn:aws:iam::444455556666:user/bob"]}},"Action":"{PUT}","Resource":"{CHAN}"}}"#
    ));
    assert!(!ok(&np, &user));
    assert!(ok(&np, &session));
    // NotPrincipal with Deny naming only the user (not the account): the deny still applies.
    let nd = rp(&format!(
        r#"[{{"Effect":"Allow","Principal":"*","Action":"{PUT}","Resource":"{CHAN}"}},{{"Sid":"D","Effect":"Deny","NotPrincipal":{{"AWS":"arn:aws:iam::444455556666:user/bob"}},"Action":"{PUT}","Resource":"{CHAN}"}}]"#
    ));
    assert_eq!(
        decide(&user, PUT, CHAN, &[&own], Some(&nd), &Context::new()).effect,
        Effect::ExplicitDeny
    );
    let nd2 = rp(&format!(
        r#"[{{"Effect":"Allow","Principal":"*","Action":"{PUT}","Resource":"{CHAN}"}},{{"Sid":"D","Effect":"Deny","NotPrincipal":{{"AWS":["arn:aws:iam::444455556666:user/bob","444455556666"]}},"Action":"{PUT}","Resource":"{CHAN}"}}]"#
    ));
    assert_eq!(
        decide(&user, PUT, CHAN, &[&own], Some(&nd2), &Context::new()).effect,
        Effect::Allow
    );
    assert_eq!(
        decide(&session, PUT, CHAN, &[&own], Some(&nd2), &Context::new()).effect,
        Effect::ExplicitDeny
    );
}

#[test]
fn boundaries_and_session_policies() {
    let all = idp(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#);
    let only_query =
        idp(r#"{"Sid":"Q","Effect":"Allow","Action":"cloudtrail:StartQuery","Resource":"*"}"#);
    let a = alice();
    let ctx = Context::new();
    let req = Request {
        principal: &a,
        action: PUT,
        resource: CHAN,
        resource_account: OWNER,
        context: &ctx,
    };
    let ids = [NamedPolicy {
        name: "user/alice inline policy all",
        policy: &all,
    }];
    let set = PolicySet {
        identity: &ids,
        resource: None,
        permissions_boundary: Some(NamedPolicy {
            name: "boundary",
            policy: &only_query,
        }),
        session: None,
    };
    let d = evaluate_set(&req, &set);
    assert_eq!(d.effect, Effect::ImplicitDeny);
    assert_eq!(d.explanation.missing[0].side, Side::PermissionsBoundary);
    assert!(
        d.to_string()
            .contains("permissions boundary (boundary) does not allow"),
        "{d}"
    );
    let req2 = Request {
        action: "cloudtrail:StartQuery",
        ..req
    };
    assert_eq!(evaluate_set(&req2, &set).effect, Effect::Allow);
    // Resource policy naming the user directly is not limited by the boundary.
    let by_user = rp(&format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OWNER}:user/alice"}},"Action":"{PUT}","Resource":"{CHAN}"}}"#
    ));
    let set_r = PolicySet {
        resource: Some(NamedPolicy {
            name: "channel resource policy",
            policy: &by_user,
        }),
        ..set
    };
    assert_eq!(evaluate_set(&req, &set_r).effect, Effect::Allow);
    // Session policies intersect with the role's identity policies.
    let s = Principal::assumed_role(OWNER, "/", "R", "AROAR", "s");
    let req_s = Request {
        principal: &s,
        ..req
    };
    let sess = [NamedPolicy {
        name: "session policy",
        policy: &only_query,
    }];
    let set_s = PolicySet {
        identity: &ids,
        resource: None,
        permissions_boundary: None,
        session: Some(&sess),
    };
    assert_eq!(evaluate_set(&req_s, &set_s).effect, Effect::ImplicitDeny);
    assert_eq!(
        evaluate_set(
            &Request {
                action: "cloudtrail:StartQuery",
                ..req_s
            },
            &set_s
        )
        .effect,
        Effect::Allow
    );
    // Resource policy naming the role (not the session) stays limited by session policies.
    let by_role = rp(&format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OWNER}:role/R"}},"Action":"{PUT}","Resource":"{CHAN}"}}"#
    ));
    let set_sr = PolicySet {
        identity: &[],
        resource: Some(NamedPolicy {
            name: "channel resource policy",
            policy: &by_role,
        }),
        permissions_boundary: None,
        session: Some(&sess),
    };
    assert_eq!(evaluate_set(&req_s, &set_sr).effect, Effect::ImplicitDeny);
    let set_r_nosess = PolicySet {
        session: None,
        ..set_sr
    };
    assert_eq!(evaluate_set(&req_s, &set_r_nosess).effect, Effect::Allow);
}

#[test]
fn explanation_lists_matches_and_serializes() {
    let pol = idp(
        r#"[{"Sid":"A","Effect":"Allow","Action":"cloudtrail-data:*","Resource":"*"},{"Sid":"B","Effect":"Allow","Action":"cloudtrail:PutEvent","Resource":"*"}]"#,
    );
    let d = decide(&alice(), PUT, CHAN, &[&pol], None, &Context::new());
    assert_eq!(d.effect, Effect::Allow);
    assert_eq!(d.explanation.matched.len(), 1);
    assert_eq!(d.explanation.considered.len(), 1);
    assert_eq!(
        d.explanation.deciding.as_ref().unwrap().sid.as_deref(),
        Some("A")
    );
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["effect"], "Allow");
    assert_eq!(json["explanation"]["deciding"]["sid"], "A");
    // The article's non-existent actions: the explanation names them.
    let article = idp(
        r#"{"Effect":"Allow","Action":["cloudtrail:PutEvent","cloudtrail:PutLog","cloudtrail:PutMetric"],"Resource":"*"}"#,
    );
    let d = decide(&alice(), PUT, CHAN, &[&article], None, &Context::new());
    assert_eq!(d.effect, Effect::ImplicitDeny);
    let t = d.to_string();
    assert!(t.contains("does not include cloudtrail-data:PutAuditEvents in its Action (\"cloudtrail:PutEvent\", \"cloudtrail:PutLog\", \"cloudtrail:PutMetric\")"), "{t}");
}

#[test]
fn policy_variables_version_dependent() {
    let doc = |v: &str| {
        format!(
            r#"{{"Version":"{v}","Statement":{{"Effect":"Allow","Action":"cloudtrail:GetChannel","Resource":"arn:aws:cloudtrail:us-east-1:111122223333:channel/${{aws:username}}-*"}}}}"#
        )
    };
    let new = Policy::parse(&doc("2012-10-17"), PolicyType::Identity).unwrap();
    let old = Policy::parse(&doc("2008-10-17"), PolicyType::Identity).unwrap();
    let r = "arn:aws:cloudtrail:us-east-1:111122223333:channel/alice-1";
    assert_eq!(
        eff(&alice(), "cloudtrail:GetChannel", r, &[&new]),
        Effect::Allow
    );
    assert_eq!(
        eff(&alice(), "cloudtrail:GetChannel", r, &[&old]),
        Effect::ImplicitDeny
    );
    let lit = "arn:aws:cloudtrail:us-east-1:111122223333:channel/${aws:username}-1";
    assert_eq!(
        eff(&alice(), "cloudtrail:GetChannel", lit, &[&old]),
        Effect::Allow
    );
    // No username for a role session: unresolved → no match; default applies.
    let s = Principal::assumed_role(OWNER, "/", "R", "AROAR", "s");
    assert_eq!(
        eff(&s, "cloudtrail:GetChannel", r, &[&new]),
        Effect::ImplicitDeny
    );
    let dflt = idp(
        r#"{"Effect":"Allow","Action":"cloudtrail:GetChannel","Resource":"arn:aws:cloudtrail:us-east-1:111122223333:channel/${aws:username, 'alice'}-*"}"#,
    );
    assert_eq!(eff(&s, "cloudtrail:GetChannel", r, &[&dflt]), Effect::Allow);
    let tag = idp(
        r#"{"Effect":"Allow","Action":"cloudtrail:GetChannel","Resource":"arn:aws:cloudtrail:us-east-1:111122223333:channel/${aws:PrincipalTag/team}-*"}"#,
    );
    let sec = alice().with_tag("team", "sec");
    assert_eq!(
        eff(
            &sec,
            "cloudtrail:GetChannel",
            "arn:aws:cloudtrail:us-east-1:111122223333:channel/sec-1",
            &[&tag]
        ),
        Effect::Allow
    );
    assert_eq!(
        eff(&sec, "cloudtrail:GetChannel", r, &[&tag]),
        Effect::ImplicitDeny
    );
}

#[test]
fn global_keys_from_the_context_builders() {
    // Each global key the brief lists, supplied through the documented
    // builders (or derived by the engine), tested by one statement each.
    let conds = [
        r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#,
        r#"{"DateLessThan":{"aws:CurrentTime":"2024-01-16T00:00:00Z"}}"#,
        r#"{"NumericLessThan":{"aws:EpochTime":"1705400000"}}"#,
        r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
        r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/*"}}"#,
        r#"{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}"#,
        r#"{"StringEquals":{"aws:PrincipalType":"User"}}"#,
        r#"{"StringEquals":{"aws:userid":"AIDAALICE"}}"#,
        r#"{"StringEquals":{"aws:username":"alice"}}"#,
        r#"{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}"#,
        r#"{"StringEquals":{"aws:PrincipalTag/team":"sec"}}"#,
        r#"{"StringEquals":{"aws:ResourceTag/owner":"alice"}}"#,
        r#"{"StringEquals":{"aws:RequestTag/env":"prod"}}"#,
        r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}"#,
        r#"{"StringEquals":{"aws:ResourceAccount":"111122223333"}}"#,
        r#"{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#,
        r#"{"StringEquals":{"cloudtrail:ExternalId":"abc"}}"#,
        r#"{"StringEquals":{"sts:ExternalId":"xyz"}}"#,
        r#"{"DateGreaterThan":{"aws:TokenIssueTime":"2024-01-01T00:00:00Z"}}"#,
    ];
    let full = Context::new()
        .with_source_ip("2001:db8::7")
        .with_current_time(1_705_320_000)
        .with_secure_transport(true)
        .with_requested_region("us-east-1")
        .with_resource_tags([("owner", "alice")])
        .with_request_tags([("env", "prod"), ("team", "sec")])
        .with_mfa(true, None)
        .with_cloudtrail_external_id("abc")
        .with_sts_external_id("xyz")
        .with_token_issue_time(1_705_300_000);
    let who = alice().with_tag("team", "sec");
    for c in conds {
        let pol = idp(&format!(
            r#"{{"Effect":"Allow","Action":"cloudtrail:GetChannel","Resource":"*","Condition":{c}}}"#
        ));
        let d = decide(&who, "cloudtrail:GetChannel", CHAN, &[&pol], None, &full);
        assert_eq!(d.effect, Effect::Allow, "{c}: {d}");
        // Without the request's keys (the principal's stay), the positive test fails.
        let d = decide(
            &alice(),
            "cloudtrail:GetChannel",
            CHAN,
            &[&pol],
            None,
            &Context::new(),
        );
        let derived = [
            "aws:PrincipalArn",
            "aws:PrincipalAccount",
            "aws:PrincipalType",
            "aws:userid",
            "aws:username",
            "aws:ResourceAccount",
            "aws:TagKeys",
        ];
        if !derived.iter().any(|k| c.contains(k)) {
            assert_eq!(d.effect, Effect::ImplicitDeny, "{c}: {d}");
            assert!(d.hint().is_some());
        }
    }
    // The engine's principal keys cannot be forged through the context.
    let forged = Context::new().with("aws:PrincipalAccount", "444455556666");
    let pol = idp(
        r#"{"Effect":"Allow","Action":"cloudtrail:GetChannel","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":"444455556666"}}}"#,
    );
    assert_eq!(
        decide(
            &alice(),
            "cloudtrail:GetChannel",
            CHAN,
            &[&pol],
            None,
            &forged
        )
        .effect,
        Effect::ImplicitDeny
    );
}
