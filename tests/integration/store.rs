//! One conformance suite for the record-level store trait (DESIGN §12), run
//! against both stores: the redb file and PostgreSQL (a throwaway cluster on
//! a unix socket; skipped with a printed reason when no server exists).
//! Create-only races, concurrent writers with no lost update, ordered paged
//! scans while another writer inserts, a dropped transaction writing nothing,
//! and a writer killed mid-stream losing nothing it acknowledged.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use credvault::store::postgres::PgStore;
use credvault::store::redb::{RedbStore, create_db, create_file, open_rw};
use credvault::store::{Store, Table, scan_all};

use crate::pgcluster::Cluster;

/// Opens (creating when new) the store at `at`: a `postgres://` URL or a file path.
fn open(at: &str) -> Box<dyn Store> {
    if at.starts_with("postgres") {
        let s = PgStore::connect(at).unwrap();
        s.ensure_schema().unwrap();
        Box::new(s)
    } else {
        let path = std::path::Path::new(at);
        let db = if create_file(path).unwrap() {
            create_db(path).unwrap()
        } else {
            open_rw(path).unwrap()
        };
        Box::new(RedbStore::new(db, path))
    }
}

/// The two stores under test, as places `open` takes. Each test gets fresh ones.
struct Both {
    _dir: tempfile::TempDir,
    _pg: Option<Cluster>,
    places: Vec<String>,
}

fn both(name: &str) -> Both {
    let dir = tempfile::tempdir().unwrap();
    let mut places = vec![dir.path().join("v.redb").display().to_string()];
    let pg = Cluster::start();
    if let Some(pg) = &pg {
        places.push(pg.create_db(name));
    }
    Both {
        _dir: dir,
        _pg: pg,
        places,
    }
}

/// Handles on one store for `n` threads: separate connections for
/// PostgreSQL; one shared handle for redb (a process opens a file once;
/// other processes are the multi-process tests' job).
fn handles(at: &str, n: usize) -> Vec<Arc<dyn Store>> {
    if at.starts_with("postgres") {
        (0..n).map(|_| Arc::from(open(at))).collect()
    } else {
        let one: Arc<dyn Store> = Arc::from(open(at));
        vec![one; n]
    }
}

fn id(n: u128) -> [u8; 16] {
    n.to_be_bytes()
}

#[test]
fn round_trip_order_and_abort() {
    for at in both("conf_basic").places {
        let s = open(&at);
        let mut w = s.write().unwrap();
        for n in [5u128, 1, 300, 2, 70_000] {
            w.put(Table::Credentials, &id(n), format!("v{n}").as_bytes())
                .unwrap();
        }
        w.put(Table::Meta, b"k", b"meta").unwrap();
        w.commit().unwrap();
        let r = s.read().unwrap();
        assert_eq!(
            r.get(Table::Credentials, &id(300)).unwrap().as_deref(),
            Some(b"v300".as_slice()),
            "{at}"
        );
        assert_eq!(
            r.get(Table::Secrets, &id(300)).unwrap(),
            None,
            "tables are apart: {at}"
        );
        let keys: Vec<u128> = scan_all(&*r, Table::Credentials)
            .unwrap()
            .into_iter()
            .map(|(k, _)| u128::from_be_bytes(k.try_into().unwrap()))
            .collect();
        assert_eq!(keys, vec![1, 2, 5, 300, 70_000], "numeric order: {at}");
        let page = r.scan(Table::Credentials, Some(&id(2)), 2).unwrap();
        assert_eq!(page.len(), 2);
        assert_eq!(page[0].0, id(5).to_vec(), "strictly after: {at}");
        drop(r);

        // Dropped without commit: nothing written. Remove reports presence.
        let mut w = s.write().unwrap();
        w.put(Table::Credentials, &id(9), b"x").unwrap();
        assert!(w.remove(Table::Credentials, &id(1)).unwrap());
        assert!(!w.remove(Table::Credentials, &id(12345)).unwrap());
        drop(w);
        let r = s.read().unwrap();
        assert_eq!(r.get(Table::Credentials, &id(9)).unwrap(), None, "{at}");
        assert!(r.get(Table::Credentials, &id(1)).unwrap().is_some(), "{at}");
        // Empty and missing tables read as empty.
        assert!(scan_all(&*r, Table::Audit).unwrap().is_empty(), "{at}");
    }
}

#[test]
fn create_only_race_has_one_winner() {
    for at in both("conf_race").places {
        for round in 0..5u8 {
            let key = [round; 32];
            let winners: Vec<bool> = std::thread::scope(|sc| {
                let joins: Vec<_> = handles(&at, 8)
                    .into_iter()
                    .enumerate()
                    .map(|(i, h)| {
                        sc.spawn(move || {
                            let mut w = h.write().unwrap();
                            if w.get(Table::Index, &key).unwrap().is_some() {
                                return false;
                            }
                            w.put(Table::Index, &key, &id(i as u128)).unwrap();
                            w.commit().unwrap();
                            true
                        })
                    })
                    .collect();
                joins.into_iter().map(|j| j.join().unwrap()).collect()
            });
            assert_eq!(
                winners.iter().filter(|w| **w).count(),
                1,
                "exactly one create wins: {at}"
            );
        }
    }
}

