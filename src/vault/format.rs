//! Byte layouts inside the redb file (docs/FORMAT.md is the prose version).
//!
//! Every record is sealed whole. Its plaintext starts with the record kind and
//! its own id, which are checked on open: a sealed blob copied under another id
//! or into another table fails. The wrapped data key carries a copy of the KDF
//! header, so a header altered on disk cannot pass as genuine.

use serde::{Serialize, de::DeserializeOwned};
use zeroize::Zeroizing;

use crate::crypto::{CryptoError, kdf::HEADER_LEN, seal};
use crate::error::VaultError;
use crate::secret::{Key32, SecretString};
use crate::store::Table;

/// The file format this build writes and the newest it reads.
/// 2 added the audit trail; a format-1 vault is migrated by its first write.
/// 3 covers a team vault's member key slots in the trail; a format-2 vault is
/// migrated by its first write (one `baseline` entry per slot).
pub const FORMAT_VERSION: u32 = 3;

/// The record kind a sealed record of `table` starts with (its first
/// plaintext byte), or `None` for a table that holds no sealed records.
pub fn record_tag(table: Table) -> Option<u8> {
    match table {
        Table::Credentials => Some(1),
        Table::Secrets => Some(2),
        Table::Tokens => Some(3),
        // An audit trail entry (id: its sequence number).
        Table::Audit => Some(4),
        Table::Meta | Table::Index | Table::Members => None,
    }
}

/// [`record_tag`], for sealing: a table without one is a bug, refused.
pub(super) fn tag_of(table: Table) -> Result<u8, VaultError> {
    record_tag(table).ok_or_else(|| {
        VaultError::Storage(format!(
            "the {} table holds no sealed records (a bug in credvault)",
            table.name()
        ))
    })
}

/// A wrapped key from before the trail was bound to it (format 1 and 2).
const WRAP_MAGIC_V1: &[u8; 8] = b"cvwrap01";
/// A wrapped key that also says "this vault keeps an audit trail": its head
/// can then not be removed (with the trail) to switch every check off.
const WRAP_MAGIC: &[u8; 8] = b"cvwrap02";
/// Plaintext of the wrapped key: magic ‖ data key ‖ KDF header ‖ vault id.
const WRAP_LEN: usize = 8 + 32 + HEADER_LEN + 16;

/// Seals the data key under the master key, binding the KDF header and vault id.
pub fn wrap_key(
    master: &Key32,
    data_key: &Key32,
    header: &[u8; HEADER_LEN],
    vault_id: &[u8; 16],
) -> Result<Vec<u8>, VaultError> {
    let mut plain = Zeroizing::new(Vec::with_capacity(WRAP_LEN));
    plain.extend_from_slice(WRAP_MAGIC);
    plain.extend_from_slice(data_key.expose());
    plain.extend_from_slice(header);
    plain.extend_from_slice(vault_id);
    Ok(seal::seal(master, &plain)?)
}

/// Opens the wrapped key: the data key, and whether the wrap says the vault
/// keeps an audit trail (every wrap this version writes does; see
/// [`WRAP_MAGIC`]). A wrong master key is [`VaultError::WrongPassword`]; a
/// header or vault id that differs from the sealed copy is [`VaultError::Corrupt`].
pub fn unwrap_key(
    master: &Key32,
    wrapped: &[u8],
    header: &[u8],
    vault_id: &[u8],
) -> Result<(Key32, bool), VaultError> {
    let plain = seal::open(master, wrapped).map_err(|e| match e {
        CryptoError::DecryptionFailed => VaultError::WrongPassword,
        other => VaultError::Crypto(other),
    })?;
    let binds_trail = plain.get(..8) == Some(&WRAP_MAGIC[..]);
    if plain.len() != WRAP_LEN || !(binds_trail || &plain[..8] == WRAP_MAGIC_V1) {
        return Err(VaultError::Corrupt(
            "wrapped key has an unknown layout".into(),
        ));
    }
    if &plain[40..40 + HEADER_LEN] != header || &plain[40 + HEADER_LEN..] != vault_id {
        return Err(VaultError::Corrupt(
            "KDF header or vault id differs from the sealed copy".into(),
        ));
    }
    let key = Key32::from_slice(&plain[8..40])
        .ok_or_else(|| VaultError::Corrupt("wrapped key length".into()))?;
    Ok((key, binds_trail))
}

/// Seals a record: `kind ‖ id ‖ meta_len ‖ meta JSON ‖ value_len ‖ value ‖ attachment`.
pub fn seal_record<M: Serialize>(
    key: &Key32,
    table: Table,
    id: u128,
    meta: &M,
    value: &SecretString,
    attachment: Option<&SecretString>,
) -> Result<Vec<u8>, VaultError> {
    let kind = tag_of(table)?;
    let meta = serde_json::to_vec(meta)
        .map_err(|e| VaultError::Storage(format!("encoding record: {e}")))?;
    let value = value.expose().as_bytes();
    let attachment = attachment
        .map(|a| a.expose().as_bytes())
        .unwrap_or_default();
    let mut plain = Zeroizing::new(Vec::with_capacity(
        1 + 16 + 8 + meta.len() + value.len() + attachment.len(),
    ));
    plain.push(kind);
    plain.extend_from_slice(&id.to_be_bytes());
    plain.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    plain.extend_from_slice(&meta);
    plain.extend_from_slice(&(value.len() as u32).to_le_bytes());
    plain.extend_from_slice(value);
    plain.extend_from_slice(attachment);
    Ok(seal::seal(key, &plain)?)
}

