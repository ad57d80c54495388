//! The one way a vault is written: [`Vault::change`].
//!
//! Every change of a record, an index entry, a key slot or a password goes
//! through it: it opens the write transaction (serialised with every other
//! writer, with a bounded wait), checks that the trail still extends what this
//! process has read and opens its head ([`begin`]), runs the change, and
//! commits — once, durably, the change together with its audit entries. The
//! write transaction is reachable only through the [`Change`] handle, which
//! has no `commit`: a change that wrote something but recorded no entry is
//! refused here and nothing is written, and a change that wrote and recorded
//! nothing (a delete of a missing record) is dropped without a commit.
//!
//! A few writes have no entry of their own, for reasons each named by an
//! [`Unaudited`] variant; they go through the second entry point,
//! [`unaudited`], which commits when its closure returns `Some`.
//!
//! The vault holds its store as an [`AuditedStore`], whose write transactions
//! only this module can begin: no other code in the vault can reach a write
//! transaction except through a [`Change`].

use super::audit::{self, Event, Head, Written};
use super::format::{Opened, open_record, seal_record};
use super::{Vault, seq_of, trail};
use crate::crypto::keys::VaultKeys;
use crate::error::VaultError;
use crate::secret::SecretString;
use crate::store::{Read, Row, Store, StoreError, Table, Write, meta_key, scan_all};

/// A vault's store: reads for anyone in the vault, write transactions only
/// for [`Vault::change`] and [`unaudited`].
pub(super) struct AuditedStore(Box<dyn Store>);

impl AuditedStore {
    pub(super) fn new(store: Box<dyn Store>) -> Self {
        Self(store)
    }

    /// Begins a consistent read.
    pub(super) fn read(&self) -> Result<Box<dyn Read + '_>, StoreError> {
        self.0.read()
    }

    /// Where it is, for messages (see [`Store::location`]).
    pub(super) fn location(&self) -> String {
        self.0.location()
    }

    /// See [`Store::kind`].
    pub(super) fn kind(&self) -> &'static str {
        self.0.kind()
    }

    /// See [`Store::reads_are_local`].
    pub(super) fn reads_are_local(&self) -> bool {
        self.0.reads_are_local()
    }

    /// Private to this module: the one place a write transaction begins.
    fn write(&self) -> Result<Box<dyn Write + '_>, StoreError> {
        self.0.write()
    }
}

/// A change in progress: the write transaction and the trail's head.
pub(super) struct Change<'a> {
    txn: Box<dyn Write + 'a>,
    /// The keys entries are sealed under (a rekey's new ones once it has
    /// re-sealed the trail).
    keys: &'a VaultKeys,
    /// A team vault's member: each entry's `via` names them too (`stdio:alice`).
    member: Option<&'a str>,
    /// The trail's head; `None` until a new vault's trail is started.
    head: Option<Head>,
    /// `None` for an audited change; else why this one needs no entry.
    unaudited: Option<Unaudited>,
    /// Something was written or removed through this handle.
    changed: bool,
    /// An entry was appended.
    recorded: bool,
}

/// Why a write goes without an audit entry of its own (the second entry
/// point, [`unaudited`]). Nothing else may skip the trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unaudited {
    /// A new vault's first commit: its meta, key slot and the empty trail
    /// (there is no trail to chain an entry to before it). The trail is
    /// started in it ([`Change::start_trail`]), and a team vault's first
    /// member gets its `member_add` entry in the same commit.
    Creation,
    /// The trail's checkpoint: a sealed summary of entries already in the
    /// trail, which a process uses only when it matches them (see `trail`).
    Checkpoint,
    /// A vault file's wrapped key made again under the same master key with
    /// the mark that binds the trail (same password, same data key): a
    /// format upgrade done at unlock, when the vault already has a trail.
    BindTrail,
    /// A backup's copy: a new file filled from a snapshot that already holds
    /// the `backup` entry.
    BackupCopy,
}

