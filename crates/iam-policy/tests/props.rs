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
