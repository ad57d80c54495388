//! Tampering with the file is detected: altered records, records moved between
//! ids, swapped index entries, a corrupted KDF header. Nothing wrong is returned.

use std::path::Path;

use credvault::validate;
use credvault::{KdfParams, SecretString, Vault, VaultError};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::json;

use crate::common::{Env, PASSWORD, contains};

const CREDENTIALS: TableDefinition<u128, &[u8]> = TableDefinition::new("credentials");
const INDEX: TableDefinition<&[u8], u128> = TableDefinition::new("index");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const CHEAP: KdfParams = KdfParams {
    m_kib: 8192,
    t: 1,
    p: 1,
};

fn pw() -> SecretString {
    SecretString::from(PASSWORD)
}

fn store(v: &Vault, service: &str, name: &str, value: &str) {
    let req = validate::store_credential(
        json!({"service_id": service, "credential_type": "api_key", "credential_value": value, "name": name})
            .as_object()
            .unwrap()
            .clone(),
    )
    .unwrap();
    v.store_credential(&req, "test").unwrap();
}

/// The vault file opened with redb alone (no keys): what someone who can write it has.
pub fn raw_db(path: &Path) -> redb::Database {
    redb::Database::builder()
        .set_concurrency_mode(redb::ConcurrencyMode::MultiWriter)
        .open(path)
        .unwrap()
}

/// Every (id, sealed bytes) row of the `credentials` table.
pub fn records(path: &Path) -> Vec<(u128, Vec<u8>)> {
    let db = raw_db(path);
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(CREDENTIALS).unwrap();
    t.iter()
        .unwrap()
        .map(|e| e.unwrap())
        .map(|(k, v)| (k.value(), v.value().to_vec()))
        .collect()
}

pub fn put(path: &Path, id: u128, bytes: &[u8]) {
    let db = raw_db(path);
    let txn = db.begin_write().unwrap();
    txn.open_table(CREDENTIALS)
        .unwrap()
        .insert(id, bytes)
        .unwrap();
    txn.commit().unwrap();
}

fn setup() -> (Env, Vec<(u128, Vec<u8>)>) {
    let env = Env::new();
    let v = Vault::create(&env.vault, &pw(), CHEAP).unwrap();
    store(&v, "openai", "primary", "sk-tamper-marker-one");
    store(&v, "anthropic", "primary", "sk-tamper-marker-two");
    drop(v);
    let recs = records(&env.vault);
    assert_eq!(recs.len(), 2);
    (env, recs)
}

#[test]
fn every_flipped_byte_of_a_sealed_record_is_rejected() {
    let (env, recs) = setup();
    let (id, sealed) = &recs[0];
    let shown = uuid::Uuid::from_u128(*id).to_string();
    for i in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x01;
        put(&env.vault, *id, &bad);
        let v = Vault::open(&env.vault, &pw()).unwrap();
        // The damaged record is left out; the other is still listed...
        let listed = v.list_credentials(None).unwrap();
        assert_eq!(listed.len(), 1, "byte {i}");
        assert_ne!(listed[0].id.as_u128(), *id, "byte {i}");
        // ...and the audit check names it.
        let problems = v.verify_audit().unwrap().problems;
        assert!(
            problems
                .iter()
                .any(|p| p.record.as_deref().is_some_and(|r| r.contains(&shown))),
            "byte {i}: {problems:?}"
        );
        assert!(!format!("{problems:?}").contains("marker"));
    }
    put(&env.vault, *id, sealed);
    let v = Vault::open(&env.vault, &pw()).unwrap();
    assert_eq!(v.list_credentials(None).unwrap().len(), 2);
    assert!(v.verify_audit().unwrap().problems.is_empty());
}

