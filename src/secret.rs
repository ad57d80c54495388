//! Secret-bearing types: wiped on drop, redacted in `Debug`, never `Serialize`.
//!
//! A value enters the process as a [`SecretString`] (tool argument, prompt,
//! stdin) and leaves it only sealed. The one way to read it is
//! [`SecretString::expose`], so every use is easy to find with grep.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

/// A UTF-8 secret (credential value, password, token). Zeroized on drop.
#[derive(Clone, Default)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Takes ownership of `value`; the caller's copy is moved, not duplicated.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret text. Every call site is a place a value could escape: keep them few.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Removes leading and trailing white space in place, wiping the old buffer.
    pub fn trim_in_place(&mut self) {
        let trimmed = self.0.trim();
        if trimmed.len() != self.0.len() {
            let fresh = Zeroizing::new(trimmed.to_owned());
            self.0 = fresh;
        }
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self::new(value.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([REDACTED])")
    }
}

/// A 32-byte symmetric key. Zeroized on drop; `Debug` is redacted.
#[derive(Clone)]
pub struct Key32(Box<[u8; 32]>);

impl Key32 {
    /// A fresh key from the operating system's random source.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut key = Self::zero();
        getrandom::fill(key.0.as_mut_slice())?;
        Ok(key)
    }

    /// An all-zero key, to be filled in place (so no copy is left on the stack).
    pub(crate) fn zero() -> Self {
        Self(Box::new([0u8; 32]))
    }

    /// Builds a key from a slice of exactly 32 bytes.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        let mut key = Self::zero();
        if bytes.len() != 32 {
            return None;
        }
        key.0.copy_from_slice(bytes);
        Some(key)
    }

    /// The key bytes.
    pub(crate) fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key bytes, for filling in place.
    pub(crate) fn expose_mut(&mut self) -> &mut [u8; 32] {
        &mut self.0
    }
}

impl Drop for Key32 {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Key32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key32([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = SecretString::from("sk-live-marker-123");
        assert!(!format!("{s:?}").contains("marker"));
        let k = Key32::from_slice(&[7u8; 32]).unwrap();
        assert!(!format!("{k:?}").contains('7'));
    }

    #[test]
    fn trim_in_place_trims_both_ends() {
        let mut s = SecretString::from("  \tabc \n");
        s.trim_in_place();
        assert_eq!(s.expose(), "abc");
    }
}
