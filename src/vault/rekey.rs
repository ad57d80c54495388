//! Rekey (DESIGN §12, §13): a new random data key, and everything sealed or
//! keyed under the old one moved to it, in one durable transaction.
//!
//! Written once for both kinds of vault; only the lock on the new key differs:
//! a team vault boxes it to every member's pinned public key
//! ([`Vault::rebox_members`]), a vault file wraps it under a master key derived
//! (before the write lock) from a password with a fresh salt. The shared part:
//! `audit --verify` inside the write transaction (any problem refuses the
//! rekey: re-sealing must not launder a replayed or planted record); every
//! credential, secret and audit entry re-sealed (the trail re-chained) and the
//! head; the index rebuilt under the new index key; bearer tokens revoked
//! (their hashes were keyed by the old key); the `rekey` entries appended.
//!
//! Either the whole transaction commits or none of it: a crash leaves the old
//! key (and old password) or the new ones, never a mix. An old password plus
//! a copy of the vault taken before the rekey yields the old key, which opens
//! only what that copy held.

use super::audit::{Event, Written};
use super::change::Change;
use super::format::{Opened, open_record, seal_record};
use super::index::{index_fields, index_key};
use super::{Vault, id_of};
use crate::crypto::CryptoError;
use crate::crypto::kdf::KdfParams;
use crate::crypto::keys::VaultKeys;
use crate::error::VaultError;
use crate::secret::{Key32, SecretString};
use crate::store::{Read, Table, meta_key, scan_all};

/// What a rekey re-sealed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rekeyed {
    /// Credentials and secrets re-sealed.
    pub records: usize,
    /// Audit entries re-sealed (before the rekey's own).
    pub entries: usize,
    /// Member slots given the new key (team vaults).
    pub members: usize,
    /// Bearer tokens revoked (their hashes were keyed by the old key).
    pub tokens_revoked: usize,
}

