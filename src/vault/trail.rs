//! What the audit trail last wrote for each record, kept in step with the
//! trail's head: the check a record passes before it is used or re-sealed
//! (DESIGN §13, 2026-12-07).
//!
//! `audit --verify` compares every live record with the last entry that
//! wrote it. A use must make the same comparison for the one record it
//! opens, before anything is sent: otherwise a replayed older row (say, with
//! hosts the person has since removed) would be sent, and the use's own
//! re-seal (`last_used_at`) and entry would launder it into the trail.
//!
//! A process keeps the map `record → keyed hash of its last written version`
//! and brings it up to the head on each check: the entries appended since
//! (usually one or two) are opened and chained onto the last one it read,
//! so a use costs one head read plus the new entries. A trail that no longer
//! continues from what it read (cut back, or put back to an older copy and
//! written since) is refused; one that does not end at its head is an error.
//!
//! The first read after start begins at the trail's *checkpoint* when there
//! is one: the map as of entry `n`, sealed under the data key in `meta`
//! (written by a process that has just read [`CHECKPOINT_EVERY`] or more
//! entries past the last one). It is used only when entry `n` as stored
//! hashes to the value it names — so it summarises exactly the entries
//! before it, which chain into entry `n` — and reading goes on from there; an
//! older checkpoint put back only means more entries to read, and one that
//! does not open (another key: a rekey) or does not match is ignored.

use std::collections::HashMap;

use subtle::ConstantTimeEq;

use super::audit::{self, Entry, Head, id_text, record_mac};
use super::change::{Unaudited, unaudited};
use super::format::FORMAT_VERSION;
use super::format::{Opened, open_record};
use super::{Vault, seq_of};
use crate::crypto::keys::VaultKeys;
use crate::error::VaultError;
use crate::store::{Read, Table, meta_key};

/// Entries read per scan while catching up.
const BATCH: usize = 1024;

const CHECKPOINT_MAGIC: &[u8; 8] = b"cvckpt01";

/// Entries read past the checkpoint after which a new one is saved.
pub(super) const CHECKPOINT_EVERY: u64 = 1024;

/// What the checkpoint seals (JSON, then sealed like a record's plaintext).
#[derive(serde::Serialize, serde::Deserialize)]
struct Checkpoint {
    count: u64,
    last: String,
    members: bool,
    written: Vec<(Table, String, String)>,
}

/// The last written version of every record the trail names.
#[derive(Default)]
pub(super) struct Latest {
    /// Entries read, and the keyed hash of the last one.
    count: u64,
    last: [u8; 32],
    /// Hex keyed hash of each live record's last written version (a deleted
    /// record is absent).
    written: HashMap<(Table, String), String>,
    /// Whether some entry wrote a member's key slot (format 3 trails do).
    members: bool,
    /// A format-1 vault: no trail yet (its first write starts one).
    untracked: bool,
    /// Whether [`Latest::sync`] has succeeded once.
    read: bool,
    /// The vault's key says it keeps a trail: a missing head is tampering.
    bound: bool,
    /// The entry count of the checkpoint it started from or last saved.
    saved: u64,
    /// (count, hash of that entry) of the last [`RECENT`] entries read: a
    /// snapshot with one of these heads is older, not rolled back.
    recent: std::collections::VecDeque<(u64, [u8; 32])>,
}

/// How many recent heads [`Latest`] remembers.
const RECENT: usize = 4096;

/// The error for a vault whose key says it keeps a trail, without one.
pub(super) fn removed() -> VaultError {
    VaultError::Tampered(
        "the audit trail was removed from this vault (its key says it keeps one): refused, nothing was sent or written; restore the vault from a backup (credvault audit --verify says what is wrong)".into(),
    )
}

fn broken() -> VaultError {
    VaultError::Corrupt(
        "the audit trail does not lead to its head (entries removed, altered or reordered): run credvault audit --verify".into(),
    )
}

fn forked() -> VaultError {
    VaultError::Tampered(
        "the audit trail no longer continues from the entry this process last read (the vault was put back to an older copy and written since, or entries were replaced): refused; if you restored a backup yourself, start credvault again, else run credvault audit --verify".into(),
    )
}

pub(super) fn rolled_back() -> VaultError {
    VaultError::Tampered(
        "the audit trail is shorter than when this process last read it (entries cut, or the vault put back to an older copy): refused; if you restored a backup yourself, start credvault again, else run credvault audit --verify".into(),
    )
}

