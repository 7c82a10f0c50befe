//! cgroups on v1, v2 and hybrid hosts: create the container's cgroup, apply
//! `linux.resources`, place the init in it, and remove exactly what was created at delete;
//! change limits (`update`), pause and resume, report usage and OOM kills.
//!
//! Split: `hierarchy` finds the mounted hierarchies and resolves `cgroupsPath`; `fs` creates,
//! joins, lists and removes directories; `v1` and `devices` apply resources on v1 hierarchies
//! (through cgroups-rs's per-controller types); `v2` converts them for a pure v2 host and
//! `bpf` enforces the device list there; `unified` writes what goes to a cgroup2 hierarchy
//! (hugetlb, `unified` keys); `validate` checks a config before anything exists; `freezer`
//! pauses; `stats` and `stats_v2` read usage. `systemd` is the `--systemd-cgroup` driver: a
//! transient scope from systemd, then the same file writes.
//!
//! Tests that need a pure v2 host are `#[ignore]`d here and run by scripts/v2-tests.sh in a VM.

mod bpf;
mod devices;
mod freezer;
mod fs;
mod hierarchy;
mod rootless;
pub mod stats;
mod stats_v2;
mod systemd;
mod unified;
mod unset;
mod v1;
mod v2;
mod validate;

#[cfg(test)]
mod tests;

use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub use devices::allow_creating;
pub use freezer::{check_not_frozen, freeze, is_frozen, thaw};
pub use rootless::{limits_set, not_writable};
pub use stats::{oom_kills, stats, Stats};
pub use systemd::Unit as SystemdUnit;
pub use unset::without_unset_zeros;
pub use validate::validate;

/// Where the container's cgroup lives on every hierarchy, and which directories berth created
/// (only those are removed at delete). Stored in state.json.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CgroupPaths {
    /// One entry per mounted hierarchy, in mount-table order.
    pub hierarchies: Vec<Hierarchy>,
    /// Settings the kernel no longer has (e.g. memory.kernel on a kernel without kmem
    /// limits): not applied, reported by `create_and_enter` for the caller to show the user.
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// The transient scope under `--systemd-cgroup` (its cgroup is the one hierarchy); stopped
    /// at delete, its properties set by update.
    /// Boxed: most containers have none, and `CgroupPaths` is in every `Container`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<Box<SystemdUnit>>,
}

/// The container's cgroup on one hierarchy.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Hierarchy {
    /// The v1 controllers of this hierarchy (`name=systemd` included); empty for cgroup2.
    pub controllers: Vec<String>,
    /// True for the cgroup2 hierarchy (the only one on a v2 host, /sys/fs/cgroup/unified on a
    /// hybrid host).
    pub unified: bool,
    pub mount_point: PathBuf,
    /// The container's cgroup directory.
    pub path: PathBuf,
    /// The directories berth created for `path`, parents first (empty when `path` existed).
    pub created: Vec<PathBuf>,
}

impl CgroupPaths {
    /// The directory on the v1 hierarchy carrying `controller`.
    pub(crate) fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.hierarchies
            .iter()
            .find(|h| !h.unified && h.controllers.iter().any(|c| c == controller))
            .map(|h| h.path.as_path())
    }

    pub(crate) fn unified(&self) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.unified)
    }

    /// True when the host has no v1 hierarchy at all.
    pub(crate) fn is_pure_v2(&self) -> bool {
        self.hierarchies.iter().all(|h| h.unified)
    }
}

