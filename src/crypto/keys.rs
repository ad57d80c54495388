//! The vault's data key and the subkeys derived from it.
//!
//! A random 32-byte data key is sealed (wrapped) under the Argon2id master key.
//! Subkeys come from it by keyed BLAKE2b with distinct personalisations: one
//! seals records, one computes the keyed-hash index of names (so names are never
//! readable at rest), one hashes bearer tokens, one chains the audit trail; no
//! two uses share a key.

use blake2::Blake2bMac;
use blake2::digest::Mac;
use blake2::digest::consts::U32;

use super::CryptoError;
use crate::secret::Key32;

type Mac256 = Blake2bMac<U32>;

const PERSONA_SEAL: &[u8] = b"credvault.seal.1";
const PERSONA_INDEX: &[u8] = b"credvault.indx.1";
const PERSONA_TOKEN: &[u8] = b"credvault.tokn.1";
const PERSONA_AUDIT: &[u8] = b"credvault.audt.1";

/// Subkeys of an unlocked vault. Zeroized on drop (each [`Key32`] is).
#[derive(Debug)]
pub struct VaultKeys {
    seal: Key32,
    index: Key32,
    token: Key32,
    audit: Key32,
}

impl VaultKeys {
    /// Derives the subkeys from the data key.
    pub fn derive(data_key: &Key32) -> Result<Self, CryptoError> {
        Ok(Self {
            seal: subkey(data_key, PERSONA_SEAL)?,
            index: subkey(data_key, PERSONA_INDEX)?,
            token: subkey(data_key, PERSONA_TOKEN)?,
            audit: subkey(data_key, PERSONA_AUDIT)?,
        })
    }

    /// Key for sealing records.
    pub fn seal_key(&self) -> &Key32 {
        &self.seal
    }

    /// Keyed hash of index parts; each part is length-prefixed so that
    /// `("ab","c")` and `("a","bc")` never collide.
    pub fn index_mac(&self, parts: &[&[u8]]) -> Result<[u8; 32], CryptoError> {
        mac_parts(&self.index, parts)
    }

    /// Keyed hash for the audit trail: the chain of entries and the sealed
    /// records they wrote (length-prefixed parts, as [`Self::index_mac`]).
    pub fn audit_mac(&self, parts: &[&[u8]]) -> Result<[u8; 32], CryptoError> {
        mac_parts(&self.audit, parts)
    }

    /// Keyed hash of a bearer token, the only form in which tokens are stored.
    pub fn token_mac(&self, token: &[u8]) -> Result<[u8; 32], CryptoError> {
        mac_parts(&self.token, &[token])
    }
}

fn subkey(data_key: &Key32, persona: &[u8]) -> Result<Key32, CryptoError> {
    let mac = Mac256::new_with_salt_and_personal(data_key.expose(), &[], persona)
        .map_err(|_| CryptoError::Kdf)?;
    let mut key = Key32::zero();
    key.expose_mut()
        .copy_from_slice(&mac.finalize().into_bytes());
    Ok(key)
}

fn mac_parts(key: &Key32, parts: &[&[u8]]) -> Result<[u8; 32], CryptoError> {
    let mut mac = <Mac256 as Mac>::new_from_slice(key.expose()).map_err(|_| CryptoError::Kdf)?;
    for part in parts {
        mac.update(&(part.len() as u64).to_le_bytes());
        mac.update(part);
    }
    Ok(mac.finalize().into_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subkeys_differ_and_index_is_length_prefixed() {
        let dk = Key32::random().unwrap();
        let k = VaultKeys::derive(&dk).unwrap();
        assert_ne!(k.seal.expose(), k.index.expose());
        let mac = |k: &VaultKeys, p: &[&[u8]]| k.index_mac(p).unwrap();
        assert_ne!(mac(&k, &[b"ab", b"c"]), mac(&k, &[b"a", b"bc"]));
        assert_eq!(mac(&k, &[b"x"]), mac(&k, &[b"x"]));
        let other = VaultKeys::derive(&Key32::random().unwrap()).unwrap();
        assert_ne!(mac(&k, &[b"x"]), mac(&other, &[b"x"]));
    }
}
