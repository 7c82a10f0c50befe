//! `linux.sysctl`: written under /proc/sys (of berth's own procfs) in the container's namespaces.

use crate::proc_root::ProcRoot;
use oci_spec::runtime::LinuxNamespaceType;
use std::collections::HashMap;
use std::path::PathBuf;

/// A `linux.sysctl` entry is invalid or could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SysctlError {
    /// A key or value that is not allowed (or not namespaced).
    #[error("linux.sysctl.{key}: {reason}")]
    Invalid {
        /// The sysctl key.
        key: String,
        /// What is wrong, in words.
        reason: String,
    },
    /// The private procfs to write through could not be mounted.
    #[error("linux.sysctl: opening a private procfs: {0}")]
    Proc(nix::errno::Errno),
}

fn invalid(key: &str, reason: impl Into<String>) -> SysctlError {
    SysctlError::Invalid {
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// The IPC-namespaced keys outside fs.mqueue.* (ipc_namespaces(7)).
const IPC_KEYS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Rejects keys with `..` or `/` tricks, and keys that are not namespaced by a namespace the
/// container has (runc's rules: kernel.msg*/sem*/shm*, fs.mqueue.* need ipc; net.* needs net;
/// kernel.domainname needs uts; kernel.hostname is rejected in favour of the `hostname` field).
///
/// `has_ns(t)` must answer whether the container gets its own namespace of type `t`, new or
/// joined by path — false when a joined path is berth's own (the host's) namespace.
pub fn validate_sysctl(
    sysctl: &HashMap<String, String>,
    has_ns: &dyn Fn(LinuxNamespaceType) -> bool,
) -> Result<(), SysctlError> {
    let mut keys: Vec<&String> = sysctl.keys().collect();
    keys.sort(); // deterministic: the first bad key in order is reported
    for key in keys {
        proc_path(key)?;
        let dotted = dotted(key);
        let needs = if IPC_KEYS.contains(&dotted.as_str()) || dotted.starts_with("fs.mqueue.") {
            (LinuxNamespaceType::Ipc, "ipc")
        } else if dotted.starts_with("net.") {
            (LinuxNamespaceType::Network, "network")
        } else if dotted == "kernel.domainname" {
            (LinuxNamespaceType::Uts, "uts")
        } else if dotted == "kernel.hostname" {
            return Err(invalid(
                key,
                "conflicts with the `hostname` field; set that instead",
            ));
        } else {
            return Err(invalid(
                key,
                "is not namespaced: it would change the host's value",
            ));
        };
        if !has_ns(needs.0) {
            return Err(invalid(
                key,
                format!(
                    "needs the container's own {} namespace, not the host's",
                    needs.1
                ),
            ));
        }
    }
    Ok(())
}

/// Writes each key through a procfs of berth's own (`ProcRoot`), never through the
/// container's /proc: a symlink or a volume there must not turn a namespaced key into a write
/// of a host setting. The values land in the namespaces of the calling process.
pub fn apply_sysctl(sysctl: &HashMap<String, String>) -> Result<(), SysctlError> {
    if sysctl.is_empty() {
        return Ok(());
    }
    let proc = ProcRoot::new().map_err(SysctlError::Proc)?;
    let mut entries: Vec<(&String, &String)> = sysctl.iter().collect();
    entries.sort();
    for (key, value) in entries {
        let rel = proc_path(key)?;
        proc.write(&rel, value)
            .map_err(|e| invalid(key, format!("/proc/{}: {e}", rel.display())))?;
    }
    Ok(())
}

/// sysctl(8) also accepts `/` as the separator; then `.` is literal (e.g. an interface
/// "eth0.100" in net/ipv4/conf/eth0.100/forwarding). runc accepts both forms, so do we.
fn slash_form(key: &str) -> bool {
    key.find(['.', '/'])
        .is_some_and(|i| key.as_bytes()[i] == b'/')
}

/// The key in dotted form, for matching against the namespaced prefixes.
fn dotted(key: &str) -> String {
    if slash_form(key) {
        key.chars()
            .map(|c| match c {
                '/' => '.',
                '.' => '/',
                c => c,
            })
            .collect()
    } else {
        key.to_string()
    }
}

/// The key's file below the procfs root (`sys/...`); every segment must be a plain name.
fn proc_path(key: &str) -> Result<PathBuf, SysctlError> {
    let segments: Vec<&str> = if slash_form(key) {
        key.split('/').collect()
    } else {
        key.split('.').collect()
    };
    for seg in &segments {
        if seg.is_empty() || *seg == "." || *seg == ".." || seg.contains(['/', '\0']) {
            return Err(invalid(
                key,
                "is not a valid sysctl name (empty, `.` or `..` segment)",
            ));
        }
    }
    Ok(PathBuf::from("sys").join(segments.join("/")))
}

#[cfg(test)]
use crate::identity::test_fork;

#[cfg(test)]
mod tests {
    use super::*;

    fn check(key: &str, nss: &[LinuxNamespaceType]) -> Result<(), String> {
        let map = HashMap::from([(key.to_string(), "1".to_string())]);
        validate_sysctl(&map, &|t| nss.contains(&t)).map_err(|e| e.to_string())
    }

    #[test]
    fn validation_table() {
        use LinuxNamespaceType::{Ipc, Network, Uts};
        let cases: &[(&str, &[LinuxNamespaceType], Option<&str>)] = &[
            ("kernel.shmmax", &[Ipc], None),
            ("kernel.shm_rmid_forced", &[Ipc], None),
            ("fs.mqueue.msg_max", &[Ipc], None),
            ("kernel.shmmax", &[Network, Uts], Some("own ipc namespace")),
            ("fs.mqueue.msg_max", &[], Some("own ipc namespace")),
            ("net.ipv4.ip_forward", &[Network], None),
            ("net/ipv4/conf/eth0.100/forwarding", &[Network], None),
            ("net.ipv4.ip_forward", &[Ipc], Some("own network namespace")),
            ("kernel.domainname", &[Uts], None),
            ("kernel.domainname", &[], Some("own uts namespace")),
            ("kernel.hostname", &[Uts], Some("`hostname` field")),
            (
                "kernel.pid_max",
                &[Ipc, Network, Uts],
                Some("not namespaced"),
            ),
            (
                "vm.swappiness",
                &[Ipc, Network, Uts],
                Some("not namespaced"),
            ),
            (
                "net.ipv4..ip_forward",
                &[Network],
                Some("not a valid sysctl name"),
            ),
            (
                "net/../kernel/pid_max",
                &[Network],
                Some("not a valid sysctl name"),
            ),
            ("net.", &[Network], Some("not a valid sysctl name")),
            ("", &[Network], Some("not a valid sysctl name")),
        ];
        for (key, nss, want) in cases {
            let got = check(key, nss);
            match (want, &got) {
                (None, Ok(())) => {}
                (Some(w), Err(e)) if e.contains(w) && e.starts_with("linux.sysctl.") => {}
                _ => panic!("{key} with {nss:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn paths() {
        assert_eq!(
            proc_path("kernel.shmmax").unwrap(),
            PathBuf::from("sys/kernel/shmmax")
        );
        assert_eq!(
            proc_path("net/ipv4/conf/eth0.100/forwarding").unwrap(),
            PathBuf::from("sys/net/ipv4/conf/eth0.100/forwarding")
        );
        assert_eq!(
            dotted("net/ipv4/conf/eth0.100/forwarding"),
            "net.ipv4.conf.eth0/100.forwarding"
        );
    }

    #[test]
    fn apply_writes_in_new_namespaces() {
        test_fork::in_child(|| {
            nix::sched::unshare(
                nix::sched::CloneFlags::CLONE_NEWUTS | nix::sched::CloneFlags::CLONE_NEWIPC,
            )
            .map_err(|e| e.to_string())?;
            let map = HashMap::from([
                ("kernel.shmmax".to_string(), "123456789".to_string()),
                ("kernel/domainname".to_string(), "berth.test".to_string()),
            ]);
            validate_sysctl(&map, &|_| true).map_err(|e| e.to_string())?;
            apply_sysctl(&map).map_err(|e| e.to_string())?;
            let shmmax = std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap();
            let domain = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
            if shmmax.trim() != "123456789" || domain.trim() != "berth.test" {
                return Err(format!("shmmax {shmmax:?}, domainname {domain:?}"));
            }
            Ok(())
        });
    }

    #[test]
    fn apply_names_a_missing_key() {
        let map = HashMap::from([("kernel.no_such_key_berth".to_string(), "1".to_string())]);
        let e = apply_sysctl(&map).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "linux.sysctl.kernel.no_such_key_berth: /proc/sys/kernel/no_such_key_berth"
            ),
            "{e}"
        );
    }
}
