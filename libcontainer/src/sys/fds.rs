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
