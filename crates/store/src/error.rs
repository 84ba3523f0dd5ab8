//! The errors of the store, shaped so that the API can map each to a status code.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist (or is soft-deleted where that matters).
    #[error("{kind} {key:?} not found")]
    NotFound { kind: &'static str, key: String },
    /// The change conflicts with what is stored (a duplicate unique name).
    #[error("{message}")]
    Conflict { message: String },
    /// The change is refused as invalid (unknown reference, a cycle, a bad value).
    #[error("{message}")]
    Invalid { message: String },
    /// Stored data could not be read back (a corrupt row or a wrong key).
    #[error("stored data is unreadable: {message}")]
    Corrupt { message: String },
    /// A file system operation failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A write of a worker whose lease on the job is gone (a newer holder exists).
    #[error("{message}")]
    Fenced { message: String },
    /// The database failed.
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

/// A column that does not decode (an unknown word where an enum is stored, a
/// value of the wrong type) is unreadable stored data, named by its column;
/// anything else is the database failing.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        match e {
            sqlx::Error::ColumnDecode { index, source } => {
                StoreError::Corrupt { message: format!("column {index}: {source}") }
            }
            other => StoreError::Database(other),
        }
    }
}

impl StoreError {
    pub(crate) fn not_found(kind: &'static str, key: impl Into<String>) -> StoreError {
        StoreError::NotFound { kind, key: key.into() }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> StoreError {
        StoreError::Invalid { message: message.into() }
    }

    pub(crate) fn conflict(message: impl Into<String>) -> StoreError {
        StoreError::Conflict { message: message.into() }
    }

    /// Turns a unique-constraint violation into a `Conflict` with `message`.
    pub(crate) fn or_conflict(e: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::conflict(message());
            }
        }
        StoreError::Database(e)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> StoreError {
        StoreError::Corrupt { message: e.to_string() }
    }
}