impl Latest {
    /// Brings the map up to the head `txn` holds. Once it has read entries,
    /// the trail must extend them: a shorter one, or one whose next entry
    /// does not chain onto the last entry read (the store put back to an
    /// older copy and written since), is [`VaultError::Tampered`] for the
    /// rest of this process's life. (A rekey changes the key: its head does
    /// not open, which is its own error.)
    pub(super) fn sync(
        &mut self,
        keys: &VaultKeys,
        txn: &(impl Read + ?Sized),
    ) -> Result<(), VaultError> {
        let head = match txn.get(Table::Meta, meta_key::AUDIT_HEAD.as_bytes())? {
            Some(sealed) => audit::open_current_head(keys, &sealed)?,
            None if self.count > 0 => return Err(rolled_back()),
            None if self.bound => return Err(removed()),
            None => {
                self.untracked = true;
                self.read = true;
                return Ok(());
            }
        };
        if head.count < self.count {
            // Another thread of this process may have read a newer state
            // than this transaction's snapshot: an older snapshot of the
            // same trail is not a rollback, but a check against it would
            // compare with newer versions. The caller reads again.
            let seen = self
                .recent
                .iter()
                .any(|(n, last)| *n == head.count && *last == head.last);
            return Err(if seen {
                VaultError::Stale
            } else {
                rolled_back()
            });
        }
        self.untracked = false;
        if !self.read && self.count == 0 && head.count > CHECKPOINT_EVERY {
            self.start_from_checkpoint(keys, txn, &head);
        }
        if !(self.count == head.count && self.last == head.last) {
            // Entries read before a failure were checked: keep them.
            self.extend(keys, txn, &head)?;
        }
        self.read = true;
        Ok(())
    }

    /// Takes the checkpoint's map when it opens under `keys`, is not past
    /// `head`, and the stored entry it ends at hashes to what it names.
    fn start_from_checkpoint(&mut self, keys: &VaultKeys, txn: &(impl Read + ?Sized), head: &Head) {
        let found = (|| -> Option<Checkpoint> {
            let sealed = txn
                .get(Table::Meta, meta_key::TRAIL_CHECKPOINT.as_bytes())
                .ok()??;
            let plain = crate::crypto::seal::open(keys.seal_key(), &sealed).ok()?;
            let c: Checkpoint = serde_json::from_slice(plain.get(8..)?).ok()?;
            if plain.get(..8)? != CHECKPOINT_MAGIC || c.count == 0 || c.count > head.count {
                return None;
            }
            let entry = txn.get(Table::Audit, &c.count.to_be_bytes()).ok()??;
            let mac = audit::entry_mac(keys, &entry).ok()?;
            bool::from(audit::hex(&mac).as_bytes().ct_eq(c.last.as_bytes())).then_some(c)
        })();
        let Some(c) = found else {
            return;
        };
        let mut last = [0u8; 32];
        for (i, b) in last.iter_mut().enumerate() {
            match c
                .last
                .get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(v) => *b = v,
                None => return,
            }
        }
        self.count = c.count;
        self.last = last;
        self.members = c.members;
        self.written = c
            .written
            .into_iter()
            .map(|(t, id, mac)| ((t, id), mac))
            .collect();
        self.saved = c.count;
        self.remember();
    }

    fn remember(&mut self) {
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((self.count, self.last));
    }

    /// A checkpoint of what it has read, sealed under `keys`, when it has
    /// read [`CHECKPOINT_EVERY`] entries or more past the last one.
    pub(super) fn checkpoint_due(&self, keys: &VaultKeys) -> Option<(u64, Vec<u8>)> {
        if !self.read || self.untracked || self.count < self.saved + CHECKPOINT_EVERY {
            return None;
        }
        let c = Checkpoint {
            count: self.count,
            last: audit::hex(&self.last),
            members: self.members,
            written: self
                .written
                .iter()
                .map(|((t, id), mac)| (*t, id.clone(), mac.clone()))
                .collect(),
        };
        let json = serde_json::to_vec(&c).ok()?;
        let plain = [&CHECKPOINT_MAGIC[..], &json].concat();
        let sealed = crate::crypto::seal::seal(keys.seal_key(), &plain).ok()?;
        Some((self.count, sealed))
    }

    /// Notes that a checkpoint at `count` was saved.
    pub(super) fn saved_at(&mut self, count: u64) {
        self.saved = self.saved.max(count);
    }

    /// Says whether the vault's key binds a trail (see [`Latest::bound`]).
    pub(super) fn bind_trail(&mut self, bound: bool) {
        self.bound = bound;
    }

    /// Whether the vault's key says it keeps a trail.
    pub(super) fn bound(&self) -> bool {
        self.bound
    }

    /// Whether it has read the trail (a later check then needs only what
    /// was appended since).
    pub(super) fn anchored(&self) -> bool {
        self.read
    }

    /// Reads the entries after the last one read, up to `head`.
    fn extend(
        &mut self,
        keys: &VaultKeys,
        txn: &(impl Read + ?Sized),
        head: &Head,
    ) -> Result<(), VaultError> {
        while self.count < head.count {
            let rows = txn.scan(Table::Audit, Some(&self.count.to_be_bytes()), BATCH)?;
            if rows.is_empty() {
                return Err(broken());
            }
            for (seq, sealed) in rows {
                let seq = seq_of(&seq)?;
                if seq != self.count + 1 {
                    return Err(broken());
                }
                let entry: Opened<Entry> =
                    open_record(keys.seal_key(), Table::Audit, u128::from(seq), &sealed)
                        .map_err(|_| broken())?;
                if entry.meta.prev != audit::hex(&self.last) {
                    return Err(if self.count > 0 { forked() } else { broken() });
                }
                if let Some(r) = entry.meta.record {
                    self.members |= r.table == Table::Members;
                    match r.mac {
                        Some(mac) => self.written.insert((r.table, r.id), mac),
                        None => self.written.remove(&(r.table, r.id)),
                    };
                }
                self.last = audit::entry_mac(keys, &sealed)?;
                self.count = seq;
                self.remember();
                if seq == head.count {
                    break;
                }
            }
        }
        if self.count != head.count || self.last != head.last {
            return Err(broken());
        }
        Ok(())
    }

    /// Whether some entry wrote a member's key slot.
    pub(super) fn covers_members(&self) -> bool {
        self.members
    }

    /// Fails unless `sealed` is the version of record `id` the trail last
    /// wrote. The error names the record (`what`: `credential openai/default`)
    /// and ends with `then` (what was refused, what to do).
    pub(super) fn check(
        &self,
        keys: &VaultKeys,
        (table, id): (Table, u128),
        sealed: &[u8],
        what: &str,
        then: &str,
    ) -> Result<(), VaultError> {
        if self.untracked {
            return Ok(());
        }
        let mac = record_mac(keys, table, id, sealed)?;
        let problem = match self.written.get(&(table, id_text(table, id))) {
            Some(last) if bool::from(last.as_bytes().ct_eq(mac.as_bytes())) => return Ok(()),
            Some(_) => {
                "is not the version the audit trail last wrote (an older copy was put back, or it was altered outside credvault)"
            }
            None => {
                "is not in the audit trail (written outside credvault, or deleted and put back)"
            }
        };
        Err(VaultError::Tampered(format!("{what} {problem}: {then}")))
    }
}

