//! `pause` / `resume`: the v1 freezer controller, or cgroup2's cgroup.freeze where there is
//! no v1 freezer (pure v2 hosts, hybrid hosts without it).
//!
//! cgroups-rs's `FreezerController` writes the request; whether the cgroup *is* frozen is read
//! here, because on v2 its `state()` reads back the request (cgroup.freeze) while the kernel
//! reports the outcome in cgroup.events.

use super::{fs, CgroupError, CgroupPaths};
use cgroups_rs::freezer::{FreezerController, FreezerState};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a freeze may take before it is abandoned (tasks stuck in uninterruptible sleep
/// can keep a v1 cgroup FREEZING indefinitely).
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

/// The freezer directory and whether it is the cgroup2 interface.
fn target(paths: &CgroupPaths) -> Option<(&Path, bool)> {
    match paths.v1_dir("freezer") {
        Some(dir) => Some((dir, false)),
        None => paths.unified().map(|h| (h.path.as_path(), true)),
    }
}

fn frozen_now(dir: &Path, v2: bool) -> Result<bool, CgroupError> {
    if v2 {
        let events = fs::read_trimmed(&dir.join("cgroup.events"))?;
        return Ok(events.lines().any(|l| l.trim() == "frozen 1"));
    }
    let state = FreezerController::new(dir.into(), false)
        .state()
        .map_err(|e| freezer_error(dir, e))?;
    Ok(matches!(state, FreezerState::Frozen))
}

/// Is the container's cgroup frozen (`pause`), or on its way there? A process joining a
/// frozen cgroup (`exec --ignore-paused`) turns v1's state to FREEZING and v2's `frozen` to 0
/// until it has stopped too; the container is paused all the same.
pub fn is_frozen(paths: &CgroupPaths) -> bool {
    target(paths).is_some_and(|(dir, v2)| freeze_asked(dir, v2).unwrap_or(false))
}

fn freeze_asked(dir: &Path, v2: bool) -> Result<bool, CgroupError> {
    if v2 {
        return Ok(fs::read_trimmed(&dir.join("cgroup.freeze"))? == "1" || frozen_now(dir, v2)?);
    }
    let state = FreezerController::new(dir.into(), false)
        .state()
        .map_err(|e| freezer_error(dir, e))?;
    Ok(matches!(
        state,
        FreezerState::Frozen | FreezerState::Freezing
    ))
}

/// A new container's cgroup must not be frozen already (an existing one named by
/// `linux.cgroupsPath`): its first process would stop at once, and `create` with it, holding
/// the container's lock. runc refuses it too.
pub fn check_not_frozen(paths: &CgroupPaths) -> Result<(), CgroupError> {
    match target(paths) {
        Some((dir, v2)) if freeze_asked(dir, v2).unwrap_or(false) => {
            Err(CgroupError::UnexpectedlyFrozen {
                path: dir.to_path_buf(),
            })
        }
        _ => Ok(()),
    }
}

/// Freezes every process of the container (`pause`) and returns once the kernel reports the
/// cgroup frozen; if it does not get there in time, thaws it again and fails.
pub fn freeze(paths: &CgroupPaths) -> Result<(), CgroupError> {
    let (dir, v2) = target(paths).ok_or_else(no_freezer)?;
    let c = FreezerController::new(dir.into(), v2);
    let deadline = Instant::now() + FREEZE_TIMEOUT;
    loop {
        // v1 can stay FREEZING when a task was busy at the first request; asking again, as
        // runc does, gets it there.
        c.freeze().map_err(|e| freezer_error(dir, e))?;
        if frozen_now(dir, v2)? {
            return Ok(());
        }
        if Instant::now() > deadline {
            let _ = c.thaw();
            return Err(CgroupError::FreezeTimeout {
                path: dir.to_path_buf(),
            });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Unfreezes the container's cgroup (`resume`, and before a forced delete kills a paused
/// container).
pub fn thaw(paths: &CgroupPaths) -> Result<(), CgroupError> {
    let (dir, v2) = target(paths).ok_or_else(no_freezer)?;
    FreezerController::new(dir.into(), v2)
        .thaw()
        .map_err(|e| freezer_error(dir, e))
}

fn no_freezer() -> CgroupError {
    CgroupError::NoFreezer
}

fn freezer_error(dir: &Path, source: cgroups_rs::error::Error) -> CgroupError {
    CgroupError::Freezer {
        path: dir.to_path_buf(),
        source: source.into(),
    }
}