impl Vault {
    /// Runs `change` in one write transaction and commits it with the audit
    /// entries it records, durably, before returning. An error (or a change
    /// that recorded nothing and wrote nothing) writes nothing; a change
    /// that wrote without recording an entry is refused and writes nothing.
    pub(super) fn change<'a, T>(
        &'a self,
        change: impl FnOnce(&mut Change<'a>) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        let mut txn = self.store.write()?;
        let head = self.begin(&mut *txn)?;
        let mut c = Change {
            txn,
            keys: &self.keys,
            member: self.member.as_deref(),
            head: Some(head),
            unaudited: None,
            changed: false,
            recorded: false,
        };
        let out = change(&mut c)?;
        match (c.recorded, c.changed) {
            (true, _) => c.txn.commit()?,
            (false, false) => {}
            (false, true) => {
                return Err(VaultError::Storage(
                    "a change without an audit entry was refused, nothing was written (a bug in credvault)".into(),
                ));
            }
        }
        Ok(out)
    }

    /// Begins an audited change in `txn`: first checks that the trail still
    /// extends what this process has read (never cut back or replaced under
    /// it), then opens the head (see [`audit::begin`]).
    fn begin(&self, txn: &mut dyn Write) -> Result<Head, VaultError> {
        {
            let mut latest = self.latest();
            if latest.anchored() {
                latest.sync(&self.keys, &*txn)?;
            } else if latest.bound()
                && txn
                    .get(Table::Meta, meta_key::AUDIT_HEAD.as_bytes())?
                    .is_none()
            {
                // Never start a new trail (a baseline) over a removed one.
                return Err(trail::removed());
            }
        }
        audit::begin(&self.keys, txn)
    }
}

/// The second entry point: runs `change` in one write transaction of
/// `store` and commits it when it returns `Some` (`None`: nothing is
/// written), for the writes [`Unaudited`] names. Entries may be recorded
/// (under `keys`, by `member`) only once a [`Unaudited::Creation`] has
/// started the trail.
pub(super) fn unaudited<'a, T>(
    store: &'a AuditedStore,
    keys: &'a VaultKeys,
    member: Option<&'a str>,
    why: Unaudited,
    change: impl FnOnce(&mut Change<'a>) -> Result<Option<T>, VaultError>,
) -> Result<Option<T>, VaultError> {
    let mut c = Change {
        txn: store.write()?,
        keys,
        member,
        head: None,
        unaudited: Some(why),
        changed: false,
        recorded: false,
    };
    let out = change(&mut c)?;
    if out.is_some() {
        if why == Unaudited::Creation && c.head.is_none() {
            return Err(VaultError::Storage(
                "a new vault without a trail was refused, nothing was written (a bug in credvault)"
                    .into(),
            ));
        }
        c.txn.commit()?;
    }
    Ok(out)
}