/// The trail as this process has read it, for every check before a use or a write.
impl Vault {
    /// Fails with [`VaultError::Tampered`] unless `sealed` is the version of
    /// record `id` that the trail, as `txn` sees it, last wrote: run before a
    /// record is used or re-sealed, so a replayed or planted one is never sent
    /// anywhere nor laundered into the trail. `what` names it in the error.
    pub(super) fn check_written(
        &self,
        txn: &(impl Read + ?Sized),
        table: Table,
        id: u128,
        sealed: &[u8],
        what: &str,
    ) -> Result<(), VaultError> {
        let mut latest = self.latest();
        latest.sync(&self.keys, txn)?;
        let then = "refused, nothing was sent or written; run credvault audit --verify, and to recover delete it and store it again";
        latest.check(&self.keys, (table, id), sealed, what, then)?;
        // A trail that covers member slots under a lowered format version
        // would make the use's own entry fail after the value was sent.
        if latest.covers_members() && super::open::format_of(txn)? < FORMAT_VERSION {
            return Err(VaultError::Tampered(
                "the format version was lowered below 3 while the trail covers member key slots: refused; run credvault audit --verify".into(),
            ));
        }
        Ok(())
    }

    pub(super) fn latest(&self) -> std::sync::MutexGuard<'_, Latest> {
        self.trail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the audit trail now (a server does, right after it unlocks), so
    /// that later checks read only what is appended, and a trail cut back or
    /// replaced under this process from here on is refused.
    pub fn warm_trail(&self) -> Result<(), VaultError> {
        self.reading(|| {
            let txn = self.store.read()?;
            self.latest().sync(&self.keys, &*txn)
        })?;
        self.checkpoint_if_due();
        Ok(())
    }

    /// Saves the trail's checkpoint when this process has read enough
    /// entries past the last one (see the module doc), so the next process starts
    /// there. Best effort, in a transaction of its own: call it with no other
    /// transaction open.
    pub(super) fn checkpoint_if_due(&self) {
        let Some((count, sealed)) = self.latest().checkpoint_due(&self.keys) else {
            return;
        };
        let saved = unaudited(&self.store, &self.keys, None, Unaudited::Checkpoint, |c| {
            let key = meta_key::TRAIL_CHECKPOINT.as_bytes();
            c.put(Table::Meta, key, &sealed).map(Some)
        });
        match saved {
            Ok(_) => self.latest().saved_at(count),
            Err(e) => tracing::debug!("the trail's checkpoint was not saved: {e}"),
        }
    }

    /// [`Self::warm_trail`] unless it has read the trail already: before a
    /// write transaction that will check a record, so the write lock is never
    /// held across a read of the whole trail.
    pub(super) fn warm_trail_once(&self) -> Result<(), VaultError> {
        if self.latest().anchored() {
            return Ok(());
        }
        self.warm_trail()
    }
}