/// An opened record.
pub struct Opened<M> {
    /// Its metadata.
    pub meta: M,
    /// Its value.
    pub value: SecretString,
    /// The extra sealed payload stored after the value, if any.
    pub attachment: Option<SecretString>,
}

/// Opens a record sealed by [`seal_record`], checking that it is of `table` and
/// was sealed for `id`. Any mismatch or alteration is [`VaultError::Corrupt`].
pub fn open_record<M: DeserializeOwned>(
    key: &Key32,
    table: Table,
    id: u128,
    sealed: &[u8],
) -> Result<Opened<M>, VaultError> {
    let corrupt =
        |what: &str| VaultError::Corrupt(format!("record {}: {what}", uuid::Uuid::from_u128(id)));
    let plain = seal::open(key, sealed)
        .map_err(|_| corrupt("authentication failed (altered or foreign data)"))?;
    if plain.len() < 1 + 16 + 4 || Some(plain[0]) != record_tag(table) {
        return Err(corrupt("wrong record kind"));
    }
    if plain[1..17] != id.to_be_bytes() {
        return Err(corrupt("sealed under another id"));
    }
    let take_len = |at: usize| -> Option<usize> {
        let b = plain.get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let meta_len = take_len(17).ok_or_else(|| corrupt("truncated"))?;
    let meta_end = 21usize
        .checked_add(meta_len)
        .filter(|e| *e <= plain.len())
        .ok_or_else(|| corrupt("truncated"))?;
    let meta: M =
        serde_json::from_slice(&plain[21..meta_end]).map_err(|_| corrupt("unreadable metadata"))?;
    let value_len = take_len(meta_end).ok_or_else(|| corrupt("truncated"))?;
    let value_start = meta_end + 4;
    let value_end = value_start
        .checked_add(value_len)
        .filter(|e| *e <= plain.len())
        .ok_or_else(|| corrupt("truncated"))?;
    let value = std::str::from_utf8(&plain[value_start..value_end])
        .map_err(|_| corrupt("value is not UTF-8"))?;
    let rest = &plain[value_end..];
    let attachment = if rest.is_empty() {
        None
    } else {
        Some(SecretString::from(
            std::str::from_utf8(rest).map_err(|_| corrupt("attachment is not UTF-8"))?,
        ))
    };
    Ok(Opened {
        meta,
        value: SecretString::from(value),
        attachment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_is_bound_to_kind_and_id() {
        let key = Key32::random().unwrap();
        let sealed = seal_record(
            &key,
            Table::Credentials,
            7,
            &serde_json::json!({"a": 1}),
            &"v".into(),
            None,
        )
        .unwrap();
        let ok: Opened<serde_json::Value> =
            open_record(&key, Table::Credentials, 7, &sealed).unwrap();
        assert_eq!(ok.meta["a"], 1);
        assert_eq!(ok.value.expose(), "v");
        assert!(open_record::<serde_json::Value>(&key, Table::Credentials, 8, &sealed).is_err());
        assert!(open_record::<serde_json::Value>(&key, Table::Secrets, 7, &sealed).is_err());
    }

    #[test]
    fn record_tags_are_the_format_bytes() {
        // Written as the first plaintext byte of every sealed record: fixed forever.
        let tags: Vec<_> = Table::ALL
            .iter()
            .map(|t| (t.name(), record_tag(*t)))
            .collect();
        assert_eq!(
            tags,
            [
                ("meta", None),
                ("credentials", Some(1)),
                ("secrets", Some(2)),
                ("index", None),
                ("tokens", Some(3)),
                ("audit", Some(4)),
                ("members", None),
            ]
        );
        let key = Key32::random().unwrap();
        let v = serde_json::json!({});
        assert!(seal_record(&key, Table::Meta, 1, &v, &"v".into(), None).is_err());
    }

    #[test]
    fn wrapped_key_binds_header_and_vault_id() {
        let master = Key32::random().unwrap();
        let data = Key32::random().unwrap();
        let header = [3u8; HEADER_LEN];
        let w = wrap_key(&master, &data, &header, &[1; 16]).unwrap();
        let (key, binds_trail) = unwrap_key(&master, &w, &header, &[1; 16]).unwrap();
        assert_eq!(key.expose(), data.expose());
        assert!(
            binds_trail,
            "every wrap this version writes binds the trail"
        );
        assert!(matches!(
            unwrap_key(&master, &w, &[4u8; HEADER_LEN], &[1; 16]),
            Err(VaultError::Corrupt(_))
        ));
        assert!(matches!(
            unwrap_key(&master, &w, &header, &[2; 16]),
            Err(VaultError::Corrupt(_))
        ));
        assert!(matches!(
            unwrap_key(&Key32::random().unwrap(), &w, &header, &[1; 16]),
            Err(VaultError::WrongPassword)
        ));
    }
}
