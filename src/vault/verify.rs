//! `credvault audit --verify`: the chain, the head, then the live tables
//! against what the trail says was written last (see [`super::audit`]).

use std::collections::{HashMap, HashSet};

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableError};

use super::audit::{AUDIT, Entry, Problem, Table, Verification, id_text};
use super::format::{Kind, Opened, open_record};
use super::store::{CREDENTIALS, INDEX, META, SECRETS, TOKENS, meta_key};
use super::{CredentialRecord, SecretRecord, Vault};
use crate::error::VaultError;

/// The last entry that wrote or deleted each record: (seq, mac or deleted, subject).
type Latest = HashMap<(Table, String), (u64, Option<String>, String)>;

struct Report {
    out: Verification,
}

impl Report {
    fn entry(&mut self, seq: u64, what: String) {
        self.out.problems.push(Problem {
            entry: Some(seq),
            record: None,
            what,
        });
    }

    fn record(&mut self, record: String, what: String) {
        self.out.problems.push(Problem {
            entry: None,
            record: Some(record),
            what,
        });
    }
}

fn describe(table: Table, id: &str, subject: &str) -> String {
    let kind = match table {
        Table::Credentials => "credential",
        Table::Secrets => "secret",
        Table::Tokens => "token",
    };
    if subject.is_empty() {
        format!("{kind} {id}")
    } else {
        format!("{kind} {subject} ({id})")
    }
}

