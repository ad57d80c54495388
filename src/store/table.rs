//! [`Table`]: the one enum of what a vault keeps, from the store's tables up
//! to the kinds of sealed record and the record a trail entry names. Every
//! fact about a table is an exhaustive `match` on it (here, and in the vault:
//! its sealed-record tag, how the trail writes its ids, how messages name
//! it), so a new table is one variant and the compiler finds every place
//! that must say something about it.

use serde::{Deserialize, Serialize};

/// The tables a vault has. Its serde form (in audit entries and the trail's
/// checkpoint) is [`Table::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// Format version, KDF header, wrapped key, vault id, audit head.
    Meta,
    /// Record id → sealed credential.
    Credentials,
    /// Record id → sealed secret.
    Secrets,
    /// Keyed hash of (kind, names) → record id.
    Index,
    /// Keyed hash of a bearer token → sealed token metadata.
    Tokens,
    /// Sequence number → sealed audit entry.
    Audit,
    /// Member name → key slot (team vaults).
    Members,
}

impl Table {
    /// Every table, in the order a copy writes them.
    pub const ALL: [Table; 7] = [
        Table::Meta,
        Table::Credentials,
        Table::Secrets,
        Table::Index,
        Table::Tokens,
        Table::Audit,
        Table::Members,
    ];

    /// The table's name (redb's table name; PostgreSQL's is `credvault_` +
    /// this; the trail's name for a record's table).
    pub fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::Credentials => "credentials",
            Table::Secrets => "secrets",
            Table::Index => "index",
            Table::Tokens => "tokens",
            Table::Audit => "audit",
            Table::Members => "members",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serde_name_is_the_table_name() {
        for t in Table::ALL {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.name()));
            assert_eq!(serde_json::from_str::<Table>(&json).unwrap(), t);
        }
    }
}
