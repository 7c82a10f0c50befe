//! execveat(2) (Linux 3.19) of the file an fd is open on, with an empty path. libc's fexecve
//! is not used: glibc falls back to exec'ing `/proc/self/fd/N` on ENOSYS, a path resolved in
//! whatever /proc the process sees, which in a container is the container's to shape.

use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd};

/// execveat(fd, "", argv, envp, AT_EMPTY_PATH): runs the file `fd` is open on. Returns only on
/// failure, with the errno; the caller reports it (no fallback: an fd cannot be exec'd another
/// way without a path).
///
/// Async-signal-safe (one syscall and a read of errno; no allocation, no lock), so the child of
/// a clone may call it even when the parent had other threads.
///
/// # Safety
/// `argv` and `envp` must each point to a NULL-terminated array of pointers to NUL-terminated
/// strings, all valid until the call returns.
pub unsafe fn execveat_empty_path(
    fd: BorrowedFd<'_>,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
) -> Errno {
    // SAFETY: `fd` is open (borrowed), the path is a static empty C string, and the caller
    // vouches for `argv` and `envp`. On success the process image is replaced.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv,
            envp,
            libc::AT_EMPTY_PATH,
        )
    };
    Errno::last()
}

extern "C" {
    static environ: *const *const libc::c_char;
}

/// [`execveat_empty_path`] with `argv` and the process's own environment as it has it (Rust's
/// view of it drops entries without '='). Allocates: for `main`, not for the child of a clone.
pub fn execveat_with_environ(fd: BorrowedFd<'_>, argv: &[CString]) -> Errno {
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: `ptrs` is a NULL-terminated array of C strings that outlive the call;
    // `environ` is the process's own NULL-terminated environment, which nothing changes while
    // we read it (the caller runs before any thread starts: see ensure_sealed_exe).
    unsafe { execveat_empty_path(fd, ptrs.as_ptr(), environ) }
}
