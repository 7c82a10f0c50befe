//! What may be mounted at or inside /proc, and where proc and sysfs may go (runc's
//! checkProcMount, CVE-2019-16884 and CVE-2019-19921).
//!
//! A mount inside the container's procfs can hide or replace the files the kernel uses to
//! describe and confine the container (a volume at /proc/sys/kernel made berth read a
//! `cap_last_cap` of 0), and proc or sysfs mounted through an image symlink lands wherever the
//! image points. So: /proc takes only a `proc` mount; inside it only the files lxcfs emulates
//! (runc's allow-list) may be mounted; a destination that resolves onto a procfs any other way
//! (an image symlink such as /data -> /proc/sys) is refused when it is resolved; and proc and
//! sysfs are mounted only on a real directory, never through a symlink at the last component.

use super::mounts::Ctx;
use super::paths;
use super::RootfsError;
use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{mkdirat, Mode};
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};
use oci_spec::runtime::Mount;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

/// runc's allow-list (1.1 and 1.2): files lxcfs or similar emulate for `top`, `free` and the like.
const ALLOWED_IN_PROC: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// `path` with `.` and `..` folded lexically (`..` never climbs above `/`).
pub(super) fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn is_allowed_in_proc(dest: &Path) -> bool {
    ALLOWED_IN_PROC.iter().any(|a| dest == Path::new(a))
}

/// The config check (in the parent, before anything exists): the reason `mount` may not go
/// where its destination says, judged on the destination as written.
pub(super) fn check_destination(mount: &Mount) -> Result<(), String> {
    let dest = clean(mount.destination());
    let typ = mount.typ().as_deref().unwrap_or("");
    let bind = mount
        .options()
        .iter()
        .flatten()
        .any(|o| o == "bind" || o == "rbind")
        || typ == "bind";
    if dest == Path::new("/proc") {
        if typ != "proc" || bind {
            return Err(format!(
                "destination /proc takes only a mount of type \"proc\", not {}",
                if bind {
                    "a bind mount".to_string()
                } else {
                    format!("type {typ:?}")
                }
            ));
        }
        return Ok(());
    }
    if dest.starts_with("/proc") && !is_allowed_in_proc(&dest) {
        return Err(format!(
            "destination {} is inside /proc: only {} may be mounted there",
            dest.display(),
            ALLOWED_IN_PROC.join(", ")
        ));
    }
    Ok(())
}

/// The check at mount time, on the resolved destination: a destination that an image symlink
/// led onto a procfs is refused unless it is one of the allowed files.
pub(super) fn check_target(ctx: &Ctx, target: &OwnedFd) -> Result<(), RootfsError> {
    let on_proc = fstatfs(target).is_ok_and(|fs| fs.filesystem_type() == PROC_SUPER_MAGIC);
    if on_proc && !is_allowed_in_proc(&clean(&ctx.path)) {
        return Err(ctx.refuse(
            "destination resolves inside a procfs (through a symlink in the rootfs): \
             mounts inside /proc are refused"
                .into(),
        ));
    }
    Ok(())
}

/// The directory a proc or sysfs mount goes on: made when missing, and refused when the image
/// has anything but a directory there (a symlink is not followed, whatever it points to).
pub(super) fn fs_mount_point(root: &OwnedFd, typ: &str, ctx: &Ctx) -> Result<OwnedFd, RootfsError> {
    let dest = &ctx.path;
    let (dir, name) = paths::parent_and_name(root, dest).map_err(ctx.fail("open parent"))?;
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let opened = match openat(&dir, name.as_os_str(), flags, Mode::empty()) {
        Err(Errno::ENOENT) => {
            match mkdirat(&dir, name.as_os_str(), Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(ctx.fail("create destination")(e)),
            }
            openat(&dir, name.as_os_str(), flags, Mode::empty())
        }
        other => other,
    };
    let target = opened.map_err(|e| match e {
        Errno::ENOTDIR | Errno::ELOOP => ctx.refuse(format!(
            "destination {} in the rootfs is not a directory (a symlink or a file): \
             {typ} is mounted only on an ordinary directory",
            dest.display()
        )),
        e => ctx.fail("open destination")(e),
    })?;
    check_target(ctx, &target)?;
    Ok(target)
}