/// What locks the new data key.
#[derive(Debug, Clone, Copy)]
pub enum Relock<'a> {
    /// A team vault: boxed to every member's pinned public key (no password
    /// is needed; each member keeps their own).
    Members,
    /// A vault file, `credvault rekey`: wrapped under this password (the
    /// one this `Vault` was unlocked with) with a fresh salt, at the current
    /// KDF cost.
    Password(&'a SecretString),
    /// A vault file, `credvault passwd --rekey`: wrapped under a new password
    /// with a fresh salt, at `params` (default: the current cost); the trail
    /// gets a `passwd` entry too.
    NewPassword(&'a SecretString, Option<KdfParams>),
}

/// Records as re-sealed: (table, id, subject, sealed bytes), for the trail.
pub(super) type Resealed = Vec<(Table, u128, String, Vec<u8>)>;

impl Vault {
    /// Draws a new data key and, in one transaction, re-seals every record,
    /// audit entry and the head under it, rebuilds the index, locks the new
    /// key as `relock` says (a team vault: [`Relock::Members`]; a vault file:
    /// a password, one KDF run before the write lock), and revokes the bearer
    /// tokens. Refused, with nothing written, when `audit --verify` finds any
    /// problem, or a vault file's password was changed by another process
    /// since this one unlocked it (a replaced password is never put back).
    ///
    /// Afterwards every process holding the old key, this `Vault` included,
    /// must open the vault again: their calls fail with "rekeyed since it
    /// started", never with a wrong answer.
    pub fn rekey(&self, relock: Relock<'_>, via: &str) -> Result<Rekeyed, VaultError> {
        let new_key = Key32::random().map_err(|_| CryptoError::Random)?;
        let new = VaultKeys::derive(&new_key)?;
        let wrapped = match (&self.member, relock) {
            (Some(_), Relock::Members) => None,
            (None, Relock::Password(pw)) => Some(self.wrap_anew(&new_key, pw, None)?),
            (None, Relock::NewPassword(pw, params)) => Some(self.wrap_anew(&new_key, pw, params)?),
            (Some(_), _) => {
                return Err(VaultError::Refused(
                    "a team vault's new key goes to every member's slot: members keep their own passwords (change yours with passwd, then rekey)".into(),
                ));
            }
            (None, Relock::Members) => {
                return Err(VaultError::Refused(
                    "this vault has one password and no members: its new key is locked under that password".into(),
                ));
            }
        };
        let mut done = Rekeyed::default();
        self.change(|c| {
            self.refuse_problems(&*c)?;
            // Member slots reboxed (team vaults): each gets its entry with the records'.
            let mut reboxed = Resealed::new();
            match &wrapped {
                None => reboxed = self.rebox_members(c, &new_key, &new, &mut done)?,
                Some(w) => {
                    // The password this process unlocked with must still be the
                    // vault's: never lock the new key under one replaced since.
                    let now = (
                        c.get(Table::Meta, meta_key::KDF.as_bytes())?,
                        c.get(Table::Meta, meta_key::WRAPPED_KEY.as_bytes())?,
                    );
                    let unchanged = match now {
                        (Some(kdf), Some(wrapped)) => [kdf, wrapped].concat() == self.slot,
                        _ => false,
                    };
                    if !unchanged {
                        return Err(VaultError::Refused(
                            "the master password was changed by another process since this one unlocked the vault: nothing was rekeyed (run it again with the current password)".into(),
                        ));
                    }
                    c.put(Table::Meta, meta_key::KDF.as_bytes(), &w.kdf)?;
                    c.put(Table::Meta, meta_key::WRAPPED_KEY.as_bytes(), &w.wrapped)?;
                }
            }
            // The trail's checkpoint is sealed under the old key: the next
            // process reads the re-chained trail and saves a new one.
            c.remove(Table::Meta, meta_key::TRAIL_CHECKPOINT.as_bytes())?;
            // From here on, entries are sealed and chained under the new key.
            done.entries = c.reseal_trail(&new)?;
            let resealed = self.reseal_records(c, &new, &mut done)?;
            for (table, id, subject, sealed) in reboxed.iter().chain(&resealed) {
                let written = Written {
                    table: *table,
                    id: *id,
                    sealed: Some(sealed),
                };
                c.record(&Event::ok("rekey", subject.clone(), via), Some(written))?;
            }
            for (mac, _) in scan_all(&*c, Table::Tokens)? {
                c.remove(Table::Tokens, &mac)?;
                let written = Written {
                    table: Table::Tokens,
                    id: super::tokens::record_id_of(&mac)?,
                    sealed: None,
                };
                c.record(&Event::ok("token_revoke", "", via), Some(written))?;
                done.tokens_revoked += 1;
            }
            if let Relock::NewPassword(..) = relock {
                c.record(&Event::ok("passwd", "", via), None)?;
            }
            c.record(&Event::ok("rekey", "", via), None)
        })?;
        Ok(done)
    }

    /// Runs `audit --verify` on the write transaction; any problem refuses
    /// the rekey (re-sealing vouches for whatever is stored: it must be what
    /// the trail says was written, or a replayed or planted record would be
    /// laundered).
    fn refuse_problems(&self, txn: &dyn Read) -> Result<(), VaultError> {
        let checked = super::verify::run_on(self, txn)?;
        if let Some(p) = checked.problems.first() {
            let what = [p.record.clone(), Some(p.what.clone())]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            return Err(VaultError::Corrupt(format!(
                "audit --verify finds {} problem(s), first: {what}; nothing was rekeyed",
                checked.problems.len()
            )));
        }
        Ok(())
    }

    /// Every credential and secret re-sealed under `new`, and the index
    /// rebuilt under its index key; what was written, for the trail.
    fn reseal_records(
        &self,
        c: &mut Change<'_>,
        new: &VaultKeys,
        done: &mut Rekeyed,
    ) -> Result<Resealed, VaultError> {
        for (idx, _) in scan_all(&*c, Table::Index)? {
            c.remove(Table::Index, &idx)?;
        }
        let mut resealed = Vec::new();
        for table in [Table::Credentials, Table::Secrets] {
            for (id, sealed) in scan_all(&*c, table)? {
                let id = id_of(&id)?;
                let o: Opened<serde_json::Value> =
                    open_record(self.keys.seal_key(), table, id, &sealed)?;
                let text = |k: &str| o.meta[k].as_str().unwrap_or_default().to_owned();
                let names: Vec<String> = index_fields(table).iter().map(|k| text(k)).collect();
                let parts: Vec<&str> = names.iter().map(String::as_str).collect();
                let sealed = seal_record(
                    new.seal_key(),
                    table,
                    id,
                    &o.meta,
                    &o.value,
                    o.attachment.as_ref(),
                )?;
                c.put(table, &id.to_be_bytes(), &sealed)?;
                c.put(
                    Table::Index,
                    &index_key(new, table, &parts)?,
                    &id.to_be_bytes(),
                )?;
                resealed.push((table, id, names.join("/"), sealed));
                done.records += 1;
            }
        }
        Ok(resealed)
    }
}
