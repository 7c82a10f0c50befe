//! Resolving config paths inside the rootfs, never through a symlink out of it.
//!
//! Existing paths are resolved by the kernel (openat2 RESOLVE_IN_ROOT: `..` and absolute
//! symlinks stop at the rootfs). Missing ones are created by walking one component at a time
//! from the rootfs fd, expanding symlinks ourselves against the rootfs, so a dangling symlink
//! such as `/etc/../../host` creates `<rootfs>/host`, not `/host`.
//!
//! Where openat2 answers ENOSYS (kernels before 5.6, seccomp profiles that refuse it, valgrind),
//! the same walk resolves existing paths too. It is the weaker of the two only against a
//! process that renames directories inside the rootfs while berth walks it; every step is
//! still O_NOFOLLOW, so a swapped-in symlink fails the walk rather than being followed.

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstatat, mkdirat, Mode, SFlag};
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// Linux's own limit on symlinks followed in one lookup.
const MAX_SYMLINKS: u32 = 40;

/// What to create at a missing destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Dir,
    File,
}

/// An O_PATH fd's magic link, for syscalls (mount) that only take paths.
pub(super) fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

pub(super) fn open_dir(path: &Path) -> nix::Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// A readable (listable) fd of the directory an O_PATH fd names.
pub(super) fn readable_dir(fd: &impl AsFd) -> nix::Result<OwnedFd> {
    openat(
        fd,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// `path` relative to the rootfs, as openat2 wants it ("." for the root itself).
fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// Opens an existing `path` (O_PATH) as seen from `root`, following symlinks inside it.
pub(super) fn resolve(root: &impl AsFd, path: &Path) -> nix::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    match openat2(root, &relative(path), how) {
        Err(Errno::ENOSYS) => walk_in_root(root, path, None),
        other => other,
    }
}

/// Opens an existing `path` (O_PATH) as seen from `root` without following a symlink at its
/// last component: the link itself is opened, so a mount onto the fd lands on that name and
/// not wherever the link points. Symlinks on the way are followed inside `root`.
pub(super) fn resolve_no_follow(root: &impl AsFd, path: &Path) -> nix::Result<OwnedFd> {
    let rel = relative(path);
    let Some(name) = rel.file_name() else {
        return resolve(root, path);
    };
    let parent = resolve(root, rel.parent().unwrap_or(Path::new("")))?;
    openat(
        &parent,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Opens `path` inside `root`, creating what is missing: directories on the way and, at the
/// end, a directory or an empty file per `kind`.
pub(super) fn resolve_or_create(root: &impl AsFd, path: &Path, kind: Kind) -> nix::Result<OwnedFd> {
    match resolve(root, path) {
        Err(Errno::ENOENT) => walk_in_root(root, path, Some(kind)),
        other => other,
    }
}

/// Opens the parent directory of `path` inside `root` (creating it) and returns it with
/// the last component's name, for *at() calls that make a node (mknod, symlink).
pub(super) fn parent_and_name(root: &impl AsFd, path: &Path) -> nix::Result<(OwnedFd, OsString)> {
    let rel = relative(path);
    let name = rel.file_name().ok_or(Errno::EINVAL)?.to_os_string();
    let parent = rel.parent().unwrap_or(Path::new(""));
    let fd = resolve_or_create(root, parent, Kind::Dir)?;
    Ok((fd, name))
}

fn components(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        _ => None,
    })
}

fn dup_root(root: &impl AsFd) -> nix::Result<OwnedFd> {
    openat(
        root,
        ".",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Re-opens a directory from its symlink-free component list (used for `..`).
fn reopen(root: &impl AsFd, walked: &[OsString]) -> nix::Result<OwnedFd> {
    let path: PathBuf = walked.iter().collect();
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_SYMLINKS);
    match openat2(root, &relative(&path), how) {
        Err(Errno::ENOSYS) => reopen_by_steps(root, walked),
        other => other,
    }
}

/// `reopen` without openat2: one O_NOFOLLOW step per component. A component that became a
/// symlink since it was walked is opened as the link itself, and the next step through it
/// fails with ENOTDIR.
fn reopen_by_steps(root: &impl AsFd, walked: &[OsString]) -> nix::Result<OwnedFd> {
    let mut current = dup_root(root)?;
    for name in walked {
        current = openat(
            &current,
            name.as_os_str(),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
    }
    Ok(current)
}

fn create_node(dir: &OwnedFd, name: &OsStr, kind: Kind) -> nix::Result<()> {
    let made = match kind {
        Kind::Dir => mkdirat(dir, name, Mode::from_bits_truncate(0o755)),
        Kind::File => openat(
            dir,
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map(drop),
    };
    match made {
        Err(Errno::EEXIST) => Ok(()),
        other => other,
    }
}

/// Walks `path` from `root` one component at a time, expanding symlinks against `root` (an
/// absolute target restarts at `root`, `..` never climbs above it). With `create`, missing
/// components are made (directories on the way, `create` at the end); without, a missing one
/// is ENOENT.
pub(super) fn walk_in_root(
    root: &impl AsFd,
    path: &Path,
    create: Option<Kind>,
) -> nix::Result<OwnedFd> {
    let mut pending: VecDeque<OsString> = components(path).collect();
    let mut walked: Vec<OsString> = Vec::new();
    let mut current = dup_root(root)?;
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            walked.pop();
            current = reopen(root, &walked)?;
            continue;
        }
        match fstatat(
            &current,
            name.as_os_str(),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let target = PathBuf::from(readlinkat(&current, name.as_os_str())?);
                if target.is_absolute() {
                    walked.clear();
                    current = dup_root(root)?;
                }
                for (i, c) in components(&target).enumerate() {
                    pending.insert(i, c);
                }
                continue;
            }
            Ok(_) => {}
            Err(Errno::ENOENT) => {
                let Some(kind) = create else {
                    return Err(Errno::ENOENT);
                };
                let node = if pending.is_empty() { kind } else { Kind::Dir };
                create_node(&current, &name, node)?;
            }
            Err(e) => return Err(e),
        }
        current = openat(
            &current,
            name.as_os_str(),
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        walked.push(name);
    }
    Ok(current)
}
