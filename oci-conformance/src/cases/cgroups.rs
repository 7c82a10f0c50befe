//! `linux.resources` and `linux.cgroupsPath`: limits read back from inside, paths from the host.

use super::{checked, need_path, Case};
use crate::bundle::{Bundle, Suite};
use crate::ensure;
use crate::outcome::{CaseResult, Outcome};
use serde_json::json;
use std::path::Path;

pub const CASES: &[Case] = &[
    Case::new("cgroups_memory", memory),
    Case::new("cgroups_kernel_memory", kernel_memory),
    Case::new("cgroups_cpu", cpu),
    Case::new("cgroups_cpu_realtime", cpu_realtime),
    Case::new("cgroups_cpuset", cpuset),
    Case::new("cgroups_pids", pids),
    Case::new("cgroups_pids_unlimited", pids_unlimited),
    Case::new("cgroups_memory_swap", memory_swap),
    Case::new("cgroups_blkio_throttle", blkio_throttle),
    Case::new("cgroups_blkio_weight", blkio_weight),
    Case::new("cgroups_hugetlb", hugetlb),
    Case::new("cgroups_network", network),
    Case::new("cgroups_devices", devices),
    Case::new("cgroups_path_absolute", |s| path(s, true)),
    Case::new("cgroups_path_relative", |s| path(s, false)),
];

fn memory(s: &Suite) -> CaseResult {
    checked(s, "cgmem", &["cgroups"], |b| {
        b.config["linux"]["resources"]["memory"] =
            json!({"limit": 64 << 20, "reservation": 32 << 20, "swappiness": 10});
    })
}

fn kernel_memory(s: &Suite) -> CaseResult {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")?;
    let major: u32 = release
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major >= 6 {
        crate::skip!(
            "kernel {}: cgroup v1 kernel memory limits are accepted but ignored",
            release.trim()
        );
    }
    checked(s, "cgkmem", &["cgroups"], |b| {
        b.config["linux"]["resources"]["memory"] = json!({"kernel": 32 << 20});
    })
}

fn cpu(s: &Suite) -> CaseResult {
    checked(s, "cgcpu", &["cgroups"], |b| {
        b.config["linux"]["resources"]["cpu"] =
            json!({"shares": 512, "quota": 50000, "period": 100000});
    })
}

fn cpu_realtime(s: &Suite) -> CaseResult {
    need_path(
        "/sys/fs/cgroup/cpu/cpu.rt_runtime_us",
        "kernel without RT group scheduling",
    )?;
    checked(s, "cgcpurt", &["cgroups"], |b| {
        b.config["linux"]["resources"]["cpu"] =
            json!({"realtimeRuntime": 10000, "realtimePeriod": 1000000});
    })
}

fn cpuset(s: &Suite) -> CaseResult {
    checked(s, "cgcpuset", &["cgroups"], |b| {
        b.config["linux"]["resources"]["cpu"] = json!({"cpus": "0", "mems": "0"});
    })
}

fn pids(s: &Suite) -> CaseResult {
    checked(s, "cgpids", &["cgroups"], |b| {
        b.config["linux"]["resources"]["pids"] = json!({"limit": 64})
    })
}

fn pids_unlimited(s: &Suite) -> CaseResult {
    checked(s, "cgpidsmax", &["cgroups"], |b| {
        b.config["linux"]["resources"]["pids"] = json!({"limit": -1})
    })
}

fn memory_swap(s: &Suite) -> CaseResult {
    need_path(
        "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
        "no swap accounting in this kernel's memory controller",
    )?;
    checked(s, "cgswap", &["cgroups"], |b| {
        b.config["linux"]["resources"]["memory"] = json!({"limit": 64 << 20, "swap": 128 << 20});
    })
}

/// The major:minor of a real block device, for throttling rules the kernel accepts.
fn block_device() -> Option<(u64, u64)> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    let name = names
        .into_iter()
        .find(|n| !n.starts_with("loop") && !n.starts_with("ram") && !n.starts_with("zram"))?;
    let dev = std::fs::read_to_string(format!("/sys/block/{name}/dev")).ok()?;
    let (maj, min) = dev.trim().split_once(':')?;
    Some((maj.parse().ok()?, min.parse().ok()?))
}

