//! crypto_secretbox (XSalsa20-Poly1305) sealing: `nonce(24) ‖ ciphertext+tag`.
//!
//! A fresh random nonce per seal. What the plaintext binds (record kind and id)
//! is the vault layer's business; here it is bytes in, bytes out.

use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use zeroize::Zeroizing;

use super::{CryptoError, random_bytes};
use crate::secret::Key32;

/// Nonce length.
pub const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
pub const TAG_LEN: usize = 16;

/// Seals `plaintext` under `key`; returns `nonce ‖ ciphertext`.
pub fn seal(key: &Key32, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let cipher = XSalsa20Poly1305::new(key.expose().into());
    let mut nonce = [0u8; NONCE_LEN];
    random_bytes(&mut nonce)?;
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), plaintext)
        .map_err(|_| CryptoError::DecryptionFailed)?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens `nonce ‖ ciphertext` sealed by [`seal`]. Any alteration fails as
/// [`CryptoError::DecryptionFailed`]; the plaintext is wiped on drop.
pub fn open(key: &Key32, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::DecryptionFailed);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let cipher = XSalsa20Poly1305::new(key.expose().into());
    cipher
        .decrypt(Nonce::from_slice(nonce), ct)
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::DecryptionFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_fresh_nonces() {
        let key = Key32::random().unwrap();
        let a = seal(&key, b"hello").unwrap();
        let b = seal(&key, b"hello").unwrap();
        assert_ne!(a, b, "nonce must be fresh per seal");
        assert_eq!(&open(&key, &a).unwrap()[..], b"hello");
    }

    #[test]
    fn every_flipped_bit_is_rejected() {
        let key = Key32::random().unwrap();
        let sealed = seal(&key, b"some record bytes").unwrap();
        for i in 0..sealed.len() {
            for bit in 0..8 {
                let mut bad = sealed.clone();
                bad[i] ^= 1 << bit;
                assert!(open(&key, &bad).is_err(), "byte {i} bit {bit}");
            }
        }
        assert!(open(&key, &sealed[..sealed.len() - 1]).is_err());
        assert!(open(&Key32::random().unwrap(), &sealed).is_err());
    }
}
