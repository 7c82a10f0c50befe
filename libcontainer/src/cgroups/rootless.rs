//! Rootless cgroups (runc's `--rootless`): whether this user may make the container's cgroup,
//! and which limits a container without one would silently lose.

use super::{without_unset_zeros, CgroupPaths};
use nix::unistd::{access, AccessFlags};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

/// The first hierarchy where this process may not create (or, if it exists, enter) the
/// container's cgroup, with the directory that decides it: on cgroup v1, or v2 without a
/// subtree delegated to the user, that is the hierarchy's root. None when every one is
/// writable.
pub fn not_writable(paths: &CgroupPaths) -> Option<PathBuf> {
    paths.hierarchies.iter().find_map(|h| {
        let decides = if h.path.is_dir() {
            h.path.join("cgroup.procs")
        } else {
            nearest_existing(&h.path)?
        };
        access(&decides, AccessFlags::W_OK)
            .is_err()
            .then_some(decides)
    })
}

fn nearest_existing(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .skip(1)
        .find(|p| p.is_dir())
        .map(Path::to_path_buf)
}

/// The limits `res` sets, as `linux.resources` field paths (`pids.limit`, `memory.swap`).
/// The device list is not among them: without a cgroup, the devices a container in a user
/// namespace reaches are the host nodes bind-mounted into it, under the host's permissions
/// (runc ignores the device cgroup of a rootless container too).
pub fn limits_set(res: &LinuxResources) -> Vec<String> {
    let Ok(serde_json::Value::Object(top)) = serde_json::to_value(without_unset_zeros(res)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in top {
        match value {
            serde_json::Value::Null => {}
            _ if key == "devices" => {}
            serde_json::Value::Object(fields) => out.extend(
                fields
                    .into_iter()
                    .filter(|(_, v)| !is_empty(v))
                    .map(|(k, _)| format!("{key}.{k}")),
            ),
            v if !is_empty(&v) => out.push(key),
            _ => {}
        }
    }
    out
}

fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: serde_json::Value) -> LinuxResources {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn lists_every_limit_but_the_device_list() {
        let r = res(serde_json::json!({
            "devices": [{"allow": false, "access": "rwm"}],
            "pids": {"limit": 10},
            "memory": {"limit": 1048576, "swap": 2097152},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
            "unified": {"memory.high": "1M"}
        }));
        let mut got = limits_set(&r);
        got.sort();
        assert_eq!(
            got,
            [
                "hugepageLimits",
                "memory.limit",
                "memory.swap",
                "pids.limit",
                "unified.memory.high"
            ]
        );
    }

    #[test]
    fn a_device_list_alone_or_nothing_sets_no_limit() {
        let only_devices = res(serde_json::json!({
            "devices": [{"allow": false, "access": "rwm"}]
        }));
        assert!(limits_set(&only_devices).is_empty());
        assert!(limits_set(&LinuxResources::default()).is_empty());
    }
}
