//! `BenchError`: why a benchmark could not run to the end. It owns the
//! wording a user reads and must never hide the error it wraps.

use std::fmt;
use std::io;

use p2pchat::db::DbError;
use p2pchat::registry::ServerError;

/// Why a benchmark could not run to the end.
#[derive(Debug)]
pub enum BenchError {
    Io(io::Error),
    Db(DbError),
    Server(ServerError),
    /// The system under test did not behave as the load needs, such as an
    /// IRC server that refused a nick or a join that never completed.
    Setup(String),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Io(err) => write!(f, "network error: {err}"),
            BenchError::Db(err) => err.fmt(f),
            BenchError::Server(err) => err.fmt(f),
            BenchError::Setup(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for BenchError {}

impl From<io::Error> for BenchError {
    fn from(err: io::Error) -> BenchError {
        BenchError::Io(err)
    }
}

impl From<DbError> for BenchError {
    fn from(err: DbError) -> BenchError {
        BenchError::Db(err)
    }
}

impl From<ServerError> for BenchError {
    fn from(err: ServerError) -> BenchError {
        BenchError::Server(err)
    }
}
