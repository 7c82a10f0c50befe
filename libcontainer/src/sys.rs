//! Raw system calls that libc and nix do not wrap, each once, with the reasoning that makes
//! the `unsafe` sound. Their callers decide on fallbacks (an ENOSYS from an old kernel or a
//! seccomp profile comes back as the error). Gathered here so far: the pidfd calls,
//! close_range, keyctl and ioprio_set; the mount API, clone3, seccomp, sched_setattr and
//! execveat still live with their single callers.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// A new fd returned by a raw syscall, or the errno.
fn new_fd(r: libc::c_long) -> nix::Result<OwnedFd> {
    if r < 0 {
        return Err(nix::errno::Errno::last());
    }
    // SAFETY: the syscall just returned this fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

/// pidfd_open(2) (Linux 5.3): a close-on-exec fd that names process `pid` for as long as it is
/// open, even after the pid is reused; it becomes readable when the process exits.
pub fn pidfd_open(pid: i32) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags, touches no memory of ours, and returns a new
    // fd or -1.
    new_fd(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })
}

/// pidfd_getfd(2) (Linux 5.6): a close-on-exec copy of fd number `fd` of the process `pidfd`
/// names (needs ptrace access to it).
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, fd: i32) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_getfd takes a pidfd, an fd number and flags, touches no memory of ours,
    // and returns a new fd or -1.
    new_fd(unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) })
}

/// close_range(first, u32::MAX, CLOSE_RANGE_CLOEXEC) (Linux 5.11): every fd from `first` on
/// closes on exec. Async-signal-safe (one syscall, no allocation).
pub fn cloexec_from(first: u32) -> nix::Result<()> {
    // SAFETY: with CLOSE_RANGE_CLOEXEC the kernel only sets fd flags; no memory is touched.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r != 0 {
        return Err(nix::errno::Errno::last());
    }
    Ok(())
}

/// close_range(first, u32::MAX, 0) (Linux 5.9): closes every fd from `first` on, for a process
/// that goes on without an execve to do it.
pub fn close_from(first: u32) -> nix::Result<()> {
    // SAFETY: the kernel only closes fds; the caller owns no fd in that range any more.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) };
    result(r).map(drop)
}

/// A syscall's integer result, or the errno.
fn result(r: libc::c_long) -> nix::Result<libc::c_long> {
    if r < 0 {
        return Err(nix::errno::Errno::last());
    }
    Ok(r)
}

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
const KEYCTL_SETPERM: libc::c_long = 5;
const KEYCTL_DESCRIBE: libc::c_long = 6;

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): joins a new session keyring; its serial.
pub fn keyctl_join_session_keyring(name: &std::ffi::CStr) -> nix::Result<libc::c_long> {
    // SAFETY: the kernel reads the NUL-terminated name only, which outlives the call.
    result(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) })
}

/// keyctl(KEYCTL_SETPERM, serial, perm).
pub fn keyctl_setperm(serial: libc::c_long, perm: u32) -> nix::Result<()> {
    // SAFETY: integers only.
    result(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, serial, perm) }).map(drop)
}

/// keyctl(KEYCTL_DESCRIBE, serial, buf): the description's full length (it may exceed `buf`,
/// of which only `buf.len()` bytes are written).
pub fn keyctl_describe(serial: libc::c_long, buf: &mut [u8]) -> nix::Result<usize> {
    // SAFETY: the kernel writes at most buf.len() bytes into buf, which outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_DESCRIBE,
            serial,
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    result(r).map(|n| n as usize)
}

/// ioprio_set(IOPRIO_WHO_PROCESS, 0, value): this process's I/O priority.
pub fn ioprio_set_self(value: i64) -> nix::Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    // SAFETY: integers only.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    result(r).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn takes_a_copy_of_our_own_fd() {
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        let pidfd = pidfd_open(std::process::id() as i32).unwrap();
        let copy = pidfd_getfd(pidfd.as_fd(), file.as_raw_fd()).unwrap();
        let link = std::fs::read_link(format!("/proc/self/fd/{}", copy.as_raw_fd())).unwrap();
        assert!(link.ends_with("stat"), "{link:?}");
        assert_eq!(pidfd_open(-1).unwrap_err(), nix::errno::Errno::EINVAL);
    }
}
