//! The name index (table `index`): a keyed hash of a record's kind and
//! names → its id, so names are never readable at rest and a lookup by name
//! is one get. A lookup always checks that the record it leads to is the one
//! the names claim.

use super::change::Change;
use super::format::{self, Opened, open_record};
use super::{Vault, id_of};
use crate::crypto::keys::VaultKeys;
use crate::error::VaultError;
use crate::store::{Read, Table, scan_all};

/// A record found through the index: its id, sealed bytes, and opened form.
pub(super) type Indexed<M> = (u128, Vec<u8>, Opened<M>);

/// The metadata fields whose values name a record of `table` in the index
/// (in order); none for a table whose records are not looked up by name.
pub(super) fn index_fields(table: Table) -> &'static [&'static str] {
    match table {
        Table::Credentials => &["service", "name"],
        Table::Secrets => &["name"],
        Table::Tokens | Table::Members | Table::Audit | Table::Meta | Table::Index => &[],
    }
}

/// The index key of a record of `kind` named `parts` under `keys`.
pub(super) fn index_key(
    keys: &VaultKeys,
    kind: Table,
    parts: &[&str],
) -> Result<[u8; 32], VaultError> {
    let tag = [format::tag_of(kind)?];
    let mut all: Vec<&[u8]> = vec![&tag];
    all.extend(parts.iter().map(|p| p.as_bytes()));
    Ok(keys.index_mac(&all)?)
}

impl Vault {
    /// The index key of a record of `kind` named `parts`.
    pub(super) fn index_key(&self, kind: Table, parts: &[&str]) -> Result<[u8; 32], VaultError> {
        index_key(&self.keys, kind, parts)
    }

    /// The record the index entry `idx` leads to, opened, with its sealed
    /// bytes; `None` when there is no entry. The one check every lookup by
    /// name makes, in read and write transactions alike: an entry whose
    /// record is missing, does not open, or is not the record `matches`
    /// expects (its names) is [`VaultError::Corrupt`], never a silent match.
    pub(super) fn indexed<M: serde::de::DeserializeOwned>(
        &self,
        txn: &(impl Read + ?Sized),
        kind: Table,
        idx: &[u8; 32],
        matches: impl FnOnce(&M) -> bool,
    ) -> Result<Option<Indexed<M>>, VaultError> {
        let Some(id) = txn.get(Table::Index, idx)? else {
            return Ok(None);
        };
        let id = id_of(&id)?;
        let sealed = txn.get(kind, &id.to_be_bytes())?.ok_or_else(|| {
            VaultError::Corrupt("an index entry points to a missing record".into())
        })?;
        let opened: Opened<M> = open_record(self.keys.seal_key(), kind, id, &sealed)?;
        if !matches(&opened.meta) {
            return Err(VaultError::Corrupt(
                "an index entry does not match its record".into(),
            ));
        }
        Ok(Some((id, sealed, opened)))
    }
}

/// A lookup by name that found the index and its record disagreeing: the
/// error says nothing was deleted and where to look.
pub(super) fn nothing_deleted(e: VaultError) -> VaultError {
    match e {
        VaultError::Corrupt(m) => VaultError::Corrupt(format!(
            "{m} (run credvault audit --verify); nothing was deleted"
        )),
        other => other,
    }
}

/// Removes every index entry that points to `id`.
pub(super) fn remove_index_entries(c: &mut Change<'_>, id: u128) -> Result<(), VaultError> {
    let id = id.to_be_bytes();
    for (k, v) in scan_all(&*c, Table::Index)? {
        if v == id {
            c.remove(Table::Index, &k)?;
        }
    }
    Ok(())
}