impl<'a> Change<'a> {
    /// Inserts or replaces the value under `key`.
    pub(super) fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), VaultError> {
        self.changed = true;
        Ok(self.txn.put(table, key, value)?)
    }

    /// Removes `key`; true when it was there.
    pub(super) fn remove(&mut self, table: Table, key: &[u8]) -> Result<bool, VaultError> {
        let removed = self.txn.remove(table, key)?;
        self.changed |= removed;
        Ok(removed)
    }

    /// Appends `event` (and the record it wrote or deleted) to the trail, in
    /// this transaction; in a team vault its `via` names the member too.
    pub(super) fn record(
        &mut self,
        event: &Event,
        written: Option<Written<'_>>,
    ) -> Result<(), VaultError> {
        let Some(head) = self.head.as_mut() else {
            return Err(VaultError::Storage(
                "an audit entry before the trail was started (a bug in credvault)".into(),
            ));
        };
        match self.member {
            Some(member) => {
                let mut event = event.clone();
                event.via = format!("{}:{member}", event.via);
                audit::append(self.keys, &mut *self.txn, head, &event, written)?;
            }
            None => audit::append(self.keys, &mut *self.txn, head, event, written)?,
        }
        self.recorded = true;
        Ok(())
    }

    /// Writes a new vault's empty trail and opens its head
    /// ([`Unaudited::Creation`] only).
    pub(super) fn start_trail(&mut self) -> Result<(), VaultError> {
        if self.unaudited != Some(Unaudited::Creation) {
            return Err(VaultError::Storage(
                "a trail started over an existing one (a bug in credvault)".into(),
            ));
        }
        audit::init(self.keys, &mut *self.txn)?;
        self.head = Some(audit::begin(self.keys, &mut *self.txn)?);
        self.changed = true;
        Ok(())
    }

    /// Rekey: re-seals every entry under `new`, re-chained, and records the
    /// rest of this change under `new`. Returns how many entries it re-sealed.
    pub(super) fn reseal_trail(&mut self, new: &'a VaultKeys) -> Result<usize, VaultError> {
        let mut head = Head {
            count: 0,
            last: [0; 32],
        };
        let mut entries = 0;
        for (seq, sealed) in scan_all(&*self.txn, Table::Audit)? {
            let seq = seq_of(&seq)?;
            let mut entry: Opened<audit::Entry> =
                open_record(self.keys.seal_key(), Table::Audit, u128::from(seq), &sealed)?;
            entry.meta.prev = audit::hex(&head.last);
            let sealed = seal_record(
                new.seal_key(),
                Table::Audit,
                u128::from(seq),
                &entry.meta,
                &SecretString::default(),
                None,
            )?;
            self.put(Table::Audit, &seq.to_be_bytes(), &sealed)?;
            head.count = seq;
            head.last = audit::entry_mac(new, &sealed)?;
            entries += 1;
        }
        self.head = Some(head);
        self.keys = new;
        Ok(entries)
    }
}

impl Read for Change<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.txn.get(table, key)
    }

    fn scan(
        &self,
        table: Table,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        self.txn.scan(table, after, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::kdf::KdfParams;

    fn vault(dir: &tempfile::TempDir) -> Vault {
        let cheap = KdfParams {
            m_kib: KdfParams::MIN_M_KIB,
            t: 1,
            p: 1,
        };
        Vault::create(&dir.path().join("v.redb"), &SecretString::from("pw"), cheap).unwrap()
    }

    fn entries(v: &Vault) -> usize {
        v.audit_entries(None).unwrap().len()
    }

    #[test]
    fn a_change_without_an_entry_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(&dir);
        let skipped = v.change(|c| c.put(Table::Meta, b"planted", b"x"));
        assert!(
            matches!(skipped, Err(VaultError::Storage(_))),
            "{skipped:?}"
        );
        let read = v.store.read().unwrap();
        assert_eq!(read.get(Table::Meta, b"planted").unwrap(), None);
        assert_eq!(entries(&v), 0);
    }

    #[test]
    fn a_change_commits_with_its_entry_and_nothing_without_either() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(&dir);
        v.change(|_| Ok(())).unwrap();
        assert_eq!(entries(&v), 0, "nothing written, nothing recorded");
        v.change(|c| {
            c.put(Table::Meta, b"noted", b"x")?;
            c.record(&Event::ok("backup", "here", "test"), None)
        })
        .unwrap();
        let read = v.store.read().unwrap();
        assert_eq!(
            read.get(Table::Meta, b"noted").unwrap().as_deref(),
            Some(&b"x"[..])
        );
        let all = v.audit_entries(None).unwrap();
        assert_eq!((all.len(), all[0].action.as_str()), (1, "backup"));
        assert!(v.verify_audit().unwrap().problems.is_empty());
    }

    #[test]
    fn an_error_inside_a_change_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(&dir);
        let failed: Result<(), VaultError> = v.change(|c| {
            c.put(Table::Meta, b"half", b"x")?;
            c.record(&Event::ok("backup", "here", "test"), None)?;
            Err(VaultError::Refused("no".into()))
        });
        assert!(matches!(failed, Err(VaultError::Refused(_))));
        assert_eq!(
            v.store.read().unwrap().get(Table::Meta, b"half").unwrap(),
            None
        );
        assert_eq!(entries(&v), 0);
    }
}
