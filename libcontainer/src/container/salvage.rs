//! Containers whose record cannot be read: state.json missing (a create or delete that died
//! part-way), empty or torn (a host crash), garbage or wrongly typed. The directory name is the
//! id; the cgroup is found from the stored config's `linux.cgroupsPath`, else at the default
//! path; the processes are those in the cgroup. `delete --force` and `kill` act on what is left
//! and say what they could not reach; every other command refuses with `Error::Broken`.

use super::{Container, Error, Signal};
use crate::cgroups::{self, CgroupPaths};
use crate::state::{State, StateDir, StateError};
use std::path::Path;

/// The record read for `id`, or why the container is broken. A record naming another id, or
/// cgroups outside their hierarchy, is not this container's: acting on it could reach other
/// processes.
pub(super) fn check_record(id: &str, read: Result<State, StateError>) -> Result<State, Error> {
    let broken = |reason: String| Error::Broken {
        id: id.into(),
        reason,
    };
    let state = match read {
        Ok(state) => state,
        Err(StateError::NotFound(_)) => return Err(broken("it has no state.json".into())),
        Err(e @ (StateError::Corrupt { .. } | StateError::Io { .. })) => {
            return Err(broken(e.to_string()))
        }
        Err(e) => return Err(e.into()),
    };
    if state.id != id {
        return Err(broken(format!("state.json names container {:?}", state.id)));
    }
    let inside = |h: &crate::cgroups::Hierarchy, p: &Path| {
        p.starts_with(&h.mount_point) && p != h.mount_point && !p.to_string_lossy().contains("..")
    };
    let stray = state
        .cgroup
        .hierarchies
        .iter()
        .find(|h| !inside(h, &h.path) || h.created.iter().any(|c| !inside(h, c)));
    if let Some(h) = stray {
        return Err(broken(format!(
            "state.json: cgroup {} is not a cgroup below {}",
            h.path.display(),
            h.mount_point.display()
        )));
    }
    Ok(state)
}

/// The cgroup of broken container `id` (whose directory `dir` is locked).
fn find_cgroup(dir: &StateDir, id: &str) -> Result<CgroupPaths, Error> {
    let cgroups_path = match dir.load_config() {
        Ok(config) => config
            .linux()
            .as_ref()
            .and_then(|l| l.cgroups_path().clone()),
        Err(e) => {
            log::warn!("{id}: {e}: looking for its cgroup at the default path");
            None
        }
    };
    let paths = cgroups::salvage(cgroups_path.as_deref(), id)?;
    for w in &paths.warnings {
        log::warn!("{id}: {w}");
    }
    Ok(paths)
}

/// `delete --force` of a broken container: kills every process in its cgroup, removes the
/// cgroup, then the directory. What could not be done is returned as `Error::Cleanup`, and
/// the directory is then kept, so that a later `delete --force` still finds the rest.
/// (Poststop hooks are not run: there is no state to give them.)
pub fn delete_broken(root: impl AsRef<Path>, id: &str) -> Result<(), Error> {
    let root = root.as_ref();
    crate::state::validate_id(id).map_err(|reason| Error::InvalidId {
        id: id.into(),
        reason,
    })?;
    let dir = StateDir::open(root, id)?;
    if check_record(id, dir.load()).is_ok() {
        // Repaired meanwhile (a create that finished): the ordinary delete applies.
        drop(dir);
        return Container::load(root, id)?.delete(true);
    }
    let mut failures = Vec::new();
    match find_cgroup(&dir, id) {
        Ok(paths) => {
            if let Err(e) = cgroups::kill_all(&paths) {
                failures.push(e.to_string());
            } else if let Err(e) = super::ops::destroy_cgroup(&paths) {
                failures.push(e.to_string());
            }
        }
        Err(e) => failures.push(e.to_string()),
    }
    if failures.is_empty() {
        log::warn!("{id}: poststop hooks not run: the container's state is lost");
        if let Err(e) = dir.remove() {
            failures.push(e.to_string());
        }
    }
    match failures.is_empty() {
        true => Ok(()),
        false => Err(Error::Cleanup {
            id: id.into(),
            failures,
        }),
    }
}

/// `kill` of a broken container: `signal` to every process in its cgroup (its init is not
/// known). Fails, saying why the container is broken, when none is left.
pub fn kill_broken(root: impl AsRef<Path>, id: &str, signal: Signal) -> Result<(), Error> {
    let root = root.as_ref();
    let dir = StateDir::open(root, id)?;
    let reason = match check_record(id, dir.load()) {
        Ok(_) => {
            drop(dir);
            return Container::load(root, id)?.kill(signal, false);
        }
        Err(Error::Broken { reason, .. }) => reason,
        Err(e) => return Err(e),
    };
    let paths = find_cgroup(&dir, id)?;
    let owned: Vec<_> = paths
        .hierarchies
        .iter()
        .filter(|h| !h.created.is_empty())
        .cloned()
        .collect();
    let pids = cgroups::pids(&CgroupPaths {
        hierarchies: owned,
        ..Default::default()
    })?;
    if pids.is_empty() {
        return Err(Error::Broken {
            id: id.into(),
            reason: format!("{reason}; no process of it is left to signal"),
        });
    }
    for pid in pids {
        let _ = nix::sys::signal::kill(pid, signal);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::Hierarchy;
    use std::path::PathBuf;

    fn state(id: &str, cgroup: &str) -> State {
        State {
            oci_version: "1.2.0".into(),
            id: id.into(),
            pid: 0,
            init_start_time: 0,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: String::new(),
            has_annotations: false,
            rootfs_bind: None,
            cgroup: CgroupPaths {
                hierarchies: vec![Hierarchy {
                    controllers: vec!["memory".into()],
                    unified: false,
                    mount_point: "/sys/fs/cgroup/memory".into(),
                    path: PathBuf::from(cgroup),
                    created: vec![PathBuf::from(cgroup)],
                }],
                ..Default::default()
            },
            namespace_paths: Default::default(),
        }
    }

    fn reason(r: Result<State, Error>) -> String {
        match r {
            Err(Error::Broken { reason, .. }) => reason,
            other => panic!("not broken: {other:?}"),
        }
    }

    #[test]
    fn a_record_is_the_containers_own_or_broken() {
        let ok = check_record("a", Ok(state("a", "/sys/fs/cgroup/memory/berth-a")));
        assert!(ok.is_ok());
        let other = check_record("a", Ok(state("b", "/sys/fs/cgroup/memory/berth-b")));
        assert!(reason(other).contains("\"b\""));
        // A record pointing at a whole hierarchy (or out of it) would reach every process.
        for stray in ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory/../cpu", "/"] {
            let r = check_record("a", Ok(state("a", stray)));
            assert!(reason(r).contains("not a cgroup below"), "{stray}");
        }
        let missing = check_record("a", Err(StateError::NotFound("a".into())));
        assert!(reason(missing).contains("no state.json"));
        let torn = StateError::Corrupt {
            path: "/r/a/state.json".into(),
            reason: "EOF while parsing".into(),
        };
        assert!(reason(check_record("a", Err(torn))).contains("EOF"));
    }
}
