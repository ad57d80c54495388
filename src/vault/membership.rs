//! Team vault membership (DESIGN §12): add, list and remove members, and
//! their part of a rekey (see [`super::rekey`]). Each member's key slot is in
//! table `members` (its layout: [`super::members`]).
//!
//! A slot's public key is pinned when the member is added: `meta` holds
//! `member_pin:<name>`, a keyed hash (audit subkey) of the name and public
//! key. Rekey reboxes the new data key only to public keys whose pin checks,
//! so someone who can write the database but holds no data key cannot swap
//! in a key of their own to read the next one.

use super::audit::{self, Event, Written};
use super::change::Change;
use super::rekey::{Rekeyed, Resealed};
use super::{Vault, members};
use crate::crypto::kdf::KdfParams;
use crate::crypto::keys::VaultKeys;
use crate::error::VaultError;
use crate::secret::{Key32, SecretString};
use crate::store::{Read, Table, meta_key, scan_all};

/// A member as `member list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// Its name.
    pub name: String,
    /// Whether a process that names no member opens this one.
    pub default: bool,
}

fn pin_key(name: &str) -> String {
    format!("member_pin:{name}")
}

fn pin(keys: &VaultKeys, name: &str, slot: &[u8]) -> Result<[u8; 32], VaultError> {
    let public = members::slot_public_key(slot, name)?;
    Ok(keys.audit_mac(&[b"member-pin", name.as_bytes(), &public])?)
}

/// The vault's box key, opened from `meta` with `keys`.
pub(super) fn box_key(
    txn: &(impl Read + ?Sized),
    keys: &VaultKeys,
) -> Result<members::BoxKey, VaultError> {
    let sealed = txn
        .get(Table::Meta, meta_key::BOX_KEY.as_bytes())?
        .ok_or_else(|| VaultError::Corrupt("the team vault's box key is missing".into()))?;
    members::BoxKey::open(keys.seal_key(), &sealed)
}

/// Writes `name`'s slot and its pin under `keys`.
pub(super) fn put_member(
    c: &mut Change<'_>,
    keys: &VaultKeys,
    name: &str,
    slot: &[u8],
) -> Result<(), VaultError> {
    c.put(Table::Members, name.as_bytes(), slot)?;
    c.put(
        Table::Meta,
        pin_key(name).as_bytes(),
        &pin(keys, name, slot)?,
    )
}

/// A member's key slot as the trail records it: written (`Some`) or removed.
pub(super) fn slot_written<'a>(name: &str, slot: Option<&'a [u8]>) -> Written<'a> {
    Written {
        table: Table::Members,
        id: audit::member_id(name),
        sealed: slot,
    }
}

impl Vault {
    fn team_member(&self) -> Result<&str, VaultError> {
        self.member.as_deref().ok_or(VaultError::NotTeam)
    }

    /// Adds member `name` with its own password (one KDF, before the write).
    pub fn member_add(
        &self,
        name: &str,
        password: &SecretString,
        params: KdfParams,
        via: &str,
    ) -> Result<(), VaultError> {
        self.team_member()?;
        members::check_member_name(name).map_err(VaultError::BadMemberName)?;
        if password.expose().trim().is_empty() {
            return Err(VaultError::EmptyPassword);
        }
        let vault_box = box_key(&*self.store.read()?, &self.keys)?;
        let slot = members::new_slot(
            password,
            params,
            &self.data_key,
            &vault_box,
            self.vault_id.as_bytes(),
            name,
        )?;
        self.change(|c| {
            if c.get(Table::Members, name.as_bytes())?.is_some() {
                return Err(VaultError::MemberExists(name.to_owned()));
            }
            put_member(c, &self.keys, name, &slot)?;
            let event = Event::ok("member_add", name, via);
            c.record(&event, Some(slot_written(name, Some(&slot))))
        })
    }

    /// Every member, by name.
    pub fn members(&self) -> Result<Vec<MemberInfo>, VaultError> {
        self.team_member()?;
        let txn = self.store.read()?;
        let default = txn.get(Table::Meta, meta_key::DEFAULT_MEMBER.as_bytes())?;
        scan_all(&*txn, Table::Members)?
            .into_iter()
            .map(|(name, _)| {
                let default = default.as_deref() == Some(name.as_slice());
                let name = String::from_utf8(name)
                    .map_err(|_| VaultError::Corrupt("a member name is not UTF-8".into()))?;
                Ok(MemberInfo { name, default })
            })
            .collect()
    }

    /// Removes member `name`; false when there is none. The last member
    /// cannot be removed. Their copy of the current key still opens what is
    /// sealed now: run [`Vault::rekey`] next.
    pub fn member_remove(&self, name: &str, via: &str) -> Result<bool, VaultError> {
        let me = self.team_member()?.to_owned();
        self.change(|c| {
            if !c.remove(Table::Members, name.as_bytes())? {
                return Ok(false);
            }
            if c.scan(Table::Members, None, 1)?.is_empty() {
                return Err(VaultError::Refused(format!(
                    "{name} is the last member: a team vault keeps at least one (nothing was removed)"
                )));
            }
            c.remove(Table::Meta, pin_key(name).as_bytes())?;
            let default = c.get(Table::Meta, meta_key::DEFAULT_MEMBER.as_bytes())?;
            if default.as_deref() == Some(name.as_bytes()) {
                // The default moves to the remover, or (removing oneself) to the
                // first remaining member: never to nobody.
                let next = if me == name {
                    c.scan(Table::Members, None, 1)?
                        .into_iter()
                        .next()
                        .map(|(n, _)| n)
                        .unwrap_or_default()
                } else {
                    me.into_bytes()
                };
                c.put(Table::Meta, meta_key::DEFAULT_MEMBER.as_bytes(), &next)?;
            }
            let event = Event::ok("member_remove", name, via);
            c.record(&event, Some(slot_written(name, None)))?;
            Ok(true)
        })
    }

    /// The team vault's part of [`Vault::rekey`], inside its transaction:
    /// the box key re-sealed under `new`, and `new_key` reboxed to every
    /// remaining member whose pinned public key checks. Returns the slots as
    /// written, each to get its `rekey` entry.
    pub(super) fn rebox_members(
        &self,
        c: &mut Change<'_>,
        new_key: &Key32,
        new: &VaultKeys,
        done: &mut Rekeyed,
    ) -> Result<Resealed, VaultError> {
        let vault_id = self.vault_id.as_bytes();
        // The box key stays (members pinned it), sealed under the new key.
        let vault_box = box_key(&*c, &self.keys)?;
        c.put(
            Table::Meta,
            meta_key::BOX_KEY.as_bytes(),
            &vault_box.sealed(new.seal_key())?,
        )?;

        let mut reboxed = Vec::new();
        // Members: a pin that does not check stops everything.
        for (name, slot) in scan_all(&*c, Table::Members)? {
            let name = String::from_utf8(name)
                .map_err(|_| VaultError::Corrupt("a member name is not UTF-8".into()))?;
            let pinned = c.get(Table::Meta, pin_key(&name).as_bytes())?;
            if pinned.as_deref() != Some(pin(&self.keys, &name, &slot)?.as_slice()) {
                return Err(VaultError::Corrupt(format!(
                    "member {name}'s public key is not the one added (altered in the store): nothing was rekeyed"
                )));
            }
            let slot = members::rebox(&slot, new_key, &vault_box, vault_id, &name)?;
            put_member(c, new, &name, &slot)?;
            reboxed.push((Table::Members, audit::member_id(&name), name, slot));
            done.members += 1;
        }
        Ok(reboxed)
    }
}
