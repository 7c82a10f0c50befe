//! CVE-2019-5736: no process berth puts into a container may reach the host's berth binary
//! as a writable file.
//!
//! Every process berth starts in a container is a clone of the running berth, so until its
//! execve its `/proc/<pid>/exe` is berth's executable, and a program named `/proc/self/exe`
//! (or a `#!/proc/self/exe` script) makes the kernel run that executable again inside the
//! container, dumpable. So the commands that start container processes first make sure the
//! running executable is not the host file: [`ensure_sealed_exe`] re-execs once from a
//! read-only view of the same file, a detached bind mount of just that file made with
//! `open_tree(OPEN_TREE_CLONE)` and `mount_setattr(MOUNT_ATTR_RDONLY)`. Once the fd that
//! holds it is closed (by the exec), the mount is dissolved: no path reaches it, so no one can
//! remount it read-write, and every reopen of the file through it (`/proc/<pid>/exe`,
//! `/proc/self/fd/N`) is EROFS. It shares the host file's page cache, so it costs no memory.
//! Where the kernel lacks those calls or refuses them (EPERM in an unprivileged or seccomp'd
//! caller), a sealed memfd copy does the same job at the cost of a copy.
//!
//! A read-only host mount is not enough: an fd the container keeps on it becomes writable the
//! day the host remounts it read-write. So "sealed" is a detached read-only mount or a memfd
//! carrying the write seals, read from the state of `/proc/self/exe` itself: no marker.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use crate::sys::mount;
use nix::fcntl::{fcntl, FcntlArg, SealFlag};

const SELF_EXE: &str = "/proc/self/exe";

/// The seals a memfd copy must carry: no write, no resize, and no way to lift them.
const MEMFD_SEALS: SealFlag = SealFlag::F_SEAL_SEAL
    .union(SealFlag::F_SEAL_SHRINK)
    .union(SealFlag::F_SEAL_GROW)
    .union(SealFlag::F_SEAL_WRITE);

/// The program's executable could not be checked or sealed (see [`crate::ensure_sealed_exe`]).
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Reading what /proc/self/exe is failed.
    #[error("{SELF_EXE}: {step}: {err}")]
    Inspect {
        /// The step that failed.
        step: &'static str,
        /// The underlying error.
        err: io::Error,
    },
    /// Making the sealed copy, or re-executing it, failed.
    #[error("sealing {SELF_EXE} (CVE-2019-5736): {step}: {err}")]
    Seal {
        /// The step that failed.
        step: &'static str,
        /// The underlying error.
        err: io::Error,
    },
    /// The view made to exec from did not pass the check; exec'ing it would loop.
    #[error("sealing {SELF_EXE} (CVE-2019-5736): the {0} made of it is not sealed")]
    ViewNotSealed(&'static str),
    /// We were re-exec'd from an fd and the executable is still the writable file.
    #[error(
        "{SELF_EXE} is still a writable file after re-exec'ing from a sealed view \
         (CVE-2019-5736): refusing to start container processes from it"
    )]
    StillWritable,
    /// A library caller starts container processes without having sealed its executable.
    #[error(
        "the running executable ({SELF_EXE}) is the writable host file: a container could \
         overwrite it (CVE-2019-5736); call libcontainer::ensure_sealed_exe() first thing in main"
    )]
    NotSealed,
}

fn inspect(step: &'static str) -> impl FnOnce(io::Error) -> SealError {
    move |err| SealError::Inspect { step, err }
}

fn seal(step: &'static str) -> impl FnOnce(io::Error) -> SealError {
    move |err| SealError::Seal { step, err }
}

/// Makes sure the running executable is a sealed view of itself, re-exec'ing (same argv,
/// same environment, same pid and fds) at most once to get there. Call it first thing in the
/// `main` of a program that creates containers or execs into them, before it opens any file or
/// starts a thread: on success it either returns at once (already sealed) or never returns
/// (the program starts again, sealed). [`ContainerBuilder::create`](crate::ContainerBuilder)
/// and [`Container::exec`](crate::Container::exec) refuse to run without it.
///
/// A program that finds itself exec'd from an fd (AT_EXECFN `/dev/fd/N`) and still not sealed
/// fails with [`SealError::StillWritable`] instead of re-exec'ing: that is what keeps this
/// from looping, so a launcher that `fexecve`s berth must hand it a sealed file.
pub fn ensure_sealed_exe() -> Result<(), SealError> {
    let exe = File::open(SELF_EXE).map_err(inspect("open"))?;
    if is_sealed(exe.as_fd())? {
        if reexeced_from_fd() {
            restore_comm();
        }
        return Ok(());
    }
    if reexeced_from_fd() {
        return Err(SealError::StillWritable);
    }
    drop(exe);
    let view = sealed_view()?;
    Err(reexec(view.as_fd()))
}

