//! HTTP bearer tokens: random, shown once, stored only as a keyed hash of the
//! token (table `tokens`), looked up by that hash.

use serde::{Deserialize, Serialize};

use super::audit::{Event, Written};
use super::format::{open_record, seal_record};
use super::{Vault, now};
use crate::error::VaultError;
use crate::secret::SecretString;
use crate::store::{Table, scan_all};

/// Token metadata as sealed in its record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenRecord {
    name: String,
    created_at: i64,
}

/// An HTTP bearer token's metadata (the token itself is stored only as a keyed hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Short id: the first 8 bytes of the token's keyed hash, hex.
    pub id: String,
    /// Label given at creation.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// Prefix of every bearer token credvault issues.
pub const TOKEN_PREFIX: &str = "cvt_";

/// Tokens: random, shown once, stored as a keyed hash; checked in constant time.
impl Vault {
    /// Creates a bearer token labelled `name`. The token is returned once and
    /// only its keyed hash is stored.
    pub fn create_token(
        &self,
        name: &str,
        via: &str,
    ) -> Result<(SecretString, TokenInfo), VaultError> {
        use base64::Engine;
        let mut raw = zeroize::Zeroizing::new([0u8; 32]);
        crate::crypto::random_bytes(raw.as_mut_slice())?;
        let token = SecretString::new(format!(
            "{TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_slice())
        ));
        let mac = self.keys.token_mac(token.expose().as_bytes())?;
        let record = TokenRecord {
            name: name.to_owned(),
            created_at: now(),
        };
        let sealed = seal_record(
            self.keys.seal_key(),
            Table::Tokens,
            token_record_id(&mac),
            &record,
            &SecretString::default(),
            None,
        )?;
        self.change(|c| {
            c.put(Table::Tokens, &mac, &sealed)?;
            let written = Written {
                table: Table::Tokens,
                id: token_record_id(&mac),
                sealed: Some(&sealed),
            };
            c.record(&Event::ok("token_create", name, via), Some(written))
        })?;
        Ok((token, token_info(&mac, record)))
    }

    /// Every token's metadata, oldest first.
    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>, VaultError> {
        let mut out = Vec::new();
        self.each_token(|mac, rec| {
            out.push(token_info(mac, rec));
        })?;
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    /// Revokes every token whose id or name is `which`; returns how many.
    pub fn revoke_token(&self, which: &str, via: &str) -> Result<usize, VaultError> {
        let mut doomed = Vec::new();
        self.each_token(|mac, rec| {
            if token_info(mac, rec.clone()).id == which || rec.name == which {
                doomed.push((*mac, rec.name));
            }
        })?;
        if doomed.is_empty() {
            return Ok(0);
        }
        self.change(|c| {
            for (mac, name) in &doomed {
                c.remove(Table::Tokens, mac)?;
                let written = Written {
                    table: Table::Tokens,
                    id: token_record_id(mac),
                    sealed: None,
                };
                c.record(&Event::ok("token_revoke", name.clone(), via), Some(written))?;
            }
            Ok(doomed.len())
        })
    }

    /// The token's metadata when `presented` is a live token. One keyed hash
    /// and one lookup by it (no scan, no KDF): the table is keyed by the hash,
    /// so a guess tells nothing about any stored token. Read on every call, so
    /// a revocation by another process takes effect at once.
    pub fn check_token(&self, presented: &str) -> Result<Option<TokenInfo>, VaultError> {
        let mac = self.keys.token_mac(presented.as_bytes())?;
        self.reading(|| self.token_of(&mac))
    }

    /// [`Self::check_token`] for the token whose keyed hash is `mac`.
    fn token_of(&self, mac: &[u8; 32]) -> Result<Option<TokenInfo>, VaultError> {
        let mac = *mac;
        let txn = self.store.read()?;
        let Some(sealed) = txn.get(Table::Tokens, &mac)? else {
            return Ok(None);
        };
        let id = token_record_id(&mac);
        match open_record::<TokenRecord>(self.keys.seal_key(), Table::Tokens, id, &sealed) {
            Ok(opened) => {
                // A revoked token's row put back must not authenticate.
                let what = format!("token {}", opened.meta.name);
                match self.check_written(&*txn, Table::Tokens, id, &sealed, &what) {
                    Ok(()) => Ok(Some(token_info(&mac, opened.meta))),
                    Err(e @ VaultError::Tampered(_)) => {
                        tracing::error!("it authenticates nobody: {e}");
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => {
                tracing::error!("a damaged token record authenticates nobody: {e}");
                Ok(None)
            }
        }
    }

    fn each_token(&self, mut f: impl FnMut(&[u8; 32], TokenRecord)) -> Result<(), VaultError> {
        for (k, v) in scan_all(&*self.store.read()?, Table::Tokens)? {
            let mac: [u8; 32] = k
                .as_slice()
                .try_into()
                .map_err(|_| VaultError::Corrupt("a token key has the wrong length".into()))?;
            match open_record::<TokenRecord>(
                self.keys.seal_key(),
                Table::Tokens,
                token_record_id(&mac),
                &v,
            ) {
                Ok(opened) => f(&mac, opened.meta),
                // A damaged token record authenticates nobody; the others still work.
                Err(e) => tracing::error!("skipped a damaged token record: {e}"),
            }
        }
        Ok(())
    }
}

/// The record id of the token stored under table key `key`.
pub(super) fn record_id_of(key: &[u8]) -> Result<u128, VaultError> {
    let mac: [u8; 32] = key
        .try_into()
        .map_err(|_| VaultError::Corrupt("a token key has the wrong length".into()))?;
    Ok(token_record_id(&mac))
}

/// A token record is bound to its table key through this id.
fn token_record_id(mac: &[u8; 32]) -> u128 {
    let mut b = [0u8; 16];
    b.copy_from_slice(&mac[..16]);
    u128::from_be_bytes(b)
}

fn token_info(mac: &[u8; 32], r: TokenRecord) -> TokenInfo {
    TokenInfo {
        id: super::audit::hex(&mac[..8]),
        name: r.name,
        created_at: r.created_at,
    }
}
