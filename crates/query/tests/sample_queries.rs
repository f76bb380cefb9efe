//! Golden test: every query of `../shared/spec/sample-queries.sql` (the AWS
//! sample library) runs unmodified but for its table placeholder, over a
//! fixed dataset, and must give exactly the rows in
//! `tests/golden/sample-queries.txt` (compared as multisets: several
//! samples order by counts that tie). The samples that are broken as
//! published must fail as invalid statements.
//!
//! The dataset: every CloudTrail record of `../shared/cases/data` (real
//! trail files, 2013–2025), `tests/golden/supplement.json` (records placed in
//! the time windows the samples name, which the real data does not cover),
//! and GitHub audit-log integration events shaped as the aws-samples
//! GitHub transform sends them.
//!
//! After a deliberate change, `CAIRN_BLESS=1 cargo test -p query --test
//! sample_queries` rewrites the golden file; review its diff.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use query::{Layout, QueryError, Table};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/spec/sample-queries.sql"
);
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/cases/data");
const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/sample-queries.txt"
);
const SUPPLEMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/supplement.json");

const ALL: &str = "0a0a0a0a-0000-4000-8000-00000000000a";
const SUPPLEMENT_ONLY: &str = "0b0b0b0b-0000-4000-8000-00000000000b";
const OTEL: &str = "0c0c0c0c-0000-4000-8000-00000000000c";
const GITHUB: &str = "0d0d0d0d-0000-4000-8000-00000000000d";

/// The placeholders the samples use for their table, and the store each means here.
const PLACEHOLDERS: [(&str, &str); 10] = [
    ("{{replace with your data store id}}", GITHUB),
    ("<event_data_store_id>", ALL),
    ("event_data_store_ID", ALL),
    ("<EDS ID>", ALL),
    ("$EDS_ID", ALL),
    ("eds-ID", ALL),
    ("EDS1", ALL),
    ("eds1", ALL),
    ("EDS2", SUPPLEMENT_ONLY),
    ("eds2", SUPPLEMENT_ONLY),
];

fn samples() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(SAMPLES).expect("the sample queries");
    let mut out = Vec::new();
    for part in text.split("-- ===== ").skip(1) {
        let name = part.split_whitespace().next().unwrap().to_string();
        let body = part.split_once('\n').map(|(_, b)| b).unwrap_or_default();
        let mut sql = body.trim().to_string();
        for (placeholder, id) in PLACEHOLDERS {
            sql = sql.replace(placeholder, id);
        }
        sql = sql.replace("EDS3", OTEL);
        out.push((name, sql));
    }
    out
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.to_string_lossy().ends_with(".json")
            || p.to_string_lossy().ends_with(".json.gz")
        {
            out.push(p);
        }
    }
}

fn records(path: &Path) -> Vec<Value> {
    // Two of the public files are malformed on purpose (parser tests); they hold no usable records.
    trail_convert::read_records(path).unwrap_or_default()
}

fn github_events() -> Vec<Value> {
    let mut out = Vec::new();
    let mut add = |n: usize, name: &str, actor: &str, repo: &str, params: Value, time: &str| {
        for i in 0..n {
            let uid = format!("gh-{name}-{actor}-{i}");
            let time = time.replace("MM", &format!("{:02}", i % 60));
            out.push(json!({
                "eventVersion": "1.0", "eventCategory": "ActivityAuditLog", "eventType": "ActivityLog",
                "eventID": format!("0e{:06}-0000-4000-8000-{:012}", out_len(name, actor), i),
                "eventTime": time, "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
                "metadata": {"ingestionTime": time,
                    "channelARN": "arn:aws:cloudtrail:us-east-1:111122223333:channel/github"},
                "eventData": {"version": "0",
                    "userIdentity": {"type": "user", "principalId": actor,
                        "details": {"GitHubOrganization": "octo-org", "Repository": repo, "Location": "DE"}},
                    "eventSource": "github.audit.streaming", "eventName": name, "eventTime": time,
                    "UID": uid, "requestParameters": params.clone(), "recipientAccountId": "111122223333"}
            }));
        }
    };
    add(
        1,
        "repo.access",
        "octocat",
        "octo-org/site",
        json!({"visibility": "public", "previous_visibility": "private"}),
        "2022-09-05T10:MM:00Z",
    );
    add(
        1,
        "repo.access",
        "octocat",
        "octo-org/infra",
        json!({"visibility": "private"}),
        "2022-09-06T10:MM:00Z",
    );
    add(
        1,
        "repo.access",
        "hubot",
        "octo-org/old",
        json!({"visibility": "public"}),
        "2022-10-02T10:MM:00Z",
    );
    add(
        2,
        "org.invite_member",
        "octocat",
        "none",
        json!({"user": "newbie", "permission": "read"}),
        "2022-09-07T11:MM:00Z",
    );
    add(
        12,
        "git.clone",
        "octocat",
        "octo-org/site",
        json!({"transport_protocol_name": "http"}),
        "2022-09-10T12:MM:00Z",
    );
    add(
        3,
        "git.clone",
        "hubot",
        "octo-org/site",
        json!({"transport_protocol_name": "ssh"}),
        "2022-09-11T12:MM:00Z",
    );
    out
}

