//! close_range(2) (Linux 5.9; CLOSE_RANGE_CLOEXEC 5.11).

/// close_range(first, u32::MAX, CLOSE_RANGE_CLOEXEC): every fd from `first` on closes on
/// exec. Async-signal-safe (one syscall, no allocation). No fallback: on ENOSYS or EINVAL
/// the caller fails, since leaving an fd of berth's open in the container is not an option.
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
    super::result(r).map(drop)
}

/// close_range(first, u32::MAX, 0) (Linux 5.9): closes every fd from `first` on, for a process
/// that goes on without an execve to close them (an executor's function). No fallback, as
/// above.
pub fn close_from(first: u32) -> nix::Result<()> {
    // SAFETY: the kernel only closes fds; the caller owns no fd in that range any more (it
    // never returns to code that would use or close them).
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) };
    super::result(r).map(drop)
}
