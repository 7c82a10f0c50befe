//! Idmapped bind mounts (runtime-spec 1.2): a `mounts` entry's `uidMappings`/`gidMappings`
//! and the options `idmap` (the mount itself) and `ridmap` (every mount below it too). The
//! mappings read as user namespace mappings do, relative to the host: a file owned by
//! `containerID` on disk shows as `hostID` through the mount. Without mappings of its own,
//! `idmap` takes the container's `linux.uidMappings`/`gidMappings`, as with runc 1.2.
//!
//! The kernel sets an idmapping only for a process privileged over the source's filesystem
//! (the host's), and only on a mount not attached yet, so the parent makes these mounts, on
//! the host side, before the init exists: the source is cloned detached (open_tree), made a
//! slave so nothing mounted under it in the container reaches the host, and given the id maps
//! of a user namespace made for them (a short-lived child of ours in a new user namespace,
//! its maps written by us, its namespace opened through our own procfs, then killed and
//! reaped). The init attaches the fd where the entry's destination resolves inside the
//! rootfs, like any other mount (mounts.rs).

use super::mounts::Ctx;
use super::{options, RootfsError};
use crate::proc_root::ProcRoot;
use crate::sys::clone::{clone_into, Cloned};
use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Mount, Spec};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

/// The kernel's limit of lines in a uid_map or gid_map.
const MAX_EXTENTS: usize = 340;

/// The entry names mappings of its own (which imply `idmap`).
pub(super) fn has_mappings(mount: &Mount) -> bool {
    let some = |m: &Option<Vec<LinuxIdMapping>>| m.as_ref().is_some_and(|v| !v.is_empty());
    some(mount.uid_mappings()) || some(mount.gid_mappings())
}

type Maps = (Vec<LinuxIdMapping>, Vec<LinuxIdMapping>);

/// The (uid, gid) maps an idmapped entry gets: its own, else the container's user namespace's.
fn mappings(spec: &Spec, mount: &Mount) -> Result<Maps, String> {
    if has_mappings(mount) {
        let uid = mount.uid_mappings().clone().unwrap_or_default();
        let gid = mount.gid_mappings().clone().unwrap_or_default();
        if uid.is_empty() || gid.is_empty() {
            let missing = if uid.is_empty() { "uid" } else { "gid" };
            return Err(format!(
                "{missing}Mappings: missing (an idmapped mount needs both uidMappings and gidMappings)"
            ));
        }
        return Ok((uid, gid));
    }
    let linux = spec.linux().as_ref();
    let new_userns = linux
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|l| {
            l.iter()
                .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none())
        });
    let uid = linux
        .and_then(|l| l.uid_mappings().clone())
        .unwrap_or_default();
    let gid = linux
        .and_then(|l| l.gid_mappings().clone())
        .unwrap_or_default();
    if !new_userns || uid.is_empty() || gid.is_empty() {
        return Err(
            "uidMappings: missing: \"idmap\"/\"ridmap\" without mappings of the mount's own \
                    take the container's linux.uidMappings and linux.gidMappings, and it has no \
                    user namespace of its own with both"
                .into(),
        );
    }
    Ok((uid, gid))
}

/// One map's ranges: 1 to 340 lines, none empty, none past 2^32, none overlapping another on
/// either side (the kernel refuses these too, but only once processes exist, and without
/// saying which line).
fn check_ranges(field: &str, maps: &[LinuxIdMapping]) -> Result<(), String> {
    if maps.len() > MAX_EXTENTS {
        return Err(format!(
            "{field}: {} ranges (the kernel takes at most {MAX_EXTENTS})",
            maps.len()
        ));
    }
    let end = |start: u32, m: &LinuxIdMapping| u64::from(start) + u64::from(m.size());
    for (i, m) in maps.iter().enumerate() {
        if m.size() == 0 {
            return Err(format!("{field}[{i}]: size is 0"));
        }
        if end(m.container_id(), m) > 1 << 32 || end(m.host_id(), m) > 1 << 32 {
            return Err(format!("{field}[{i}]: the range ends past 4294967295"));
        }
        for (j, o) in maps.iter().enumerate().take(i) {
            let overlap = |a: u32, b: u32| u64::from(a) < end(b, o) && u64::from(b) < end(a, m);
            if overlap(m.container_id(), o.container_id()) || overlap(m.host_id(), o.host_id()) {
                return Err(format!("{field}[{i}]: overlaps {field}[{j}]"));
            }
        }
    }
    Ok(())
}

