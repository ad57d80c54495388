//! The audit trail (DESIGN §10): every state change and every use appends one
//! entry, in the same write transaction as the change.
//!
//! * Entries live in table `audit` (seq → sealed entry), sealed like records
//!   (kind [`Table::Audit`], id = seq): names are secret too, and an entry moved
//!   to another seq fails to open.
//! * Each entry carries `prev`, the keyed hash (audit subkey) of the sealed
//!   bytes of the entry before it; the head — entry count and the hash of the
//!   last entry — is sealed in `meta` under `audit_head`. Removing, altering or
//!   reordering entries, or cutting the tail, breaks the chain or the head.
//! * An entry that wrote or deleted a record carries a keyed hash of the sealed
//!   record as written (or "deleted"). [`Vault::verify_audit`] compares the
//!   live tables with the last such hash per record: a replayed older record,
//!   a record deleted or planted outside credvault, and a missing or dangling
//!   index entry are each reported, naming the record.
//! * A format-1 vault (no trail) gets one `baseline` entry per existing record
//!   in the transaction of its first write, which also sets format 2.

use serde::{Deserialize, Serialize};

use super::credentials::CredentialRecord;
use super::format::{FORMAT_VERSION, Opened, open_record, seal_record};
use super::secrets::SecretRecord;
use super::{Vault, now};
use crate::crypto::keys::VaultKeys;
use crate::crypto::seal;
use crate::error::VaultError;
use crate::secret::SecretString;
use crate::store::{Table, Write, meta_key, scan_all};

/// The record an entry wrote or deleted, and the keyed hash of what it wrote.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecordRef {
    /// Its table.
    pub table: Table,
    /// Its id (UUID for credentials and secrets, 32 hex digits for tokens).
    pub id: String,
    /// Hex keyed hash of the sealed record as written; `None` when deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// One entry as sealed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// Position in the trail, from 1.
    pub seq: u64,
    /// Unix seconds.
    pub at: i64,
    /// store, replace, delete, secret_create, secret_rotate, secret_delete,
    /// call_api, exec, token_create, token_revoke, passwd, backup, baseline.
    pub action: String,
    /// `service/name`, a secret's name, a token's name, or empty.
    pub subject: String,
    /// `stdio`, `http:<token name>`, `cli`.
    pub via: String,
    /// `ok`, an HTTP status, an error code.
    pub outcome: String,
    /// call_api: `METHOD host`; exec: the program's file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The record written or deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordRef>,
    /// Hex keyed hash of the previous sealed entry (zeros for the first).
    pub prev: String,
}

/// What a change appends (the vault fills in seq, time and chain).
#[derive(Debug, Clone)]
pub struct Event {
    /// See [`Entry::action`].
    pub action: &'static str,
    /// See [`Entry::subject`].
    pub subject: String,
    /// See [`Entry::via`].
    pub via: String,
    /// See [`Entry::outcome`].
    pub outcome: String,
    /// See [`Entry::detail`].
    pub detail: Option<String>,
}

impl Event {
    /// A successful `action` on `subject` by `via`.
    pub fn ok(action: &'static str, subject: impl Into<String>, via: &str) -> Self {
        Self {
            action,
            subject: subject.into(),
            via: via.to_owned(),
            outcome: "ok".into(),
            detail: None,
        }
    }
}

/// A record written (`Some(sealed)`) or deleted (`None`) by an event.
pub struct Written<'a> {
    /// Its table.
    pub table: Table,
    /// Its id.
    pub id: u128,
    /// The sealed bytes written; `None` for a deletion.
    pub sealed: Option<&'a [u8]>,
}

/// The trail's head inside a write transaction.
pub struct Head {
    pub(super) count: u64,
    pub(super) last: [u8; 32],
}

pub(super) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The id as the trail writes it.
pub fn id_text(table: Table, id: u128) -> String {
    match table {
        Table::Credentials | Table::Secrets => uuid::Uuid::from_u128(id).to_string(),
        Table::Tokens | Table::Members | Table::Audit | Table::Meta | Table::Index => {
            format!("{id:032x}")
        }
    }
}

/// How a message names a record of `table`.
pub fn noun(table: Table) -> &'static str {
    match table {
        Table::Credentials => "credential",
        Table::Secrets => "secret",
        Table::Tokens => "token",
        Table::Members => "member key slot",
        Table::Audit => "audit entry",
        Table::Meta => "meta entry",
        Table::Index => "index entry",
    }
}

/// The id a member's key slot has in the trail: a hash of the name (the
/// name is the slot's key in `members` already). Not keyed, so a rekey keeps it.
pub fn member_id(name: &str) -> u128 {
    use blake2::Digest;
    let hash = blake2::Blake2b::<blake2::digest::consts::U16>::new()
        .chain_update(b"credvault member\0")
        .chain_update(name.as_bytes())
        .finalize();
    u128::from_be_bytes(hash.into())
}

