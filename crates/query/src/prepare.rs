//! Statement checks and rewriting before DataFusion sees a query.
//!
//! CloudTrail Lake names tables by bare event data store ids
//! (`FROM 8b4d5e0a-…`), which no SQL grammar accepts as an identifier: they
//! are rewritten into quoted identifiers first. Then the statement must be a
//! single query whose every relation is an event data store id (or a CTE
//! defined in it): no DDL, DML, SET, COPY, table functions, URL or file
//! tables, catalogs or `information_schema`.

use crate::QueryError;
use datafusion::sql::sqlparser::ast::{
    visit_expressions_mut, AccessExpr, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    Ident, ObjectName, ObjectNamePart, Query, Select, SelectItem, SetExpr, Statement, Subscript,
    TableFactor, Value, Visit, Visitor,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use std::collections::BTreeSet;
use std::ops::ControlFlow;

/// A statement that passed the sandbox checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The SQL handed to DataFusion (event data store ids quoted, field
    /// accesses after subscripts in bracket form).
    pub sql: String,
    /// The event data store ids the statement reads, lower-case, sorted.
    pub tables: Vec<String>,
    /// Result key per SELECT item, `None` where AWS names it `_colN`.
    names: Vec<Option<String>>,
    wildcard: bool,
}

/// CloudTrail's spelling of the top-level columns (both layouts), for `SELECT *`.
const COLUMN_SPELLING: [(&str, &str); 33] = [
    ("eventversion", "eventVersion"),
    ("eventcategory", "eventCategory"),
    ("eventtype", "eventType"),
    ("eventid", "eventID"),
    ("eventtime", "eventTime"),
    ("awsregion", "awsRegion"),
    ("recipientaccountid", "recipientAccountId"),
    ("addendum", "addendum"),
    ("metadata", "metadata"),
    ("eventdata", "eventData"),
    ("useridentity", "userIdentity"),
    ("eventsource", "eventSource"),
    ("eventname", "eventName"),
    ("sourceipaddress", "sourceIPAddress"),
    ("useragent", "userAgent"),
    ("errorcode", "errorCode"),
    ("errormessage", "errorMessage"),
    ("requestparameters", "requestParameters"),
    ("responseelements", "responseElements"),
    ("additionaleventdata", "additionalEventData"),
    ("requestid", "requestID"),
    ("readonly", "readOnly"),
    ("resources", "resources"),
    ("apiversion", "apiVersion"),
    ("managementevent", "managementEvent"),
    ("sharedeventid", "sharedEventID"),
    ("annotation", "annotation"),
    ("vpcendpointid", "vpcEndpointId"),
    ("serviceeventdetails", "serviceEventDetails"),
    ("edgedevicedetails", "edgeDeviceDetails"),
    ("insightdetails", "insightDetails"),
    ("tlsdetails", "tlsDetails"),
    (
        "sessioncredentialfromconsole",
        "sessionCredentialFromConsole",
    ),
];

impl Prepared {
    /// The result keys, given the names DataFusion gave the output columns.
    pub fn column_names(&self, planned: &[String]) -> Vec<String> {
        if self.wildcard || self.names.len() != planned.len() {
            return planned
                .iter()
                .map(|n| {
                    COLUMN_SPELLING
                        .iter()
                        .find(|(lower, _)| lower == n)
                        .map_or_else(|| n.clone(), |(_, spelled)| (*spelled).to_string())
                })
                .collect();
        }
        self.names
            .iter()
            .enumerate()
            .map(|(i, n)| n.clone().unwrap_or_else(|| format!("_col{i}")))
            .collect()
    }
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Quotes every bare UUID outside string literals, quoted identifiers and comments.
fn quote_ids(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 16);
    let mut i = 0;
    let mut start = 0; // start of the not yet copied text
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() {
                    if b[i] == q {
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            _ => {
                let boundary_before = i == 0 || !ident_char(b[i - 1]);
                let candidate = sql.get(i..i + 36).filter(|c| is_uuid(c));
                let boundary_after = b.get(i + 36).is_none_or(|c| !ident_char(*c) && *c != b'-');
                if let (true, Some(id), true) = (boundary_before, candidate, boundary_after) {
                    out.push_str(sql.get(start..i).unwrap_or_default());
                    out.push('"');
                    out.push_str(&id.to_ascii_lowercase());
                    out.push('"');
                    i += 36;
                    start = i;
                    continue;
                }
                i += 1;
            }
        }
    }
    out.push_str(sql.get(start..).unwrap_or_default());
    out
}

#[derive(Default)]
struct Relations {
    tables: BTreeSet<String>,
    ctes: BTreeSet<String>,
    refused: Option<String>,
}

