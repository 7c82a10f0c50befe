//! The container's own session keyring, as runc gives every container unless
//! `--no-new-keyring`: keys a container adds (kerberos tickets, fscrypt keys...) stay out of the
//! session keyring of whoever ran berth, and the host's keys stay out of the container's reach.

use std::ffi::CString;

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
const KEYCTL_SETPERM: libc::c_long = 5;
const KEYCTL_DESCRIBE: libc::c_long = 6;
/// KEY_USR_SEARCH: the process may search the keyring after it changes to the container's uid.
const USR_SEARCH: u32 = 0x0008_0000;

/// Joins a new anonymous-named session keyring `_ses.<id>`. A kernel without keys (ENOSYS)
/// simply has nothing to isolate.
pub(super) fn join_session_keyring(id: &str) -> Result<(), String> {
    let name =
        CString::new(format!("_ses.{id}")).map_err(|_| "session keyring: bad id".to_string())?;
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, name) reads the NUL-terminated name only.
    let serial =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if serial < 0 {
        let e = nix::errno::Errno::last();
        return match e {
            nix::errno::Errno::ENOSYS => Ok(()),
            e => Err(format!(
                "join a session keyring (--no-new-keyring avoids it): {}",
                e.desc()
            )),
        };
    }
    let perm = keyring_perm(serial).ok_or("session keyring: cannot read its permissions")?;
    // SAFETY: keyctl(SETPERM, serial, perm) takes integers only.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, serial, perm | USR_SEARCH) };
    if r < 0 {
        return Err(format!(
            "session keyring permissions: {}",
            nix::errno::Errno::last().desc()
        ));
    }
    Ok(())
}

/// The permission mask from KEYCTL_DESCRIBE's "type;uid;gid;perm;description".
fn keyring_perm(serial: libc::c_long) -> Option<u32> {
    let mut buf = [0u8; 512];
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    let n = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_DESCRIBE,
            serial,
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    let n = usize::try_from(n).ok()?.min(buf.len());
    let text = std::str::from_utf8(&buf[..n]).ok()?.trim_end_matches('\0');
    u32::from_str_radix(text.split(';').nth(3)?, 16).ok()
}
