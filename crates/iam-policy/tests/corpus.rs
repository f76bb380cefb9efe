//! Table-driven decision corpus (`tests/corpus.json`): each case gives the
//! policies (`identity`: a list of policies; `resource_policy`, `boundary`,
//! `session`), the request (`principal` ARN or `{arn, tags}`, `action`,
//! `resource`, optional `resource_account`, `context`), the expected effect
//! and optionally the deciding Sid and the exact hint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use iam_policy::*;
use serde_json::Value;

fn policy(v: &Value, ty: PolicyType) -> Policy {
    // A bare list of statements is wrapped in a 2012-10-17 document.
    let doc = if v.is_array() {
        serde_json::json!({"Version": "2012-10-17", "Statement": v})
    } else {
        v.clone()
    };
    Policy::from_value(&doc, ty).unwrap_or_else(|e| panic!("{}: {doc}", e.detailed()))
}

fn principal(v: &Value) -> Principal {
    match v {
        Value::String(s) => Principal::from_arn(s).unwrap(),
        Value::Object(m) => {
            let mut p = Principal::from_arn(m["arn"].as_str().unwrap()).unwrap();
            if let Some(tags) = m.get("tags").and_then(Value::as_object) {
                for (k, val) in tags {
                    p = p.with_tag(k, val.as_str().unwrap());
                }
            }
            p
        }
        _ => panic!("bad principal {v}"),
    }
}

#[test]
fn corpus() {
    let cases: Vec<Value> = serde_json::from_str(include_str!("corpus.json")).unwrap();
    assert!(cases.len() >= 200, "{} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let p = principal(&c["principal"]);
        let resource = c["resource"].as_str().unwrap();
        let account = c
            .get("resource_account")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| resource.split(':').nth(4).unwrap_or("").to_string());
        let mut ctx = Context::new();
        if let Some(m) = c.get("context").and_then(Value::as_object) {
            for (k, v) in m {
                ctx = match v {
                    Value::Array(a) => {
                        ctx.with_values(k, a.iter().map(|x| x.as_str().unwrap().to_string()))
                    }
                    other => ctx.with(k, other.as_str().unwrap()),
                };
            }
        }
        let ids: Vec<Policy> = c
            .get("identity")
            .and_then(Value::as_array)
            .map_or(Vec::new(), |a| {
                a.iter().map(|v| policy(v, PolicyType::Identity)).collect()
            });
        let names: Vec<String> = (0..ids.len())
            .map(|i| format!("identity policy {i}"))
            .collect();
        let named: Vec<NamedPolicy> = ids
            .iter()
            .zip(&names)
            .map(|(policy, name)| NamedPolicy { name, policy })
            .collect();
        let rp = c
            .get("resource_policy")
            .map(|v| policy(v, PolicyType::Resource));
        let boundary = c.get("boundary").map(|v| policy(v, PolicyType::Identity));
        let session: Option<Vec<Policy>> = c
            .get("session")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|v| policy(v, PolicyType::Identity)).collect());
        let session_named: Option<Vec<NamedPolicy>> = session.as_ref().map(|s| {
            s.iter()
                .map(|policy| NamedPolicy {
                    name: "session policy",
                    policy,
                })
                .collect()
        });
        let req = Request {
            principal: &p,
            action: c["action"].as_str().unwrap(),
            resource,
            resource_account: &account,
            context: &ctx,
        };
        let set = PolicySet {
            identity: &named,
            resource: rp.as_ref().map(|policy| NamedPolicy {
                name: "resource policy",
                policy,
            }),
            permissions_boundary: boundary.as_ref().map(|policy| NamedPolicy {
                name: "boundary",
                policy,
            }),
            session: session_named.as_deref(),
        };
        let d = evaluate_set(&req, &set);
        let want = c["expect"].as_str().unwrap();
        let got = format!("{:?}", d.effect);
        if got != want {
            failures.push(format!("{name}: expected {want}, got {got}: {d}"));
            continue;
        }
        if let Some(sid) = c.get("deciding_sid").and_then(Value::as_str) {
            let got_sid = d
                .explanation
                .deciding
                .as_ref()
                .and_then(|s| s.sid.as_deref());
            if got_sid != Some(sid) {
                failures.push(format!(
                    "{name}: expected deciding Sid {sid}, got {got_sid:?}: {d}"
                ));
            }
        }
        if std::env::var_os("CORPUS_PRINT").is_some() {
            println!(
                "{name}: {:?}\n    {}\n    hint: {:?}",
                d.effect,
                d.aws_access_denied_message(),
                d.hint()
            );
        }
        if let Some(want) = c.get("hint").and_then(Value::as_str) {
            let got = d.hint();
            if got.as_deref() != Some(want) {
                failures.push(format!("{name}: expected hint {want:?}, got {got:?}"));
            }
        }
        if d.effect != Effect::Allow && d.hint().is_none() {
            failures.push(format!("{name}: a denial without a hint: {d}"));
        }
        if d.effect == Effect::ImplicitDeny && d.explanation.missing.is_empty() {
            failures.push(format!(
                "{name}: implicit deny without a missing-side explanation: {d}"
            ));
        }
        // Simple evaluation must agree when there are no boundaries/session policies.
        if boundary.is_none() && session.is_none() {
            let simple = evaluate(&req, &named, set.resource);
            assert_eq!(simple, d, "{name}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
