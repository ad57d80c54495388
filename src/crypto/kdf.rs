//! Argon2id: password → 32-byte master key.
//!
//! The parameters and salt live in the vault file as a [`KdfHeader`], so they can
//! be raised later. They are bounded *before* anything is allocated: a tampered
//! header is a clean error, never a 4 TiB allocation. Argon2's work area is our
//! own buffer, wiped after use (the argon2 crate does not wipe its own).

use argon2::{Algorithm, Argon2, Block, Params, Version};
use zeroize::Zeroize;

use super::{CryptoError, random_bytes};
use crate::secret::{Key32, SecretString};

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations (passes over memory).
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfParams {
    /// The product default: 256 MiB, 3 passes, 1 lane (about 0.7 s on one core here).
    pub const DEFAULT: Self = Self {
        m_kib: 256 * 1024,
        t: 3,
        p: 1,
    };
    /// Smallest memory accepted from a file or a flag: 8 MiB.
    pub const MIN_M_KIB: u32 = 8 * 1024;
    /// Largest memory accepted from a file or a flag: 4 GiB.
    pub const MAX_M_KIB: u32 = 4 * 1024 * 1024;
    /// Accepted iterations.
    pub const T_RANGE: std::ops::RangeInclusive<u32> = 1..=64;
    /// Accepted lanes.
    pub const P_RANGE: std::ops::RangeInclusive<u32> = 1..=16;

    /// Refuses parameters outside the bounds above.
    pub fn check(&self) -> Result<(), CryptoError> {
        if !(Self::MIN_M_KIB..=Self::MAX_M_KIB).contains(&self.m_kib) {
            return Err(CryptoError::KdfParams(format!(
                "memory {} KiB not in {}..={} KiB",
                self.m_kib,
                Self::MIN_M_KIB,
                Self::MAX_M_KIB
            )));
        }
        if !Self::T_RANGE.contains(&self.t) {
            return Err(CryptoError::KdfParams(format!(
                "iterations {} not in 1..=64",
                self.t
            )));
        }
        if !Self::P_RANGE.contains(&self.p) {
            return Err(CryptoError::KdfParams(format!(
                "parallelism {} not in 1..=16",
                self.p
            )));
        }
        // Argon2 needs at least 8 KiB per lane; our minimum memory already guarantees it.
        Ok(())
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Algorithm tag for Argon2id v1.3 in the header.
const ALG_ARGON2ID_13: u8 = 1;
/// Salt length in bytes.
pub const SALT_LEN: usize = 16;
/// Encoded header length: alg(1) m(4) t(4) p(4) salt_len(1) salt(16).
pub const HEADER_LEN: usize = 1 + 4 + 4 + 4 + 1 + SALT_LEN;

/// What the file stores to re-derive the master key: parameters and salt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdfHeader {
    /// Cost parameters.
    pub params: KdfParams,
    /// Random salt.
    pub salt: [u8; SALT_LEN],
}

impl KdfHeader {
    /// A header with fresh random salt. Parameters are checked first.
    pub fn generate(params: KdfParams) -> Result<Self, CryptoError> {
        params.check()?;
        let mut salt = [0u8; SALT_LEN];
        random_bytes(&mut salt)?;
        Ok(Self { params, salt })
    }

    /// Fixed-size little-endian encoding (see docs/FORMAT.md).
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = ALG_ARGON2ID_13;
        out[1..5].copy_from_slice(&self.params.m_kib.to_le_bytes());
        out[5..9].copy_from_slice(&self.params.t.to_le_bytes());
        out[9..13].copy_from_slice(&self.params.p.to_le_bytes());
        out[13] = SALT_LEN as u8;
        out[14..].copy_from_slice(&self.salt);
        out
    }

    /// Parses and bounds-checks a header read from disk. Allocates nothing.
    pub fn decode(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != HEADER_LEN {
            return Err(CryptoError::KdfParams(format!(
                "header is {} bytes, expected {HEADER_LEN}",
                bytes.len()
            )));
        }
        if bytes[0] != ALG_ARGON2ID_13 {
            return Err(CryptoError::KdfParams(format!(
                "unknown algorithm tag {}",
                bytes[0]
            )));
        }
        if bytes[13] as usize != SALT_LEN {
            return Err(CryptoError::KdfParams(format!(
                "salt length {} (expected {SALT_LEN})",
                bytes[13]
            )));
        }
        let word =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let params = KdfParams {
            m_kib: word(1),
            t: word(5),
            p: word(9),
        };
        params.check()?;
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&bytes[14..]);
        Ok(Self { params, salt })
    }
}

