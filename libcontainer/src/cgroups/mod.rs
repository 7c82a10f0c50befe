//! cgroups on v1, v2 and hybrid hosts: create the container's cgroup, apply
//! `linux.resources`, place the init in it, and remove exactly what was created at delete.

use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Where the container's cgroup lives on every hierarchy, and which directories berth created
/// (only those are removed at delete). Stored in state.json.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CgroupPaths {}

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("linux.resources.{field}: {reason}")]
    InvalidResource { field: String, reason: String },
}

/// Checks `linux.resources` against this host before anything is created.
pub fn validate(_resources: Option<&LinuxResources>) -> Result<(), CgroupError> {
    todo!()
}

/// Resolves `linux.cgroupsPath` (absolute, relative under berth's parent, or a default from the
/// id when empty) on every mounted hierarchy. Creates nothing.
pub fn resolve(_cgroups_path: Option<&Path>, _id: &str) -> Result<CgroupPaths, CgroupError> {
    todo!()
}

/// Creates the cgroup directories, applies `resources`, and moves `pid` into the cgroup on every
/// hierarchy (on a hybrid host, the v2 one too). On error, removes what it created.
pub fn create_and_enter(
    _paths: &mut CgroupPaths,
    _pid: Pid,
    _resources: Option<&LinuxResources>,
) -> Result<(), CgroupError> {
    todo!()
}

/// Every process in the container's cgroup (for `kill --all` and `ps`).
pub fn pids(_paths: &CgroupPaths) -> Result<Vec<Pid>, CgroupError> {
    todo!()
}

/// Removes the directories berth created (the caller has killed every process first).
pub fn destroy(_paths: &CgroupPaths) -> Result<(), CgroupError> {
    todo!()
}

/// Is the container's cgroup frozen (`pause`)?
pub fn is_frozen(_paths: &CgroupPaths) -> bool {
    todo!()
}

/// Unfreezes the container's cgroup (before a forced delete can kill a paused container).
pub fn thaw(_paths: &CgroupPaths) -> Result<(), CgroupError> {
    todo!()
}
