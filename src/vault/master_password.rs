//! Changing the master password (`passwd`): the file's one password, or this
//! member's key slot, re-locks the same data key; and the lock a rekey puts
//! on a vault file's new key. One KDF, always before the write lock.

use super::audit::Event;
use super::membership::{box_key, put_member, slot_written};
use super::{Vault, format, members};
use crate::crypto::kdf::{self, HEADER_LEN, KdfHeader, KdfParams};
use crate::error::VaultError;
use crate::secret::{Key32, SecretString};
use crate::store::{Read, Table, meta_key};

/// A vault file's new lock, computed before the write transaction.
pub(super) struct Wrapped {
    pub(super) kdf: [u8; HEADER_LEN],
    pub(super) wrapped: Vec<u8>,
}

/// What `passwd` writes: a member's new slot, or a file's new KDF header and wrapped key.
enum NewLock<'a> {
    Slot(&'a str, Vec<u8>),
    Password(Wrapped),
}

impl Vault {
    /// Re-wraps the data key under `new_password` (fresh salt; `params`, or the
    /// current cost): the file's password, or this member's key slot. One
    /// KDF, one durable commit: a crash leaves the old password or the new one
    /// working, never neither. Records, tokens and running servers (which hold
    /// the data key) are unaffected — and so is the data key: whoever holds
    /// the old password and a copy of the vault from before still has it.
    /// [`Vault::rekey`] with [`super::Relock::NewPassword`] changes both.
    pub fn change_password(
        &self,
        new_password: &SecretString,
        params: Option<KdfParams>,
        via: &str,
    ) -> Result<(), VaultError> {
        if new_password.expose().trim().is_empty() {
            return Err(VaultError::EmptyPassword);
        }
        let vault_id = self.vault_id.as_bytes();
        // What the new password locks: this member's slot, or the file's
        // wrapped key. Derived (one KDF) before the write transaction.
        let lock = match &self.member {
            Some(member) => {
                let (current, vault_box) = {
                    let txn = self.store.read()?;
                    let current = txn.get(Table::Members, member.as_bytes())?.ok_or_else(|| {
                        VaultError::NoMember(format!("member {member} was removed"))
                    })?;
                    (current, box_key(&*txn, &self.keys)?)
                };
                let params = match params {
                    Some(p) => p,
                    None => members::slot_params(&current)?,
                };
                let slot = members::new_slot(
                    new_password,
                    params,
                    &self.data_key,
                    &vault_box,
                    vault_id,
                    member,
                )?;
                NewLock::Slot(member, slot)
            }
            None => NewLock::Password(self.wrap_anew(&self.data_key, new_password, params)?),
        };
        self.change(|c| {
            let written = match &lock {
                NewLock::Slot(member, slot) => {
                    if c.get(Table::Members, member.as_bytes())?.is_none() {
                        return Err(VaultError::NoMember(format!("member {member} was removed")));
                    }
                    // A new slot has a new key pair: pinned with it.
                    put_member(c, &self.keys, member, slot)?;
                    Some(slot_written(member, Some(slot)))
                }
                NewLock::Password(w) => {
                    c.put(Table::Meta, meta_key::KDF.as_bytes(), &w.kdf)?;
                    c.put(Table::Meta, meta_key::WRAPPED_KEY.as_bytes(), &w.wrapped)?;
                    None
                }
            };
            let subject = self.member.clone().unwrap_or_default();
            c.record(&Event::ok("passwd", subject, via), written)
        })
    }

    /// `new_key` wrapped under `password` with a fresh salt at `params` (or
    /// the current cost): one KDF run, outside any write transaction.
    pub(super) fn wrap_anew(
        &self,
        new_key: &Key32,
        password: &SecretString,
        params: Option<KdfParams>,
    ) -> Result<Wrapped, VaultError> {
        if password.expose().trim().is_empty() {
            return Err(VaultError::EmptyPassword);
        }
        let params = match params {
            Some(p) => p,
            None => {
                let current = self
                    .store
                    .read()?
                    .get(Table::Meta, meta_key::KDF.as_bytes())?
                    .ok_or_else(|| VaultError::Corrupt("KDF header missing".into()))?;
                KdfHeader::decode(&current)?.params
            }
        };
        let header = KdfHeader::generate(params)?;
        let master = kdf::derive_master_key(password, &header)?;
        let kdf = header.encode();
        Ok(Wrapped {
            wrapped: format::wrap_key(&master, new_key, &kdf, self.vault_id.as_bytes())?,
            kdf,
        })
    }
}
