//! Old-format fixtures, kept forever: `tests/fixtures/vault-v1.redb` was written
//! by format version 1 (cheap KDF, password below). Every later credvault must
//! open it, list exactly what it holds, and keep writing to it.
//! `cargo test --test integration -- --ignored regenerate_fixture` rewrites it
//! (only for a new format version: add a new file then, never replace an old one).

use std::path::PathBuf;

use credvault::validate;
use credvault::{KdfParams, SecretString, Vault};
use serde_json::json;

use crate::common::{Env, contains};

pub const FIXTURE_PASSWORD: &str = "fixture password v1";

pub fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vault-v1.redb")
}

pub fn store(v: &Vault, service: &str, name: &str, ty: &str, value: &str) {
    let args = json!({"service_id": service, "credential_type": ty, "credential_value": value, "name": name});
    v.store_credential(
        &validate::store_credential(args.as_object().unwrap().clone()).unwrap(),
        "test",
    )
    .unwrap();
}

#[test]
#[ignore = "writes tests/fixtures/vault-v1.redb; run by hand for a new format version"]
fn regenerate_fixture() {
    let path = fixture();
    let _ = std::fs::remove_file(&path);
    let pw = SecretString::from(FIXTURE_PASSWORD);
    let v = Vault::create(
        &path,
        &pw,
        KdfParams {
            m_kib: 8192,
            t: 1,
            p: 1,
        },
    )
    .unwrap();
    store(&v, "openai", "primary", "bearer", "sk-fixture-openai-0001");
    store(&v, "custom.acme", "default", "api_key", "acme-fixture-0002");
    let secret = json!({"name": "FIXTURE_TOKEN", "provider": "github", "value": "ghp_fixture_0003_abcdefgh"});
    v.create_secret(
        &validate::create_secret(secret.as_object().unwrap().clone()).unwrap(),
        "test",
    )
    .unwrap();
    v.create_token("fixture", "test").unwrap();
}

#[test]
fn a_format_1_vault_still_opens_lists_and_accepts_writes() {
    let env = Env::new();
    std::fs::create_dir_all(env.vault.parent().unwrap()).unwrap();
    std::fs::copy(fixture(), &env.vault).unwrap();
    // A checkout's mode follows the umask; a vault is the user's own file.
    std::fs::set_permissions(
        &env.vault,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let bytes = env.file_bytes();
    for plain in ["sk-fixture", "acme", "FIXTURE_TOKEN", "primary"] {
        assert!(!contains(&bytes, plain), "{plain} readable in the fixture");
    }
    let pw = SecretString::from(FIXTURE_PASSWORD);
    let v = Vault::open(&env.vault, &pw).unwrap();
    let mut creds: Vec<(String, String, &str)> = v
        .list_credentials(None)
        .unwrap()
        .into_iter()
        .map(|c| (c.service, c.name, c.credential_type.as_str()))
        .collect();
    creds.sort();
    assert_eq!(
        creds,
        [
            ("custom.acme".to_owned(), "default".to_owned(), "api_key"),
            ("openai".to_owned(), "primary".to_owned(), "bearer"),
        ]
    );
    let secrets = v.list_secrets().unwrap();
    assert_eq!(secrets.len(), 1);
    assert_eq!(
        (secrets[0].name.as_str(), secrets[0].masked_value.as_str()),
        ("FIXTURE_TOKEN", "ghp_fi••••fgh")
    );
    assert_eq!(v.list_tokens().unwrap().len(), 1);
    // No trail yet: format 1 has none, and opening writes nothing.
    assert!(v.audit_entries(None).unwrap().is_empty());
    assert!(v.verify_audit().unwrap().problems.is_empty());
    // Lookups through the keyed-hash index still find the old records; the
    // first write migrates: one baseline entry per record, then the write.
    store(&v, "openai", "primary", "api_key", "sk-fixture-replaced");
    let trail: Vec<(String, String)> = v
        .audit_entries(None)
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.subject))
        .collect();
    assert_eq!(trail.len(), 5, "{trail:?}");
    assert_eq!(trail.iter().filter(|(a, _)| a == "baseline").count(), 4);
    assert_eq!(
        trail[4],
        ("replace".to_owned(), "openai/primary".to_owned())
    );
    let report = v.verify_audit().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!((report.entries, report.records), (5, 4));
    assert_eq!(
        v.list_credentials(None).unwrap().len(),
        2,
        "replaced, not added"
    );
    let dup = json!({"name": "FIXTURE_TOKEN", "provider": "github", "value": "x"});
    assert!(
        v.create_secret(
            &validate::create_secret(dup.as_object().unwrap().clone()).unwrap(),
            "test"
        )
        .is_err()
    );
    assert!(Vault::open(&env.vault, &SecretString::from("wrong")).is_err());
}