pub(super) fn run(v: &Vault) -> Result<Verification, VaultError> {
    let keys = &v.keys;
    let txn = v.db.begin_read()?;
    let mut r = Report {
        out: Verification::default(),
    };
    let meta = txn.open_table(META)?;
    let format = meta
        .get(meta_key::FORMAT)?
        .and_then(|g| <[u8; 4]>::try_from(g.value()).ok())
        .map(u32::from_le_bytes)
        .unwrap_or(0);
    let head = meta.get(meta_key::AUDIT_HEAD)?.map(|g| g.value().to_vec());
    drop(meta);
    let trail_rows = match txn.open_table(AUDIT) {
        Ok(t) => t.len()?,
        Err(TableError::TableDoesNotExist(_)) => 0,
        Err(e) => return Err(e.into()),
    };
    let head = match head {
        // Format 1 with no trail: the first write starts it.
        None if format < 2 && trail_rows == 0 => return Ok(r.out),
        None if format < 2 => {
            r.record(
                "audit head".into(),
                "is missing while the trail holds entries, and the format version was lowered to 1 (altered)".into(),
            );
            None
        }
        None => {
            r.record("audit head".into(), "missing".into());
            None
        }
        Some(sealed) => match super::audit::open_head(keys, &sealed) {
            Ok(h) => Some(h),
            Err(e) => {
                r.record("audit head".into(), e.to_string());
                None
            }
        },
    };

    // The chain.
    let mut latest = Latest::new();
    let mut last = [0u8; 32];
    let mut expected = 1u64;
    match txn.open_table(AUDIT) {
        Ok(table) => {
            for row in table.iter()? {
                let (seq, sealed) = row?;
                let (seq, sealed) = (seq.value(), sealed.value());
                if seq > expected {
                    r.entry(
                        expected,
                        format!("entries #{expected}..#{} are missing (removed)", seq - 1),
                    );
                } else if seq < expected {
                    r.entry(
                        seq,
                        format!("entry #{seq} is out of place (added outside credvault)"),
                    );
                }
                match open_record::<Entry>(keys.seal_key(), Kind::Audit, u128::from(seq), sealed) {
                    Err(_) => r.entry(
                        seq,
                        format!("entry #{seq} is altered, or was moved from another position"),
                    ),
                    Ok(Opened { meta: e, .. }) => {
                        if e.prev != super::audit::hex(&last) && seq == expected {
                            r.entry(
                                seq,
                                format!("the chain breaks at entry #{seq}: an entry before it was removed, altered or reordered"),
                            );
                        }
                        if let Some(rec) = e.record {
                            latest.insert((rec.table, rec.id), (seq, rec.mac, e.subject));
                        }
                    }
                }
                last = super::audit::entry_mac(keys, sealed)?;
                expected = seq + 1;
            }
        }
        Err(TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(e.into()),
    }
    r.out.entries = expected - 1;
    if let Some(h) = head {
        if h.count != r.out.entries {
            r.entry(
                h.count.min(r.out.entries) + 1,
                format!(
                    "the trail holds {} entries but its head says {}: entries were cut from the end (or added outside credvault)",
                    r.out.entries, h.count
                ),
            );
        } else if h.last != last {
            r.entry(
                h.count,
                format!("entry #{} is not the last entry the head names", h.count),
            );
        }
    }

    // The live records against the trail.
    let mut seen: HashSet<(Table, String)> = HashSet::new();
    let mut expected_index: HashSet<Vec<u8>> = HashSet::new();
    let mut live_ids: HashSet<u128> = HashSet::new();
    let mut check = |r: &mut Report,
                     table: Table,
                     id: u128,
                     sealed: &[u8],
                     name: Option<String>|
     -> Result<(), VaultError> {
        r.out.records += 1;
        let key = (table, id_text(table, id));
        let mac = super::audit::record_mac(keys, table, id, sealed)?;
        let trail = latest.get(&key);
        let subject = name
            .or_else(|| trail.map(|t| t.2.clone()))
            .unwrap_or_default();
        let shown = describe(table, &key.1, &subject);
        match trail {
            None => r.record(
                shown,
                "is not in the trail: written outside credvault (a duplicated or planted record)"
                    .into(),
            ),
            Some((seq, None, _)) => r.record(
                shown,
                format!("was deleted at entry #{seq} but is present again"),
            ),
            Some((seq, Some(m), _)) if *m != mac => r.record(
                shown,
                format!(
                    "is not the version entry #{seq} wrote: an older copy replayed, or altered"
                ),
            ),
            Some(_) => {}
        }
        seen.insert(key);
        Ok(())
    };
    for (def, table, kind) in [
        (CREDENTIALS, Table::Credentials, Kind::Credential),
        (SECRETS, Table::Secrets, Kind::Secret),
    ] {
        let Some(records) = open_or_empty(&txn, def)? else {
            continue;
        };
        for row in records.iter()? {
            let (id, sealed) = row?;
            let (id, sealed) = (id.value(), sealed.value());
            live_ids.insert(id);
            let names = names_of(v, kind, id, sealed);
            let name = names.as_ref().map(|(shown, _)| shown.clone());
            if names.is_none() {
                r.record(
                    describe(table, &id_text(table, id), ""),
                    "does not open: altered, or sealed under another id (copied)".into(),
                );
            }
            check(&mut r, table, id, sealed, name.clone())?;
            if let Some((shown, parts)) = names {
                let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
                let idx = v.index_key(kind, &parts)?;
                expected_index.insert(idx.to_vec());
                let indexed = open_index(&txn)?
                    .and_then(|t| t.get(idx.as_slice()).ok().flatten().map(|g| g.value()));
                if indexed != Some(id) {
                    r.record(
                        describe(table, &id_text(table, id), &shown),
                        "has no index entry pointing to it (removed or redirected): lookups by name miss it".into(),
                    );
                }
            }
        }
    }
    match txn.open_table(TOKENS) {
        Ok(tokens) => {
            for row in tokens.iter()? {
                let (mac, sealed) = row?;
                let id = super::tokens::record_id_of(mac.value())?;
                check(&mut r, Table::Tokens, id, sealed.value(), None)?;
            }
        }
        Err(TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let mut gone: Vec<_> = latest
        .iter()
        .filter(|(k, (_, mac, _))| mac.is_some() && !seen.contains(*k))
        .collect();
    gone.sort_by_key(|(_, (seq, _, _))| *seq);
    for ((table, id), (seq, _, subject)) in gone {
        r.record(
            describe(*table, id, subject),
            format!("is missing: entry #{seq} wrote it and nothing deleted it since"),
        );
    }
    if let Some(index) = open_index(&txn)? {
        for row in index.iter()? {
            let (key, id) = row?;
            if !live_ids.contains(&id.value()) {
                r.record(
                    format!("index entry for {}", uuid::Uuid::from_u128(id.value())),
                    "points to a record that does not exist".into(),
                );
            } else if !expected_index.contains(key.value()) {
                r.record(
                    format!("index entry for {}", uuid::Uuid::from_u128(id.value())),
                    "is not the record's own name: another name was redirected to it".into(),
                );
            }
        }
    }
    Ok(r.out)
}

fn open_or_empty(
    txn: &redb::ReadTransaction,
    def: TableDefinition<u128, &[u8]>,
) -> Result<Option<redb::ReadOnlyTable<u128, &'static [u8]>>, VaultError> {
    match txn.open_table(def) {
        Ok(t) => Ok(Some(t)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn open_index(
    txn: &redb::ReadTransaction,
) -> Result<Option<redb::ReadOnlyTable<&'static [u8], u128>>, VaultError> {
    match txn.open_table(INDEX) {
        Ok(t) => Ok(Some(t)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A record's display name and index parts, when it opens.
fn names_of(v: &Vault, kind: Kind, id: u128, sealed: &[u8]) -> Option<(String, Vec<String>)> {
    let key = v.keys.seal_key();
    match kind {
        Kind::Credential => open_record::<CredentialRecord>(key, kind, id, sealed)
            .ok()
            .map(|o| {
                (
                    format!("{}/{}", o.meta.service, o.meta.name),
                    vec![o.meta.service, o.meta.name],
                )
            }),
        Kind::Secret => open_record::<SecretRecord>(key, kind, id, sealed)
            .ok()
            .map(|o| (o.meta.name.clone(), vec![o.meta.name])),
        _ => None,
    }
}
