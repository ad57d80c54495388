//! Power cut and durability, simulated at the storage layer.
//!
//! A redb `StorageBackend` wrapper passes every operation to the real file and
//! logs each write, resize and sync. From the log we rebuild the image the disk
//! could hold after a power cut:
//!
//! * exactly what had been synced at the k-th sync (for every k);
//! * that plus every later write (all of it reached the platter, unsynced);
//! * that plus a random subset of the later writes (the page cache flushed
//!   some pages and not others).
//!
//! Each image, opened with the production `Vault::open`, must hold exactly the
//! acknowledged writes before the cut — nothing acknowledged lost, nothing not
//! yet started present — give or take the one call in flight. And every call
//! syncs at least once before it returns, and the image frozen at its last
//! sync already holds its write (DESIGN §1.3: durable before the reply).

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use credvault::validate::{self, CredentialType};
use credvault::{KdfParams, SecretString, Vault};
use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};
use serde_json::json;

use crate::common::{Env, MARKER, PASSWORD};
use crate::crash::Rng;

const CHEAP: KdfParams = KdfParams {
    m_kib: 8192,
    t: 1,
    p: 1,
};

#[derive(Debug, Clone)]
pub enum Op {
    Write(u64, Vec<u8>),
    SetLen(u64),
    Sync,
}

/// Passes everything to a real [`FileBackend`] and logs what reached storage.
#[derive(Debug, Clone)]
pub struct Recorder {
    inner: Arc<FileBackend>,
    pub log: Arc<Mutex<Vec<Op>>>,
}

impl Recorder {
    pub fn new(path: &Path) -> Self {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        Self {
            inner: Arc::new(FileBackend::new(file).unwrap()),
            log: Arc::default(),
        }
    }

    pub fn syncs(&self) -> usize {
        let log = self.log.lock().unwrap();
        log.iter().filter(|o| matches!(o, Op::Sync)).count()
    }
}

impl StorageBackend for Recorder {
    fn len(&self) -> Result<u64, io::Error> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        self.log.lock().unwrap().push(Op::SetLen(len));
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> Result<(), io::Error> {
        self.inner.sync_data()?;
        self.log.lock().unwrap().push(Op::Sync);
        Ok(())
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.log
            .lock()
            .unwrap()
            .push(Op::Write(offset, data.to_vec()));
        self.inner.write(offset, data)
    }
    fn close(&self) -> Result<(), io::Error> {
        self.inner.close()
    }
    fn try_lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(s, e)
    }
    fn try_lock_shared_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(s, e)
    }
    fn lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(s, e)
    }
    fn lock_shared_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(s, e)
    }
    fn unlock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(s, e)
    }
    fn query_lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(s, e)
    }
}

pub fn apply(image: &mut Vec<u8>, op: &Op) {
    match op {
        Op::Write(at, data) => {
            let at = *at as usize;
            if image.len() < at + data.len() {
                image.resize(at + data.len(), 0);
            }
            image[at..at + data.len()].copy_from_slice(data);
        }
        Op::SetLen(len) => image.resize(*len as usize, 0),
        Op::Sync => {}
    }
}

/// What a reopened vault holds: credential name → (id, type), secret names.
type State = (BTreeMap<String, (String, CredentialType)>, Vec<String>);

fn state_of(v: &Vault) -> State {
    let creds = v
        .list_credentials(None)
        .unwrap()
        .into_iter()
        .map(|c| (c.name, (c.id.to_string(), c.credential_type)))
        .collect();
    let mut secrets: Vec<String> = v
        .list_secrets()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    secrets.sort();
    (creds, secrets)
}

fn store_req(name: &str, ty: &str, i: usize) -> validate::StoreCredential {
    validate::store_credential(
        json!({"service_id": "custom.power", "credential_type": ty,
               "credential_value": format!("{MARKER}-power-{i}"), "name": name})
        .as_object()
        .unwrap()
        .clone(),
    )
    .unwrap()
}

enum Reply {
    Cred(credvault::vault::Credential),
    Secret(String),
}

/// One call of the workload and the sync counts around it.
struct Call {
    before: usize,
    after: usize,
}

