//! /dev: the default devices every container gets, `linux.devices`, and the usual symlinks.

use super::mounts::Ctx;
use super::paths;
use super::{attach, RootfsError};
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{makedev, mknodat, umask, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use oci_spec::runtime::{LinuxDeviceType, Mount, Spec};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// The devices the runtime spec requires in every container: (name, major, minor).
const DEFAULT_DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// A device node to create.
struct Node {
    path: PathBuf,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
}

pub(super) fn validate(spec: &Spec) -> Result<(), RootfsError> {
    let devices = spec.linux().as_ref().and_then(|l| l.devices().as_deref());
    for (index, device) in devices.unwrap_or_default().iter().enumerate() {
        let invalid = |reason: &str| RootfsError::InvalidDevice {
            index,
            path: device.path().display().to_string(),
            reason: reason.to_string(),
        };
        if !device.path().is_absolute() {
            return Err(invalid("path must be absolute"));
        }
        if device_kind(device.typ()).is_none() {
            return Err(invalid(
                "type must be c, b, u or p (\"a\" is for cgroup rules only)",
            ));
        }
        if device.typ() != LinuxDeviceType::P && (device.major() < 0 || device.minor() < 0) {
            return Err(invalid("major and minor must not be negative"));
        }
    }
    Ok(())
}

/// /dev is the runtime's to populate unless the config bind-mounts one from the host.
pub(super) fn needs_dev(mounts: &[Mount]) -> bool {
    !mounts.iter().any(|m| {
        let bind = m.typ().as_deref() == Some("bind")
            || m.options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind");
        bind && m
            .destination()
            .components()
            .eq(Path::new("/dev").components())
    })
}

/// Default devices, then `linux.devices` (which may replace them), then the symlinks.
/// umask is 0 meanwhile so the nodes get exactly the modes asked for.
pub(super) fn setup_dev(root: &OwnedFd, spec: &Spec, in_user_ns: bool) -> Result<(), RootfsError> {
    let old = umask(Mode::empty());
    let made = create_all(root, spec, in_user_ns);
    umask(old);
    made?;
    create_symlinks(root)
}

fn create_all(root: &OwnedFd, spec: &Spec, in_user_ns: bool) -> Result<(), RootfsError> {
    for (name, major, minor) in DEFAULT_DEVICES {
        let node = Node {
            path: Path::new("/dev").join(name),
            kind: SFlag::S_IFCHR,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        };
        let ctx = Ctx::new("default device", &node.path);
        create_node(root, &node, in_user_ns, &ctx)?;
    }
    let devices = spec.linux().as_ref().and_then(|l| l.devices().as_deref());
    for (index, device) in devices.unwrap_or_default().iter().enumerate() {
        let ctx = Ctx::new(format!("linux.devices[{index}]"), device.path());
        let node = Node {
            path: device.path().clone(),
            kind: device_kind(device.typ())
                .ok_or_else(|| ctx.fail("device type")(Errno::EINVAL))?,
            major: device.major() as u64,
            minor: device.minor() as u64,
            mode: device.file_mode().unwrap_or(0o666) & 0o7777,
            uid: device.uid().unwrap_or(0),
            gid: device.gid().unwrap_or(0),
        };
        create_node(root, &node, in_user_ns, &ctx)?;
    }
    Ok(())
}

pub(super) fn device_kind(typ: LinuxDeviceType) -> Option<SFlag> {
    match typ {
        LinuxDeviceType::C | LinuxDeviceType::U => Some(SFlag::S_IFCHR),
        LinuxDeviceType::B => Some(SFlag::S_IFBLK),
        LinuxDeviceType::P => Some(SFlag::S_IFIFO),
        LinuxDeviceType::A => None,
    }
}

fn create_node(
    root: &OwnedFd,
    node: &Node,
    in_user_ns: bool,
    ctx: &Ctx,
) -> Result<(), RootfsError> {
    let (dir, name) =
        paths::parent_and_name(root, &node.path).map_err(ctx.fail("create parent directory"))?;
    if in_user_ns {
        return bind_host_node(&dir, &name, &node.path, ctx);
    }
    match unlinkat(&dir, name.as_os_str(), UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(ctx.fail("remove existing node")(e)),
    }
    let dev = makedev(node.major, node.minor);
    mknodat(
        &dir,
        name.as_os_str(),
        node.kind,
        Mode::from_bits_truncate(node.mode),
        dev,
    )
    .map_err(ctx.fail("mknod"))?;
    fchownat(
        &dir,
        name.as_os_str(),
        Some(Uid::from_raw(node.uid)),
        Some(Gid::from_raw(node.gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(ctx.fail("chown"))
}

/// In a user namespace mknod is not allowed: the host's node is bind-mounted on an empty file.
fn bind_host_node(
    dir: &OwnedFd,
    name: &std::ffi::OsStr,
    host: &Path,
    ctx: &Ctx,
) -> Result<(), RootfsError> {
    let path_flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let target = match openat(dir, name, path_flags, Mode::empty()) {
        Err(Errno::ENOENT) => {
            let create =
                OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | (path_flags - OFlag::O_PATH);
            drop(openat(dir, name, create, Mode::empty()).map_err(ctx.fail("create mount point"))?);
            openat(dir, name, path_flags, Mode::empty())
        }
        other => other,
    }
    .map_err(ctx.fail("open mount point"))?;
    let host = nix::fcntl::open(host, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(ctx.fail("open the host's device"))?;
    attach::bind(&host, &target, false)
        .map(drop)
        .map_err(ctx.fail("bind-mount the host's device"))
}

fn create_symlinks(root: &OwnedFd) -> Result<(), RootfsError> {
    let mut links = vec![
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
    ];
    // As runc: /dev/core only where the kernel has /proc/kcore.
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    for (target, link) in links {
        let ctx = Ctx::new("/dev symlinks", link);
        let (dir, name) =
            paths::parent_and_name(root, Path::new(link)).map_err(ctx.fail("open /dev"))?;
        match symlinkat(target, &dir, name.as_os_str()) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(ctx.fail("symlink")(e)),
        }
    }
    // /dev/ptmx must be the devpts instance's, whatever the image shipped.
    let ctx = Ctx::new("/dev symlinks", "/dev/ptmx");
    let (dir, name) =
        paths::parent_and_name(root, Path::new("/dev/ptmx")).map_err(ctx.fail("open /dev"))?;
    match unlinkat(&dir, name.as_os_str(), UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(ctx.fail("remove existing /dev/ptmx")(e)),
    }
    symlinkat("pts/ptmx", &dir, name.as_os_str()).map_err(ctx.fail("symlink"))
}