#[test]
fn a_record_moved_under_another_id_is_rejected() {
    let (env, recs) = setup();
    let (a, sealed_a) = &recs[0];
    let (b, sealed_b) = &recs[1];
    put(&env.vault, *a, sealed_b);
    put(&env.vault, *b, sealed_a);
    let v = Vault::open(&env.vault, &pw()).unwrap();
    // Neither opens under the other's id: neither is listed, and the list still answers.
    assert!(v.list_credentials(None).unwrap().is_empty());
    drop(v);
    // Through the CLI: the list answers, stderr names each damaged record.
    let o = env.run(&["list", "--json"], "");
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    for id in [a, b] {
        assert!(
            err.contains(&uuid::Uuid::from_u128(*id).to_string()),
            "{err}"
        );
    }
    assert!(err.contains("another id"), "{err}");
    assert!(!contains(&o.stderr, "marker") && !contains(&o.stdout, "marker"));
    // audit --verify exits 1 naming them.
    let o = env.run(&["audit", "--verify"], "");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&uuid::Uuid::from_u128(*a).to_string()),
        "{err}"
    );
}

#[test]
fn swapped_index_entries_are_detected_on_lookup() {
    let (env, _) = setup();
    {
        let db = raw_db(&env.vault);
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(INDEX).unwrap();
            let entries: Vec<(Vec<u8>, u128)> = t
                .iter()
                .unwrap()
                .map(|e| e.unwrap())
                .map(|(k, v)| (k.value().to_vec(), v.value()))
                .collect();
            assert_eq!(entries.len(), 2);
            t.insert(entries[0].0.as_slice(), entries[1].1).unwrap();
            t.insert(entries[1].0.as_slice(), entries[0].1).unwrap();
        }
        txn.commit().unwrap();
    }
    let v = Vault::open(&env.vault, &pw()).unwrap();
    let req = validate::store_credential(
        json!({"service_id": "openai", "credential_type": "api_key", "credential_value": "new", "name": "primary"})
            .as_object()
            .unwrap()
            .clone(),
    )
    .unwrap();
    let err = v.store_credential(&req, "test").unwrap_err();
    assert!(matches!(err, VaultError::Corrupt(_)), "{err}");
    // Nothing was overwritten: both original records still open.
    assert_eq!(v.list_credentials(None).unwrap().len(), 2);
}

fn set_meta(path: &Path, key: &str, f: impl FnOnce(&mut Vec<u8>)) {
    let db = raw_db(path);
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(META).unwrap();
        let mut bytes = t.get(key).unwrap().unwrap().value().to_vec();
        f(&mut bytes);
        t.insert(key, bytes.as_slice()).unwrap();
    }
    txn.commit().unwrap();
}

#[test]
fn an_out_of_range_kdf_header_fails_fast_and_cleanly() {
    let (env, _) = setup();
    set_meta(&env.vault, "kdf", |h| {
        h[1..5].copy_from_slice(&u32::MAX.to_le_bytes())
    });
    let err = Vault::open(&env.vault, &pw()).unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
    let o = env.run(&["list"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("out of range"));
}

#[test]
fn an_in_range_but_altered_kdf_header_does_not_unlock() {
    let (env, _) = setup();
    set_meta(&env.vault, "kdf", |h| {
        h[5..9].copy_from_slice(&2u32.to_le_bytes())
    });
    assert!(Vault::open(&env.vault, &pw()).is_err());
}

#[test]
fn a_newer_format_version_is_refused_with_advice() {
    let (env, _) = setup();
    set_meta(&env.vault, "format_version", |v| {
        v.copy_from_slice(&99u32.to_le_bytes())
    });
    let err = Vault::open(&env.vault, &pw()).unwrap_err();
    assert!(
        matches!(err, VaultError::NewerFormat { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade credvault"));
}

#[test]
fn a_truncated_file_is_an_error_not_a_panic() {
    let (env, _) = setup();
    let bytes = env.file_bytes();
    for cut in [bytes.len() / 2, 4096, 100] {
        std::fs::write(&env.vault, &bytes[..cut]).unwrap();
        assert!(Vault::open(&env.vault, &pw()).is_err(), "cut at {cut}");
    }
}