fn out_len(name: &str, actor: &str) -> usize {
    name.len() * 100 + actor.len()
}

fn tables() -> Vec<Table> {
    let mut paths = Vec::new();
    files(Path::new(DATA), &mut paths);
    paths.sort();
    let mut all: Vec<Value> = paths.iter().flat_map(|p| records(p)).collect();
    assert!(
        all.len() > 3000,
        "the public CloudTrail data is missing from {DATA}"
    );
    let supplement = records(Path::new(SUPPLEMENT));
    assert_eq!(supplement.len(), 16);
    all.extend(supplement.iter().cloned());
    let otel = records(&Path::new(DATA).join("cloudtrail/otel_cloudtrail_log.json"));
    let table = |id: &str, layout, r: &[Value]| {
        Table::from_records(id, layout, r, r.len() as u64 * 1000).unwrap()
    };
    vec![
        table(ALL, Layout::CloudTrail, &all),
        table(SUPPLEMENT_ONLY, Layout::CloudTrail, &supplement),
        table(OTEL, Layout::CloudTrail, &otel),
        table(GITHUB, Layout::Integration, &github_events()),
    ]
}

/// A query's outcome as the golden file spells it.
fn outcome(result: Result<query::QueryOutput, QueryError>) -> Vec<String> {
    match result {
        Ok(out) => {
            let mut lines = vec![serde_json::to_string(&out.columns).unwrap()];
            let mut rows: Vec<String> = out
                .rows
                .iter()
                .map(|r| serde_json::to_string(r).unwrap())
                .collect();
            rows.sort();
            lines.extend(rows);
            lines
        }
        Err(QueryError::InvalidStatement(_)) => vec!["error InvalidQueryStatementException".into()],
        Err(QueryError::Execution(m)) => vec![format!("error FAILED {m}")],
    }
}

fn golden() -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(GOLDEN).unwrap_or_default();
    let mut out = BTreeMap::new();
    for block in text.split("== ").skip(1) {
        let mut lines = block.lines();
        let name = lines.next().unwrap().trim().to_string();
        out.insert(
            name,
            lines
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_query_gives_its_golden_rows() {
    let samples = samples();
    assert_eq!(samples.len(), 22, "the samples file changed");
    let stores = tables();
    let mut got = BTreeMap::new();
    for (name, sql) in &samples {
        let result = match query::prepare(sql) {
            Ok(prepared) => {
                let ctx = query::session();
                let wanted: Vec<Table> = stores
                    .iter()
                    .filter(|t| prepared.tables.contains(&t.id))
                    .map(|t| Table {
                        id: t.id.clone(),
                        provider: t.provider.clone(),
                        events: t.events,
                        bytes: t.bytes,
                    })
                    .collect();
                query::run(&ctx, &prepared, wanted).await
            }
            Err(e) => Err(e),
        };
        got.insert(name.clone(), outcome(result));
    }
    if std::env::var_os("CAIRN_BLESS").is_some() {
        let mut text = String::new();
        for (name, lines) in &got {
            text.push_str(&format!("== {name}\n{}\n\n", lines.join("\n")));
        }
        std::fs::write(GOLDEN, text).unwrap();
        return;
    }
    let want = golden();
    for (name, lines) in &got {
        assert_eq!(
            Some(lines),
            want.get(name),
            "{name}: the result differs from {GOLDEN}"
        );
    }
    assert_eq!(got.len(), want.len());
}

#[tokio::test]
async fn statements_that_plan_against_missing_columns_are_invalid_before_running() {
    let sql = samples().into_iter().find(|(n, _)| n == "Q07").unwrap().1;
    let prepared = query::prepare(&sql).unwrap();
    let layouts: Vec<(String, Layout)> = prepared
        .tables
        .iter()
        .map(|t| (t.clone(), Layout::CloudTrail))
        .collect();
    assert!(
        matches!(query::check(&prepared, &layouts).await, Err(QueryError::InvalidStatement(m)) if m.contains("map"))
    );
}
