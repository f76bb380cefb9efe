//! Event history: each account's management events of the last 90 days,
//! indexed for LookupEvents (one attribute, a time range, newest first).
//! It lives with the metadata because it is small (control-plane calls,
//! not ingested events) and needs indexed, paged lookups.

use crate::Result;
use rusqlite::{params, Connection};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL,
    event_time INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_time ON history(account_id, event_time, seq);
CREATE TABLE IF NOT EXISTS history_lookup (
    seq INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    event_time INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS history_lookup_by_value ON history_lookup(account_id, key, value, event_time, seq);
CREATE INDEX IF NOT EXISTS history_lookup_by_time ON history_lookup(event_time);
";

/// A management event to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEvent {
    /// Whose history it is in.
    pub account_id: String,
    /// eventTime in epoch milliseconds.
    pub event_time_ms: i64,
    /// The values it can be looked up by: (LookupAttribute key, value).
    pub lookup: Vec<(String, String)>,
    /// The CloudTrail record (JSON).
    pub record: String,
}

/// One LookupEvents page request.
#[derive(Debug, Clone)]
pub struct HistoryQuery<'a> {
    /// Whose history.
    pub account_id: &'a str,
    /// At most one (key, value) to match.
    pub attribute: Option<(&'a str, &'a str)>,
    /// The time range, inclusive, in epoch milliseconds.
    pub start_ms: i64,
    /// See `start_ms`.
    pub end_ms: i64,
    /// Continue after this position (from [`HistoryHit::position`]).
    pub after: Option<(i64, i64)>,
    /// Page size.
    pub limit: usize,
}

/// An event found by a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryHit {
    /// Where it is in the newest-first order: (event time, insertion order).
    pub position: (i64, i64),
    /// The CloudTrail record (JSON).
    pub record: String,
}

pub(crate) fn append(conn: &mut Connection, events: &[HistoryEvent]) -> Result<()> {
    let tx = conn.transaction()?;
    {
        let mut event = tx.prepare_cached(
            "INSERT INTO history (account_id, event_time, record) VALUES (?1, ?2, ?3)",
        )?;
        let mut lookup = tx.prepare_cached(
            "INSERT INTO history_lookup (seq, account_id, key, value, event_time) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for e in events {
            event.execute(params![e.account_id, e.event_time_ms, e.record])?;
            let seq = tx.last_insert_rowid();
            for (key, value) in &e.lookup {
                lookup.execute(params![seq, e.account_id, key, value, e.event_time_ms])?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

pub(crate) fn lookup(conn: &mut Connection, q: &HistoryQuery<'_>) -> Result<Vec<HistoryHit>> {
    let (after_time, after_seq) = q.after.unwrap_or((i64::MAX, i64::MAX));
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
    let row = |r: &rusqlite::Row<'_>| {
        Ok(HistoryHit {
            position: (r.get(0)?, r.get(1)?),
            record: r.get(2)?,
        })
    };
    // Both statements take the same parameters; the one without an
    // attribute leaves ?2 and ?3 unused.
    let sql = if q.attribute.is_some() {
        "SELECT l.event_time, l.seq, h.record FROM history_lookup l JOIN history h ON h.seq = l.seq
         WHERE l.account_id = ?1 AND l.key = ?2 AND l.value = ?3
           AND l.event_time BETWEEN ?4 AND ?5 AND (l.event_time, l.seq) < (?6, ?7)
         ORDER BY l.event_time DESC, l.seq DESC LIMIT ?8"
    } else {
        "SELECT event_time, seq, record FROM history
         WHERE account_id = ?1 AND event_time BETWEEN ?4 AND ?5 AND (event_time, seq) < (?6, ?7)
         ORDER BY event_time DESC, seq DESC LIMIT ?8"
    };
    let (key, value) = q.attribute.unzip();
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(
        params![
            q.account_id,
            key,
            value,
            q.start_ms,
            q.end_ms,
            after_time,
            after_seq,
            limit
        ],
        row,
    )?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(crate) fn expire(conn: &mut Connection, before_ms: i64) -> Result<usize> {
    let tx = conn.transaction()?;
    tx.execute(
        "DELETE FROM history_lookup WHERE event_time < ?1",
        params![before_ms],
    )?;
    let n = tx.execute(
        "DELETE FROM history WHERE event_time < ?1",
        params![before_ms],
    )?;
    tx.commit()?;
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::{HistoryEvent, HistoryQuery, Metadata, SqliteMetadata};

    fn event(account: &str, t: i64, name: &str) -> HistoryEvent {
        HistoryEvent {
            account_id: account.into(),
            event_time_ms: t,
            lookup: vec![("EventName".into(), name.into())],
            record: format!("{{\"eventName\":\"{name}\",\"t\":{t}}}"),
        }
    }

    fn query(account: &str) -> HistoryQuery<'_> {
        HistoryQuery {
            account_id: account,
            attribute: None,
            start_ms: 0,
            end_ms: i64::MAX,
            after: None,
            limit: 50,
        }
    }

    #[test]
    fn lookups_are_newest_first_per_account_paged_and_filtered() {
        let dir = tempfile::tempdir().unwrap();
        let meta = SqliteMetadata::open(&dir.path().join("m.db")).unwrap();
        meta.append_history(&[
            event("a", 10, "List"),
            event("a", 30, "Create"),
            event("a", 20, "List"),
            event("a", 30, "List"),
            event("b", 25, "List"),
        ])
        .unwrap();
        let times =
            |hits: Vec<crate::HistoryHit>| hits.iter().map(|h| h.position.0).collect::<Vec<_>>();
        assert_eq!(
            times(meta.lookup_history(&query("a")).unwrap()),
            [30, 30, 20, 10]
        );
        assert_eq!(times(meta.lookup_history(&query("b")).unwrap()), [25]);

        let mut q = query("a");
        q.attribute = Some(("EventName", "List"));
        q.limit = 2;
        let first = meta.lookup_history(&q).unwrap();
        assert_eq!(times(first.clone()), [30, 20]);
        q.after = Some(first[1].position);
        assert_eq!(times(meta.lookup_history(&q).unwrap()), [10]);
        // Equal times page without loss or repeats.
        let mut q = query("a");
        q.limit = 1;
        let one = meta.lookup_history(&q).unwrap();
        q.after = Some(one[0].position);
        let two = meta.lookup_history(&q).unwrap();
        assert_eq!((one[0].position.0, two[0].position.0), (30, 30));
        assert_ne!(one[0].record, two[0].record);

        let mut q = query("a");
        (q.start_ms, q.end_ms) = (15, 25);
        assert_eq!(times(meta.lookup_history(&q).unwrap()), [20]);

        assert_eq!(meta.expire_history(25).unwrap(), 2);
        assert_eq!(times(meta.lookup_history(&query("a")).unwrap()), [30, 30]);
        let mut q = query("a");
        q.attribute = Some(("EventName", "List"));
        assert_eq!(times(meta.lookup_history(&q).unwrap()), [30]);
    }
}
