//! Which cgroup hierarchies this host mounts (v1, v2 or hybrid, from /proc/self/mountinfo) and
//! where `linux.cgroupsPath` lands on each of them.
//!
//! cgroups-rs 0.3 is not used for this: its `auto()` sees a hybrid host as plain v1 (its v1
//! mount scan keeps only `cgroup` mounts, so the cgroup2 mount at /sys/fs/cgroup/unified is
//! invisible) and its v2 hierarchy is hard-wired to /sys/fs/cgroup. berth must join the unified
//! hierarchy on hybrid hosts too, so it reads the mount table itself.

use super::{CgroupError, Hierarchy};
use std::path::{Component, Path, PathBuf};

/// The v1 controllers berth knows; other superblock options (rw, xattr, noprefix...) are flags.
const V1_CONTROLLERS: &[&str] = &[
    "blkio",
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "freezer",
    "hugetlb",
    "memory",
    "misc",
    "net_cls",
    "net_prio",
    "perf_event",
    "pids",
    "rdma",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    V1,
    Hybrid,
    V2,
}

/// One mounted hierarchy.
#[derive(Debug, Clone)]
pub(crate) struct Mount {
    /// v1 controllers (including `name=systemd`); empty for cgroup2.
    pub controllers: Vec<String>,
    pub unified: bool,
    pub mount_point: PathBuf,
    /// The cgroup the mount shows as its root (not "/" inside a cgroup namespace).
    pub root: PathBuf,
}

#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub mode: Mode,
    pub mounts: Vec<Mount>,
}

impl Layout {
    /// Reads this process's mount table.
    pub fn detect() -> Result<Layout, CgroupError> {
        let text =
            std::fs::read_to_string("/proc/self/mountinfo").map_err(|source| CgroupError::Io {
                path: PathBuf::from("/proc/self/mountinfo"),
                source,
            })?;
        Self::from_mountinfo(&text)
    }

    pub fn from_mountinfo(text: &str) -> Result<Layout, CgroupError> {
        let mut mounts: Vec<Mount> = Vec::new();
        for line in text.lines() {
            let Ok(info) = procfs::process::MountInfo::from_line(line) else {
                continue;
            };
            let mount = match info.fs_type.as_str() {
                "cgroup" => Mount {
                    controllers: v1_controllers(&info.super_options),
                    unified: false,
                    mount_point: info.mount_point,
                    root: PathBuf::from(info.root),
                },
                "cgroup2" => Mount {
                    controllers: Vec::new(),
                    unified: true,
                    mount_point: info.mount_point,
                    root: PathBuf::from(info.root),
                },
                _ => continue,
            };
            // A hierarchy mounted twice (bind mounts) is one hierarchy: keep the first mount.
            let seen = mounts
                .iter()
                .any(|m| m.unified == mount.unified && m.controllers == mount.controllers);
            if !seen && (mount.unified || !mount.controllers.is_empty()) {
                mounts.push(mount);
            }
        }
        let v1 = mounts.iter().any(|m| !m.unified);
        let v2 = mounts.iter().any(|m| m.unified);
        let mode = match (v1, v2) {
            (true, true) => Mode::Hybrid,
            (true, false) => Mode::V1,
            (false, true) => Mode::V2,
            (false, false) => return Err(CgroupError::NoCgroupMounts),
        };
        Ok(Layout { mode, mounts })
    }

    /// The v1 hierarchy carrying `controller`, if mounted.
    pub fn v1(&self, controller: &str) -> Option<&Mount> {
        self.mounts
            .iter()
            .find(|m| !m.unified && m.controllers.iter().any(|c| c == controller))
    }

    pub fn unified(&self) -> Option<&Mount> {
        self.mounts.iter().find(|m| m.unified)
    }
}

