//! A rekey of a vault file cut short or raced (issue 20 item 4): SIGKILLs at
//! many moments of `credvault rekey` and `credvault passwd --rekey` of 300
//! records (real binary), a power cut at every sync of one (library, over the
//! logging storage layer of powercut.rs), and another process's `passwd`
//! between unlock and rekey. Each leaves exactly one consistent key.

use std::process::Stdio;
use std::time::{Duration, Instant};

use credvault::validate;
use credvault::vault::Relock;
use credvault::{KdfParams, SecretString, Vault};
use serde_json::json;

use crate::common::{Env, MARKER, PASSWORD};
use crate::rekey::{NEW_PASSWORD, lock_rows};

const CHEAP: KdfParams = KdfParams {
    m_kib: 8192,
    t: 1,
    p: 1,
};

/// A vault file with `n` credentials, two secrets and a token, made through
/// the library (fast); the rekeys under test run in the real binary.
fn big_vault(n: usize) -> Env {
    let env = Env::new();
    let v = Vault::create(&env.vault, &SecretString::from(PASSWORD), CHEAP).unwrap();
    for i in 0..n {
        let req = validate::store_credential(
            json!({"service_id": "custom.bulk", "credential_type": "api_key",
                   "credential_value": format!("{MARKER}-bulk-{i}"), "name": format!("k{i}")})
            .as_object()
            .unwrap()
            .clone(),
        )
        .unwrap();
        v.store_credential(&req, "test").unwrap();
    }
    for name in ["FIRST_SECRET", "SECOND_SECRET"] {
        let req = validate::create_secret(
            json!({"name": name, "provider": "openai", "value": format!("{MARKER}-{name}")})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
        v.create_secret(&req, "test").unwrap();
    }
    v.create_token("bulk", "test").unwrap();
    env
}

/// What a vault opened after a kill shows: rekeyed or not, and consistent
/// either way (every record opens and matches the trail).
/// Exactly one of the old and the new password opens the vault, it holds
/// every record (see [`check_after_kill`]), and the new one opens it exactly
/// when the key was changed; returns whether it was.
fn one_password_opens(
    old: Result<Vault, credvault::VaultError>,
    new: Result<Vault, credvault::VaultError>,
    n: usize,
    what: &str,
) -> bool {
    assert!(
        old.is_ok() != new.is_ok(),
        "{what}: old {:?} new {:?}",
        old.as_ref().err(),
        new.as_ref().err()
    );
    let by_new = new.is_ok();
    let rekeyed = check_after_kill(&old.or(new).unwrap(), n, what);
    assert_eq!(rekeyed, by_new, "{what}: password and key change together");
    rekeyed
}

fn check_after_kill(v: &Vault, n: usize, what: &str) -> bool {
    let entries = v.audit_entries(None).unwrap();
    let rekeyed = entries
        .last()
        .is_some_and(|e| e.action == "rekey" && e.subject.is_empty());
    let tokens = usize::from(!rekeyed);
    let report = v.verify_audit().unwrap();
    assert!(report.problems.is_empty(), "{what}: {:?}", report.problems);
    assert_eq!(report.records as usize, n + 2 + tokens, "{what}");
    assert_eq!(v.list_credentials(None).unwrap().len(), n, "{what}");
    assert_eq!(v.list_secrets().unwrap().len(), 2, "{what}");
    assert_eq!(
        v.list_tokens().unwrap().len(),
        tokens,
        "{what}: the token goes with the old key, and only then"
    );
    rekeyed
}

/// SIGKILL `credvault rekey` and `credvault passwd --rekey` at many moments
/// of a rekey of 300 records: afterwards the vault opens with exactly one
/// key — the old (and the old password) or the new (and, for passwd, the new
/// password) — and `audit --verify` is clean.
#[test]
fn rekey_killed_at_any_point_leaves_one_consistent_key() {
    const N: usize = 300;
    let base = big_vault(N);
    let new_pw = base.with_password(NEW_PASSWORD);
    let commands: [Vec<String>; 2] = [
        vec!["rekey".into()],
        vec![
            "passwd".into(),
            "--rekey".into(),
            "--new-password-file".into(),
            new_pw.display().to_string(),
        ],
    ];
    let run = |env: &Env, args: &[String]| {
        let mut c = env.cmd();
        c.args(args).stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    let fresh = || {
        let env = Env::new();
        std::fs::create_dir_all(env.vault.parent().unwrap()).unwrap();
        std::fs::copy(&base.vault, &env.vault).unwrap();
        env
    };
    // How long a whole run takes here, to spread the kills over it.
    let wholes: Vec<Duration> = commands
        .iter()
        .map(|args| {
            let env = fresh();
            let t0 = Instant::now();
            assert!(run(&env, args).status().unwrap().success());
            t0.elapsed()
        })
        .collect();
    let mut rng = crate::crash::Rng::from_env("CREDVAULT_REKEY_SEED");
    let trials = crate::crash::trials("CREDVAULT_REKEY_TRIALS", 24);
    let (mut old_key, mut new_key) = (0, 0);
    for trial in 0..trials {
        let which = trial % 2;
        let env = fresh();
        let whole = wholes[which].as_micros() as u64;
        let delay = Duration::from_micros(rng.below(whole * 12 / 10));
        let mut child = run(&env, &commands[which]).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let what = format!(
            "trial {trial} ({}, kill after {delay:?})",
            commands[which][0]
        );
        let open = |pw: &str| Vault::open(&env.vault, &SecretString::from(pw));
        let (old, new) = (open(PASSWORD), open(NEW_PASSWORD));
        let rekeyed = match which {
            0 => {
                assert!(new.is_err(), "{what}");
                check_after_kill(&old.unwrap_or_else(|e| panic!("{what}: {e}")), N, &what)
            }
            _ => one_password_opens(old, new, N, &what),
        };
        if rekeyed {
            new_key += 1;
        } else {
            old_key += 1;
        }
    }
    eprintln!(
        "rekey kills: {trials} trials over {wholes:?} (rekey, passwd --rekey of {N} records); {old_key} left the old key, {new_key} the new"
    );
}

/// A power cut at every sync of a `passwd --rekey` (library, over a storage
/// layer that logs each write and sync; see powercut.rs): every image the
/// disk could hold opens with exactly one of the passwords, holds every
/// record, and verifies.
#[test]
fn power_cut_during_a_rekey_leaves_the_old_key_or_the_new() {
    use crate::powercut::{Op, Recorder, apply, write_private};
    const N: usize = 40;
    let env = big_vault(N);
    let initial = std::fs::read(&env.vault).unwrap();
    let rec = Recorder::new(&env.vault);
    let v =
        Vault::open_with_backend(rec.clone(), &env.vault, &SecretString::from(PASSWORD)).unwrap();
    let new_pw = SecretString::from(NEW_PASSWORD);
    let done = v.rekey(Relock::NewPassword(&new_pw, None), "test").unwrap();
    assert_eq!(done.records, N + 2);
    assert_eq!(done.tokens_revoked, 1);
    drop(v);
    let log = rec.log.lock().unwrap().clone();
    let mut rng = crate::crash::Rng::from_env("CREDVAULT_POWERCUT_SEED");
    let probe = env.dir.path().join("cut.redb");
    let (mut old_seen, mut new_seen) = (0, 0);
    let mut check = |image: &[u8], what: &str| {
        write_private(&probe, image);
        let open = |pw: &str| Vault::open(&probe, &SecretString::from(pw));
        let (old, new) = (open(PASSWORD), open(NEW_PASSWORD));
        if one_password_opens(old, new, N, what) {
            new_seen += 1;
        } else {
            old_seen += 1;
        }
    };
    check(&initial, "the image before");
    let mut image = initial;
    let mut k = 0;
    for (i, op) in log.iter().enumerate() {
        apply(&mut image, op);
        if !matches!(op, Op::Sync) {
            continue;
        }
        k += 1;
        check(&image, &format!("synced image at sync {k}"));
        let next: Vec<&Op> = log[i + 1..]
            .iter()
            .take_while(|o| !matches!(o, Op::Sync))
            .collect();
        if next.is_empty() {
            continue;
        }
        let mut all = image.clone();
        for op in &next {
            apply(&mut all, op);
        }
        check(&all, &format!("sync {k} + all unsynced writes"));
        for _ in 0..3 {
            let mut some = image.clone();
            for op in &next {
                if matches!(op, Op::SetLen(_)) || rng.below(2) == 0 {
                    apply(&mut some, op);
                }
            }
            check(&some, &format!("sync {k} + some unsynced writes"));
        }
    }
    check(&image, "the final image");
    assert!(
        old_seen > 0 && new_seen > 0,
        "{old_seen} old, {new_seen} new"
    );
    eprintln!("rekey power cuts: {k} syncs; {old_seen} images old, {new_seen} new");
}

/// A password changed by another process after this one unlocked the vault:
/// a rekey under the password this one holds is refused, so a replaced
/// (perhaps leaked) password is never put back, and nothing changes.
#[test]
fn rekey_never_puts_back_a_password_replaced_since_unlock() {
    let env = big_vault(3);
    let pw = |p: &str| SecretString::from(p);
    let a = Vault::open(&env.vault, &pw(PASSWORD)).unwrap();
    let b = Vault::open(&env.vault, &pw(PASSWORD)).unwrap();
    b.change_password(&pw(NEW_PASSWORD), None, "test").unwrap();
    let lock = lock_rows(&env.vault);
    for relock in [
        Relock::Password(&pw(PASSWORD)),
        Relock::NewPassword(&pw("a third password"), None),
    ] {
        let e = a.rekey(relock, "test").unwrap_err();
        assert!(e.to_string().contains("changed by another process"), "{e}");
        assert_eq!(lock_rows(&env.vault), lock);
    }
    assert!(Vault::open(&env.vault, &pw(PASSWORD)).is_err());
    let v = Vault::open(&env.vault, &pw(NEW_PASSWORD)).unwrap();
    assert!(!check_after_kill(&v, 3, "after the refused rekeys"));
}
