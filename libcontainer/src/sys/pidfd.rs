//! pidfds: an fd that names one process for as long as it is open, even after its pid is
//! reused (pidfd_open 5.3, pidfd_send_signal 5.1, pidfd_getfd 5.6).

use super::{new_fd, result};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// pidfd_open(2): a close-on-exec pidfd for `pid`; it becomes readable when the process
/// exits. On ENOSYS the callers fall back where they can: `kill` checks the init's start time
/// and uses kill(2), the hooks poll without it; a seccomp listener hand-over fails.
pub fn open(pid: i32) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags, touches no memory of ours, and returns a new
    // fd or -1.
    new_fd(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })
}

/// pidfd_getfd(2): a close-on-exec copy of fd number `fd` of the process `pidfd` names (needs
/// ptrace access to it). No fallback: the seccomp listener hand-over fails with the errno.
pub fn getfd(pidfd: BorrowedFd<'_>, fd: i32) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_getfd takes a pidfd, an fd number and flags, touches no memory of ours,
    // and returns a new fd or -1.
    new_fd(unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) })
}

/// pidfd_send_signal(2) with no siginfo: signal `signo` (0: only check that it could be
/// signalled) to the process `pidfd` names; ESRCH once it has exited. Older than pidfd_open,
/// so a caller holding a pidfd never sees ENOSYS.
pub fn send_signal(pidfd: BorrowedFd<'_>, signo: i32) -> nix::Result<()> {
    // SAFETY: a pidfd, a signal number, a NULL siginfo (the kernel fills in its own) and no
    // flags: no memory of ours is read or written.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signo,
            0usize,
            0,
        )
    };
    result(r).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn takes_a_copy_of_our_own_fd() {
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        let pidfd = open(std::process::id() as i32).unwrap();
        let copy = getfd(pidfd.as_fd(), file.as_raw_fd()).unwrap();
        let link = std::fs::read_link(format!("/proc/self/fd/{}", copy.as_raw_fd())).unwrap();
        assert!(link.ends_with("stat"), "{link:?}");
        assert_eq!(open(-1).unwrap_err(), nix::errno::Errno::EINVAL);
    }
}
