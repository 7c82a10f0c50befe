//! The container's own session keyring, as runc gives every container unless
//! `--no-new-keyring`: keys a container adds (kerberos tickets, fscrypt keys...) stay out of the
//! session keyring of whoever ran berth, and the host's keys stay out of the container's reach.

use std::ffi::CString;

/// KEY_USR_SEARCH: the process may search the keyring after it changes to the container's uid.
const USR_SEARCH: u32 = 0x0008_0000;

/// Joins a new anonymous-named session keyring `_ses.<id>`. A kernel without keys (ENOSYS)
/// simply has nothing to isolate.
pub(super) fn join_session_keyring(id: &str) -> Result<(), String> {
    let name =
        CString::new(format!("_ses.{id}")).map_err(|_| "session keyring: bad id".to_string())?;
    let serial = match crate::sys::keyctl::join_session_keyring(&name) {
        Ok(serial) => serial,
        Err(nix::errno::Errno::ENOSYS) => return Ok(()),
        Err(e) => {
            return Err(format!(
                "join a session keyring (--no-new-keyring avoids it): {}",
                e.desc()
            ))
        }
    };
    let perm = keyring_perm(serial).ok_or("session keyring: cannot read its permissions")?;
    crate::sys::keyctl::setperm(serial, perm | USR_SEARCH)
        .map_err(|e| format!("session keyring permissions: {}", e.desc()))
}

/// The permission mask from KEYCTL_DESCRIBE's "type;uid;gid;perm;description".
fn keyring_perm(serial: libc::c_long) -> Option<u32> {
    let mut buf = [0u8; 512];
    let n = crate::sys::keyctl::describe(serial, &mut buf)
        .ok()?
        .min(buf.len());
    let text = std::str::from_utf8(&buf[..n]).ok()?.trim_end_matches('\0');
    u32::from_str_radix(text.split(';').nth(3)?, 16).ok()
}
