//! Directory work on the cgroup filesystems: create (recording what was created), join, list,
//! remove.
//!
//! Written directly rather than through cgroups-rs: its `create()` is a `create_dir_all` that
//! cannot say which directories it made (berth must remove only those), its cpuset
//! parent-copy only logs failures, and it has no type for the cgroup2 hierarchy of a hybrid host.

use super::{CgroupError, CgroupPaths, Hierarchy};
use nix::errno::Errno;
use nix::unistd::Pid;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Creates `h.path` and any missing parents, recording each directory made in `h.created`.
pub(crate) fn create(h: &mut Hierarchy) -> Result<(), CgroupError> {
    // Usually the parent exists (the default cgroup is flat, /berth-<id>): one mkdir, not one
    // per path component. A cgroupfs mkdir is among the costliest syscalls of a `run`.
    match std::fs::create_dir(&h.path) {
        Ok(()) => {
            h.created.push(h.path.clone());
            return Ok(());
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(()),
        Err(_) => {}
    }
    let inside = h
        .path
        .strip_prefix(&h.mount_point)
        .map_err(|_| CgroupError::InvalidPath {
            path: h.path.clone(),
            reason: format!("is not under {}", h.mount_point.display()),
        })?
        .to_path_buf();
    // A parent shared with another container can be removed by that container's
    // delete between our mkdirs; then start again from the top.
    for _ in 0..5 {
        let mut dir = h.mount_point.clone();
        let mut vanished = false;
        for part in inside.components() {
            dir.push(part);
            match std::fs::create_dir(&dir) {
                Ok(()) => h.created.push(dir.clone()),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    vanished = true;
                    break;
                }
                Err(source) => return Err(CgroupError::Io { path: dir, source }),
            }
        }
        if !vanished {
            return Ok(());
        }
    }
    Err(CgroupError::Io {
        path: h.path.clone(),
        source: std::io::Error::from(ErrorKind::NotFound),
    })
}

/// The directories `create` would make for `h.path` now, parents first.
pub(crate) fn missing_dirs(h: &Hierarchy) -> Vec<PathBuf> {
    let mut missing: Vec<PathBuf> = h
        .path
        .ancestors()
        .take_while(|d| d.starts_with(&h.mount_point) && *d != h.mount_point && !d.exists())
        .map(Path::to_path_buf)
        .collect();
    missing.reverse();
    missing
}

/// A new v1 cpuset cgroup starts with empty cpus and mems, and adding a task to it fails
/// (ENOSPC) until they are set: like runc, give every directory on the way to the container's
/// cgroup that has none its parent's values (a pre-existing one too, or the task cannot join).
pub(crate) fn fill_cpuset(h: &Hierarchy) -> Result<(), CgroupError> {
    let inside = h.path.strip_prefix(&h.mount_point).unwrap_or(Path::new(""));
    let mut dir = h.mount_point.clone();
    for part in inside.components() {
        let parent = dir.clone();
        dir.push(part);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if read_trimmed(&dir.join(file))?.is_empty() {
                let value = read_trimmed(&parent.join(file))?;
                write(&dir.join(file), &value)?;
            }
        }
    }
    Ok(())
}