/// Resolving, creating, configuring, freezing, reading or removing the container's cgroup failed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A `linux.resources` value is invalid (found before anything is written).
    #[error("linux.resources.{field}: {reason}")]
    InvalidResource {
        /// The config field at fault (JSON path).
        field: String,
        /// What is wrong, in words.
        reason: String,
    },
    /// Writing a resource limit to a cgroup file failed.
    #[error("linux.resources.{field}: writing {value:?} to {path}: {source}")]
    Write {
        /// The config field at fault (JSON path).
        field: String,
        /// The path at fault.
        path: PathBuf,
        /// The value that was written.
        value: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A cgroup controller (through cgroups-rs) refused a resource setting.
    #[error("linux.resources.{field}: in {dir}: {source}")]
    Controller {
        /// The config field at fault (JSON path).
        field: String,
        /// The cgroup directory.
        dir: PathBuf,
        /// The underlying error (cgroups-rs's, boxed so that its type is not part of this
        /// crate's API).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `linux.cgroupsPath` is not acceptable.
    #[error("linux.cgroupsPath {path}: {reason}")]
    InvalidPath {
        /// The path at fault.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// `--systemd-cgroup`: systemd or its bus refused or is missing.
    #[error("--systemd-cgroup: {reason}")]
    Systemd {
        /// What is wrong, in words.
        reason: String,
    },
    /// Reading or creating a cgroup file or directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The path at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The host has no cgroup filesystem mounted.
    #[error("no cgroup hierarchy is mounted (/proc/self/mountinfo has no cgroup or cgroup2)")]
    NoCgroupMounts,
    /// berth's own process is in no cgroup of a mounted hierarchy.
    #[error("this process is in no cgroup of the hierarchy mounted at {mount}")]
    NotInHierarchy {
        /// Where that hierarchy is mounted.
        mount: PathBuf,
    },
    /// Moving a process into the container's cgroup failed.
    #[error("moving pid {pid} into {path}: {source}")]
    Enter {
        /// The process.
        pid: i32,
        /// The path at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Neither the v1 freezer nor cgroup2 is available: pause is impossible.
    #[error("this host has neither the v1 freezer nor cgroup2: containers cannot be paused")]
    NoFreezer,
    /// The freezer refused to freeze or thaw.
    #[error("freezing or thawing {path}: {source}")]
    Freezer {
        /// The path at fault.
        path: PathBuf,
        /// The underlying error (cgroups-rs's, boxed so that its type is not part of this
        /// crate's API).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The container's cgroup exists already and is frozen.
    #[error("{path}: container's cgroup unexpectedly frozen (thaw it or choose another linux.cgroupsPath)")]
    UnexpectedlyFrozen {
        /// The path at fault.
        path: PathBuf,
    },
    /// The processes did not freeze in time; they were thawed again.
    #[error("the processes in {path} did not freeze within 5 s (left thawed)")]
    FreezeTimeout {
        /// The path at fault.
        path: PathBuf,
    },
    /// Processes survived SIGKILL for 10 s.
    #[error("{left} processes in {path} still alive 10 s after SIGKILL")]
    KillTimeout {
        /// The path at fault.
        path: PathBuf,
        /// How many are left.
        left: usize,
    },
    /// Removing the container's cgroup failed.
    #[error("removing cgroup {path}: {source}")]
    Remove {
        /// The path at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Resolves `linux.cgroupsPath` (absolute, relative under berth's parent, or a default from the
/// id when empty) on every mounted hierarchy. Creates nothing.
///
/// A relative path is taken from berth's own cgroup on each hierarchy, as runc does; an empty
/// one becomes `/berth-<id>`.
pub fn resolve(cgroups_path: Option<&Path>, id: &str) -> Result<CgroupPaths, CgroupError> {
    let layout = hierarchy::Layout::detect()?;
    let proc_cgroup = read("/proc/self/cgroup")?;
    Ok(CgroupPaths {
        hierarchies: hierarchy::resolve(&layout, cgroups_path, id, &proc_cgroup)?,
        warnings: Vec::new(),
        systemd: None,
    })
}

/// `resolve` under `--systemd-cgroup`: `cgroupsPath` is `slice:prefix:name` (empty: the
/// scope `berth-<id>.scope` in `system.slice`), the cgroup the scope's. Fails, naming the
/// flag, unless systemd runs here with its bus reachable on a pure cgroup v2 host.
///
/// runc's `org.systemd.property.<Name>` annotations (extra unit properties in GVariant text)
/// are refused, naming the annotation, rather than ignored.
pub fn resolve_systemd(
    cgroups_path: Option<&Path>,
    id: &str,
    annotations: Option<&std::collections::HashMap<String, String>>,
) -> Result<CgroupPaths, CgroupError> {
    if let Some(key) = annotations
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .find(|k| k.starts_with("org.systemd.property."))
    {
        return Err(CgroupError::Systemd {
            reason: format!("annotation {key}: extra unit properties are not supported"),
        });
    }
    systemd::resolve(cgroups_path, id)
}

/// Creates the cgroup directories, applies `resources`, and moves `pid` into the cgroup on every
/// hierarchy (on a hybrid host, the v2 one too). On error, removes what it created.
///
/// Settings the kernel no longer supports are not applied; they are listed in
/// `paths.warnings`.
pub fn create_and_enter(
    paths: &mut CgroupPaths,
    pid: Pid,
    resources: Option<&LinuxResources>,
) -> Result<(), CgroupError> {
    create_and_enter_with(paths, pid, resources, true)
}

/// `create_and_enter` for a rootless container in a cgroup delegated to the user: the device
/// policy is left out, as runc leaves it out (it ignores the errors). Loading the v2 device
/// BPF program needs CAP_SYS_ADMIN on the host, and the v1 devices files are root's; such a
/// container reaches only the host nodes bind-mounted into it, under the host's permissions.
pub fn create_and_enter_without_devices(
    paths: &mut CgroupPaths,
    pid: Pid,
    resources: Option<&LinuxResources>,
) -> Result<(), CgroupError> {
    create_and_enter_with(paths, pid, resources, false)
}

fn create_and_enter_with(
    paths: &mut CgroupPaths,
    pid: Pid,
    resources: Option<&LinuxResources>,
    devices_too: bool,
) -> Result<(), CgroupError> {
    if let Some(unit) = paths.systemd.clone() {
        let res = resources.map(without_unset_zeros).unwrap_or_default();
        return systemd::create_and_enter(paths, &unit, pid, &res);
    }
    let result = create_apply_enter(paths, pid, resources, devices_too);
    if result.is_err() {
        // The creation error is the one worth reporting; a leftover directory is named by
        // the same paths in state and removed again at delete.
        let _ = fs::remove_created(paths);
    }
    result
}

/// Puts `pid` into the container's existing cgroup on every hierarchy (`exec`).
pub fn join(paths: &CgroupPaths, pid: Pid) -> Result<(), CgroupError> {
    paths
        .hierarchies
        .iter()
        .try_for_each(|h| fs::enter(&h.path, pid))
}

fn create_apply_enter(
    paths: &mut CgroupPaths,
    pid: Pid,
    resources: Option<&LinuxResources>,
    devices_too: bool,
) -> Result<(), CgroupError> {
    for h in &mut paths.hierarchies {
        fs::create(h)?;
    }
    if paths.is_pure_v2() {
        if let Some(h) = paths.unified() {
            unified::enable_all(h);
        }
    }
    if let Some(h) = paths
        .hierarchies
        .iter()
        .find(|h| h.controllers.iter().any(|c| c == "cpuset"))
    {
        fs::fill_cpuset(h)?;
    }
    // No `linux.resources` still gets the device policy (deny all but the default devices),
    // as with runc.
    let res = resources.map(without_unset_zeros).unwrap_or_default();
    let warnings = apply(paths, &res, devices_too)?;
    paths.warnings.extend(warnings);
    for (i, h) in paths.hierarchies.iter().enumerate() {
        if let Err(e) = fs::enter(&h.path, pid) {
            // Take the pid back out of the cgroups it already joined, so they can be removed.
            for done in &paths.hierarchies[..i] {
                let _ = fs::leave(done, pid);
            }
            return Err(e);
        }
    }
    Ok(())
}

fn apply(
    paths: &CgroupPaths,
    res: &LinuxResources,
    devices_too: bool,
) -> Result<Vec<String>, CgroupError> {
    let mut warnings = Vec::new();
    if paths.is_pure_v2() {
        unified::apply_v2(paths, res, &mut warnings, devices_too)?;
    } else {
        v1::apply(paths, res, &mut warnings, devices_too)?;
        unified::apply_hybrid(paths, res)?;
    }
    Ok(warnings)
}

/// Changes a running container's limits (`update`): the resources given are written over the
/// current ones; the device list is not changed (as with runc's update) and a non-empty one
/// is reported in the returned warnings, with settings the kernel no longer has.
pub fn update(paths: &CgroupPaths, resources: &LinuxResources) -> Result<Vec<String>, CgroupError> {
    let resources = &without_unset_zeros(resources);
    validate(Some(resources))?;
    check_before_update(paths, resources)?;
    if let Some(unit) = &paths.systemd {
        systemd::update(unit, resources)?;
    }
    let mut warnings = apply(paths, resources, false)?;
    if resources.devices().as_ref().is_some_and(|d| !d.is_empty()) {
        warnings.push("linux.resources.devices: not changed by update".into());
    }
    Ok(warnings)
}

/// `memory.checkBeforeUpdate`: refuse a memory limit below what the container uses now
/// (otherwise the kernel would reclaim or OOM-kill to get there).
fn check_before_update(paths: &CgroupPaths, res: &LinuxResources) -> Result<(), CgroupError> {
    let Some(m) = res
        .memory()
        .as_ref()
        .filter(|m| m.check_before_update() == Some(true))
    else {
        return Ok(());
    };
    let Some(limit) = m.limit().filter(|l| *l >= 0) else {
        return Ok(());
    };
    let usage_file = match paths.v1_dir("memory") {
        Some(dir) => dir.join("memory.usage_in_bytes"),
        None => match paths.unified() {
            Some(h) => h.path.join("memory.current"),
            None => return Ok(()),
        },
    };
    let usage: i64 = fs::read_trimmed(&usage_file)?.parse().unwrap_or(0);
    if limit < usage {
        return Err(CgroupError::InvalidResource {
            field: "memory.limit".into(),
            reason: format!("{limit} is below the current usage {usage} (checkBeforeUpdate)"),
        });
    }
    Ok(())
}

/// Every process in the container's cgroup (for `kill --all` and `ps`).
///
/// Read from the freezer hierarchy on v1 (the one runc uses for this), else pids, else any
/// v1 hierarchy; from cgroup2 on a v2 host. Sub-cgroups the container made are included.
pub fn pids(paths: &CgroupPaths) -> Result<Vec<Pid>, CgroupError> {
    let dir = if paths.is_pure_v2() {
        paths.unified().map(|h| h.path.as_path())
    } else {
        paths
            .v1_dir("freezer")
            .or_else(|| paths.v1_dir("pids"))
            .or_else(|| {
                paths
                    .hierarchies
                    .iter()
                    .find(|h| !h.unified)
                    .map(|h| h.path.as_path())
            })
    };
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    fs::procs_recursive(dir, &mut out)?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// Removes the directories berth created (the caller has killed every process first).
pub fn destroy(paths: &CgroupPaths) -> Result<(), CgroupError> {
    match &paths.systemd {
        Some(unit) => systemd::destroy(paths, unit),
        None => fs::remove_created(paths),
    }
}

/// `paths` as `create_and_enter` will leave them if nobody else makes a directory meanwhile:
/// with the directories that do not exist yet as `created`. Recorded before they are made,
/// so a `delete --force` after a create that died part-way removes exactly those.
///
/// A systemd scope is not recorded: until it is started the name may be another's unit, and
/// once started, systemd removes it by itself when its processes (which die with a create
/// that died) are gone.
pub fn planned(paths: &CgroupPaths) -> CgroupPaths {
    if paths.systemd.is_some() {
        return CgroupPaths::default();
    }
    let mut out = paths.clone();
    for h in &mut out.hierarchies {
        h.created = fs::missing_dirs(h);
    }
    out
}

/// The cgroup of a container whose record is lost: its `linux.cgroupsPath` (or the default
/// path of `id`) on every hierarchy. It is taken as the container's own (to empty and remove)
/// where it exists and its name holds the id, as the default `/berth-<id>` and the paths
/// engines give (`/docker/<id>`, `libpod-<id>`, `/<namespace>/<id>`) do: a config naming a
/// shared cgroup (`/system.slice`) must not get every process in it killed. A name is weak
/// proof (a config naming `dbus.service` for container `db`), so a cgroup holding a process
/// of berth's own pid namespace, a host process no container with a pid namespace of its
/// own has, is not taken either. Others are left, with a warning in `warnings`.
///
/// A `slice:prefix:name` path (a container made with `--systemd-cgroup`) is taken as the
/// scope's cgroup on a v2 host, with the same checks; the scope itself goes when it is empty.
pub fn salvage(cgroups_path: Option<&Path>, id: &str) -> Result<CgroupPaths, CgroupError> {
    let scope = cgroups_path.and_then(|p| systemd::scope_dir(p, id));
    let mut paths = match &scope {
        Some((h, _)) => CgroupPaths {
            hierarchies: vec![h.clone()],
            ..Default::default()
        },
        None => resolve(cgroups_path, id)?,
    };
    let mut warnings = Vec::new();
    for h in &mut paths.hierarchies {
        if !h.path.is_dir() {
            continue;
        }
        let named = h
            .path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains(id));
        let why = match named {
            false => "its name does not hold the container's id".to_string(),
            true => match host_process_in(&h.path)? {
                Some(pid) => format!(
                    "process {pid} in it shares the runtime's pid namespace, \
                     so it is not (only) the container's"
                ),
                None => {
                    h.created = vec![h.path.clone()];
                    continue;
                }
            },
        };
        warnings.push(format!("cgroup {} left as it is: {why}", h.path.display()));
    }
    paths.warnings = warnings;
    // A scope taken as the container's is stopped too: emptied and removed behind systemd's
    // back, it may never see it empty, and stay listed.
    if let Some((_, unit)) =
        scope.filter(|_| paths.hierarchies.iter().all(|h| !h.created.is_empty()))
    {
        paths.systemd = Some(Box::new(unit));
    }
    Ok(paths)
}

/// A process in `dir` (or below) in this process's pid namespace, if there is one. One that
/// exits meanwhile is no host process; one whose namespace cannot be read counts as one.
fn host_process_in(dir: &Path) -> Result<Option<Pid>, CgroupError> {
    let ns = |pid: &str| {
        nix::sys::stat::stat(format!("/proc/{pid}/ns/pid").as_str()).map(|s| (s.st_dev, s.st_ino))
    };
    let own = ns("self").map_err(|e| CgroupError::Io {
        path: PathBuf::from("/proc/self/ns/pid"),
        source: e.into(),
    })?;
    let mut procs = Vec::new();
    fs::procs_recursive(dir, &mut procs)?;
    Ok(procs.into_iter().find(|pid| match ns(&pid.to_string()) {
        Ok(theirs) => theirs == own,
        Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ESRCH) => false,
        Err(_) => true,
    }))
}

/// Kills every process in the container's cgroup (and its sub-cgroups) and waits until they
/// are gone: `cgroup.kill` where the kernel has it (5.14+, on the cgroup2 hierarchy, which a
/// hybrid host also puts every container process in); else freeze, SIGKILL each, thaw, so
/// nothing forks in between. Only for a cgroup berth created: a pre-existing one may hold
/// processes that are not the container's.
pub fn kill_all(paths: &CgroupPaths) -> Result<(), CgroupError> {
    let owned = CgroupPaths {
        hierarchies: paths
            .hierarchies
            .iter()
            .filter(|h| h.created.last() == Some(&h.path))
            .cloned()
            .collect(),
        ..Default::default()
    };
    if owned.hierarchies.is_empty() {
        return Ok(());
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        // Every process of the container is in its cgroup on every hierarchy: one suffices.
        let left = pids(&owned)?;
        if left.is_empty() {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(CgroupError::KillTimeout {
                path: owned.hierarchies[0].path.clone(),
                left: left.len(),
            });
        }
        let killed = owned
            .unified()
            .is_some_and(|h| std::fs::write(h.path.join("cgroup.kill"), "1").is_ok());
        if !killed {
            let frozen = freeze(&owned).is_ok();
            for pid in pids(&owned)? {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
            if frozen {
                thaw(&owned)?;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

fn read(path: &str) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(|source| CgroupError::Io {
        path: PathBuf::from(path),
        source,
    })
}
