//! Cryptography: Argon2id key derivation, secretbox sealing, and the keys derived
//! from the vault's data key. Nothing here touches disk.

pub mod kdf;
pub mod keys;
pub mod seal;

/// A cryptographic failure. Deliberately opaque: which check failed is not told,
/// so errors are no oracle and carry nothing secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Authentication of sealed data failed: wrong key, or the bytes were altered.
    #[error("decryption failed")]
    DecryptionFailed,
    /// The operating system's random source failed.
    #[error("the system random number generator failed")]
    Random,
    /// KDF parameters outside the accepted bounds (see [`kdf::KdfParams::check`]).
    #[error("key-derivation parameters out of range: {0}")]
    KdfParams(String),
    /// Argon2 itself refused to run (should not happen with checked parameters).
    #[error("key derivation failed")]
    Kdf,
}

/// Fills `buf` from the operating system's random source.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(|_| CryptoError::Random)
}