/// Moves `pid` (the whole thread group) into the cgroup at `dir`.
pub(crate) fn enter(dir: &Path, pid: Pid) -> Result<(), CgroupError> {
    let mut tries = 0;
    loop {
        match std::fs::write(dir.join("cgroup.procs"), pid.to_string()) {
            Ok(()) => return Ok(()),
            // A task the kernel has not finished setting up (TASK_NEW) is refused with
            // EINVAL for a moment; runc retries too.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && tries < 5 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(source) => {
                return Err(CgroupError::Enter {
                    pid: pid.as_raw(),
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
}

/// Moves `pid` out of `h`'s cgroup into the nearest directory berth did not create (the
/// hierarchy root if that refuses), undoing `enter` on a failed create.
pub(crate) fn leave(h: &Hierarchy, pid: Pid) -> Result<(), CgroupError> {
    let outside = match h.created.first() {
        Some(top) => top.parent().unwrap_or(&h.mount_point),
        // Nothing was created, so nothing needs removing: the pid may stay.
        None => return Ok(()),
    };
    enter(outside, pid).or_else(|_| enter(&h.mount_point, pid))
}

/// Appends the processes of `dir` and of every cgroup below it.
pub(crate) fn procs_recursive(dir: &Path, out: &mut Vec<Pid>) -> Result<(), CgroupError> {
    let procs = match std::fs::read_to_string(dir.join("cgroup.procs")) {
        Ok(text) => text,
        // A sub-cgroup removed while we walk has no processes to report; one being removed
        // answers ENODEV (systemd removes a scope's cgroup as soon as it is empty).
        Err(e) if e.kind() == ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENODEV) => {
            return Ok(())
        }
        Err(source) => {
            return Err(CgroupError::Io {
                path: dir.join("cgroup.procs"),
                source,
            })
        }
    };
    out.extend(
        procs
            .lines()
            .filter_map(|l| l.trim().parse::<i32>().ok())
            .map(Pid::from_raw),
    );
    for child in subdirs(dir)? {
        procs_recursive(&child, out)?;
    }
    Ok(())
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CgroupError::Io {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    Ok(entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .collect())
}

/// Removes, on every hierarchy, the directories berth created, deepest first, plus any
/// sub-cgroups the container made inside its own cgroup. Parents that another container still
/// uses are left. Keeps going after a failure and returns the first one.
pub(crate) fn remove_created(paths: &CgroupPaths) -> Result<(), CgroupError> {
    let mut first = None;
    for h in &paths.hierarchies {
        if let Err(e) = remove_hierarchy(h) {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

fn remove_hierarchy(h: &Hierarchy) -> Result<(), CgroupError> {
    if h.created.last() != Some(&h.path) {
        // The container's cgroup existed before berth: it and everything in it stay.
        return Ok(());
    }
    remove_tree(&h.path)?;
    // Parents berth made for a cgroupsPath go too, nearest first, unless another container's
    // cgroup lives in one by now.
    for dir in h.created.iter().rev().skip(1) {
        match std::fs::remove_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            // Another container's cgroup lives here now: the parent is still in use.
            Err(e) if is_busy(&e) => break,
            Err(source) => {
                return Err(CgroupError::Remove {
                    path: dir.clone(),
                    source,
                })
            }
        }
    }
    Ok(())
}

fn is_busy(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error().map(Errno::from_raw),
        Some(Errno::EBUSY) | Some(Errno::ENOTEMPTY)
    )
}

/// Removes `dir` and its sub-cgroups, deepest first. The kernel refuses (EBUSY) while a
/// killed task has not finished exiting, so that is retried for a short while.
fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    for child in subdirs(dir)? {
        remove_tree(&child)?;
    }
    let mut tries = 0;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if is_busy(&e) && tries < 200 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(source) => {
                return Err(CgroupError::Remove {
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
}

pub(crate) fn read_trimmed(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|source| CgroupError::Io {
            path: path.to_path_buf(),
            source,
        })
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(|source| CgroupError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_dirs_are_the_ones_below_the_deepest_existing() {
        let tmp = std::env::temp_dir().join(format!("berth-missing-{}", std::process::id()));
        std::fs::create_dir_all(tmp.join("a")).unwrap();
        let h = Hierarchy {
            controllers: Vec::new(),
            unified: true,
            mount_point: tmp.clone(),
            path: tmp.join("a/b/c"),
            created: Vec::new(),
        };
        assert_eq!(missing_dirs(&h), [tmp.join("a/b"), tmp.join("a/b/c")]);
        let existing = Hierarchy {
            path: tmp.join("a"),
            ..h
        };
        assert!(missing_dirs(&existing).is_empty());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
