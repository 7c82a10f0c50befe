//! `type: cgroup` mounts: the container sees the host's cgroup layout (v1, hybrid or v2) with
//! its own cgroup as each hierarchy's root.
//!
//! With a cgroup namespace each hierarchy is mounted fresh (the kernel roots it at the
//! namespace's cgroup). Without one, the container's own cgroup directory of each host
//! hierarchy is bind-mounted, as runc does. On v1/hybrid hosts the hierarchies sit on a tmpfs,
//! made read-only last when the entry asks for `ro`.

use super::mounts::{self, Ctx};
use super::options::MountOptions;
use super::paths::{self, Kind};
use super::{attach, RootfsError, RootfsOptions};
use crate::proc_root::ProcRoot;
use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::unistd::symlinkat;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// One host cgroup hierarchy mounted under /sys/fs/cgroup.
struct Hierarchy {
    mount_point: PathBuf,
    /// The cgroup the host mount is rooted at (not "/" when the host itself is namespaced).
    root: PathBuf,
    fs_type: String,
    /// The controllers (and name=...) as /proc/self/cgroup lists them: v1 mount data.
    controllers: Vec<String>,
    /// This process's cgroup in the hierarchy.
    own: PathBuf,
}

fn hierarchies(proc: &ProcRoot) -> std::io::Result<Vec<Hierarchy>> {
    let memberships = proc.cgroups()?;
    let mut found: Vec<Hierarchy> = Vec::new();
    for info in proc.mountinfo()? {
        let under_root = info.mount_point == Path::new(CGROUP_ROOT)
            || info.mount_point.parent() == Some(Path::new(CGROUP_ROOT));
        if !under_root || !matches!(info.fs_type.as_str(), "cgroup" | "cgroup2") {
            continue;
        }
        let membership = memberships.iter().find(|m| {
            if info.fs_type == "cgroup2" {
                return m.hierarchy == 0;
            }
            !m.controllers.is_empty()
                && m.controllers.iter().all(|c| match c.split_once('=') {
                    Some((k, v)) => info.super_options.get(k) == Some(&Some(v.to_string())),
                    None => info.super_options.contains_key(c),
                })
        });
        let Some(membership) = membership else {
            continue;
        };
        found.retain(|h| h.mount_point != info.mount_point);
        found.push(Hierarchy {
            mount_point: info.mount_point.clone(),
            root: PathBuf::from(&info.root),
            fs_type: info.fs_type.clone(),
            controllers: membership.controllers.clone(),
            own: PathBuf::from(&membership.pathname),
        });
    }
    Ok(found)
}

pub(super) fn mount_cgroup(
    proc: &ProcRoot,
    root: &OwnedFd,
    dest: &Path,
    parsed: &MountOptions,
    opts: &RootfsOptions,
    ctx: &Ctx,
) -> Result<OwnedFd, RootfsError> {
    let found = hierarchies(proc)
        .map_err(|_| ctx.fail("read /proc/self/mountinfo and /proc/self/cgroup")(Errno::EIO))?;
    if let Some(unified) = found
        .iter()
        .find(|h| h.mount_point == Path::new(CGROUP_ROOT))
    {
        return mount_hierarchy(root, dest, unified, parsed, opts, ctx);
    }
    let target =
        paths::resolve_or_create(root, dest, Kind::Dir).map_err(ctx.fail("create destination"))?;
    super::proc_check::check_target(ctx, &target)?;
    let tmpfs_flags = parsed.flags & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    let data = ["mode=755".to_string()];
    let made = mounts::new_fs(&target, ("tmpfs", "tmpfs"), tmpfs_flags, &data)
        .map_err(ctx.fail("mount tmpfs for cgroup hierarchies"))?;
    // The hierarchies go inside this tmpfs: reached from its own fd, not from the rootfs.
    let dir = mounts::placed(made, root, dest, ctx)?;
    for hierarchy in &found {
        let Some(name) = hierarchy.mount_point.file_name() else {
            continue;
        };
        let sub_ctx = Ctx::new(ctx.field.clone(), dest.join(name));
        mount_hierarchy(&dir, Path::new(name), hierarchy, parsed, opts, &sub_ctx)?;
        let name = name.to_string_lossy();
        // Co-mounted controllers (cpu,cpuacct) are also reachable by each name, as on the host.
        if name.contains(',') {
            for alias in name.split(',') {
                match symlinkat(name.as_ref(), &dir, alias) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(ctx.fail("symlink co-mounted controller")(e)),
                }
            }
        }
    }
    if parsed.flags.contains(MsFlags::MS_RDONLY) {
        attach::remount(&dir, tmpfs_flags | MsFlags::MS_RDONLY)
            .map_err(ctx.fail("remount cgroup tmpfs read-only"))?;
    }
    Ok(dir)
}

/// One hierarchy at `dest` (relative to `root`, which is the rootfs or the tmpfs holding the
/// v1 hierarchies); `ctx` names it for errors.
fn mount_hierarchy(
    root: &OwnedFd,
    dest: &Path,
    hierarchy: &Hierarchy,
    parsed: &MountOptions,
    opts: &RootfsOptions,
    ctx: &Ctx,
) -> Result<OwnedFd, RootfsError> {
    let flags = parsed.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if opts.in_cgroup_ns {
        let target = paths::resolve_or_create(root, dest, Kind::Dir)
            .map_err(ctx.fail("create destination"))?;
        super::proc_check::check_target(ctx, &target)?;
        let data = if hierarchy.fs_type == "cgroup" {
            hierarchy.controllers.clone()
        } else {
            Vec::new()
        };
        let made = mounts::new_fs(&target, (&hierarchy.fs_type, "cgroup"), flags, &data)
            .map_err(ctx.fail("mount cgroup hierarchy"))?;
        return mounts::placed(made, root, dest, ctx);
    }
    let own = hierarchy
        .own
        .strip_prefix(&hierarchy.root)
        .unwrap_or(&hierarchy.own);
    let rel = own.strip_prefix("/").unwrap_or(own);
    let source = hierarchy.mount_point.join(rel);
    let bind_only = MountOptions {
        flags: MsFlags::MS_BIND | flags,
        ..MountOptions::default()
    };
    mounts::bind(root, &source, dest, &bind_only, ctx)
}