/// The read-only view, or the memfd copy where the kernel lacks the mount API (ENOSYS) or the
/// caller may not use it (EPERM: no CAP_SYS_ADMIN, or a seccomp profile refusing it).
fn sealed_view() -> Result<OwnedFd, SealError> {
    let exe = File::open(SELF_EXE).map_err(inspect("open"))?;
    sealed_view_of(exe.as_fd())
}

/// A sealed view of the open file `file` (an executable the container's process will run:
/// berth's own, or a host loader of `Executor::host_program`).
pub(crate) fn sealed_view_of(file: BorrowedFd) -> Result<OwnedFd, SealError> {
    // Through our own fd, not the path, so the view is of the file that was checked.
    match read_only_view(&format!("/proc/self/fd/{}", file.as_raw_fd())) {
        Err(SealError::Seal { err, .. })
            if matches!(err.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) =>
        {
            memfd_copy(file)
        }
        other => other,
    }
}

/// Ok if the running executable is sealed, [`SealError::NotSealed`] if not.
pub fn check_sealed_exe() -> Result<(), SealError> {
    let exe = File::open(SELF_EXE).map_err(inspect("open"))?;
    if is_sealed(exe.as_fd())? {
        Ok(())
    } else {
        Err(SealError::NotSealed)
    }
}

/// A memfd carrying every write seal, or a file on a read-only mount that no path reaches.
/// The kernel names the root of a detached mount "/", which no attached regular file can be.
fn is_sealed(file: BorrowedFd) -> Result<bool, SealError> {
    // EINVAL for anything but a memfd.
    if let Ok(seals) = fcntl(file, FcntlArg::F_GET_SEALS) {
        if SealFlag::from_bits_truncate(seals).contains(MEMFD_SEALS) {
            return Ok(true);
        }
    }
    let vfs = nix::sys::statvfs::fstatvfs(file).map_err(|e| inspect("fstatvfs")(e.into()))?;
    if !vfs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return Ok(false);
    }
    let link = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .map_err(inspect("readlink"))?;
    Ok(link.as_os_str() == "/")
}

/// The kernel tells a program how it was exec'd: AT_EXECFN is `/dev/fd/N` after
/// `execveat(fd, "", AT_EMPTY_PATH)`, which is how [`reexec`] runs the sealed view.
fn reexeced_from_fd() -> bool {
    // SAFETY: getauxval reads the auxiliary vector; AT_EXECFN points into our own stack, a
    // NUL-terminated string the kernel wrote at exec.
    let name = unsafe { libc::getauxval(libc::AT_EXECFN) } as *const libc::c_char;
    // SAFETY: non-null AT_EXECFN is a valid C string for the life of the process.
    !name.is_null()
        && unsafe { std::ffi::CStr::from_ptr(name) }
            .to_bytes()
            .starts_with(b"/dev/fd/")
}

/// Older kernels name a process exec'd from an fd after the fd's number ("3"; 6.18 uses the
/// file's name); give it back the name it had, so `ps` and `pgrep berth` still find it.
fn restore_comm() {
    if let Some(arg0) = std::env::args_os().next() {
        let base = std::path::Path::new(&arg0)
            .file_name()
            .unwrap_or(OsStr::new("berth"));
        if let Ok(name) = CString::new(&base.as_bytes()[..base.len().min(15)]) {
            let _ = nix::sys::prctl::set_name(&name);
        }
    }
}

/// A detached read-only bind mount of just the file `path` (the executable), as an fd.
fn read_only_view(path: &str) -> Result<OwnedFd, SealError> {
    let view =
        mount::clone_file(std::path::Path::new(path)).map_err(|e| seal("open_tree")(e.into()))?;
    mount::setattr(&view, libc::MOUNT_ATTR_RDONLY, 0, 0, false)
        .map_err(|e| seal("mount_setattr")(e.into()))?;
    if !is_sealed(view.as_fd())? {
        return Err(SealError::ViewNotSealed("read-only bind mount"));
    }
    Ok(view)
}

