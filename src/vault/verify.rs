//! `credvault audit --verify`: the chain, the head, then the live tables
//! against what the trail says was written last (see [`super::audit`]).

use std::collections::{HashMap, HashSet};

use super::Vault;
use super::audit::{Entry, Problem, Verification, id_text, member_id};
use super::credentials::CredentialRecord;
use super::format::{FORMAT_VERSION, Opened, open_record};
use super::secrets::SecretRecord;
use crate::error::VaultError;
use crate::store::{Read, Table, meta_key, scan_all};

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
    let kind = super::audit::noun(table);
    if subject.is_empty() {
        format!("{kind} {id}")
    } else {
        format!("{kind} {subject} ({id})")
    }
}

pub(super) fn run(v: &Vault) -> Result<Verification, VaultError> {
    run_on(v, &*v.store.read()?)
}

/// [`run`] on a transaction the caller holds (rekey checks inside its own).
pub(super) fn run_on(v: &Vault, txn: &dyn Read) -> Result<Verification, VaultError> {
    let keys = &v.keys;
    let mut r = Report {
        out: Verification::default(),
    };
    let format = txn
        .get(Table::Meta, meta_key::FORMAT.as_bytes())?
        .and_then(|g| <[u8; 4]>::try_from(g.as_slice()).ok())
        .map(u32::from_le_bytes)
        .unwrap_or(0);
    let head = txn.get(Table::Meta, meta_key::AUDIT_HEAD.as_bytes())?;
    let trail = scan_all(txn, Table::Audit)?;
    let trail_rows = trail.len();
    let bound = v.latest().bound();
    let head = match head {
        None if bound => {
            r.record(
                "audit head".into(),
                "is missing, and the vault's key says it keeps a trail: the trail was removed (or the format version lowered) outside credvault".into(),
            );
            None
        }
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
    {
        {
            for (seq, sealed) in &trail {
                let (seq, sealed) = (super::seq_of(seq)?, sealed.as_slice());
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
                match open_record::<Entry>(keys.seal_key(), Table::Audit, u128::from(seq), sealed) {
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
    let index: std::collections::HashMap<Vec<u8>, Vec<u8>> =
        scan_all(txn, Table::Index)?.into_iter().collect();
    for table in [Table::Credentials, Table::Secrets] {
        for (id, sealed) in scan_all(txn, table)? {
            let (id, sealed) = (super::id_of(&id)?, sealed.as_slice());
            live_ids.insert(id);
            let names = names_of(v, table, id, sealed);
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
                let idx = v.index_key(table, &parts)?;
                expected_index.insert(idx.to_vec());
                let indexed = index.get(idx.as_slice());
                if indexed.map(Vec::as_slice) != Some(id.to_be_bytes().as_slice()) {
                    r.record(
                        describe(table, &id_text(table, id), &shown),
                        "has no index entry pointing to it (removed or redirected): lookups by name miss it".into(),
                    );
                }
            }
        }
    }
    for (mac, sealed) in scan_all(txn, Table::Tokens)? {
        let id = super::tokens::record_id_of(&mac)?;
        check(&mut r, Table::Tokens, id, &sealed, None)?;
    }
    // Member key slots are in the trail from format 3 (a format-2 vault's
    // first write adds a baseline for each).
    let covered = latest.keys().any(|(t, _)| *t == Table::Members);
    if format >= 3 || covered {
        for (name, slot) in scan_all(txn, Table::Members)? {
            let name = String::from_utf8_lossy(&name).into_owned();
            check(&mut r, Table::Members, member_id(&name), &slot, Some(name))?;
        }
    }
    if format < FORMAT_VERSION && covered {
        r.record(
            "format version".into(),
            format!("says {format}, but the trail covers member key slots (format 3): lowered outside credvault"),
        );
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
    let mut index: Vec<_> = index.into_iter().collect();
    index.sort();
    for (key, id) in index {
        let id = super::id_of(&id)?;
        if !live_ids.contains(&id) {
            r.record(
                format!("index entry for {}", uuid::Uuid::from_u128(id)),
                "points to a record that does not exist".into(),
            );
        } else if !expected_index.contains(&key) {
            r.record(
                format!("index entry for {}", uuid::Uuid::from_u128(id)),
                "is not the record's own name: another name was redirected to it".into(),
            );
        }
    }
    Ok(r.out)
}

/// A record's display name and index parts, when it opens.
fn names_of(v: &Vault, kind: Table, id: u128, sealed: &[u8]) -> Option<(String, Vec<String>)> {
    let key = v.keys.seal_key();
    match kind {
        Table::Credentials => open_record::<CredentialRecord>(key, kind, id, sealed)
            .ok()
            .map(|o| {
                (
                    format!("{}/{}", o.meta.service, o.meta.name),
                    vec![o.meta.service, o.meta.name],
                )
            }),
        Table::Secrets => open_record::<SecretRecord>(key, kind, id, sealed)
            .ok()
            .map(|o| (o.meta.name.clone(), vec![o.meta.name])),
        Table::Tokens | Table::Members | Table::Audit | Table::Meta | Table::Index => None,
    }
}