fn blkio_throttle(s: &Suite) -> CaseResult {
    let Some((major, minor)) = block_device() else {
        crate::skip!("no disk in /sys/block to throttle")
    };
    checked(s, "cgblkio", &["cgroups"], |b| {
        b.config["linux"]["resources"]["blockIO"] = json!({
            "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
            "throttleWriteBpsDevice": [{"major": major, "minor": minor, "rate": 2097152}]
        });
    })
}

fn blkio_weight(s: &Suite) -> CaseResult {
    need_path(
        "/sys/fs/cgroup/blkio/blkio.weight",
        "no blkio.weight/leaf_weight (no CFQ I/O scheduler)",
    )?;
    checked(s, "cgweight", &["cgroups"], |b| {
        b.config["linux"]["resources"]["blockIO"] = json!({"weight": 300})
    })
}

fn hugetlb(s: &Suite) -> CaseResult {
    need_path(
        "/sys/fs/cgroup/hugetlb",
        "hugetlb is only on the cgroup2 mount, not in cgroup v1",
    )?;
    checked(s, "cghugetlb", &["cgroups"], |b| {
        b.config["linux"]["resources"]["hugepageLimits"] =
            json!([{"pageSize": "2MB", "limit": 4 << 20}]);
    })
}

fn network(s: &Suite) -> CaseResult {
    need_path(
        "/sys/fs/cgroup/net_cls",
        "no net_cls/net_prio hierarchy on this host",
    )?;
    checked(s, "cgnet", &["cgroups"], |b| {
        b.config["linux"]["resources"]["network"] = json!({"classID": 1048577})
    })
}

/// A device the cgroup allows and one it denies; both numbers have no driver, so only the
/// cgroup's EPERM tells them apart.
fn devices(s: &Suite) -> CaseResult {
    checked(s, "cgdevices", &["device_access"], |b| {
        b.config["linux"]["devices"] = json!([
            {"path": "/dev/conf-allowed", "type": "c", "major": 42, "minor": 1, "fileMode": 0o666},
            {"path": "/dev/conf-denied", "type": "c", "major": 42, "minor": 2, "fileMode": 0o666}
        ]);
        b.config["linux"]["resources"]["devices"] = json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 42, "minor": 1, "access": "rwm"}
        ]);
        b.expect["device_access"] = json!([
            {"path": "/dev/conf-allowed", "allowed": true},
            {"path": "/dev/conf-denied", "allowed": false},
            {"path": "/dev/null", "allowed": true}
        ]);
    })
}

/// Removes the per-case parent cgroup the runtime made under every hierarchy.
struct CgroupParent(String);

impl Drop for CgroupParent {
    fn drop(&mut self) {
        for e in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = std::fs::remove_dir(e.path().join(&self.0));
        }
    }
}

/// The container lands in the cgroup named by cgroupsPath (a relative one below some
/// runtime-chosen place) with its limits, and delete removes it.
fn path(s: &Suite, absolute: bool) -> CaseResult {
    let mut b = Bundle::new(s, if absolute { "cgabs" } else { "cgrel" })?;
    let parent = CgroupParent(format!("oci-conformance-{}", b.id));
    let rel = format!("{}/{}", parent.0, b.id);
    let want = if absolute {
        format!("/{rel}")
    } else {
        rel.clone()
    };
    b.config["linux"]["cgroupsPath"] = json!(want);
    b.config["linux"]["resources"]["pids"] = json!({"limit": 77});
    b.checks(&["cgroups"]);
    let out = b.create()?.check()?;
    let pid = b.state()?["pid"].as_u64().unwrap_or(0);
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    let got = cg
        .lines()
        .find_map(|l| l.split_once(":pids:").map(|(_, p)| p.to_owned()))
        .unwrap_or_default();
    let ok = if absolute {
        got == want
    } else {
        got.ends_with(&format!("/{rel}"))
    };
    ensure!(
        ok,
        "container is in pids cgroup {got}, cgroupsPath says {want}"
    );
    b.start()?.check()?;
    b.wait_stopped()?;
    let out = crate::runtime::Invocation {
        stdout: std::fs::read_to_string(&out.out_path)?,
        ..out
    };
    crate::bundle::verdict(&["cgroups"], &out)?;
    b.delete(false)?.check()?;
    let dir = format!("/sys/fs/cgroup/pids{got}");
    ensure!(!Path::new(&dir).exists(), "cgroup {dir} left after delete");
    Ok::<(), Outcome>(())
}
