//! `linux` and `hostname`: namespaces, id mappings, sysctls, seccomp, devices, personality,
//! time offsets.

use super::{checked, refused, Case};
use crate::bundle::{Bundle, Suite};
use crate::outcome::{CaseResult, Outcome};
use serde_json::json;
use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CASES: &[Case] = &[
    Case::new("linux_hostname", hostname),
    Case::new("linux_domainname", domainname),
    Case::new("linux_hostname_without_uts", hostname_without_uts),
    Case::new("linux_sysctl", sysctl),
    Case::new("linux_seccomp", seccomp),
    Case::new("linux_namespaces_new", namespaces_new),
    Case::new("linux_namespaces_inherited", namespaces_inherited),
    Case::new("linux_namespaces_join_path", namespaces_join),
    Case::new("linux_namespace_path_wrong_type", namespace_wrong_type),
    Case::new("linux_user_namespace_mappings", user_mappings),
    Case::new("linux_devices", devices),
    Case::new("linux_default_devices", default_devices),
    Case::new("linux_personality", personality),
    Case::new("linux_time_offsets", time_offsets),
];

fn hostname(s: &Suite) -> CaseResult {
    checked(s, "hostname", &["hostname"], |b| {
        b.config["hostname"] = json!("conformance-host")
    })
}

/// Without a UTS namespace of its own a hostname would change the host's.
fn hostname_without_uts(s: &Suite) -> CaseResult {
    refused(s, "hostnamenouts", |b| {
        b.config["linux"]["namespaces"] =
            json!([{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "network"}]);
        b.config["hostname"] = json!("must-not-reach-the-host");
    })
}

fn domainname(s: &Suite) -> CaseResult {
    checked(s, "domainname", &["hostname"], |b| {
        b.config["domainname"] = json!("conformance.example")
    })
}

fn sysctl(s: &Suite) -> CaseResult {
    checked(s, "sysctl", &["sysctl"], |b| {
        // One namespaced sysctl of each kind the base config unshares: network and IPC.
        b.config["linux"]["sysctl"] =
            json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234", "kernel.msgmax": "12345"});
    })
}

fn seccomp(s: &Suite) -> CaseResult {
    checked(s, "seccomp", &["seccomp"], |b| {
        b.config["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EXDEV},
                {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO"}
            ]
        });
    })
}

fn namespaces_new(s: &Suite) -> CaseResult {
    checked(s, "nsnew", &["namespaces"], |b| {
        let all = ["pid", "network", "ipc", "uts", "mount", "cgroup"];
        b.config["linux"]["namespaces"] =
            json!(all.iter().map(|t| json!({"type": t})).collect::<Vec<_>>());
    })
}

fn namespaces_inherited(s: &Suite) -> CaseResult {
    checked(s, "nsinherit", &["namespaces"], |b| {
        b.config["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}]);
        // Without a UTS namespace a hostname would change the host's.
        if let Some(c) = b.config.as_object_mut() {
            c.remove("hostname");
        }
        // sysfs cannot be mounted outside a new network namespace without privileges on it;
        // the host's network namespace is the point of this case.
        super::drop_mounts(b, &["sysfs", "cgroup", "mqueue"]);
        b.config["linux"]["sysctl"] = json!(null);
    })
}

/// A process holding namespaces of its own for containers to join; killed on drop.
struct NsHolder(Child);

impl NsHolder {
    fn spawn(flags: &[&str]) -> Result<NsHolder, Outcome> {
        let child = Command::new("unshare")
            .args(flags)
            .args(["sleep", "600"])
            .stdin(Stdio::null())
            .spawn()?;
        let holder = NsHolder(child);
        // unshare(1) execs sleep only once the namespaces exist.
        let start = Instant::now();
        let pid = holder.0.id();
        while std::fs::read_link(format!("/proc/{pid}/exe"))
            .map(|p| !p.ends_with("sleep"))
            .unwrap_or(true)
        {
            if start.elapsed() > Duration::from_secs(5) {
                crate::fail!("unshare {flags:?} did not exec sleep");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(holder)
    }

    fn path(&self, file: &str) -> String {
        format!("/proc/{}/ns/{file}", self.0.id())
    }
}

impl Drop for NsHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn namespaces_join(s: &Suite) -> CaseResult {
    let holder = NsHolder::spawn(&["--net", "--ipc"])?;
    let mut b = Bundle::new(s, "nsjoin")?;
    let (net, ipc) = (holder.path("net"), holder.path("ipc"));
    b.expect["joined"] = json!({
        "net": std::fs::metadata(&net)?.ino(),
        "ipc": std::fs::metadata(&ipc)?.ino(),
    });
    b.config["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "uts"}, {"type": "mount"},
        {"type": "network", "path": net}, {"type": "ipc", "path": ipc}
    ]);
    b.run_checks(&["namespaces"])
}

fn namespace_wrong_type(s: &Suite) -> CaseResult {
    let holder = NsHolder::spawn(&["--uts"])?;
    let uts = holder.path("uts");
    refused(s, "nswrongtype", |b| {
        b.config["linux"]["namespaces"] = json!([
            {"type": "pid"}, {"type": "uts"}, {"type": "mount"}, {"type": "ipc"},
            {"type": "network", "path": uts}
        ]);
    })
}

fn user_mappings(s: &Suite) -> CaseResult {
    let mut b = Bundle::new(s, "userns")?;
    // Private copies: the rootfs is chowned to the mapped root.
    let rootfs = b.rootfs();
    std::fs::remove_dir_all(&rootfs)?;
    s.populate(&rootfs, true)?;
    chown_tree(&rootfs, 100_000)?;
    super::push(
        &mut b.config["linux"]["namespaces"],
        json!({"type": "user"}),
    );
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    // cgroup v1 hierarchies cannot be mounted from a user namespace.
    super::drop_mounts(&mut b, &["cgroup"]);
    b.run_checks(&["idmap", "user", "namespaces"])
}

fn chown_tree(dir: &std::path::Path, id: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(dir, Some(id), Some(id))?;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            chown_tree(&e.path(), id)?;
        } else {
            std::os::unix::fs::lchown(e.path(), Some(id), Some(id))?;
        }
    }
    Ok(())
}

fn devices(s: &Suite) -> CaseResult {
    checked(s, "devices", &["devices"], |b| {
        b.config["linux"]["devices"] = json!([
            {"path": "/dev/conf-char", "type": "c", "major": 1, "minor": 7, "fileMode": 0o640, "uid": 1, "gid": 2},
            {"path": "/dev/conf-block", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600, "uid": 0, "gid": 0},
            {"path": "/dev/sub/conf-fifo", "type": "p", "fileMode": 0o620}
        ]);
    })
}

fn default_devices(s: &Suite) -> CaseResult {
    checked(s, "defdevices", &["default_devices"], |_| {})
}

fn personality(s: &Suite) -> CaseResult {
    checked(s, "personality", &["personality"], |b| {
        b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    })
}

fn time_offsets(s: &Suite) -> CaseResult {
    super::need_path("/proc/self/ns/time", "kernel without time namespaces")?;
    checked(s, "timens", &["timens", "namespaces"], |b| {
        super::push(
            &mut b.config["linux"]["namespaces"],
            json!({"type": "time"}),
        );
        let year = 365 * 24 * 3600;
        b.config["linux"]["timeOffsets"] = json!({"monotonic": {"secs": year, "nanosecs": 0}, "boottime": {"secs": 2 * year, "nanosecs": 0}});
    })
}
