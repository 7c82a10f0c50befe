//! Operations on a live container's cgroup: pause, resume, the list of its processes, update.
//! Those that change it take the container's lock, like the lifecycle operations in `ops`;
//! those that only read it (`ps`, `events`) do not, so they never wait behind a command that is
//! waiting on the container.

use super::ops::{lock, lock_when, status};
use super::{Container, Error, Status};
use crate::cgroups;
use oci_spec::runtime::LinuxResources;
use serde_json::Value;

/// A rootless container may have been made without a cgroup: then what works on one says so.
fn needs_cgroup(state: &crate::state::State, what: &'static str) -> Result<(), Error> {
    if state.cgroup.hierarchies.is_empty() {
        return Err(Error::NoCgroup {
            id: state.id.clone(),
            what,
        });
    }
    Ok(())
}

pub(super) fn pause(c: &mut Container) -> Result<(), Error> {
    let (_dir, state) = lock_when(c, |s| s == Status::Running, "container not running")?;
    needs_cgroup(&state, "pause (the freezer)")?;
    cgroups::freeze(&state.cgroup)?;
    c.state = state;
    Ok(())
}

pub(super) fn resume(c: &mut Container) -> Result<(), Error> {
    let (_dir, state) = lock_when(c, |s| s == Status::Paused, "container not paused")?;
    needs_cgroup(&state, "resume (the freezer)")?;
    cgroups::thaw(&state.cgroup)?;
    c.state = state;
    Ok(())
}

/// The pids (in berth's pid namespace) of every process in the container's cgroup. A stopped
/// container has none, or those an exec left behind (as runc: `ps` lists them too).
pub(super) fn processes(c: &Container) -> Result<Vec<i32>, Error> {
    let state = crate::state::read_unlocked(&c.root, &c.state.id)?;
    if state.cgroup.hierarchies.is_empty() {
        return Ok(pids_without_cgroup(&c.root, &state));
    }
    let pids = match cgroups::pids(&state.cgroup) {
        Ok(pids) => pids,
        // A stopped container's cgroup may be gone already: nothing runs in it.
        Err(_) if status(&c.root, &state) == Status::Stopped => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    Ok(pids.into_iter().map(|p| p.as_raw()).collect())
}

/// A rootless container without a cgroup: the processes of its pid namespace, found by the
/// namespace's inode in /proc (this user owns the container's user namespace, so it may read
/// their ns links); without a pid namespace of its own, the init alone. "Its own": the init is
/// that namespace's pid 1 (a joined one holds another's processes too).
pub(super) fn pids_without_cgroup(root: &std::path::Path, state: &crate::state::State) -> Vec<i32> {
    if status(root, state) == Status::Stopped {
        return Vec::new();
    }
    let ns_of = |pid: &str| {
        nix::sys::stat::stat(format!("/proc/{pid}/ns/pid").as_str())
            .ok()
            .map(|s| (s.st_dev, s.st_ino))
    };
    let init = state.pid.to_string();
    let (Some(ns), true) = (ns_of(&init), is_pid_ns_init(state.pid)) else {
        return vec![state.pid];
    };
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| ns_of(&pid.to_string()) == Some(ns))
        .collect();
    pids.sort();
    pids
}

/// The process is pid 1 of its pid namespace (the last field of `NSpid:` in its status), so
/// that namespace is its own, not one it joined.
fn is_pid_ns_init(pid: i32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let ids: Vec<&str> = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|ids| ids.split_whitespace().collect())
        .unwrap_or_default();
    // More than one id: a namespace below the host's.
    ids.len() > 1 && ids.last() == Some(&"1")
}

/// Usage statistics of the container's cgroup (`events`).
pub(super) fn stats(c: &Container) -> Result<cgroups::Stats, Error> {
    let state = crate::state::read_unlocked(&c.root, &c.state.id)?;
    running(c, &state)?;
    needs_cgroup(&state, "events (usage statistics)")?;
    Ok(cgroups::stats(&state.cgroup)?)
}

/// How many processes of the container the OOM killer has killed so far (`events`).
///
/// Also for a stopped container (its cgroup stays until delete): when the OOM killer took the
/// init, the container stops at once and `events` must still see that kill.
pub(super) fn oom_kills(c: &Container) -> Result<u64, Error> {
    let state = crate::state::read_unlocked(&c.root, &c.state.id)?;
    needs_cgroup(&state, "events (OOM kills)")?;
    Ok(cgroups::oom_kills(&state.cgroup)?)
}

fn running(c: &Container, state: &crate::state::State) -> Result<(), Error> {
    let status = status(&c.root, state);
    if status == Status::Stopped {
        return Err(Error::WrongStatus {
            id: state.id.clone(),
            status,
            reason: "container not running",
        });
    }
    Ok(())
}

/// Writes `res` over the container's current limits (`update`) and records the result in its
/// state, so later reads of the config see the new limits. Returns the warnings for settings
/// the kernel no longer has.
pub(super) fn update(c: &mut Container, res: &LinuxResources) -> Result<Vec<String>, Error> {
    let (dir, state) = lock(c)?;
    let status = status(&c.root, &state);
    if status == Status::Stopped {
        return Err(Error::WrongStatus {
            id: state.id,
            status,
            reason: "cannot update a stopped container",
        });
    }
    needs_cgroup(&state, "update (resource limits)")?;
    // The zeros engines send for "unchanged" must not overwrite the recorded limits either.
    let res = &cgroups::without_unset_zeros(res);
    let warnings = cgroups::update(&state.cgroup, res)?;
    let mut config = dir.load_config()?;
    let mut linux = config.linux().clone().unwrap_or_default();
    linux.set_resources(Some(merged(linux.resources().as_ref(), res)?));
    config.set_linux(Some(linux));
    dir.save_config(&config)?;
    c.state = state;
    Ok(warnings)
}

/// `new` laid over `old`: every field `new` sets replaces the old one, the rest stays.
/// Done on the JSON form because oci-spec's types have no merge and list ~40 optional fields.
fn merged(old: Option<&LinuxResources>, new: &LinuxResources) -> Result<LinuxResources, Error> {
    let to_json = |r: &LinuxResources| serde_json::to_value(r);
    let json_err = |e: serde_json::Error| Error::Config {
        field: "linux.resources",
        reason: e.to_string(),
    };
    let mut base = match old {
        Some(o) => to_json(o).map_err(json_err)?,
        None => Value::Object(Default::default()),
    };
    overlay(&mut base, to_json(new).map_err(json_err)?);
    serde_json::from_value(base).map_err(json_err)
}

fn overlay(base: &mut Value, top: Value) {
    match (base, top) {
        (Value::Object(b), Value::Object(t)) => {
            for (k, v) in t {
                if v.is_null() {
                    continue;
                }
                match b.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => overlay(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, t) => *b = t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_overlays_only_the_fields_given() {
        let old: LinuxResources = serde_json::from_value(serde_json::json!({
            "memory": {"limit": 100, "reservation": 50}, "pids": {"limit": 10}
        }))
        .unwrap();
        let new: LinuxResources =
            serde_json::from_value(serde_json::json!({"memory": {"limit": 200}})).unwrap();
        let m = merged(Some(&old), &new).unwrap();
        let mem = m.memory().unwrap();
        assert_eq!(mem.limit(), Some(200));
        assert_eq!(mem.reservation(), Some(50));
        assert_eq!(m.pids().as_ref().unwrap().limit(), 10);
    }
}