#[test]
fn power_cut_at_every_sync_keeps_exactly_the_acknowledged_writes() {
    const CALLS: usize = 20;
    let started = Instant::now();
    let env = Env::new();
    drop(Vault::create(&env.vault, &SecretString::from(PASSWORD), CHEAP).unwrap());
    let initial = fs::read(&env.vault).unwrap();
    let rec = Recorder::new(&env.vault);
    let v =
        Vault::open_with_backend(rec.clone(), &env.vault, &SecretString::from(PASSWORD)).unwrap();
    // (Opening may leave writes unsynced, e.g. redb marking the file as open
    // for writing; no reply depends on them.)
    let opened_syncs = rec.syncs();

    // The workload: new credentials, replacements that flip the type (visible
    // in metadata), and secrets. states[i] is the state after i calls.
    let mut states: Vec<State> = vec![state_of(&v)];
    let mut calls = Vec::new();
    for i in 0..CALLS {
        let before = rec.syncs();
        let reply = match i % 4 {
            3 => {
                let s = v
                    .create_secret(
                        &validate::create_secret(
                            json!({"name": format!("POWER_{i}"), "provider": "openai",
                               "value": format!("{MARKER}-secret-{i}")})
                            .as_object()
                            .unwrap()
                            .clone(),
                        )
                        .unwrap(),
                        "test",
                    )
                    .unwrap();
                Reply::Secret(s.name)
            }
            2 => {
                let ty = if i % 8 == 2 { "bearer" } else { "api_key" };
                Reply::Cred(
                    v.store_credential(&store_req(&format!("c{}", i - 2), ty, i), "test")
                        .unwrap()
                        .credential,
                )
            }
            _ => Reply::Cred(
                v.store_credential(&store_req(&format!("c{i}"), "api_key", i), "test")
                    .unwrap()
                    .credential,
            ),
        };
        let after = rec.syncs();
        // The model, from the replies alone.
        let mut next = states.last().unwrap().clone();
        match &reply {
            Reply::Cred(c) => {
                next.0
                    .insert(c.name.clone(), (c.id.to_string(), c.credential_type));
            }
            Reply::Secret(name) => {
                next.1.push(name.clone());
                next.1.sort();
            }
        }
        assert_eq!(
            state_of(&v),
            next,
            "call {i}: the vault disagrees with its replies"
        );
        // Item 6: durable before acknowledged.
        assert!(after > before, "call {i} returned without a sync");
        // redb may rewrite its header after the final sync (the next
        // transaction's bookkeeping); the cut images below prove the write is
        // already in the image frozen at the last sync before this return.
        calls.push(Call { before, after });
        states.push(next);
    }
    drop(v);
    let log = rec.log.lock().unwrap().clone();
    let total_syncs = rec.syncs();
    eprintln!(
        "powercut: {CALLS} calls, {total_syncs} syncs ({opened_syncs} while opening), {} logged ops",
        log.len()
    );

    // The states an image cut after sync k may show: all calls acknowledged by
    // then, plus possibly the one in flight (started before a later sync).
    let allowed = |k: usize, also_unsynced: bool| -> Vec<usize> {
        let lo = calls.iter().filter(|c| c.after <= k).count();
        // With unsynced writes of the next interval on disk too, the call
        // owning sync k+1 may have made progress.
        let horizon = if also_unsynced { k + 1 } else { k };
        let hi = calls.iter().filter(|c| c.before < horizon).count();
        (lo..=hi).collect()
    };
    let mut rng = Rng::from_env("CREDVAULT_POWERCUT_SEED");
    let probe = env.dir.path().join("powercut.redb");
    let mut checked = 0;
    let check = |image: &[u8], k: usize, what: &str, also_unsynced: bool| {
        write_private(&probe, image);
        let v = Vault::open(&probe, &SecretString::from(PASSWORD))
            .unwrap_or_else(|e| panic!("{what} at sync {k}: does not reopen: {e}"));
        let got = state_of(&v);
        let ok = allowed(k, also_unsynced);
        assert!(
            ok.iter().any(|&j| states[j] == got),
            "{what} at sync {k}: state matches none of calls {ok:?}: {got:?}"
        );
    };
    let mut image = initial.clone();
    let mut k = 0;
    let mut i = 0;
    while i < log.len() {
        apply(&mut image, &log[i]);
        if matches!(log[i], Op::Sync) {
            k += 1;
            check(&image, k, "synced image", false);
            // The writes up to the next sync.
            let next: Vec<&Op> = log[i + 1..]
                .iter()
                .take_while(|o| !matches!(o, Op::Sync))
                .collect();
            if !next.is_empty() {
                let mut all = image.clone();
                for op in &next {
                    apply(&mut all, op);
                }
                check(&all, k, "synced + all unsynced writes", true);
                for _ in 0..2 {
                    let mut some = image.clone();
                    for op in &next {
                        if matches!(op, Op::SetLen(_)) || rng.below(2) == 0 {
                            apply(&mut some, op);
                        }
                    }
                    check(&some, k, "synced + some unsynced writes", true);
                }
            }
            checked += 1;
        }
        i += 1;
    }
    assert_eq!(checked, total_syncs);
    // The final image is the final state.
    write_private(&probe, &image);
    let v = Vault::open(&probe, &SecretString::from(PASSWORD)).unwrap();
    assert_eq!(state_of(&v), states[CALLS]);
    eprintln!(
        "powercut: {checked} cut points checked in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// Writes an image as the user's own private file (a vault must not be
/// writable by others, whatever the umask).
pub fn write_private(path: &std::path::Path, bytes: &[u8]) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = fs::remove_file(path);
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}