fn v1_controllers(options: &std::collections::HashMap<String, Option<String>>) -> Vec<String> {
    let mut out: Vec<String> = options
        .iter()
        .filter_map(|(key, value)| match (key.as_str(), value) {
            ("name", Some(name)) => Some(format!("name={name}")),
            (k, None) if V1_CONTROLLERS.contains(&k) => Some(k.to_string()),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// runc's CleanPath: lexical cleaning where `..` never climbs above the start, so a config
/// cannot point berth outside the hierarchy.
pub(crate) fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::RootDir => out.push("/"),
            Component::Normal(p) => out.push(p),
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The cgroup this process is in on `mount`, from /proc/self/cgroup.
fn own_cgroup(mount: &Mount, proc_cgroup: &str) -> Result<PathBuf, CgroupError> {
    for line in proc_cgroup.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let matches = if mount.unified {
            ctrls.is_empty()
        } else {
            let mut list: Vec<&str> = ctrls.split(',').collect();
            list.sort();
            list == mount.controllers
        };
        if matches {
            return Ok(PathBuf::from(path));
        }
    }
    Err(CgroupError::NotInHierarchy {
        mount: mount.mount_point.clone(),
    })
}

/// The directory of cgroup `cgroup` (a path from the hierarchy's root) under `mount`.
fn dir_of(mount: &Mount, cgroup: &Path) -> PathBuf {
    let inside = cgroup.strip_prefix(&mount.root).unwrap_or(cgroup);
    let inside = inside.strip_prefix("/").unwrap_or(inside);
    mount.mount_point.join(inside)
}

/// Where the container's cgroup goes on every hierarchy. Like runc: an absolute path is taken
/// from each hierarchy's root; a relative one from the caller's own cgroup on that hierarchy (on
/// a pure v2 host from its parent, since the caller's own cgroup holds processes and so cannot
/// enable controllers for a child); an empty one becomes `/berth-<id>`, flat, so nothing shared is
/// made and removed with every container.
pub(crate) fn resolve(
    layout: &Layout,
    cgroups_path: Option<&Path>,
    id: &str,
    proc_cgroup: &str,
) -> Result<Vec<Hierarchy>, CgroupError> {
    let inner = match cgroups_path.map(clean) {
        Some(p) if !p.as_os_str().is_empty() && p != Path::new("/") => p,
        Some(p) if p == Path::new("/") => {
            return Err(CgroupError::InvalidPath {
                path: PathBuf::from("/"),
                reason: "the root cgroup cannot be a container's cgroup".into(),
            })
        }
        _ => PathBuf::from(format!("/berth-{id}")),
    };
    let mut out = Vec::new();
    for mount in &layout.mounts {
        let cgroup = if inner.is_absolute() {
            inner.clone()
        } else {
            let own = own_cgroup(mount, proc_cgroup)?;
            let base = if layout.mode == Mode::V2 {
                own.parent().map(Path::to_path_buf).unwrap_or(own)
            } else {
                own
            };
            base.join(&inner)
        };
        out.push(Hierarchy {
            controllers: mount.controllers.clone(),
            unified: mount.unified,
            mount_point: mount.mount_point.clone(),
            path: dir_of(mount, &cgroup),
            created: Vec::new(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const PROC_CGROUP: &str =
        "9:name=systemd:/user.slice\n4:memory:/mem/a\n1:cpuacct,cpu:/\n0::/x/y\n";

    #[test]
    fn detects_hybrid_and_controllers() {
        let layout = Layout::from_mountinfo(HYBRID).unwrap();
        assert_eq!(layout.mode, Mode::Hybrid);
        assert_eq!(layout.mounts.len(), 4);
        assert_eq!(layout.mounts[0].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(layout.mounts[2].controllers, vec!["name=systemd"]);
        assert!(layout.unified().is_some());
        assert!(layout.v1("net_cls").is_none());
    }

    #[test]
    fn detects_pure_modes() {
        let v2 = "41 23 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(Layout::from_mountinfo(v2).unwrap().mode, Mode::V2);
        let v1 = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        assert_eq!(Layout::from_mountinfo(v1).unwrap().mode, Mode::V1);
        assert!(Layout::from_mountinfo("1 2 0:1 / / rw - ext4 /dev/sda rw\n").is_err());
    }

    #[test]
    fn resolves_absolute_relative_and_default() {
        let layout = Layout::from_mountinfo(HYBRID).unwrap();
        let abs = resolve(&layout, Some(Path::new("/a/../b/c")), "id", PROC_CGROUP).unwrap();
        assert_eq!(abs[1].path, Path::new("/sys/fs/cgroup/memory/b/c"));
        assert_eq!(abs[3].path, Path::new("/sys/fs/cgroup/unified/b/c"));
        let rel = resolve(&layout, Some(Path::new("../../k")), "id", PROC_CGROUP).unwrap();
        assert_eq!(rel[0].path, Path::new("/sys/fs/cgroup/cpu,cpuacct/k"));
        assert_eq!(rel[1].path, Path::new("/sys/fs/cgroup/memory/mem/a/k"));
        assert_eq!(
            rel[2].path,
            Path::new("/sys/fs/cgroup/systemd/user.slice/k")
        );
        assert_eq!(rel[3].path, Path::new("/sys/fs/cgroup/unified/x/y/k"));
        let dflt = resolve(&layout, None, "ctr", PROC_CGROUP).unwrap();
        assert_eq!(dflt[1].path, Path::new("/sys/fs/cgroup/memory/berth-ctr"));
        assert!(resolve(&layout, Some(Path::new("/..")), "id", PROC_CGROUP).is_err());
    }

    #[test]
    fn relative_on_pure_v2_starts_at_the_parent_of_our_cgroup() {
        let layout =
            Layout::from_mountinfo("41 23 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")
                .unwrap();
        let rel = resolve(&layout, Some(Path::new("k")), "id", "0::/user/session\n").unwrap();
        assert_eq!(rel[0].path, Path::new("/sys/fs/cgroup/user/k"));
    }
}