#[test]
fn concurrent_writers_lose_no_update() {
    const WRITERS: usize = 6;
    const EACH: u64 = 40;
    for at in both("conf_counter").places {
        std::thread::scope(|sc| {
            for h in handles(&at, WRITERS) {
                sc.spawn(move || {
                    for _ in 0..EACH {
                        let mut w = h.write().unwrap();
                        let n = w
                            .get(Table::Meta, b"counter")
                            .unwrap()
                            .map(|v| u64::from_le_bytes(v.try_into().unwrap()))
                            .unwrap_or(0);
                        w.put(Table::Meta, b"counter", &(n + 1).to_le_bytes())
                            .unwrap();
                        w.commit().unwrap();
                    }
                });
            }
        });
        let v = open(&at)
            .read()
            .unwrap()
            .get(Table::Meta, b"counter")
            .unwrap()
            .unwrap();
        assert_eq!(
            u64::from_le_bytes(v.try_into().unwrap()),
            WRITERS as u64 * EACH,
            "{at}"
        );
    }
}

#[test]
fn paged_scan_while_another_writer_inserts() {
    for at in both("conf_pages").places {
        let s = open(&at);
        let mut w = s.write().unwrap();
        let existing: BTreeSet<u128> = (0..1000u128).map(|n| n * 7919 % 100_003).collect();
        for n in &existing {
            w.put(Table::Secrets, &id(*n), b"sealed").unwrap();
        }
        w.commit().unwrap();
        let writer = handles(&at, 1).remove(0);
        let seen = std::thread::scope(|sc| {
            sc.spawn(move || {
                for n in 0..300u128 {
                    let mut w = writer.write().unwrap();
                    w.put(
                        Table::Secrets,
                        &id(200_000 + n * 3 - n % 2 * 150_000),
                        b"new",
                    )
                    .unwrap();
                    w.commit().unwrap();
                }
            });
            let mut seen = Vec::new();
            let mut after: Option<Vec<u8>> = None;
            loop {
                let page = s
                    .read()
                    .unwrap()
                    .scan(Table::Secrets, after.as_deref(), 37)
                    .unwrap();
                let Some(last) = page.last() else { break };
                after = Some(last.0.clone());
                seen.extend(
                    page.iter()
                        .map(|(k, _)| u128::from_be_bytes(k.clone().try_into().unwrap())),
                );
            }
            seen
        });
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "ordered, none repeated: {at}"
        );
        let seen: BTreeSet<u128> = seen.into_iter().collect();
        assert!(
            existing.is_subset(&seen),
            "no record that existed throughout is skipped: {at}"
        );
    }
}

/// The writer the kill test runs in a child process: one commit per key,
/// printing `ack N` after each commit returns.
#[test]
#[ignore = "run by killed_writer_loses_nothing_acknowledged in a child process"]
fn store_writer_child() {
    let Ok(at) = std::env::var("CREDVAULT_STORE_CHILD") else {
        return;
    };
    let s = open(&at);
    for n in 0u128.. {
        let mut w = s.write().unwrap();
        w.put(Table::Credentials, &id(n), &[7u8; 300]).unwrap();
        w.commit().unwrap();
        println!("ack {n}");
    }
}

#[test]
fn killed_writer_loses_nothing_acknowledged() {
    for at in both("conf_kill").places {
        open(&at); // schema / file first
        for trial in 0..3 {
            let mut child = Command::new(std::env::current_exe().unwrap())
                .args([
                    "--ignored",
                    "--exact",
                    "store::store_writer_child",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("CREDVAULT_STORE_CHILD", &at)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut acked = BTreeSet::new();
            let lines = BufReader::new(child.stdout.take().unwrap()).lines();
            let stop_after = 40 + trial * 37;
            for line in lines {
                let line = line.unwrap();
                if let Some(n) = line.strip_prefix("ack ") {
                    acked.insert(n.parse::<u128>().unwrap());
                    if acked.len() >= stop_after {
                        child.kill().unwrap(); // SIGKILL
                        break;
                    }
                }
            }
            child.wait().unwrap();
            let r = open(&at);
            let r = r.read().unwrap();
            for n in &acked {
                assert!(
                    r.get(Table::Credentials, &id(*n)).unwrap().is_some(),
                    "acknowledged write {n} lost after SIGKILL: {at}"
                );
            }
        }
    }
}

/// PostgreSQL holds its one connection for a transaction's life: a second
/// transaction from the same thread is an error, never a hang.
#[test]
fn a_nested_transaction_on_postgres_is_an_error_not_a_hang() {
    let Some(pg) = Cluster::start() else {
        return;
    };
    let s = open(&pg.create_db("conf_nested"));
    let w = s.write().unwrap();
    assert!(s.read().is_err(), "a read inside a write on one thread");
    assert!(s.write().is_err(), "a write inside a write on one thread");
    drop(w);
    // Another thread's transaction simply waits its turn; after the first
    // ends, this thread can begin again.
    let r = s.read().unwrap();
    drop(r);
    let mut w = s.write().unwrap();
    w.put(Table::Meta, b"after", b"ok").unwrap();
    w.commit().unwrap();
}
