//! The registry's SQLite file: accounts and presence, as the design's `users`
//! table.
//!
//! This module owns the schema, its migrations and every SQL statement. It
//! must never hash or see a plain password (callers hand it PHC strings), and
//! it is not shared between threads: one owner thread holds the `Store`.

use std::fmt;
use std::fs::OpenOptions;
use std::io;
use std::net::IpAddr;
use std::path::Path;

use chrono::Utc;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

/// The schema version this build writes, kept in `PRAGMA user_version`.
pub const SCHEMA_VERSION: i32 = 1;

/// Each entry brings the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &["CREATE TABLE users (
        user_id       INTEGER PRIMARY KEY,
        user_name     TEXT    NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT    NOT NULL,
        status        INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),
        ip_address    TEXT,
        port          INTEGER,
        client_port   INTEGER,
        created_at    TEXT    NOT NULL,
        last_seen     TEXT
    );"];

/// What can go wrong with the registry file.
#[derive(Debug)]
pub enum DbError {
    /// The file could not be created or opened.
    Io(io::Error),
    /// SQLite refused a statement.
    Sqlite(rusqlite::Error),
    /// The file was written by a newer version of p2pchat.
    TooNew(i32),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Io(err) => write!(f, "cannot open the database file: {err}"),
            DbError::Sqlite(err) => write!(f, "database error: {err}"),
            DbError::TooNew(version) => write!(
                f,
                "the database has schema version {version}, newer than this server's {SCHEMA_VERSION}; upgrade p2pchat"
            ),
        }
    }
}

impl std::error::Error for DbError {}

impl From<io::Error> for DbError {
    fn from(err: io::Error) -> DbError {
        DbError::Io(err)
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(err: rusqlite::Error) -> DbError {
        DbError::Sqlite(err)
    }
}

/// A stored account, as needed to check a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The name as it was registered (names are unique ignoring case).
    pub name: String,
    /// The argon2id PHC string.
    pub password_hash: String,
}

/// The open registry database.
pub struct Store {
    conn: Connection,
}

fn now() -> String {
    Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

impl Store {
    /// Opens (or creates) the database at `path`, brings its schema up to
    /// date, and marks every user offline: whoever was online when the last
    /// server stopped, or crashed, must join again.
    pub fn open(path: &Path) -> Result<Store, DbError> {
        create_private(path)?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // In WAL mode NORMAL survives a crash of the process (the OS keeps
        // what was written); only a power cut may lose the last commits.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let mut store = Store { conn };
        store.migrate()?;
        store.set_all_offline()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), DbError> {
        let version: i32 = self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(DbError::TooNew(version));
        }
        let tx = self.conn.transaction()?;
        for sql in &MIGRATIONS[version as usize..] {
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
                "SELECT user_name, password_hash FROM users WHERE user_name = ?1",
                [name],
                |row| {
                    Ok(Account {
                        name: row.get(0)?,
                        password_hash: row.get(1)?,
                    })
                },
            )
            .optional()?;
        Ok(account)
    }

    /// Records that `name` joined from `ip`, with its chat `port` and the
    /// remote port of its registry connection.
    pub fn set_online(
        &self,
        name: &str,
        ip: IpAddr,
        port: u16,
        client_port: u16,
    ) -> Result<(), DbError> {
        self.conn.execute(
            "UPDATE users SET status = 1, ip_address = ?2, port = ?3, client_port = ?4, last_seen = ?5
             WHERE user_name = ?1",
            params![name, ip.to_string(), port, client_port, now()],
        )?;
        Ok(())
    }

    /// Records that `name` went offline.
    pub fn set_offline(&self, name: &str) -> Result<(), DbError> {
        self.conn.execute(
            "UPDATE users SET status = 0, last_seen = ?2 WHERE user_name = ?1",
            params![name, now()],
        )?;
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
