//! Where a container's cgroup is on the host, for tests that check the files a runtime wrote:
//! found from /proc/<pid>/cgroup and the host's cgroup mounts, so the same test works on this
//! hybrid host, on a pure v2 host (the VM of scripts/v2vm.sh), and for berth and runc whatever
//! cgroup path each chose.

use std::path::{Path, PathBuf};

/// True on a pure cgroup v2 host (cgroup2 mounted at /sys/fs/cgroup).
pub fn is_pure_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// One cgroup mount of the host: its mount point, the cgroup it is rooted at, and for v1 its
/// controllers (with `name=...`); empty for cgroup2.
struct Mount {
    point: PathBuf,
    root: String,
    controllers: Vec<String>,
}

fn mounts() -> Vec<Mount> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            let controllers = match *r.first()? {
                "cgroup2" => Vec::new(),
                "cgroup" => r.get(2)?.split(',').map(str::to_owned).collect(),
                _ => return None,
            };
            Some(Mount {
                point: PathBuf::from(f.get(4)?),
                root: f.get(3)?.to_string(),
                controllers,
            })
        })
        .collect()
}

/// The host directories of `pid`'s cgroups, one per hierarchy: (v1 controllers or empty for
/// cgroup2, directory).
pub fn dirs(pid: i64) -> Vec<(Vec<String>, PathBuf)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/cgroup: {e}"));
    let mounts = mounts();
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => continue,
        };
        let ctrls: Vec<String> = if ctrls.is_empty() {
            Vec::new()
        } else {
            ctrls.split(',').map(str::to_owned).collect()
        };
        let mount = mounts.iter().find(|m| {
            if ctrls.is_empty() {
                m.controllers.is_empty()
            } else {
                ctrls.iter().all(|c| m.controllers.contains(c))
            }
        });
        let Some(m) = mount else { continue };
        let rel = path.strip_prefix(m.root.as_str()).unwrap_or(path);
        out.push((ctrls, m.point.join(rel.trim_start_matches('/'))));
    }
    out
}

/// The file of `pid`'s cgroup named `v1` on the v1 hierarchy of `controller`, or `v2` on the
/// cgroup2 hierarchy of a pure v2 host.
pub fn file(pid: i64, controller: &str, v1: &str, v2: &str) -> PathBuf {
    let dirs = dirs(pid);
    let found = if is_pure_v2() {
        dirs.iter()
            .find(|(c, _)| c.is_empty())
            .map(|(_, d)| d.join(v2))
    } else {
        dirs.iter()
            .find(|(c, _)| c.iter().any(|c| c == controller))
            .map(|(_, d)| d.join(v1))
    };
    found.unwrap_or_else(|| panic!("pid {pid} is in no {controller} cgroup: {dirs:?}"))
}

/// A cgroup file's content, trimmed; panics naming the file.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

/// The value of `key` in a flat-keyed cgroup file (memory.events, memory.oom_control).
pub fn keyed(path: &Path, key: &str) -> u64 {
    read(path)
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {}", path.display()))
}