impl Visitor for Relations {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.ctes.insert(cte.alias.name.value.to_ascii_lowercase());
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        match factor {
            TableFactor::Table {
                args: Some(_),
                name,
                ..
            } => {
                self.refused = Some(format!("Table functions are not supported: {name}."));
                ControlFlow::Break(())
            }
            TableFactor::Table { .. }
            | TableFactor::Derived { .. }
            | TableFactor::NestedJoin { .. }
            | TableFactor::UNNEST { .. } => ControlFlow::Continue(()),
            other => {
                self.refused = Some(format!("This kind of FROM item is not supported: {other}."));
                ControlFlow::Break(())
            }
        }
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        match relation.0.as_slice() {
            [ObjectNamePart::Identifier(id)] => {
                self.tables.insert(id.value.clone());
                ControlFlow::Continue(())
            }
            _ => {
                self.refused = Some(format!(
                    "{relation} is not an event data store ID: name an event data store by its ID (the last part of its ARN), without catalog or schema."
                ));
                ControlFlow::Break(())
            }
        }
    }
}

/// Trino functions that DataFusion has under another name or shape.
const RENAMED: [(&str, &str); 4] = [
    ("contains", "array_has"), // Trino's contains is for arrays only
    ("split", "string_to_array"),
    ("arbitrary", "any_value"),
    ("approx_percentile", "approx_percentile_cont"),
];

fn parse_expr(text: &str) -> Option<Expr> {
    Parser::new(&GenericDialect {})
        .try_with_sql(text)
        .ok()?
        .parse_expr()
        .ok()
}

/// The plain positional arguments of a call, if that is all it has.
fn plain_args(args: &FunctionArguments) -> Option<Vec<&Expr>> {
    let FunctionArguments::List(list) = args else {
        return None;
    };
    if !list.clauses.is_empty() || list.duplicate_treatment.is_some() {
        return None;
    }
    list.args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
            _ => None,
        })
        .collect()
}

/// Rewrites the Trino forms DataFusion reads differently:
/// - `resources[2].arn`: DataFusion resolves a field after a subscript only
///   in bracket form, so `.arn` becomes `['arn']` (struct field names are
///   stored lower-case; column names are case-insensitive in CloudTrail Lake);
/// - `element_at(m, k)`: Trino returns the value (map) or element (array,
///   1-based, NULL out of range); DataFusion's `element_at` on a map returns
///   a list, so it becomes the subscript `m[k]`, which means the same in both;
/// - functions DataFusion spells differently ([`RENAMED`]), and the ones it
///   expresses with other syntax: `count_if(c)`, `max_by(x, y)`,
///   `min_by(x, y)`, `if(c, a[, b])`.
fn trino_forms(expr: &mut Expr) {
    match expr {
        Expr::CompoundFieldAccess { access_chain, .. } => {
            for access in access_chain.iter_mut() {
                if let AccessExpr::Dot(Expr::Identifier(id)) = access {
                    let index =
                        Expr::value(Value::SingleQuotedString(id.value.to_ascii_lowercase()));
                    *access = AccessExpr::Subscript(Subscript::Index { index });
                }
            }
        }
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            if let Some((_, to)) = RENAMED.iter().find(|(from, _)| *from == name) {
                f.name = ObjectName::from(vec![Ident::new(*to)]);
                return;
            }
            let Some(args) = plain_args(&f.args) else {
                return;
            };
            let text: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let rewritten = match (name.as_str(), text.as_slice()) {
                ("element_at", [root, index]) => Some(format!("({root})[{index}]")),
                ("count_if", [c]) => Some(format!("count(CASE WHEN {c} THEN 1 END)")),
                ("max_by", [x, y]) => {
                    Some(format!("first_value({x} ORDER BY {y} DESC NULLS LAST)"))
                }
                ("min_by", [x, y]) => Some(format!("first_value({x} ORDER BY {y} ASC NULLS LAST)")),
                ("if", [c, a]) => Some(format!("CASE WHEN {c} THEN {a} END")),
                ("if", [c, a, b]) => Some(format!("CASE WHEN {c} THEN {a} ELSE {b} END")),
                _ => None,
            };
            if let Some(new) = rewritten.as_deref().and_then(parse_expr) {
                *expr = new;
            }
        }
        _ => {}
    }
}

fn first_select(set: &SetExpr) -> Option<&Select> {
    match set {
        SetExpr::Select(s) => Some(s),
        SetExpr::SetOperation { left, .. } => first_select(left),
        SetExpr::Query(q) => first_select(&q.body),
        _ => None,
    }
}

