//! What can go wrong in a store: [`StoreError`]. The vault turns it into its
//! own error in one place (`impl From<StoreError> for VaultError`), where each
//! kind keeps the message and status it had when the stores returned the
//! vault's error directly.

/// A failure of a store (the redb file or PostgreSQL), or of creating one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another writer held the write lock past the bounded wait (2 s for a
    /// file, 5 s for PostgreSQL), or PostgreSQL reported a serialization
    /// failure or deadlock: nothing was written; retry.
    #[error("the store is busy")]
    Busy,
    /// The store (a database) cannot be reached; nothing was written.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// What is stored is damaged or has the wrong shape.
    #[error("the store is damaged: {0}")]
    Corrupt(String),
    /// No vault file at the path.
    #[error("no vault at {0}")]
    Missing(String),
    /// A path that is not safe to use (a link, another user's file, one
    /// writable by others, a foreign file where a vault would be created).
    #[error("{0}")]
    Unsafe(String),
    /// The database's schema is newer than this build reads.
    #[error("the store's schema version is {found}, this build reads up to {supported}")]
    NewerSchema {
        /// Version in the database.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The storage engine failed otherwise (redb, the PostgreSQL client, TLS
    /// setup, an invalid store URL).
    #[error("{0}")]
    Engine(String),
}

impl StoreError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

macro_rules! engine_from {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Engine(e.to_string())
            }
        }
    )*};
}
engine_from!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
