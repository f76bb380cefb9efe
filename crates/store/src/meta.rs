//! Metadata: accounts, access keys and the control-plane resources.
//!
//! Resources (event data stores, channels, queries, …) are stored as JSON
//! documents keyed by (kind, account, id) with an optional unique name, so
//! the domain owns their shape and new members need no migration.

use crate::history::{self, HistoryEvent, HistoryHit, HistoryQuery};
use crate::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// An account (a tenant with its own resources and root principal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// 12-digit account id.
    pub id: String,
    /// Unique human name.
    pub name: String,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// A long-term access key and the principal it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// `AKIA…`.
    pub access_key_id: String,
    /// The secret (kept to verify SigV4; never returned again after creation).
    pub secret_access_key: String,
    /// Owning account.
    pub account_id: String,
    /// ARN of the principal, e.g. `arn:aws:iam::111122223333:root`.
    pub principal_arn: String,
    /// `Active` or `Inactive`.
    pub status: String,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// The metadata store. Methods are short transactions; implementations must
/// be safe to share between threads and, for SQLite, between processes
/// (`cairn accounts create` writes while the server runs).
pub trait Metadata: Send + Sync {
    /// Creates an account together with its root access key.
    fn insert_account(&self, account: &Account, root_key: &AccessKey) -> Result<()>;
    /// All accounts, oldest first.
    fn accounts(&self) -> Result<Vec<Account>>;
    /// Looks up an access key by id.
    fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKey>>;
    /// Adds a long-term access key; `Conflict` when the id is taken.
    fn insert_access_key(&self, key: &AccessKey) -> Result<()>;
    /// The access keys of one principal, oldest first.
    fn access_keys_of(&self, principal_arn: &str) -> Result<Vec<AccessKey>>;
    /// Sets a key's status (`Active`/`Inactive`); false when there is no such key.
    fn set_access_key_status(&self, access_key_id: &str, status: &str) -> Result<bool>;
    /// Deletes a key; false when there was none.
    fn delete_access_key(&self, access_key_id: &str) -> Result<bool>;
    /// Keeps management events in their accounts' event history.
    fn append_history(&self, events: &[HistoryEvent]) -> Result<()>;
    /// One page of an account's event history, newest first.
    fn lookup_history(&self, query: &HistoryQuery<'_>) -> Result<Vec<HistoryHit>>;
    /// Drops history older than `before_ms` (epoch milliseconds); returns how many events.
    fn expire_history(&self, before_ms: i64) -> Result<usize>;
    /// Inserts a new resource document; `Conflict` when the id or the name is taken.
    fn insert(
        &self,
        kind: &str,
        account: &str,
        id: &str,
        name: Option<&str>,
        doc: &str,
    ) -> Result<()>;
    /// Replaces an existing document (and its name); `Conflict` when the new name is taken.
    fn replace(
        &self,
        kind: &str,
        account: &str,
        id: &str,
        name: Option<&str>,
        doc: &str,
    ) -> Result<bool>;
    /// One document.
    fn get(&self, kind: &str, account: &str, id: &str) -> Result<Option<String>>;
    /// A document by its unique name in an account, with its id.
    fn get_by_name(
        &self,
        kind: &str,
        account: &str,
        name: &str,
    ) -> Result<Option<(String, String)>>;
    /// A document by id in any account, with its account.
    fn find(&self, kind: &str, id: &str) -> Result<Option<(String, String)>>;
    /// Every document of a kind in an account, oldest first.
    fn list(&self, kind: &str, account: &str) -> Result<Vec<String>>;
    /// Deletes a document; false when there was none.
    fn delete(&self, kind: &str, account: &str, id: &str) -> Result<bool>;
}

/// The embedded default: one SQLite file in the data directory.
pub struct SqliteMetadata {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS access_keys (
    access_key_id TEXT PRIMARY KEY,
    secret_access_key TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    principal_arn TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS resources (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    account_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT,
    doc TEXT NOT NULL,
    UNIQUE (kind, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS resources_by_name ON resources(kind, account_id, name) WHERE name IS NOT NULL;
CREATE INDEX IF NOT EXISTS resources_by_account ON resources(kind, account_id, seq);
CREATE INDEX IF NOT EXISTS access_keys_by_principal ON access_keys(principal_arn);
";

fn conflict_or(e: rusqlite::Error, what: &str) -> Error {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Error::Conflict(what.to_string())
        }
        _ => Error::Sqlite(e),
    }
}

impl SqliteMetadata {
    /// Opens (creating if needed) `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        // WAL lets `cairn accounts create` write while the server reads;
        // synchronous=FULL makes every acknowledged change durable.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(history::SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        // A poisoned lock only means another thread panicked mid-call; the
        // connection itself is still consistent (SQLite rolls back).
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

fn row_to_key(row: &rusqlite::Row<'_>) -> rusqlite::Result<AccessKey> {
    Ok(AccessKey {
        access_key_id: row.get(0)?,
        secret_access_key: row.get(1)?,
        account_id: row.get(2)?,
        principal_arn: row.get(3)?,
        status: row.get(4)?,
        created_at: row.get(5)?,
    })
}

impl Metadata for SqliteMetadata {
    fn append_history(&self, events: &[HistoryEvent]) -> Result<()> {
        self.with(|conn| history::append(conn, events))
    }

    fn lookup_history(&self, query: &HistoryQuery<'_>) -> Result<Vec<HistoryHit>> {
        self.with(|conn| history::lookup(conn, query))
    }

    fn expire_history(&self, before_ms: i64) -> Result<usize> {
        self.with(|conn| history::expire(conn, before_ms))
    }

    fn insert_account(&self, account: &Account, root_key: &AccessKey) -> Result<()> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO accounts (id, name, created_at) VALUES (?1, ?2, ?3)",
                params![account.id, account.name, account.created_at],
            )
            .map_err(|e| conflict_or(e, &format!("account {} / {}", account.id, account.name)))?;
            tx.execute(
                "INSERT INTO access_keys VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    root_key.access_key_id,
                    root_key.secret_access_key,
                    root_key.account_id,
                    root_key.principal_arn,
                    root_key.status,
                    root_key.created_at
                ],
            )
            .map_err(|e| conflict_or(e, &format!("access key {}", root_key.access_key_id)))?;
            tx.commit()?;
            Ok(())
        })
    }

    fn accounts(&self) -> Result<Vec<Account>> {
        self.with(|conn| {
            let mut stmt =
                conn.prepare("SELECT id, name, created_at FROM accounts ORDER BY rowid")?;
            let rows = stmt.query_map([], |r| {
                Ok(Account {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    created_at: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKey>> {
        self.with(|conn| {
            Ok(conn
                .query_row(
                    "SELECT access_key_id, secret_access_key, account_id, principal_arn, status, created_at
                     FROM access_keys WHERE access_key_id = ?1",
                    [access_key_id],
                    row_to_key,
                )
                .optional()?)
        })
    }

    fn insert_access_key(&self, key: &AccessKey) -> Result<()> {
        self.with(|conn| {
            conn.execute(
                "INSERT INTO access_keys VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    key.access_key_id,
                    key.secret_access_key,
                    key.account_id,
                    key.principal_arn,
                    key.status,
                    key.created_at
                ],
            )
            .map_err(|e| conflict_or(e, &format!("access key {}", key.access_key_id)))?;
            Ok(())
        })
    }

    fn access_keys_of(&self, principal_arn: &str) -> Result<Vec<AccessKey>> {
        self.with(|conn| {
            let mut stmt = conn.prepare(
                "SELECT access_key_id, secret_access_key, account_id, principal_arn, status, created_at
                 FROM access_keys WHERE principal_arn = ?1 ORDER BY rowid",
            )?;
            let rows = stmt.query_map([principal_arn], row_to_key)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn set_access_key_status(&self, access_key_id: &str, status: &str) -> Result<bool> {
        self.with(|conn| {
            let n = conn.execute(
                "UPDATE access_keys SET status = ?2 WHERE access_key_id = ?1",
                params![access_key_id, status],
            )?;
            Ok(n > 0)
        })
    }

    fn delete_access_key(&self, access_key_id: &str) -> Result<bool> {
        self.with(|conn| {
            let n = conn.execute(
                "DELETE FROM access_keys WHERE access_key_id = ?1",
                [access_key_id],
            )?;
            Ok(n > 0)
        })
    }

    fn insert(
        &self,
        kind: &str,
        account: &str,
        id: &str,
        name: Option<&str>,
        doc: &str,
    ) -> Result<()> {
        self.with(|conn| {
            conn.execute(
                "INSERT INTO resources (kind, account_id, id, name, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![kind, account, id, name, doc],
            )
            .map_err(|e| conflict_or(e, &format!("{kind} {}", name.unwrap_or(id))))?;
            Ok(())
        })
    }

    fn replace(
        &self,
        kind: &str,
        account: &str,
        id: &str,
        name: Option<&str>,
        doc: &str,
    ) -> Result<bool> {
        self.with(|conn| {
            let n = conn
                .execute(
                    "UPDATE resources SET name = ?4, doc = ?5 WHERE kind = ?1 AND account_id = ?2 AND id = ?3",
                    params![kind, account, id, name, doc],
                )
                .map_err(|e| conflict_or(e, &format!("{kind} {}", name.unwrap_or(id))))?;
            Ok(n > 0)
        })
    }

    fn get(&self, kind: &str, account: &str, id: &str) -> Result<Option<String>> {
        self.with(|conn| {
            Ok(conn
                .query_row(
                    "SELECT doc FROM resources WHERE kind = ?1 AND account_id = ?2 AND id = ?3",
                    params![kind, account, id],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    fn get_by_name(
        &self,
        kind: &str,
        account: &str,
        name: &str,
    ) -> Result<Option<(String, String)>> {
        self.with(|conn| {
            Ok(conn
                .query_row(
                    "SELECT id, doc FROM resources WHERE kind = ?1 AND account_id = ?2 AND name = ?3",
                    params![kind, account, name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?)
        })
    }

    fn find(&self, kind: &str, id: &str) -> Result<Option<(String, String)>> {
        self.with(|conn| {
            Ok(conn
                .query_row(
                    "SELECT account_id, doc FROM resources WHERE kind = ?1 AND id = ?2",
                    params![kind, id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?)
        })
    }

    fn list(&self, kind: &str, account: &str) -> Result<Vec<String>> {
        self.with(|conn| {
            let mut stmt = conn.prepare(
                "SELECT doc FROM resources WHERE kind = ?1 AND account_id = ?2 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![kind, account], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
    }

    fn delete(&self, kind: &str, account: &str, id: &str) -> Result<bool> {
        self.with(|conn| {
            let n = conn.execute(
                "DELETE FROM resources WHERE kind = ?1 AND account_id = ?2 AND id = ?3",
                params![kind, account, id],
            )?;
            Ok(n > 0)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SqliteMetadata) {
        let dir = tempfile::tempdir().unwrap();
        let m = SqliteMetadata::open(&dir.path().join("meta.db")).unwrap();
        (dir, m)
    }

    #[test]
    fn names_are_unique_per_kind_and_account() {
        let (_d, m) = store();
        m.insert("channel", "1", "a", Some("n"), "{}").unwrap();
        assert!(matches!(
            m.insert("channel", "1", "b", Some("n"), "{}"),
            Err(Error::Conflict(_))
        ));
        m.insert("channel", "2", "c", Some("n"), "{}").unwrap();
        m.insert("eds", "1", "d", Some("n"), "{}").unwrap();
        assert_eq!(m.list("channel", "1").unwrap().len(), 1);
        assert_eq!(
            m.find("channel", "c").unwrap().map(|(a, _)| a),
            Some("2".to_string())
        );
        assert!(m
            .replace("channel", "1", "a", Some("m"), "{\"x\":1}")
            .unwrap());
        assert_eq!(
            m.get("channel", "1", "a").unwrap().as_deref(),
            Some("{\"x\":1}")
        );
        assert_eq!(
            m.get_by_name("channel", "2", "n").unwrap(),
            Some(("c".to_string(), "{}".to_string()))
        );
        assert!(m.get_by_name("channel", "3", "n").unwrap().is_none());
        assert!(m.delete("channel", "1", "a").unwrap());
        assert!(!m.delete("channel", "1", "a").unwrap());
    }

    #[test]
    fn access_keys_of_a_principal() {
        let (_d, m) = store();
        let acct = Account {
            id: "111122223333".into(),
            name: "default".into(),
            created_at: "t".into(),
        };
        let key = |id: &str, arn: &str| AccessKey {
            access_key_id: id.into(),
            secret_access_key: "s".into(),
            account_id: acct.id.clone(),
            principal_arn: arn.into(),
            status: "Active".into(),
            created_at: "t".into(),
        };
        let alice = "arn:aws:iam::111122223333:user/alice";
        m.insert_account(&acct, &key("AKIAROOT", "arn:aws:iam::111122223333:root"))
            .unwrap();
        m.insert_access_key(&key("AKIA1", alice)).unwrap();
        m.insert_access_key(&key("AKIA2", alice)).unwrap();
        assert!(matches!(
            m.insert_access_key(&key("AKIA2", alice)),
            Err(Error::Conflict(_))
        ));
        let ids: Vec<_> = m
            .access_keys_of(alice)
            .unwrap()
            .into_iter()
            .map(|k| k.access_key_id)
            .collect();
        assert_eq!(ids, ["AKIA1", "AKIA2"]);
        assert!(m.set_access_key_status("AKIA1", "Inactive").unwrap());
        assert_eq!(m.access_key("AKIA1").unwrap().unwrap().status, "Inactive");
        assert!(!m.set_access_key_status("AKIA9", "Inactive").unwrap());
        assert!(m.delete_access_key("AKIA2").unwrap());
        assert!(!m.delete_access_key("AKIA2").unwrap());
        assert_eq!(m.access_keys_of(alice).unwrap().len(), 1);
    }

    #[test]
    fn accounts_and_keys_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        {
            let m = SqliteMetadata::open(&path).unwrap();
            let acct = Account {
                id: "111122223333".into(),
                name: "default".into(),
                created_at: "t".into(),
            };
            let key = AccessKey {
                access_key_id: "AKIAEXAMPLE".into(),
                secret_access_key: "s".into(),
                account_id: acct.id.clone(),
                principal_arn: "arn:aws:iam::111122223333:root".into(),
                status: "Active".into(),
                created_at: "t".into(),
            };
            m.insert_account(&acct, &key).unwrap();
            assert!(matches!(
                m.insert_account(&acct, &key),
                Err(Error::Conflict(_))
            ));
        }
        let m = SqliteMetadata::open(&path).unwrap();
        assert_eq!(m.accounts().unwrap().len(), 1);
        assert_eq!(
            m.access_key("AKIAEXAMPLE").unwrap().map(|k| k.account_id),
            Some("111122223333".into())
        );
        assert!(m.access_key("nope").unwrap().is_none());
    }
}
