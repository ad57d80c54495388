//! A network namespace of its own for every test whose refusals name a
//! destination off this machine (a public name, a private or metadata
//! address): if the refusal ever regressed, the connection — or the DNS query
//! before it — meets a namespace whose only interface is loopback and fails
//! with "network unreachable"; no packet leaves the machine.
//!
//! [`isolated`] runs the calling test again, alone, in this test binary under
//! `unshare --net --mount` (util-linux): loopback up, any extra local
//! addresses on it, and a private copy of `/etc/hosts` with the test's names
//! bind-mounted over the real one inside the mount namespace, so the real file
//! is never written. Needs root; without it the test is skipped with a message,
//! or fails when `CREDVAULT_NETNS_REQUIRED=1` (CI sets it).

use std::process::Command;

/// Set in the rerun's environment: the test body runs there.
const INSIDE: &str = "CREDVAULT_TEST_NETNS";

/// What the rerun is given.
#[derive(Default)]
pub struct Namespace<'a> {
    /// `(address, name)` lines for the private `/etc/hosts`.
    pub hosts: &'a [(&'a str, &'a str)],
    /// Addresses added to loopback inside (so a regressed build would reach a
    /// local listener there instead of failing to route).
    pub local: &'a [&'a str],
}

/// True in the rerun (run the test body); false in the original run, after
/// the rerun of `test` (its path in this binary, e.g. `call_api::name`)
/// passed, or when it was skipped.
pub fn isolated(test: &str, ns: Namespace<'_>) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        let interfaces = interfaces();
        assert_eq!(
            interfaces,
            ["lo"],
            "{INSIDE} is set but this process is not in a loopback-only network namespace"
        );
        return true;
    }
    if let Err(why) = probe() {
        let msg = format!(
            "{test}: needs a network namespace of its own (root and util-linux unshare, iproute2 ip): {why}"
        );
        if std::env::var("CREDVAULT_NETNS_REQUIRED").as_deref() == Ok("1") {
            panic!("{msg} (CREDVAULT_NETNS_REQUIRED=1)");
        }
        eprintln!("skipped: {msg}");
        return false;
    }
    let hosts_before = std::fs::read("/etc/hosts").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hosts = dir.path().join("hosts");
    let mut text = hosts_before.clone();
    text.extend_from_slice(b"\n# credvault test names (this namespace only)\n");
    for (ip, name) in ns.hosts {
        text.extend_from_slice(format!("{ip} {name}\n").as_bytes());
    }
    std::fs::write(&hosts, text).unwrap();
    let mut script = String::from("set -e\nip link set lo up\n");
    for ip in ns.local {
        let prefix = if ip.contains(':') { 128 } else { 32 };
        script.push_str(&format!("ip addr add {ip}/{prefix} dev lo\n"));
    }
    script.push_str("mount --bind \"$0\" /etc/hosts\nexec \"$@\"\n");
    let out = Command::new("unshare")
        .args(["--net", "--mount", "--", "sh", "-c", &script])
        .arg(&hosts)
        .arg(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{test} failed in its namespace:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{test} did not run in its namespace (is its path right?):\n{stdout}\n{stderr}"
    );
    assert_eq!(
        std::fs::read("/etc/hosts").unwrap(),
        hosts_before,
        "/etc/hosts is left exactly as found"
    );
    false
}

/// Whether a loopback-only namespace with a private /etc/hosts can be made here.
fn probe() -> Result<(), String> {
    if !rustix::process::geteuid().is_root() {
        return Err("not running as root".into());
    }
    let out = Command::new("unshare")
        .args([
            "--net",
            "--mount",
            "--",
            "sh",
            "-c",
            "ip link set lo up && mount --bind /etc/hosts /etc/hosts",
        ])
        .output()
        .map_err(|e| format!("unshare: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// The network interfaces this process sees (its own namespace's).
fn interfaces() -> Vec<String> {
    std::fs::read_to_string("/proc/self/net/dev")
        .unwrap()
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_owned())
        .collect()
}