/// Derives the 32-byte master key from `password` with Argon2id.
///
/// # Security
/// The work area (`m_kib` KiB) is allocated here and zeroized before it is freed.
pub fn derive_master_key(
    password: &SecretString,
    header: &KdfHeader,
) -> Result<Key32, CryptoError> {
    header.params.check()?;
    let p = &header.params;
    let params = Params::new(p.m_kib, p.t, p.p, Some(32)).map_err(|_| CryptoError::Kdf)?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut blocks = vec![Block::new(); p.m_kib as usize];
    let mut key = Key32::zero();
    let result = argon.hash_password_into_with_memory(
        password.expose().as_bytes(),
        &header.salt,
        key.expose_mut(),
        &mut blocks[..],
    );
    blocks.zeroize();
    drop(blocks);
    result.map_err(|_| CryptoError::Kdf)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let h = KdfHeader::generate(KdfParams {
            m_kib: 8192,
            t: 1,
            p: 1,
        })
        .unwrap();
        assert_eq!(KdfHeader::decode(&h.encode()).unwrap(), h);
    }

    #[test]
    fn out_of_range_header_is_refused_before_allocation() {
        let mut bytes = KdfHeader::generate(KdfParams::DEFAULT).unwrap().encode();
        bytes[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            KdfHeader::decode(&bytes),
            Err(CryptoError::KdfParams(_))
        ));
        let mut bytes = KdfHeader::generate(KdfParams::DEFAULT).unwrap().encode();
        bytes[5..9].copy_from_slice(&0u32.to_le_bytes());
        assert!(KdfHeader::decode(&bytes).is_err());
        let mut bytes = KdfHeader::generate(KdfParams::DEFAULT).unwrap().encode();
        bytes[9..13].copy_from_slice(&17u32.to_le_bytes());
        assert!(KdfHeader::decode(&bytes).is_err());
        assert!(KdfHeader::decode(&bytes[..10]).is_err());
    }

    #[test]
    fn derivation_depends_on_password_and_salt() {
        let h = KdfHeader::generate(KdfParams {
            m_kib: 8192,
            t: 1,
            p: 1,
        })
        .unwrap();
        let a = derive_master_key(&"pw-one".into(), &h).unwrap();
        let b = derive_master_key(&"pw-one".into(), &h).unwrap();
        let c = derive_master_key(&"pw-two".into(), &h).unwrap();
        assert_eq!(a.expose(), b.expose());
        assert_ne!(a.expose(), c.expose());
        let h2 = KdfHeader::generate(h.params).unwrap();
        let d = derive_master_key(&"pw-one".into(), &h2).unwrap();
        assert_ne!(a.expose(), d.expose());
    }

    #[test]
    fn matches_the_argon2id_reference_vector() {
        // RFC 9106 style check through the same code path as production, using the
        // argon2 crate's own simple API as the reference at identical parameters.
        let h = KdfHeader {
            params: KdfParams {
                m_kib: 8192,
                t: 2,
                p: 1,
            },
            salt: *b"0123456789abcdef",
        };
        let ours = derive_master_key(&"password".into(), &h).unwrap();
        let mut reference = [0u8; 32];
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 2, 1, Some(32)).unwrap(),
        )
        .hash_password_into(b"password", b"0123456789abcdef", &mut reference)
        .unwrap();
        assert_eq!(ours.expose(), &reference);
    }
}
