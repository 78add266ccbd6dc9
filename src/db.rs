//! The registry's SQLite file: accounts and presence, as the design's `users`
//! table.
//!
//! This module owns the schema, its migrations and every SQL statement. It
//! must never hash or see a plain password (callers hand it PHC strings), and
//! a `Store` is not shared between threads: the registry hub owns one (it
//! reads accounts), the account writer one (it adds them) and the presence
//! writer one (status, address and `last_seen`).

use std::fs::OpenOptions;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::Utc;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

/// The schema version this build writes, kept in `PRAGMA user_version`.
pub const SCHEMA_VERSION: i32 = 3;

/// Each entry brings the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE users (
        user_id       INTEGER PRIMARY KEY,
        user_name     TEXT    NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT    NOT NULL,
        status        INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),
        ip_address    TEXT,
        port          INTEGER,
        client_port   INTEGER,
        created_at    TEXT    NOT NULL,
        last_seen     TEXT
    );",
    // Version 1 wrote UTC as `2026-01-31 18:00:27`, which reads as local
    // time; from version 2 timestamps are ISO 8601 with their zone.
    "UPDATE users SET created_at = replace(created_at, ' ', 'T') || 'Z'
         WHERE created_at NOT LIKE '%Z';
     UPDATE users SET last_seen = replace(last_seen, ' ', 'T') || 'Z'
         WHERE last_seen NOT LIKE '%Z';",
    // Version 3: the public key the user last joined with (`<identity>.<seal>`
    // as the wire writes it), which the registry vouches for to others.
    "ALTER TABLE users ADD COLUMN public_key TEXT;",
];

/// What can go wrong with the registry file.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The file could not be created or opened.
    #[error(
        "cannot open the database file {path}: {1}; check that its folder exists and that you may write there, or name another file (the server's --db option)",
        path = .0.display()
    )]
    Open(PathBuf, #[source] io::Error),
    /// SQLite refused a statement.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file was written by a newer version of p2pchat.
    #[error(
        "the database file {path} has schema version {1}, newer than this server's {SCHEMA_VERSION}; upgrade p2pchat, or name another file",
        path = .0.display()
    )]
    TooNew(PathBuf, i32),
    /// The file's schema version is one no p2pchat ever wrote.
    #[error(
        "the database file {path} has schema version {1}, which no p2pchat writes: it is damaged or not a p2pchat registry; name another file",
        path = .0.display()
    )]
    BadVersion(PathBuf, i32),
}

/// A stored account, as needed to check a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The name as it was registered (names are unique ignoring case).
    pub name: String,
    /// The argon2id PHC string.
    pub password_hash: String,
    /// The public key the user last joined with, as its wire word.
    pub public_key: Option<String>,
}

/// A change in one user's presence, as the database records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// `name` joined from `ip`, with its chat `port`, the remote port of
    /// its registry connection and the public key it announced (its wire
    /// word; none for a JOIN typed by hand).
    Online {
        name: String,
        ip: IpAddr,
        port: u16,
        client_port: u16,
        public_key: Option<String>,
    },
    Offline {
        name: String,
    },
    /// `name` was heard from: only `last_seen` changes.
    Seen {
        name: String,
    },
}

impl Presence {
    pub fn name(&self) -> &str {
        match self {
            Presence::Online { name, .. }
            | Presence::Offline { name }
            | Presence::Seen { name } => name,
        }
    }
}

/// The open registry database.
pub struct Store {
    conn: Connection,
}