fn check_entry(spec: &Spec, mount: &Mount, parsed: &options::MountOptions) -> Result<(), String> {
    if !parsed.is_bind() {
        return Err(
            "uidMappings, gidMappings, \"idmap\" and \"ridmap\" are only for bind mounts".into(),
        );
    }
    let (uid, gid) = mappings(spec, mount)?;
    check_ranges("uidMappings", &uid)?;
    check_ranges("gidMappings", &gid)
}

/// Checks every idmapped entry before anything exists (see `mappings`, `check_ranges`).
pub(super) fn validate(spec: &Spec) -> Result<(), RootfsError> {
    for (index, mount) in spec.mounts().iter().flatten().enumerate() {
        // A bad option is reported by the per-entry check that follows.
        let Ok(parsed) = options::parse(mount) else {
            continue;
        };
        if parsed.idmap.is_none() {
            continue;
        }
        check_entry(spec, mount, &parsed).map_err(|reason| RootfsError::InvalidMount {
            index,
            destination: mount.destination().display().to_string(),
            reason,
        })?;
    }
    Ok(())
}

/// The idmapped mounts made for the init, detached, by the index of their `mounts` entry.
#[derive(Debug, Default)]
pub struct IdmappedMounts {
    mounts: Vec<(usize, OwnedFd)>,
}

impl IdmappedMounts {
    /// Makes every idmapped mount `spec` asks for (none: nothing is done). Runs in the parent,
    /// on the host side, after `validate_mounts`; `bundle` resolves relative sources.
    pub fn prepare(spec: &Spec, bundle: &Path) -> Result<Self, RootfsError> {
        let mut made = IdmappedMounts::default();
        let mut userns: Vec<(Maps, OwnedFd)> = Vec::new();
        let mut proc = None;
        for (index, mount) in spec.mounts().iter().flatten().enumerate() {
            let parsed = options::parse(mount).map_err(|reason| RootfsError::InvalidMount {
                index,
                destination: mount.destination().display().to_string(),
                reason,
            })?;
            let Some(recursive) = parsed.idmap else {
                continue;
            };
            let ctx = Ctx::new(format!("mounts[{index}]"), mount.destination());
            if !nix::unistd::geteuid().is_root() {
                return Err(ctx.refuse(
                    "idmapped mounts need a runtime running as root: the kernel sets an \
                     idmapping only for a process privileged over the source's filesystem \
                     (not supported rootless, as with runc)"
                        .into(),
                ));
            }
            let maps = mappings(spec, mount).map_err(|r| ctx.refuse(r))?;
            let at = match userns.iter().position(|(m, _)| *m == maps) {
                Some(at) => at,
                None => {
                    let proc = match &mut proc {
                        Some(p) => p,
                        None => {
                            proc.insert(ProcRoot::new().map_err(ctx.fail("open a private procfs"))?)
                        }
                    };
                    let fd = mapped_userns(proc, &maps, &ctx)?;
                    userns.push((maps, fd));
                    userns.len() - 1
                }
            };
            let source = super::mounts::bind_source_in(mount, bundle);
            let rec = parsed.flags.contains(MsFlags::MS_REC);
            let fd = idmapped_clone(&source, &userns[at].1, rec, recursive, &ctx)?;
            made.mounts.push((index, fd));
        }
        Ok(made)
    }

    /// The fds, by entry index, for an exec'd init's plan.
    pub fn raw_fds(&self) -> Vec<(usize, RawFd)> {
        self.mounts
            .iter()
            .map(|(i, fd)| (*i, fd.as_raw_fd()))
            .collect()
    }

    /// What an exec'd init adopted from its plan.
    pub fn from_fds(mounts: Vec<(usize, OwnedFd)>) -> Self {
        IdmappedMounts { mounts }
    }

    pub(super) fn get(&self, index: usize) -> Option<&OwnedFd> {
        self.mounts
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, fd)| fd)
    }
}