/// Checks and rewrites `sql`.
pub fn prepare(sql: &str) -> Result<Prepared, QueryError> {
    let invalid = |m: String| QueryError::InvalidStatement(m);
    if sql.trim().is_empty() {
        return Err(invalid("The query statement is empty.".into()));
    }
    let rewritten = quote_ids(sql);
    let mut statements = Parser::parse_sql(&GenericDialect {}, &rewritten)
        .map_err(|e| invalid(format!("The query statement is not valid SQL: {e}")))?;
    if statements.len() != 1 {
        return Err(invalid(format!(
            "Exactly one SELECT statement is allowed; found {}.",
            statements.len()
        )));
    }
    let Some(Statement::Query(mut query)) = statements.pop() else {
        return Err(invalid("Only SELECT statements are allowed.".into()));
    };
    if let Some(s) = first_select(&query.body) {
        if s.into.is_some() {
            return Err(invalid("SELECT … INTO is not allowed.".into()));
        }
    }
    let mut rel = Relations::default();
    if query.visit(&mut rel).is_break() {
        return Err(invalid(
            rel.refused
                .unwrap_or_else(|| "The query statement is not allowed.".into()),
        ));
    }
    let mut tables = Vec::new();
    for t in &rel.tables {
        if rel.ctes.contains(&t.to_ascii_lowercase()) {
            continue;
        }
        if !is_uuid(t) {
            return Err(invalid(format!(
                "{t} is not an event data store ID: name an event data store by its ID (the last part of its ARN)."
            )));
        }
        tables.push(t.to_ascii_lowercase());
    }
    let (names, wildcard) = match first_select(&query.body) {
        Some(select) => {
            let mut wildcard = false;
            let names = select
                .projection
                .iter()
                .map(|item| match item {
                    SelectItem::UnnamedExpr(Expr::Identifier(id)) => Some(id.value.clone()),
                    SelectItem::UnnamedExpr(Expr::CompoundIdentifier(ids)) => {
                        ids.last().map(|i| i.value.clone())
                    }
                    SelectItem::UnnamedExpr(Expr::CompoundFieldAccess { access_chain, .. }) => {
                        match access_chain.last() {
                            Some(AccessExpr::Dot(Expr::Identifier(id))) => Some(id.value.clone()),
                            _ => None,
                        }
                    }
                    SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
                    SelectItem::ExprWithAliases { aliases, .. } => {
                        aliases.first().map(|a| a.value.clone())
                    }
                    SelectItem::UnnamedExpr(_) => None,
                    SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(_, _) => {
                        wildcard = true;
                        None
                    }
                })
                .collect();
            (names, wildcard)
        }
        None => (Vec::new(), true),
    };
    let _ = visit_expressions_mut(&mut query, |expr| {
        trino_forms(expr);
        ControlFlow::<()>::Continue(())
    });
    Ok(Prepared {
        sql: query.to_string(),
        tables,
        names,
        wildcard,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ID: &str = "8b4d5e0a-1c2d-4e5f-8a9b-0c1d2e3f4a5b";

    #[test]
    fn bare_ids_are_quoted_outside_literals_only() {
        let sql = format!(
            "SELECT '{ID}' FROM {} WHERE x = \"{ID}\" -- {ID}",
            ID.to_uppercase()
        );
        let out = quote_ids(&sql);
        assert_eq!(
            out,
            format!("SELECT '{ID}' FROM \"{ID}\" WHERE x = \"{ID}\" -- {ID}")
        );
    }

    #[test]
    fn names_follow_the_text() {
        let p = prepare(&format!(
            "SELECT eventData.uid, eventName, COUNT(*), x AS Total, metadata.channelArn FROM {ID} GROUP BY 1"
        ))
        .unwrap();
        assert_eq!(p.tables, vec![ID.to_string()]);
        let planned: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
        assert_eq!(
            p.column_names(&planned),
            vec!["uid", "eventName", "_col2", "Total", "channelArn"]
        );
    }

    #[test]
    fn a_field_after_a_subscript_is_bracketed_and_named_by_the_field() {
        let p = prepare(&format!(
            "SELECT resources[1].ARN, requestParameters['Key'] FROM {ID}"
        ))
        .unwrap();
        assert!(p.sql.contains("resources[1]['arn']"), "{}", p.sql);
        assert!(p.sql.contains("requestParameters['Key']"), "{}", p.sql);
        let planned = vec!["a".to_string(), "b".to_string()];
        assert_eq!(p.column_names(&planned), vec!["ARN", "_col1"]);
    }

    #[test]
    fn only_select_over_event_data_stores() {
        for bad in [
            "DROP TABLE x",
            "INSERT INTO x VALUES (1)",
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
            "SET datafusion.execution.batch_size = 1",
            "COPY (SELECT 1) TO '/tmp/x'",
            "SELECT * FROM information_schema.tables",
            "SELECT * FROM some_table",
            "SELECT * FROM read_csv('/etc/passwd')",
            "SELECT 1; SELECT 2",
            "SELEC 1",
            "",
        ] {
            assert!(
                matches!(prepare(bad), Err(QueryError::InvalidStatement(_))),
                "{bad}"
            );
        }
        assert!(prepare(&format!("WITH t AS (SELECT * FROM {ID}) SELECT * FROM t")).is_ok());
        assert!(prepare("SELECT 1").is_ok());
    }

    #[test]
    fn never_panics_on_odd_text() {
        for s in [
            "'",
            "\"",
            "/*",
            "--",
            "é'",
            "SELECT '\u{e9}",
            "8b4d5e0a-1c2d-4e5f-8a9b-0c1d2e3f4a5",
            "ü8b4d5e0a-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
        ] {
            let _ = prepare(s);
        }
    }
}