pub(super) fn record_mac(
    keys: &VaultKeys,
    table: Table,
    id: u128,
    sealed: &[u8],
) -> Result<String, VaultError> {
    Ok(hex(&keys.audit_mac(&[
        b"record",
        table.name().as_bytes(),
        &id.to_be_bytes(),
        sealed,
    ])?))
}

pub(super) fn entry_mac(keys: &VaultKeys, sealed: &[u8]) -> Result<[u8; 32], VaultError> {
    Ok(keys.audit_mac(&[b"entry", sealed])?)
}

fn seal_head(keys: &VaultKeys, h: &Head) -> Result<Vec<u8>, VaultError> {
    let mut plain = Vec::with_capacity(8 + 8 + 32);
    plain.extend_from_slice(b"cvhead01");
    plain.extend_from_slice(&h.count.to_le_bytes());
    plain.extend_from_slice(&h.last);
    Ok(seal::seal(keys.seal_key(), &plain)?)
}

pub(super) fn open_head(keys: &VaultKeys, sealed: &[u8]) -> Result<Head, VaultError> {
    let bad = || VaultError::Corrupt("the audit head is altered or foreign".into());
    let plain = seal::open(keys.seal_key(), sealed).map_err(|_| bad())?;
    if plain.len() != 48 || &plain[..8] != b"cvhead01" {
        return Err(bad());
    }
    let mut count = [0u8; 8];
    count.copy_from_slice(&plain[8..16]);
    let mut last = [0u8; 32];
    last.copy_from_slice(&plain[16..48]);
    Ok(Head {
        count: u64::from_le_bytes(count),
        last,
    })
}

/// Writes an empty trail (a new vault).
pub(super) fn init(keys: &VaultKeys, txn: &mut dyn Write) -> Result<(), VaultError> {
    let head = seal_head(
        keys,
        &Head {
            count: 0,
            last: [0; 32],
        },
    )?;
    Ok(txn.put(Table::Meta, meta_key::AUDIT_HEAD.as_bytes(), &head)?)
}

/// [`open_head`] for a process's own key: a head it does not open means the
/// vault was rekeyed by another process since this one unlocked it (or the
/// head was altered), and the error says so.
pub(super) fn open_current_head(keys: &VaultKeys, sealed: &[u8]) -> Result<Head, VaultError> {
    open_head(keys, sealed).map_err(|_| {
        VaultError::Corrupt(
            "the audit head does not open with this process's key: the vault was rekeyed since it started (start it again), or the head was altered".into(),
        )
    })
}

/// The head, at the start of a write transaction. A format-1 vault is
/// migrated here: one `baseline` entry per existing record, format set to 2.
pub(super) fn begin(keys: &VaultKeys, txn: &mut dyn Write) -> Result<Head, VaultError> {
    if let Some(sealed) = txn.get(Table::Meta, meta_key::AUDIT_HEAD.as_bytes())? {
        let mut head = open_current_head(keys, &sealed)?;
        if super::open::format_of(&*txn)? < FORMAT_VERSION {
            cover_members(keys, txn, &mut head)?;
        }
        return Ok(head);
    }
    if super::open::format_of(&*txn)? >= 2 {
        return Err(VaultError::Corrupt(
            "the audit head is missing (format 2 vaults always have one)".into(),
        ));
    }
    // A format-1 vault has no trail. One with entries had its head removed
    // and its version lowered: never write a new baseline over them.
    if !txn.scan(Table::Audit, None, 1)?.is_empty() {
        return Err(VaultError::Corrupt(
            "the audit trail exists but its head is missing and the format version says 1 (altered): run credvault audit --verify".into(),
        ));
    }
    let mut head = Head {
        count: 0,
        last: [0; 32],
    };
    for (table, id, subject, sealed) in baseline(keys, txn)? {
        let written = Written {
            table,
            id,
            sealed: Some(&sealed),
        };
        let event = Event::ok("baseline", subject, "migration");
        append(keys, txn, &mut head, &event, Some(written))?;
    }
    txn.put(
        Table::Meta,
        meta_key::FORMAT.as_bytes(),
        &FORMAT_VERSION.to_le_bytes(),
    )?;
    Ok(head)
}

/// Format 2 → 3: one `baseline` entry per member key slot, so that from here
/// on a slot put back from before a `passwd` or a removal is caught. A trail
/// that covers slots already had format 3: lowered outside credvault.
fn cover_members(keys: &VaultKeys, txn: &mut dyn Write, head: &mut Head) -> Result<(), VaultError> {
    let slots = scan_all(&*txn, Table::Members)?;
    if !slots.is_empty() {
        let mut latest = super::trail::Latest::default();
        latest.sync(keys, &*txn)?;
        if latest.covers_members() {
            return Err(VaultError::Corrupt(
                "the trail covers member key slots but the format version says 2 (lowered outside credvault): run credvault audit --verify".into(),
            ));
        }
        for (name, slot) in slots {
            let name = String::from_utf8(name)
                .map_err(|_| VaultError::Corrupt("a member name is not UTF-8".into()))?;
            let written = Written {
                table: Table::Members,
                id: member_id(&name),
                sealed: Some(&slot),
            };
            append(
                keys,
                txn,
                head,
                &Event::ok("baseline", name, "migration"),
                Some(written),
            )?;
        }
    }
    Ok(txn.put(
        Table::Meta,
        meta_key::FORMAT.as_bytes(),
        &FORMAT_VERSION.to_le_bytes(),
    )?)
}