/// A sealed memfd copy of `file` (kernels without the mount API, unprivileged callers).
fn memfd_copy(file: BorrowedFd) -> Result<OwnedFd, SealError> {
    use nix::sys::memfd::{memfd_create, MFdFlags};
    let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    // MFD_EXEC (6.3) keeps the copy executable where vm.memfd_noexec=1 would make it noexec.
    let memfd = match memfd_create(c"berth", flags | MFdFlags::from_bits_retain(libc::MFD_EXEC)) {
        Err(nix::errno::Errno::EINVAL) => memfd_create(c"berth", flags),
        other => other,
    }
    .map_err(|e| seal("memfd_create")(e.into()))?;
    let mut copy = File::from(memfd);
    // From the start whatever the shared offset: a reopen through our own fd.
    let mut exe =
        File::open(format!("/proc/self/fd/{}", file.as_raw_fd())).map_err(inspect("reopen"))?;
    // std's copy is copy_file_range/sendfile between two files: no bytes through user space.
    io::copy(&mut exe, &mut copy).map_err(seal("copy into memfd"))?;
    fcntl(&copy, FcntlArg::F_ADD_SEALS(MEMFD_SEALS)).map_err(|e| seal("F_ADD_SEALS")(e.into()))?;
    if !is_sealed(copy.as_fd())? {
        return Err(SealError::ViewNotSealed("memfd copy"));
    }
    Ok(copy.into())
}

/// execveat(view, "", AT_EMPTY_PATH) with our own argv and environment; returns only on error.
fn reexec(view: BorrowedFd) -> SealError {
    let argv: Vec<CString> = std::env::args_os()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    seal("execveat")(crate::sys::exec::execveat_with_environ(view, &argv).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The unit-test binary runs from a writable file: not sealed, and the check says why.
    #[test]
    fn a_writable_executable_is_not_sealed() {
        let exe = File::open(SELF_EXE).unwrap();
        assert!(!is_sealed(exe.as_fd()).unwrap());
        let err = check_sealed_exe().unwrap_err();
        assert!(err.to_string().contains("ensure_sealed_exe"), "{err}");
    }

    /// The read-only view passes the same check the re-exec'd process makes (what makes the
    /// single re-exec enough), refuses writes, and once its fd is closed (as the exec does)
    /// an fd kept on the file still cannot be reopened for writing, nor the mount made
    /// writable again: the container's attack, on a scratch file (the test binary itself
    /// would answer ETXTBSY first).
    #[test]
    fn the_read_only_view_is_sealed_and_stays_read_only() {
        let path = std::env::temp_dir().join(format!("berth-seal-test-{}", std::process::id()));
        std::fs::write(&path, b"binary").unwrap();
        let view = read_only_view(path.to_str().unwrap()).unwrap();
        assert!(is_sealed(view.as_fd()).unwrap());
        let kept = File::open(format!("/proc/self/fd/{}", view.as_raw_fd())).unwrap();
        drop(view);
        let reopen = format!("/proc/self/fd/{}", kept.as_raw_fd());
        let err = std::fs::OpenOptions::new()
            .append(true)
            .open(&reopen)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
        // What an attacker would try on the dissolved view: clear MOUNT_ATTR_RDONLY.
        let err = mount::setattr(&kept, 0, libc::MOUNT_ATTR_RDONLY, 0, false).unwrap_err();
        assert_eq!(err, nix::errno::Errno::EINVAL);
        std::fs::remove_file(&path).unwrap();
    }

    /// Without the mount API (open_tree refused with ENOSYS, as before Linux 5.2 or under a
    /// seccomp profile), the view is the memfd copy.
    #[test]
    fn falls_back_to_a_memfd_without_open_tree() {
        crate::identity::test_fork::in_child(|| {
            crate::identity::test_fork::refuse_with_enosys(libc::SYS_open_tree)?;
            let view = sealed_view().map_err(|e| e.to_string())?;
            let seals = fcntl(&view, FcntlArg::F_GET_SEALS).map_err(|e| e.to_string())?;
            if !SealFlag::from_bits_truncate(seals).contains(MEMFD_SEALS) {
                return Err(format!("not a sealed memfd: seals {seals:#x}"));
            }
            Ok(())
        });
    }

    /// The fallback: a memfd copy with the write seals, which refuses writes too.
    #[test]
    fn the_memfd_copy_is_sealed_and_refuses_writes() {
        let exe = File::open(SELF_EXE).unwrap();
        let copy = memfd_copy(exe.as_fd()).unwrap();
        assert!(is_sealed(copy.as_fd()).unwrap());
        let mut file = File::from(copy);
        let err = io::Write::write(&mut file, b"x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
    }
}
