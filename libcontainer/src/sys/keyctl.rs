//! keyctl(2), the three commands the container's session keyring needs.

use super::result;

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
const KEYCTL_SETPERM: libc::c_long = 5;
const KEYCTL_DESCRIBE: libc::c_long = 6;

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): joins a new session keyring; its serial. On
/// ENOSYS (a kernel without keys) the caller goes on: there is nothing to isolate.
pub fn join_session_keyring(name: &std::ffi::CStr) -> nix::Result<libc::c_long> {
    // SAFETY: the kernel reads the NUL-terminated name only, which outlives the call.
    result(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) })
}

/// keyctl(KEYCTL_SETPERM, serial, perm).
pub fn setperm(serial: libc::c_long, perm: u32) -> nix::Result<()> {
    // SAFETY: integers only.
    result(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, serial, perm) }).map(drop)
}

/// keyctl(KEYCTL_DESCRIBE, serial, buf): the description's full length (it may exceed `buf`,
/// of which only `buf.len()` bytes are written).
pub fn describe(serial: libc::c_long, buf: &mut [u8]) -> nix::Result<usize> {
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