type Baseline = Vec<(Table, u128, String, Vec<u8>)>;

fn baseline(keys: &VaultKeys, txn: &dyn Write) -> Result<Baseline, VaultError> {
    let key = keys.seal_key();
    let mut out = Vec::new();
    for (id, sealed) in scan_all(txn, Table::Credentials)? {
        let id = super::id_of(&id)?;
        let subject = open_record::<CredentialRecord>(key, Table::Credentials, id, &sealed)
            .map(|o| format!("{}/{}", o.meta.service, o.meta.name))
            .unwrap_or_default();
        out.push((Table::Credentials, id, subject, sealed));
    }
    for (id, sealed) in scan_all(txn, Table::Secrets)? {
        let id = super::id_of(&id)?;
        let subject = open_record::<SecretRecord>(key, Table::Secrets, id, &sealed)
            .map(|o| o.meta.name)
            .unwrap_or_default();
        out.push((Table::Secrets, id, subject, sealed));
    }
    for (mac, sealed) in scan_all(txn, Table::Tokens)? {
        let id = super::tokens::record_id_of(&mac)?;
        out.push((Table::Tokens, id, String::new(), sealed));
    }
    for (name, slot) in scan_all(txn, Table::Members)? {
        let name = String::from_utf8_lossy(&name).into_owned();
        out.push((Table::Members, member_id(&name), name, slot));
    }
    Ok(out)
}

/// Appends `event` (and the record it wrote) to the trail and moves the head.
pub(super) fn append(
    keys: &VaultKeys,
    txn: &mut dyn Write,
    head: &mut Head,
    event: &Event,
    written: Option<Written<'_>>,
) -> Result<(), VaultError> {
    let record = match written {
        Some(w) => Some(RecordRef {
            table: w.table,
            id: id_text(w.table, w.id),
            mac: match w.sealed {
                Some(s) => Some(record_mac(keys, w.table, w.id, s)?),
                None => None,
            },
        }),
        None => None,
    };
    let seq = head.count + 1;
    let entry = Entry {
        seq,
        at: now(),
        action: event.action.to_owned(),
        subject: event.subject.clone(),
        via: event.via.clone(),
        outcome: event.outcome.clone(),
        detail: event.detail.clone(),
        record,
        prev: hex(&head.last),
    };
    let sealed = seal_record(
        keys.seal_key(),
        Table::Audit,
        u128::from(seq),
        &entry,
        &SecretString::default(),
        None,
    )?;
    txn.put(Table::Audit, &seq.to_be_bytes(), &sealed)?;
    head.count = seq;
    head.last = entry_mac(keys, &sealed)?;
    let sealed_head = seal_head(keys, head)?;
    Ok(txn.put(Table::Meta, meta_key::AUDIT_HEAD.as_bytes(), &sealed_head)?)
}

/// One thing `audit --verify` found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The entry concerned, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<u64>,
    /// The record concerned (`credentials 9f…` and its name when known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// What is wrong.
    pub what: String,
}

/// Result of [`Vault::verify_audit`].
#[derive(Debug, Default, Serialize)]
pub struct Verification {
    /// Entries read.
    pub entries: u64,
    /// Live records checked against the trail.
    pub records: u64,
    /// Everything found wrong, chain problems first.
    pub problems: Vec<Problem>,
}

impl Vault {
    /// The trail, oldest first (entries at or after `since`, Unix seconds).
    /// An entry that does not open is an error naming it.
    pub fn audit_entries(&self, since: Option<i64>) -> Result<Vec<Entry>, VaultError> {
        let txn = self.store.read()?;
        let mut out = Vec::new();
        for (seq, sealed) in scan_all(&*txn, Table::Audit)? {
            let seq = super::seq_of(&seq)?;
            let opened: Opened<Entry> = open_record(
                self.keys.seal_key(),
                Table::Audit,
                u128::from(seq),
                &sealed,
            )
            .map_err(|_| {
                VaultError::Corrupt(format!(
                    "audit entry #{seq} is altered or misplaced (run credvault audit --verify)"
                ))
            })?;
            if since.is_none_or(|t| opened.meta.at >= t) {
                out.push(opened.meta);
            }
        }
        Ok(out)
    }

    /// Checks the chain, the head, and the live records against the trail.
    pub fn verify_audit(&self) -> Result<Verification, VaultError> {
        super::verify::run(self)
    }
}