/// A detached clone of `source` (with its submounts when `rec`), a slave of the host's mount,
/// idmapped with `userns`'s maps (every mount of the clone when `recursive`).
fn idmapped_clone(
    source: &Path,
    userns: &OwnedFd,
    rec: bool,
    recursive: bool,
    ctx: &Ctx,
) -> Result<OwnedFd, RootfsError> {
    let src = nix::fcntl::open(source, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(ctx.fail("open bind source"))?;
    let old_kernel = |op: &'static str| {
        move |e: Errno| match e {
            Errno::ENOSYS => ctx.refuse(format!(
                "idmapped mounts need the mount API of Linux 5.12 ({op}: ENOSYS)"
            )),
            e => ctx.fail(op)(e),
        }
    };
    let mnt =
        crate::sys::mount::clone_tree(&src, Path::new(""), rec).map_err(old_kernel("open_tree"))?;
    let slave = MsFlags::MS_SLAVE.bits();
    crate::sys::mount::setattr(&mnt, 0, 0, slave, true)
        .map_err(old_kernel("mount_setattr (slave)"))?;
    crate::sys::mount::set_idmap(&mnt, userns, recursive)
        .map_err(old_kernel("mount_setattr (MOUNT_ATTR_IDMAP)"))?;
    Ok(mnt)
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// A user namespace with `maps`: a child of ours is made in a new one and waits; we write
/// its maps, open its namespace, then kill and reap it (unreaped, its pid cannot name another
/// process meanwhile).
fn mapped_userns(proc: &ProcRoot, maps: &Maps, ctx: &Ctx) -> Result<OwnedFd, RootfsError> {
    let parent = nix::unistd::getpid();
    let pid =
        match clone_into(CloneFlags::CLONE_NEWUSER).map_err(ctx.fail("clone a user namespace"))? {
            Cloned::Child => wait_to_die(parent),
            Cloned::Parent(pid) => pid,
        };
    let result = (|| {
        let write = |file: &str, maps: &[LinuxIdMapping]| {
            proc.write(Path::new(&format!("{pid}/{file}")), &map_text(maps))
                .map_err(|e| ctx.fail("write the id maps of its user namespace")(errno_of(&e)))
        };
        write("uid_map", &maps.0)?;
        write("gid_map", &maps.1)?;
        let dir = proc
            .open(
                Path::new(&format!("{pid}/ns")),
                OFlag::O_PATH | OFlag::O_DIRECTORY,
            )
            .map_err(ctx.fail("open its user namespace"))?;
        openat(
            &dir,
            "user",
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(ctx.fail("open its user namespace"))
    })();
    let _ = kill(pid, Signal::SIGKILL);
    let _ = waitpid(pid, None);
    result
}

pub(super) fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// The child's whole life: async-signal-safe calls only (it is a fork), until SIGKILL; it
/// dies with us if we die first.
fn wait_to_die(parent: nix::unistd::Pid) -> ! {
    // SAFETY: prctl, getppid, pause and _exit are async-signal-safe and touch no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent.as_raw() {
            libc::_exit(0);
        }
        loop {
            libc::pause();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::spec::test_id_map as map;

    #[test]
    fn ranges_are_checked_naming_the_line() {
        check_ranges("uidMappings", &[map(0, 1000, 1), map(1, 2000, 10)]).unwrap();
        let err = |maps: &[LinuxIdMapping]| check_ranges("uidMappings", maps).unwrap_err();
        assert_eq!(err(&[map(0, 1000, 0)]), "uidMappings[0]: size is 0");
        assert!(err(&[map(0, u32::MAX, 2)]).starts_with("uidMappings[0]: the range ends"));
        assert_eq!(
            err(&[map(0, 1000, 10), map(5, 5000, 1)]),
            "uidMappings[1]: overlaps uidMappings[0]"
        );
        assert_eq!(
            err(&[map(0, 1000, 10), map(100, 1009, 1)]),
            "uidMappings[1]: overlaps uidMappings[0]"
        );
        let many: Vec<_> = (0..341).map(|i| map(i, i + 1000, 1)).collect();
        assert!(err(&many).contains("341 ranges"));
    }
}
