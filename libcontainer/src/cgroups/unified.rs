//! What goes to a cgroup2 hierarchy: the `unified` map, hugepage limits (on a hybrid host the
//! hugetlb controller may live only there), and the pure-v2 entry point.
//!
//! cgroups-rs's `HugeTlbController` writes the limits (it knows the v1 and v2 file names);
//! enabling a controller for a child (cgroup.subtree_control) and the `unified` keys are plain
//! writes, which cgroups-rs only offers for a hierarchy at /sys/fs/cgroup.

use super::v1::{ctl, write};
use super::{bpf, devices, fs, v2, CgroupError, CgroupPaths, Hierarchy};
use cgroups_rs::hugetlb::HugeTlbController;
use oci_spec::runtime::{LinuxHugepageLimit, LinuxResources};
use std::path::Path;

/// Hybrid host: hugepage limits and `unified` keys (v1 resources are `v1::apply`'s).
pub(crate) fn apply_hybrid(paths: &CgroupPaths, res: &LinuxResources) -> Result<(), CgroupError> {
    hugepages(paths, res.hugepage_limits().as_deref().unwrap_or_default())?;
    unified_keys(paths, res)
}

/// Pure v2 host: the device program, the converted v1 resources, hugepage limits and
/// `unified` keys (last, so they can override a conversion, as with runc).
pub(crate) fn apply_v2(
    paths: &CgroupPaths,
    res: &LinuxResources,
    warnings: &mut Vec<String>,
    devices_too: bool,
) -> Result<(), CgroupError> {
    v2::validate(res)?;
    if devices_too {
        let h = paths.unified().ok_or_else(|| no_unified("devices"))?;
        bpf::apply(&h.path, &devices::rules(res.devices().as_deref())?)?;
    }
    v2::apply(paths, res, warnings)?;
    hugepages(paths, res.hugepage_limits().as_deref().unwrap_or_default())?;
    unified_keys(paths, res)
}

fn hugepages(paths: &CgroupPaths, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    for (i, l) in limits.iter().enumerate() {
        let field = format!("hugepageLimits[{i}]");
        let limit = u64::try_from(l.limit()).map_err(|_| CgroupError::InvalidResource {
            field: field.clone(),
            reason: format!("limit {} is negative", l.limit()),
        })?;
        let (dir, v2) = match paths.v1_dir("hugetlb") {
            Some(dir) => (dir, false),
            None => {
                let h = with_controller(paths, "hugetlb", &field)?;
                (h.path.as_path(), true)
            }
        };
        let c = HugeTlbController::new(dir.into(), v2);
        ctl(&field, dir, c.set_limit_in_bytes(l.page_size(), limit))?;
        // Reservations (kernel 5.7+) are counted separately: without the same limit there, a
        // process could reserve (mmap) more than its limit and be SIGBUSed at fault time
        // instead of failing the mmap. runc writes both where the file exists.
        let rsvd = if v2 {
            format!("hugetlb.{}.rsvd.max", l.page_size())
        } else {
            format!("hugetlb.{}.rsvd.limit_in_bytes", l.page_size())
        };
        if dir.join(&rsvd).exists() {
            write(&field, &dir.join(rsvd), &limit.to_string())?;
        }
    }
    Ok(())
}

fn unified_keys(paths: &CgroupPaths, res: &LinuxResources) -> Result<(), CgroupError> {
    let Some(map) = res.unified() else {
        return Ok(());
    };
    let mut keys: Vec<_> = map.iter().collect();
    keys.sort();
    for (key, value) in keys {
        let field = format!("unified.{key}");
        let controller = check_key(key, &field)?;
        let h = if controller == "cgroup" {
            paths.unified().ok_or_else(|| no_unified(&field))?
        } else {
            with_controller(paths, controller, &field)?
        };
        let file = h.path.join(key);
        if !file.exists() {
            return Err(CgroupError::InvalidResource {
                field,
                reason: format!("{} does not exist on this host", file.display()),
            });
        }
        write(&field, &file, value)?;
    }
    Ok(())
}

/// A key names a file of the cgroup directory: `<controller>.<name>`, no path separators.
pub(crate) fn check_key<'a>(key: &'a str, field: &str) -> Result<&'a str, CgroupError> {
    match key.split_once('.') {
        Some((controller, rest))
            if !controller.is_empty() && !rest.is_empty() && !key.contains('/') =>
        {
            Ok(controller)
        }
        _ => Err(CgroupError::InvalidResource {
            field: field.into(),
            reason: "not a cgroup v2 file name (<controller>.<name>)".into(),
        }),
    }
}

fn no_unified(field: &str) -> CgroupError {
    CgroupError::InvalidResource {
        field: field.into(),
        reason: "this host has no cgroup v2 hierarchy".into(),
    }
}

/// The unified hierarchy with `controller` enabled down to the container's cgroup: each
/// ancestor's cgroup.subtree_control gets `+controller` (only the root's children and below
/// need it; a parent holding processes refuses, which is reported).
pub(crate) fn with_controller<'a>(
    paths: &'a CgroupPaths,
    controller: &str,
    field: &str,
) -> Result<&'a Hierarchy, CgroupError> {
    let h = paths.unified().ok_or_else(|| no_unified(field))?;
    let available = fs::read_trimmed(&h.mount_point.join("cgroup.controllers"))?;
    if !available.split_whitespace().any(|c| c == controller) {
        return Err(CgroupError::InvalidResource {
            field: field.into(),
            reason: format!(
                "the {controller} controller is not on this host's cgroup v2 hierarchy \
                 (it has: {available:?})"
            ),
        });
    }
    let inside = h.path.strip_prefix(&h.mount_point).unwrap_or(Path::new(""));
    let mut dir = h.mount_point.clone();
    for part in inside.components() {
        enable(&dir, controller, field)?;
        dir.push(part);
    }
    Ok(h)
}

/// On a pure v2 host, every controller the parent offers, enabled down to the container's
/// cgroup, as runc does: without that a container with no limit of some kind has none of that
/// controller's files, so `events` finds no memory.events (no OOM count) and no usage to show.
/// Best effort per controller: one an ancestor cannot pass on (e.g. it holds processes) is
/// skipped here, and `with_controller` reports it when a limit needs it.
pub(crate) fn enable_all(h: &Hierarchy) {
    let inside = h.path.strip_prefix(&h.mount_point).unwrap_or(Path::new(""));
    let mut dir = h.mount_point.clone();
    for part in inside.components() {
        let offered = fs::read_trimmed(&dir.join("cgroup.controllers")).unwrap_or_default();
        for c in offered.split_whitespace() {
            let _ = enable(&dir, c, "cgroupsPath");
        }
        dir.push(part);
    }
}

fn enable(dir: &Path, controller: &str, field: &str) -> Result<(), CgroupError> {
    let file = dir.join("cgroup.subtree_control");
    let enabled = fs::read_trimmed(&file)?;
    if enabled.split_whitespace().any(|c| c == controller) {
        return Ok(());
    }
    write(field, &file, &format!("+{controller}"))
}
