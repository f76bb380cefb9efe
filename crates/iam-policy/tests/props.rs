//! Property tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use iam_policy::*;
use proptest::prelude::*;
use serde_json::{json, Value};

const ACTIONS: &[&str] = &[
    "cloudtrail-data:PutAuditEvents",
    "cloudtrail:StartQuery",
    "cloudtrail:GetChannel",
    "iam:CreateUser",
];
const ACTION_PATTERNS: &[&str] = &[
    "*",
    "cloudtrail-data:*",
    "cloudtrail:*Query",
    "cloudtrail:?etChannel",
    "iam:*",
    "CLOUDTRAIL-DATA:putauditevents",
    "s3:GetObject",
];
const RESOURCES: &[&str] = &[
    "arn:aws:cloudtrail:us-east-1:111122223333:channel/abc",
    "arn:aws:cloudtrail:eu-west-1:111122223333:eventdatastore/e1",
    "arn:aws:cloudtrail:us-east-1:444455556666:channel/xyz",
];
const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "arn:aws:cloudtrail:*:111122223333:*",
    "arn:aws:cloudtrail:us-east-1:*:channel/*",
    "arn:aws:cloudtrail:*:*:eventdatastore/e?",
];
const PRINCIPALS: &[&str] = &[
    "arn:aws:iam::111122223333:root",
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::444455556666:root",
    "arn:aws:iam::444455556666:user/bob",
    "arn:aws:sts::444455556666:assumed-role/R/s",
];
const PRINCIPAL_VALUES: &[&str] = &[
    "*",
    "111122223333",
    "444455556666",
    "arn:aws:iam::444455556666:user/bob",
    "arn:aws:iam::444455556666:role/R",
];

fn cond() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(
            json!({"StringEquals": {"cloudtrail:ExternalId": "abc"}})
        )),
        Just(Some(
            json!({"StringNotEquals": {"aws:PrincipalAccount": "444455556666"}})
        )),
        Just(Some(json!({"Null": {"cloudtrail:ExternalId": "true"}}))),
    ]
}

fn stmt(with_principal: bool) -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        proptest::sample::subsequence(ACTION_PATTERNS, 1..3),
        any::<bool>(),
        proptest::sample::subsequence(RESOURCE_PATTERNS, 1..3),
        proptest::sample::subsequence(PRINCIPAL_VALUES, 1..3),
        cond(),
    )
        .prop_map(move |(allow, acts, not_action, res, princ, c)| {
            let mut s = json!({"Effect": if allow { "Allow" } else { "Deny" }, "Resource": res});
            s[if not_action { "NotAction" } else { "Action" }] = json!(acts);
            if with_principal {
                s["Principal"] = json!({"AWS": princ});
            }
            if let Some(c) = c {
                s["Condition"] = c;
            }
            s
        })
}

fn doc(stmts: &[Value]) -> Value {
    json!({"Version": "2012-10-17", "Statement": stmts})
}

#[derive(Debug)]
struct Scenario {
    identity: Vec<Value>,
    resource: Option<Vec<Value>>,
    principal: &'static str,
    action: &'static str,
    resource_arn: &'static str,
    external_id: Option<&'static str>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        proptest::collection::vec(stmt(false), 0..4),
        proptest::option::of(proptest::collection::vec(stmt(true), 1..4)),
        proptest::sample::select(PRINCIPALS),
        proptest::sample::select(ACTIONS),
        proptest::sample::select(RESOURCES),
        proptest::option::of(prop_oneof![Just("abc"), Just("xyz")]),
    )
        .prop_map(
            |(identity, resource, principal, action, resource_arn, external_id)| Scenario {
                identity,
                resource,
                principal,
                action,
                resource_arn,
                external_id,
            },
        )
}

