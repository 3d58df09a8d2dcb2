//! Two network namespaces joined by a veth pair (needs root and `ip` from iproute2).

use std::{
    ops::Drop,
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
};

use crate::sys::run_ok;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Namespaces `tab` (the tablet) and `net` (the rest), joined by a veth pair: `t0`
/// at `SUBNET.2/24` in `tab`, `n0` at `SUBNET.1/24` in `net`, the default route of
/// `tab` through `net`, loopback up in both. Named `PREFIX-tab-PID-N` and
/// `PREFIX-net-PID-N`; deleted (with any `/etc/netns/NAME`) when dropped.
pub struct VethPair {
    pub tab: String,
    pub net: String,
    pub ip: PathBuf,
}

impl VethPair {
    /// `ip` is the `ip` binary; first deletes namespaces with this prefix left by a
    /// killed run of the tests.
    pub fn new(ip: PathBuf, prefix: &str, subnet: &str) -> Self {
        remove_stale(&ip, prefix);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let id = format!("{}-{n}", std::process::id());
        let s = Self {
            tab: format!("{prefix}-tab-{id}"),
            net: format!("{prefix}-net-{id}"),
            ip,
        };
        run_ok(Command::new(&s.ip).args(["netns", "add", &s.tab]));
        run_ok(Command::new(&s.ip).args(["netns", "add", &s.net]));
        // The veth pair is created inside the namespaces: the host's links are untouched.
        s.ipn(
            &s.tab,
            &[
                "link", "add", "t0", "type", "veth", "peer", "name", "n0", "netns", &s.net,
            ],
        );
        s.ipn(
            &s.tab,
            &["addr", "add", &format!("{subnet}.2/24"), "dev", "t0"],
        );
        s.ipn(&s.tab, &["link", "set", "t0", "up"]);
        s.ipn(&s.tab, &["link", "set", "lo", "up"]);
        s.ipn(
            &s.tab,
            &["route", "add", "default", "via", &format!("{subnet}.1")],
        );
        s.ipn(
            &s.net,
            &["addr", "add", &format!("{subnet}.1/24"), "dev", "n0"],
        );
        s.ipn(&s.net, &["link", "set", "n0", "up"]);
        s.ipn(&s.net, &["link", "set", "lo", "up"]);
        s
    }

    /// `ip -n NS ARGS…`, which must succeed.
    pub fn ipn(&self, ns: &str, args: &[&str]) {
        run_ok(Command::new(&self.ip).arg("-n").arg(ns).args(args));
    }

    /// Adds `addr/prefix_len` to the loopback of `ns` (a host living there).
    pub fn add_host(&self, ns: &str, addr: &str, prefix_len: u8, extra: &[&str]) {
        let a = format!("{addr}/{prefix_len}");
        let mut args = vec!["addr", "add", &a, "dev", "lo"];
        args.extend_from_slice(extra);
        self.ipn(ns, &args);
    }

    /// `ip netns exec NS …`.
    pub fn exec(&self, ns: &str) -> Command {
        let mut c = Command::new(&self.ip);
        c.args(["netns", "exec", ns]);
        c
    }
}

/// Deletes namespaces (and `/etc/netns` entries) named `PREFIX-tab-PID-…` or
/// `PREFIX-net-PID-…` whose process PID is gone (left by an earlier, killed run).
fn remove_stale(ip: &Path, prefix: &str) {
    let Ok(o) = Command::new(ip).args(["netns", "list"]).output() else {
        return;
    };
    let (tab, net) = (format!("{prefix}-tab-"), format!("{prefix}-net-"));
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let pid = name
            .strip_prefix(tab.as_str())
            .or_else(|| name.strip_prefix(net.as_str()))
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = Command::new(ip).args(["netns", "del", name]).status();
                let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(name));
            }
        }
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        for ns in [&self.tab, &self.net] {
            let _ = Command::new(&self.ip).args(["netns", "del", ns]).status();
            let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(ns));
        }
    }
}