/// The time now, as the database keeps it: ISO 8601 in UTC, with its `Z`.
fn now() -> String {
    Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Store {
    /// Opens (or creates) the database at `path`, brings its schema up to
    /// date, and marks every user offline: whoever was online when the last
    /// server stopped, or crashed, must join again.
    pub fn open(path: &Path) -> Result<Store, DbError> {
        create_private(path).map_err(|err| DbError::Open(path.to_path_buf(), err))?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL syncs the write-ahead log at every commit, so an account a
        // client was told is registered survives a power cut, not only a
        // crash of the process (which NORMAL would). A commit then costs a
        // few milliseconds (3 to 6 on the machine this was measured on,
        // against 0.04), small next to argon2's tens.
        conn.pragma_update(None, "synchronous", "FULL")?;
        let mut store = Store { conn };
        store.migrate(path)?;
        store.set_all_offline()?;
        Ok(store)
    }

    /// Another connection to a database `open` has prepared already, for
    /// the account writer: every commit synced to disk, as in `open`.
    pub fn connect_for_accounts(path: &Path) -> Result<Store, DbError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(Store { conn })
    }

    /// Another connection to a database `open` has prepared already, for
    /// the presence writer; it waits at most `busy` for a lock. Its commits
    /// are not synced to disk (`synchronous=NORMAL`): a crash of the process
    /// loses none of them, and presence lost to a power cut does not matter,
    /// since every start marks everyone offline. So a JOIN does not wait
    /// for the disk the way a REGISTER does.
    pub fn connect_for_presence(path: &Path, busy: std::time::Duration) -> Result<Store, DbError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(busy)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(Store { conn })
    }

    fn migrate(&mut self, path: &Path) -> Result<(), DbError> {
        let version: i32 = self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?;
        let from = match usize::try_from(version) {
            Ok(from) if version <= SCHEMA_VERSION => from,
            Ok(_) => return Err(DbError::TooNew(path.to_path_buf(), version)),
            Err(_) => return Err(DbError::BadVersion(path.to_path_buf(), version)),
        };
        let tx = self.conn.transaction()?;
        for sql in &MIGRATIONS[from..] {
            tx.execute_batch(sql)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        Ok(())
    }

    /// Adds an account. Returns `false`, and changes nothing, when the name
    /// is taken (ignoring case).
    pub fn add_user(&self, name: &str, password_hash: &str) -> Result<bool, DbError> {
        let inserted = self.conn.execute(
            "INSERT INTO users (user_name, password_hash, created_at) VALUES (?1, ?2, ?3)",
            params![name, password_hash, now()],
        );
        match inserted {
            Ok(_) => Ok(true),
            Err(rusqlite::Error::SqliteFailure(err, _))
                if err.code == ErrorCode::ConstraintViolation =>
            {
                Ok(false)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// The account registered under `name` (ignoring case), if any.
    pub fn account(&self, name: &str) -> Result<Option<Account>, DbError> {
        let account = self
            .conn
            .query_row(
                "SELECT user_name, password_hash, public_key FROM users WHERE user_name = ?1",
                [name],
                |row| {
                    Ok(Account {
                        name: row.get(0)?,
                        password_hash: row.get(1)?,
                        public_key: row.get(2)?,
                    })
                },
            )
            .optional()?;
        Ok(account)
    }

    /// Brings the presence of several users up to date in one
    /// transaction (one sync to disk for the lot).
    pub fn write_presence(&mut self, changes: &[Presence]) -> Result<(), DbError> {
        let at = now();
        let tx = self.conn.transaction()?;
        for change in changes {
            match change {
                Presence::Online {
                    name,
                    ip,
                    port,
                    client_port,
                    public_key,
                } => tx.execute(
                    "UPDATE users SET status = 1, ip_address = ?2, port = ?3, client_port = ?4,
                     public_key = ?5, last_seen = ?6 WHERE user_name = ?1",
                    params![name, ip.to_string(), port, client_port, public_key, at],
                )?,
                Presence::Offline { name } => tx.execute(
                    "UPDATE users SET status = 0, last_seen = ?2 WHERE user_name = ?1",
                    params![name, at],
                )?,
                Presence::Seen { name } => tx.execute(
                    "UPDATE users SET last_seen = ?2 WHERE user_name = ?1",
                    params![name, at],
                )?,
            };
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks every user offline.
    pub fn set_all_offline(&self) -> Result<(), DbError> {
        self.conn.execute(
            "UPDATE users SET status = 0, last_seen = ?1 WHERE status = 1",
            [now()],
        )?;
        Ok(())
    }
}

/// Creates the database file readable and writable by its owner only, so
/// that the password hashes are not world-readable. An existing file is left
/// as it is.
fn create_private(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.db");
        (dir, path)
    }

    /// A file with `user_version` set to `version` and nothing else.
    fn file_at_version(path: &Path, version: i32) {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "user_version", version).unwrap();
    }

    #[test]
    fn a_version_no_p2pchat_writes_is_refused_with_the_file_named() {
        for (version, says) in [
            (-1, "has schema version -1, which no p2pchat writes"),
            (i32::MIN, "which no p2pchat writes"),
            (SCHEMA_VERSION + 1, "newer than this server's"),
        ] {
            let (_dir, path) = temp_db();
            file_at_version(&path, version);
            let err = Store::open(&path).err().expect("the file is refused");
            let text = err.to_string();
            assert!(text.contains(says), "{version}: {text}");
            assert!(text.contains(&path.display().to_string()), "{text}");
        }
    }

    #[test]
    fn a_missing_folder_is_named_with_what_to_do() {
        let (dir, _) = temp_db();
        let path = dir.path().join("no/such/folder/registry.db");
        let text = Store::open(&path)
            .err()
            .expect("nothing to open")
            .to_string();
        assert!(
            text.starts_with(&format!(
                "cannot open the database file {}: ",
                path.display()
            )),
            "{text}"
        );
        assert!(text.contains("--db"), "{text}");
    }

    #[test]
    fn timestamps_are_iso_8601_utc_and_old_ones_are_brought_up_to_it() {
        let (_dir, path) = temp_db();
        {
            // A version 1 file, as the previous release wrote it.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute(
                "INSERT INTO users (user_name, password_hash, created_at, last_seen)
                 VALUES ('old', 'x', '2026-01-31 18:00:27', '2026-02-01 09:30:00')",
                [],
            )
            .unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert!(store.add_user("new", "y").unwrap());
        let stamps: Vec<(String, String, String)> = store
            .conn
            .prepare("SELECT user_name, created_at, last_seen FROM users ORDER BY user_id")
            .unwrap()
            .query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(stamps[0].1, "2026-01-31T18:00:27Z");
        // Opening marked everyone offline, which stamps last_seen afresh.
        for (name, created, seen) in &stamps {
            for stamp in [created, seen].into_iter().filter(|s| !s.is_empty()) {
                assert!(
                    chrono::DateTime::parse_from_rfc3339(stamp).is_ok() && stamp.ends_with('Z'),
                    "{name}: {stamp}"
                );
            }
        }
    }

    /// A version 2 file gains the `public_key` column, and a JOIN's key is
    /// kept with the account until the next JOIN replaces it.
    #[test]
    fn a_joins_public_key_is_kept_with_the_account() {
        let (_dir, path) = temp_db();
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
        }
        let mut store = Store::open(&path).unwrap();
        assert!(store.add_user("alice", "x").unwrap());
        assert_eq!(store.account("alice").unwrap().unwrap().public_key, None);
        let online = |public_key: Option<&str>| Presence::Online {
            name: "alice".into(),
            ip: "10.0.0.1".parse().unwrap(),
            port: 5000,
            client_port: 40000,
            public_key: public_key.map(str::to_string),
        };
        for key in [Some("key-one"), Some("key-two"), None] {
            store.write_presence(&[online(key)]).unwrap();
            let account = store.account("ALICE").unwrap().unwrap();
            assert_eq!(account.public_key.as_deref(), key);
        }
    }

    #[test]
    fn commits_are_synced_to_disk() {
        let (_dir, path) = temp_db();
        let store = Store::open(&path).unwrap();
        let level: i64 = store
            .conn
            .pragma_query_value(None, "synchronous", |row| row.get(0))
            .unwrap();
        assert_eq!(level, 2, "synchronous=FULL");
    }
}