fn run(s: &Scenario, extra_identity: Option<Value>, extra_resource: Option<Value>) -> Decision {
    let mut ids = s.identity.clone();
    if let Some(x) = extra_identity {
        ids.push(x);
    }
    let idp: Vec<Policy> = if ids.is_empty() {
        vec![]
    } else {
        vec![Policy::from_value(&doc(&ids), PolicyType::Identity).unwrap()]
    };
    let mut rs = s.resource.clone();
    if let Some(x) = extra_resource {
        rs.get_or_insert_with(Vec::new).push(x);
    }
    let rp = rs.map(|r| Policy::from_value(&doc(&r), PolicyType::Resource).unwrap());
    let p = Principal::from_arn(s.principal).unwrap();
    let ctx = match s.external_id {
        Some(e) => Context::new().with("cloudtrail:ExternalId", e),
        None => Context::new(),
    };
    let account = s.resource_arn.split(':').nth(4).unwrap();
    let req = Request {
        principal: &p,
        action: s.action,
        resource: s.resource_arn,
        resource_account: account,
        context: &ctx,
    };
    let named: Vec<NamedPolicy> = idp
        .iter()
        .map(|policy| NamedPolicy {
            name: "identity",
            policy,
        })
        .collect();
    evaluate(
        &req,
        &named,
        rp.as_ref().map(|policy| NamedPolicy {
            name: "resource",
            policy,
        }),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn adding_matching_deny_never_allows(s in scenario()) {
        let before = run(&s, None, None);
        let deny = json!({"Effect": "Deny", "Action": s.action, "Resource": "*"});
        let after = run(&s, Some(deny), None);
        prop_assert_eq!(after.effect, Effect::ExplicitDeny);
        let _ = before;
    }

    #[test]
    fn adding_any_deny_never_turns_deny_into_allow(s in scenario(), d in stmt(false)) {
        let before = run(&s, None, None);
        let mut d = d;
        d["Effect"] = json!("Deny");
        let after = run(&s, Some(d), None);
        if before.effect != Effect::Allow {
            prop_assert_ne!(after.effect, Effect::Allow);
        }
    }

    #[test]
    fn adding_an_allow_never_turns_allow_into_deny(s in scenario(), a in stmt(false), r in stmt(true)) {
        let before = run(&s, None, None);
        let mut a = a;
        a["Effect"] = json!("Allow");
        let mut r = r;
        r["Effect"] = json!("Allow");
        if before.effect == Effect::Allow {
            prop_assert_eq!(run(&s, Some(a), None).effect, Effect::Allow);
            prop_assert_eq!(run(&s, None, Some(r)).effect, Effect::Allow);
        }
    }

    #[test]
    fn star_allows_same_account(user in "[a-z]{1,12}", action in proptest::sample::select(ACTIONS)) {
        let p = Principal::user("111122223333", "/", &user, "AIDA");
        let pol = Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#, PolicyType::Identity).unwrap();
        let ctx = Context::new();
        let req = Request { principal: &p, action, resource: RESOURCES[0], resource_account: "111122223333", context: &ctx };
        let d = evaluate(&req, &[NamedPolicy { name: "all", policy: &pol }], None);
        prop_assert_eq!(d.effect, Effect::Allow);
    }

    #[test]
    fn decisions_explain_themselves(s in scenario()) {
        let d = run(&s, None, None);
        match d.effect {
            Effect::ExplicitDeny => prop_assert!(d.explanation.deciding.is_some()),
            Effect::ImplicitDeny => prop_assert!(!d.explanation.missing.is_empty()),
            Effect::Allow => prop_assert!(d.explanation.deciding.is_some() || d.explanation.basis == Basis::AccountRoot),
        }
        prop_assert!(!d.to_string().is_empty());
        prop_assert!(serde_json::to_string(&d).is_ok());
    }

    #[test]
    fn parse_never_panics_on_text(text in ".{0,200}") {
        let _ = Policy::parse(&text, PolicyType::Identity);
        let _ = Policy::parse(&text, PolicyType::Resource);
    }

    #[test]
    fn parse_never_panics_on_json(v in arb_json()) {
        for ty in [PolicyType::Identity, PolicyType::Resource, PolicyType::Trust] {
            let _ = Policy::from_value(&v, ty);
            let wrapped = json!({"Version": "2012-10-17", "Statement": v.clone()});
            if let Ok(p) = Policy::from_value(&wrapped, ty) {
                // Evaluating anything that parses never panics either.
                let pr = Principal::root("111122223333");
                let ctx = Context::new().with("k:x", "v");
                let req = Request { principal: &pr, action: "a:b", resource: "arn:aws:s3:::b", resource_account: "111122223333", context: &ctx };
                let np = [NamedPolicy { name: "p", policy: &p }];
                let _ = evaluate(&req, &np, None).to_string();
            }
        }
    }

    #[test]
    fn condition_values_never_panic(op in proptest::sample::select(&["StringLike", "NumericLessThan", "DateGreaterThan", "IpAddress", "ArnLike", "Bool", "BinaryEquals", "ForAllValues:StringEquals", "ForAnyValue:NumericEqualsIfExists"][..]), pv in ".{0,30}", cv in ".{0,30}") {
        let stmt = json!({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {op: {"k:x": pv}}});
        if let Ok(p) = Policy::from_value(&doc(&[stmt]), PolicyType::Identity) {
            let pr = Principal::user("111122223333", "/", "u", "AIDA");
            let ctx = Context::new().with("k:x", cv);
            let req = Request { principal: &pr, action: "a:b", resource: "*", resource_account: "111122223333", context: &ctx };
            let _ = evaluate(&req, &[NamedPolicy { name: "p", policy: &p }], None);
        }
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let keys = prop_oneof![
        Just("Effect".to_string()),
        Just("Action".to_string()),
        Just("NotAction".to_string()),
        Just("Resource".to_string()),
        Just("NotResource".to_string()),
        Just("Principal".to_string()),
        Just("NotPrincipal".to_string()),
        Just("Condition".to_string()),
        Just("Sid".to_string()),
        Just("AWS".to_string()),
        Just("StringEquals".to_string()),
        Just("DateLessThan".to_string()),
        "[a-zA-Z:]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop_oneof![
            Just("Allow".to_string()),
            Just("Deny".to_string()),
            Just("*".to_string()),
            Just("a:b".to_string()),
            Just("arn:aws:iam::111122223333:root".to_string()),
            ".{0,10}"
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(keys.clone(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

// ---------------------------------------------------------------------------
// Full policy sets: identity, resource, permissions boundary, session
// policies, a richer set of principals and request contexts.

const SET_PRINCIPALS: &[&str] = &[
    "arn:aws:iam::111122223333:root",
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:sts::111122223333:assumed-role/R/s",
    "arn:aws:sts::111122223333:federated-user/carol",
    "arn:aws:iam::444455556666:user/bob",
    "arn:aws:sts::444455556666:assumed-role/R/s",
    "cloudtrail.amazonaws.com",
    "*",
];
const SET_PRINCIPAL_VALUES: &[&str] = &[
    "*",
    "111122223333",
    "444455556666",
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::111122223333:role/R",
    "arn:aws:sts::111122223333:assumed-role/R/s",
    "arn:aws:iam::444455556666:role/R",
];

fn rich_cond() -> impl Strategy<Value = Option<Value>> {
    let op = proptest::sample::select(
        &[
            "StringEquals",
            "StringNotEquals",
            "StringLike",
            "StringEqualsIfExists",
            "ForAnyValue:StringEquals",
            "ForAllValues:StringEquals",
            "ForAnyValue:StringNotEquals",
            "IpAddress",
            "NotIpAddress",
            "NumericLessThan",
            "Bool",
            "ArnLike",
            "Null",
        ][..],
    );
    let key = proptest::sample::select(
        &[
            "cloudtrail:ExternalId",
            "aws:TagKeys",
            "aws:SourceIp",
            "aws:PrincipalArn",
            "aws:PrincipalTag/team",
            "aws:SecureTransport",
            "k:n",
        ][..],
    );
    let val = proptest::sample::select(
        &[
            "abc",
            "sec",
            "203.0.113.0/24",
            "2001:db8::/32",
            "10",
            "true",
            "false",
            "arn:aws:iam::*:user/*",
            "${aws:username}",
            "${aws:PrincipalTag/team}",
        ][..],
    );
    proptest::option::of((op, key, proptest::collection::vec(val, 1..3)).prop_map(
        |(op, key, vals)| {
            let vals: Vec<&str> = if op == "Null" {
                vec![if vals[0].len() % 2 == 0 {
                    "true"
                } else {
                    "false"
                }]
            } else {
                vals
            };
            json!({op: {key: vals}})
        },
    ))
}

fn rich_stmt(with_principal: bool) -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        proptest::sample::subsequence(ACTION_PATTERNS, 1..3),
        any::<bool>(),
        proptest::sample::subsequence(RESOURCE_PATTERNS, 1..3),
        any::<bool>(),
        proptest::sample::subsequence(SET_PRINCIPAL_VALUES, 1..3),
        any::<bool>(),
        rich_cond(),
    )
        .prop_map(
            move |(allow, acts, not_action, res, not_resource, princ, not_principal, c)| {
                let mut s = json!({"Effect": if allow { "Allow" } else { "Deny" }});
                s[if not_action { "NotAction" } else { "Action" }] = json!(acts);
                s[if not_resource {
                    "NotResource"
                } else {
                    "Resource"
                }] = json!(res);
                if with_principal {
                    // NotPrincipal only with Deny (with Allow it is legal but
                    // rarely meant; keep both forms covered anyway).
                    let key = if not_principal {
                        "NotPrincipal"
                    } else {
                        "Principal"
                    };
                    s[key] = json!({ "AWS": princ });
                }
                if let Some(c) = c {
                    s["Condition"] = c;
                }
                s
            },
        )
}

#[derive(Debug, Clone)]
struct SetScenario {
    identity: Vec<Vec<Value>>,
    resource: Option<Vec<Value>>,
    boundary: Option<Vec<Value>>,
    session: Option<Vec<Value>>,
    principal: &'static str,
    tagged: bool,
    action: &'static str,
    resource_arn: &'static str,
    context: Vec<(&'static str, Vec<&'static str>)>,
}

fn context_entries() -> impl Strategy<Value = Vec<(&'static str, Vec<&'static str>)>> {
    let entry = prop_oneof![
        proptest::sample::select(&["abc", "xyz"][..])
            .prop_map(|v| ("cloudtrail:ExternalId", vec![v])),
        proptest::collection::vec(proptest::sample::select(&["env", "team", ""][..]), 0..3)
            .prop_map(|v| ("aws:TagKeys", v)),
        proptest::sample::select(&["203.0.113.9", "198.51.100.1", "2001:db8::1"][..])
            .prop_map(|v| ("aws:SourceIp", vec![v])),
        proptest::sample::select(&["true", "false"][..])
            .prop_map(|v| ("aws:SecureTransport", vec![v])),
        proptest::sample::select(&["5", "50", "x"][..]).prop_map(|v| ("k:n", vec![v])),
    ];
    proptest::collection::vec(entry, 0..4)
}

fn set_scenario() -> impl Strategy<Value = SetScenario> {
    (
        proptest::collection::vec(proptest::collection::vec(rich_stmt(false), 1..3), 0..3),
        proptest::option::of(proptest::collection::vec(rich_stmt(true), 1..3)),
        proptest::option::of(proptest::collection::vec(rich_stmt(false), 1..3)),
        proptest::option::of(proptest::collection::vec(rich_stmt(false), 1..3)),
        proptest::sample::select(SET_PRINCIPALS),
        any::<bool>(),
        proptest::sample::select(ACTIONS),
        proptest::sample::select(RESOURCES),
        context_entries(),
    )
        .prop_map(
            |(
                identity,
                resource,
                boundary,
                session,
                principal,
                tagged,
                action,
                resource_arn,
                context,
            )| {
                SetScenario {
                    identity,
                    resource,
                    boundary,
                    session,
                    principal,
                    tagged,
                    action,
                    resource_arn,
                    context,
                }
            },
        )
}

fn run_set(s: &SetScenario) -> Decision {
    let ids: Vec<Policy> = s
        .identity
        .iter()
        .map(|st| Policy::from_value(&doc(st), PolicyType::Identity).unwrap())
        .collect();
    let rp = s
        .resource
        .as_ref()
        .map(|st| Policy::from_value(&doc(st), PolicyType::Resource).unwrap());
    let bp = s
        .boundary
        .as_ref()
        .map(|st| Policy::from_value(&doc(st), PolicyType::Identity).unwrap());
    let sp = s
        .session
        .as_ref()
        .map(|st| Policy::from_value(&doc(st), PolicyType::Identity).unwrap());
    let mut p = Principal::from_arn(s.principal).unwrap();
    if s.tagged {
        p = p.with_tag("team", "sec");
    }
    let mut ctx = Context::new();
    for (k, v) in &s.context {
        ctx = ctx.with_values(k, v.iter().copied());
    }
    let account = s.resource_arn.split(':').nth(4).unwrap();
    let req = Request {
        principal: &p,
        action: s.action,
        resource: s.resource_arn,
        resource_account: account,
        context: &ctx,
    };
    let named: Vec<NamedPolicy> = ids
        .iter()
        .map(|policy| NamedPolicy {
            name: "identity",
            policy,
        })
        .collect();
    let session: Option<Vec<NamedPolicy>> = sp.as_ref().map(|policy| {
        vec![NamedPolicy {
            name: "session",
            policy,
        }]
    });
    evaluate_set(
        &req,
        &PolicySet {
            identity: &named,
            resource: rp.as_ref().map(|policy| NamedPolicy {
                name: "resource",
                policy,
            }),
            permissions_boundary: bp.as_ref().map(|policy| NamedPolicy {
                name: "boundary",
                policy,
            }),
            session: session.as_deref(),
        },
    )
}

/// Flip the ASCII case of every other letter.
fn flip_case(s: &str) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn a_deny_anywhere_never_turns_a_deny_into_an_allow(
        s in set_scenario(),
        d in rich_stmt(false),
        dr in rich_stmt(true),
        which in 0usize..4,
    ) {
        let before = run_set(&s);
        let mut d = d;
        d["Effect"] = json!("Deny");
        let mut dr = dr;
        dr["Effect"] = json!("Deny");
        let mut after = s.clone();
        match which {
            0 => after.identity.push(vec![d]),
            1 => after.resource.get_or_insert_with(Vec::new).push(dr),
            2 => match &mut after.boundary { Some(b) => b.push(d), None => after.identity.push(vec![d]) },
            _ => match &mut after.session { Some(x) => x.push(d), None => after.identity.push(vec![d]) },
        }
        let after = run_set(&after);
        if before.effect != Effect::Allow {
            prop_assert_ne!(after.effect, Effect::Allow, "{}", after);
        }
        if before.effect == Effect::ExplicitDeny {
            prop_assert_eq!(after.effect, Effect::ExplicitDeny);
        }
    }

    #[test]
    fn an_allow_anywhere_never_turns_an_allow_into_a_deny(
        s in set_scenario(),
        a in rich_stmt(false),
        ar in rich_stmt(true),
        which in 0usize..4,
    ) {
        let before = run_set(&s);
        let mut a = a;
        a["Effect"] = json!("Allow");
        let mut ar = ar;
        ar["Effect"] = json!("Allow");
        let mut after = s.clone();
        match which {
            0 => after.identity.push(vec![a]),
            1 => match &mut after.resource { Some(r) => r.push(ar), None => after.identity.push(vec![a]) },
            2 => match &mut after.boundary { Some(b) => b.push(a), None => after.identity.push(vec![a]) },
            _ => match &mut after.session { Some(x) => x.push(a), None => after.identity.push(vec![a]) },
        }
        if before.effect == Effect::Allow {
            let after = run_set(&after);
            prop_assert_eq!(after.effect, Effect::Allow, "{}", after);
        }
    }

    #[test]
    fn removing_a_deny_statement_never_turns_an_allow_into_a_deny(s in set_scenario()) {
        let before = run_set(&s);
        let mut after = s.clone();
        for p in after.identity.iter_mut() {
            p.retain(|st| st["Effect"] != "Deny");
        }
        after.identity.retain(|p| !p.is_empty());
        if before.effect == Effect::Allow {
            prop_assert_eq!(run_set(&after).effect, Effect::Allow);
        }
    }

    #[test]
    fn boundaries_and_session_policies_only_narrow(s in set_scenario()) {
        // Dropping the boundary or the session policies never turns an allow
        // into a deny (they intersect, they never grant).
        let with = run_set(&s);
        let without = run_set(&SetScenario { boundary: None, session: None, ..s.clone() });
        if with.effect == Effect::Allow {
            prop_assert_eq!(without.effect, Effect::Allow, "{}", without);
        }
    }

    #[test]
    fn action_and_key_case_do_not_matter(s in set_scenario()) {
        let a = run_set(&s);
        let action: &'static str = Box::leak(flip_case(s.action).into_boxed_str());
        let context: Vec<(&'static str, Vec<&'static str>)> = s
            .context
            .iter()
            .map(|(k, v)| (&*Box::leak(flip_case(k).into_boxed_str()), v.clone()))
            .collect();
        let b = run_set(&SetScenario { action, context, ..s.clone() });
        prop_assert_eq!(a.effect, b.effect);
    }

    #[test]
    fn every_denial_is_explained_and_hinted(s in set_scenario()) {
        let d = run_set(&s);
        match d.effect {
            Effect::ExplicitDeny => prop_assert!(d.explanation.deciding.is_some()),
            Effect::ImplicitDeny => prop_assert!(!d.explanation.missing.is_empty()),
            Effect::Allow => prop_assert!(d.hint().is_none()),
        }
        if d.effect != Effect::Allow {
            prop_assert!(d.hint().is_some_and(|h| !h.is_empty()), "{}", d);
            let m = d.aws_access_denied_message();
            prop_assert!(m.starts_with("User: "), "{}", m);
            prop_assert!(m.contains("with an explicit deny in ") || m.contains("because no "), "{}", m);
        }
        prop_assert!(serde_json::to_string(&d).is_ok());
    }

    /// What a caller from another account is told quotes nothing of the
    /// resource's policy (which belongs to the resource's account): none of
    /// its Sids, condition values, principals or resources that the caller
    /// could not know otherwise.
    #[test]
    fn caller_hints_never_quote_another_accounts_policy(s in set_scenario()) {
        let mut s = s;
        if let Some(rs) = s.resource.as_mut() {
            for (i, st) in rs.iter_mut().enumerate() {
                st["Sid"] = json!(format!("ResourceSid{i}"));
            }
        }
        let d = run_set(&s);
        if d.effect == Effect::Allow || d.explanation.same_account {
            return Ok(());
        }
        let told = d.caller_hint().unwrap_or_default();
        prop_assert!(!told.contains("ResourceSid"), "{}", told);
        // What the caller knows anyway: its own policies, request and identity.
        let mut known = serde_json::to_string(&(&s.identity, &s.boundary, &s.session)).unwrap();
        known.push_str(&format!("{} {} {} {:?}", s.principal, s.action, s.resource_arn, s.context));
        // A role session's aws:PrincipalArn is its role's ARN, which it knows too.
        if let Some((account, rest)) = s.principal.strip_prefix("arn:aws:sts::").and_then(|r| r.split_once(":assumed-role/")) {
            let role = rest.rsplit_once('/').map_or(rest, |(role, _)| role);
            known.push_str(&format!(" arn:aws:iam::{account}:role/{role}"));
        }
        let mut secrets: Vec<String> = Vec::new();
        for st in s.resource.iter().flatten() {
            for (op, kv) in st["Condition"].as_object().into_iter().flatten() {
                secrets.push(op.clone());
                for (_, vals) in kv.as_object().into_iter().flatten() {
                    secrets.extend(vals.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)));
                }
            }
            for key in ["Principal", "NotPrincipal"] {
                secrets.extend(st[key]["AWS"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)));
            }
            for key in ["Resource", "NotResource", "Action", "NotAction"] {
                secrets.extend(st[key].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)));
            }
        }
        for secret in secrets {
            if secret.len() < 3 || secret == "true" || secret == "false" || known.contains(&secret) {
                continue;
            }
            prop_assert!(!told.contains(&secret), "{:?} in {:?}", secret, told);
        }
        // Nor the statement numbers of that policy.
        let resource_side = d.explanation.missing.first().is_some_and(|m| m.side == Side::Resource)
            || d.explanation.deciding.as_ref().is_some_and(|r| r.side == Side::Resource);
        if resource_side {
            let numbered = told
                .match_indices("tatement ")
                .any(|(i, m)| told[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()));
            prop_assert!(!numbered, "{}", told);
        }
    }

    #[test]
    fn documents_round_trip(s in set_scenario()) {
        for (st, ty) in s
            .identity
            .iter()
            .map(|p| (p, PolicyType::Identity))
            .chain(s.resource.iter().map(|p| (p, PolicyType::Resource)))
        {
            let p = Policy::from_value(&doc(st), ty).unwrap();
            let again = Policy::from_value(&p.to_document(), ty).unwrap();
            prop_assert_eq!(&again, &p);
            prop_assert_eq!(again.to_document(), p.to_document());
        }
    }

    #[test]
    fn parsed_arbitrary_documents_round_trip(v in arb_json()) {
        for ty in [PolicyType::Identity, PolicyType::Resource, PolicyType::Trust] {
            let wrapped = json!({"Version": "2012-10-17", "Statement": v.clone()});
            if let Ok(p) = Policy::from_value(&wrapped, ty) {
                let again = Policy::from_value(&p.to_document(), ty);
                prop_assert_eq!(again.as_ref(), Ok(&p));
            }
        }
    }

    #[test]
    fn warnings_never_invalidate_a_policy(name in "[A-Za-z*?]{0,24}", prefix in proptest::sample::select(&["cloudtrail", "cloudtrail-data", "iam", "sts", "s3", "CloudTrail"][..])) {
        let action = format!("{prefix}:{name}");
        let stmt = json!({"Effect": "Allow", "Action": [action.clone()], "Resource": "*"});
        let p = Policy::from_value(&doc(&[stmt]), PolicyType::Identity).unwrap();
        let w = p.warnings();
        prop_assert!(w.len() <= 1);
        let known = iam_policy::catalog::is_known_action(&action);
        if !name.contains(['*', '?']) {
            // Exactly the unknown actions of catalogued services are flagged.
            prop_assert_eq!(w.iter().any(|x| x.kind == WarningKind::UnknownAction), known == Some(false));
        }
        if prefix == "s3" {
            prop_assert!(w.is_empty());
        }
        for x in &w {
            prop_assert!(!x.message.is_empty());
            prop_assert_eq!(&x.pattern, &action);
        }
    }

    #[test]
    fn evaluation_never_panics_on_arbitrary_contexts(
        s in set_scenario(),
        keys in proptest::collection::vec(("[a-zA-Z:/${}*?]{1,20}", proptest::collection::vec(".{0,12}", 0..3)), 0..6),
    ) {
        let mut s = s;
        let leaked: Vec<(&'static str, Vec<&'static str>)> = keys
            .into_iter()
            .map(|(k, v)| {
                (
                    &*Box::leak(k.into_boxed_str()),
                    v.into_iter().map(|x| &*Box::leak(x.into_boxed_str())).collect(),
                )
            })
            .collect();
        s.context.extend(leaked);
        let d = run_set(&s);
        let _ = d.to_string();
        let _ = d.hint();
        let _ = d.aws_access_denied_message();
    }
}
