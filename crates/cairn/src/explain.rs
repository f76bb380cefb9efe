//! `cairn explain REQUEST_ID`: a denial's kept explanation, for people.

use iam::DenialRecord;
use serde_json::Value;
use std::fmt::Write;

fn text(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn statement(v: &Value) -> String {
    let sid = v["sid"]
        .as_str()
        .map(|s| format!(" (Sid \"{s}\")"))
        .unwrap_or_default();
    format!(
        "statement {}{sid} of the {}",
        text(v, "index"),
        text(v, "policy")
    )
}

/// The record as a few labelled lines and lists.
pub fn render(d: &DenialRecord) -> String {
    let mut out = String::new();
    let e = &d.explanation;
    let _ = writeln!(
        out,
        "Request {} was denied ({}) at {}.",
        d.request_id, d.effect, d.time
    );
    let _ = writeln!(
        out,
        "  caller:   {} (account {}, access key {})",
        d.caller, d.caller_account, d.access_key_id
    );
    let _ = writeln!(out, "  action:   {}", d.action);
    let _ = writeln!(
        out,
        "  resource: {} (account {})",
        d.resource, d.resource_account
    );
    let _ = writeln!(out, "  answer:   {}: {}", d.error_code, d.message);
    let _ = writeln!(out, "\nWhy: {}", d.summary);
    if let Some(h) = &d.hint {
        let _ = writeln!(out, "\nHint: {h}");
    }
    if !d.warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings (AWS accepts these policies, but):");
        for w in &d.warnings {
            let _ = writeln!(out, "  - {w}");
        }
    }
    let considered = e["considered"].as_array().cloned().unwrap_or_default();
    let _ = writeln!(out, "\nPolicies considered:");
    if considered.is_empty() {
        let _ = writeln!(out, "  (none: the caller has no policies that apply)");
    }
    for p in &considered {
        let n = p["statements"].as_u64().unwrap_or(0);
        let plural = if n == 1 { "" } else { "s" };
        let _ = writeln!(
            out,
            "  - {} ({} side, {n} statement{plural})",
            text(p, "name"),
            text(p, "side")
        );
    }
    let matched = e["matched"].as_array().cloned().unwrap_or_default();
    if !matched.is_empty() {
        let _ = writeln!(out, "\nStatements that applied:");
        for m in &matched {
            let _ = writeln!(out, "  - {} {}", text(m, "effect"), statement(m));
        }
    }
    if !e["deciding"].is_null() {
        let _ = writeln!(out, "\nDeciding statement: {}", statement(&e["deciding"]));
    }
    let missing = e["missing"].as_array().cloned().unwrap_or_default();
    if !missing.is_empty() {
        let _ = writeln!(out, "\nWhat was missing:");
        for m in &missing {
            let _ = writeln!(out, "  - {}: {}", text(m, "side"), text(m, "message"));
            for s in m["statements"].as_array().into_iter().flatten() {
                let _ = writeln!(out, "      {} {}", statement(s), text(s, "reason"));
            }
        }
    }
    for n in e["notes"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "\nNote: {}", n.as_str().unwrap_or_default());
    }
    out
}
