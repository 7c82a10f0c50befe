//! `process.user`: uid, gid, additionalGids, umask — the init's change of identity.

use nix::sys::stat::{umask, Mode};
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::User;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("process.user.{field}: {reason}")]
    Set { field: &'static str, reason: String },
}

fn err(field: &'static str, reason: impl Into<String>) -> IdentityError {
    IdentityError::Set {
        field,
        reason: reason.into(),
    }
}

const DEFAULT_UMASK: u32 = 0o022;

/// setgroups (unless the user namespace forbids it and no additionalGids were asked), chown of
/// stdio to the uid, setresgid, setresuid with PR_SET_KEEPCAPS so
/// `capabilities::apply_capabilities` can still set the sets afterwards, and umask (default
/// 0022).
pub fn set_identity(user: &User, setgroups_allowed: bool) -> Result<(), IdentityError> {
    let mask = user.umask().unwrap_or(DEFAULT_UMASK);
    // Checked first so a bad mask fails before the process has changed anything.
    if mask & !0o777 != 0 {
        return Err(err("umask", format!("{mask:#o} has bits outside 0777")));
    }
    // Checked at create and exec already; kept here because an id above INT32_MAX is -1 to
    // the set*id calls, which would leave this process root without an error.
    for (field, id) in [("uid", user.uid()), ("gid", user.gid())] {
        crate::spec::check_id(id).map_err(|r| err(field, r))?;
    }
    for gid in user.additional_gids().iter().flatten() {
        crate::spec::check_id(*gid).map_err(|r| err("additionalGids", r))?;
    }
    let extra: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    if setgroups_allowed {
        // An empty list still clears the supplementary groups berth itself was started with.
        setgroups(&extra).map_err(|e| err("additionalGids", format!("setgroups: {}", e.desc())))?;
    } else if !extra.is_empty() {
        return Err(err(
            "additionalGids",
            "the user namespace denies setgroups (setgroups is \"deny\")",
        ));
    }
    chown_stdio(user.uid())?;
    let gid = Gid::from_raw(user.gid());
    setresgid(gid, gid, gid).map_err(|e| err("gid", unmapped_hint(user.gid(), e)))?;
    set_uid_keeping_caps(user.uid())?;
    umask(Mode::from_bits_retain(mask));
    Ok(())
}

/// Gives the container's user its stdio (the pty slave, or pipes) as runc does, so that
/// reopening it (e.g. `> /dev/stdout`, which goes through /proc/self/fd) works for a non-root
/// user. /dev/null and stdio already owned by the user are left alone; only the owner changes.
fn chown_stdio(uid: u32) -> Result<(), IdentityError> {
    let null = nix::sys::stat::stat("/dev/null").ok();
    for fd in 0..=2 {
        // SAFETY: 0..=2 stay open for the whole call; nothing closes them concurrently.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let Ok(st) = nix::sys::stat::fstat(fd) else {
            continue;
        }; // closed stdio: nothing to do
        let is_null = null.is_some_and(|n| n.st_rdev == st.st_rdev && st.st_rdev != 0);
        if st.st_uid == uid || is_null {
            continue;
        }
        match nix::unistd::fchown(fd, Some(Uid::from_raw(uid)), None) {
            // The owner may be unmapped in the user namespace (EINVAL/EPERM) or /dev read-only:
            // the user can still use the open fds, so this is not worth failing the container.
            Ok(()) | Err(nix::Error::EINVAL | nix::Error::EPERM | nix::Error::EROFS) => {}
            Err(e) => {
                return Err(err(
                    "uid",
                    format!("chown of stdio fd {fd:?}: {}", e.desc()),
                ))
            }
        }
    }
    Ok(())
}

/// A uid change from 0 clears the permitted set unless PR_SET_KEEPCAPS is on; the flag is
/// reset right after so it does not leak into the container's program.
fn set_uid_keeping_caps(uid: u32) -> Result<(), IdentityError> {
    nix::sys::prctl::set_keepcaps(true)
        .map_err(|e| err("uid", format!("prctl(PR_SET_KEEPCAPS): {}", e.desc())))?;
    let u = Uid::from_raw(uid);
    setresuid(u, u, u).map_err(|e| err("uid", unmapped_hint(uid, e)))?;
    nix::sys::prctl::set_keepcaps(false)
        .map_err(|e| err("uid", format!("prctl(PR_SET_KEEPCAPS): {}", e.desc())))
}

fn unmapped_hint(id: u32, e: nix::Error) -> String {
    if e == nix::Error::EINVAL {
        format!("{id} is not mapped in the container's user namespace")
    } else {
        format!("{id}: {}", e.desc())
    }
}

// Shared by the other process-attribute modules' tests; lives here because a test-only
// module may be declared only once.
#[cfg(test)]
#[path = "test_fork.rs"]
pub(crate) mod test_fork;

#[cfg(test)]
mod tests {
    use super::*;
    use nix::unistd::{getgroups, getresgid, getresuid};
    use oci_spec::runtime::UserBuilder;
    use std::os::fd::AsRawFd;

    fn current_umask() -> u32 {
        let old = umask(Mode::from_bits_retain(0o077));
        umask(old);
        old.bits()
    }

    #[test]
    fn sets_ids_groups_umask_and_keeps_permitted_caps() {
        test_fork::in_child(|| {
            let user = UserBuilder::default()
                .uid(1000u32)
                .gid(1001u32)
                .additional_gids(vec![5u32, 7])
                .umask(0o027u32)
                .build()
                .unwrap();
            set_identity(&user, true).map_err(|e| e.to_string())?;
            let r = getresuid().map_err(|e| e.to_string())?;
            if [r.real, r.effective, r.saved] != [Uid::from_raw(1000); 3] {
                return Err(format!("uids {r:?}"));
            }
            let g = getresgid().map_err(|e| e.to_string())?;
            if [g.real, g.effective, g.saved] != [Gid::from_raw(1001); 3] {
                return Err(format!("gids {g:?}"));
            }
            let groups = getgroups().map_err(|e| e.to_string())?;
            if groups != vec![Gid::from_raw(5), Gid::from_raw(7)] {
                return Err(format!("groups {groups:?}"));
            }
            if current_umask() != 0o027 {
                return Err(format!("umask {:o}", current_umask()));
            }
            let permitted = caps::read(None, caps::CapSet::Permitted).map_err(|e| e.to_string())?;
            if !permitted.contains(&caps::Capability::CAP_SETPCAP) {
                return Err("permitted caps were lost across the uid change".into());
            }
            if nix::sys::prctl::get_keepcaps().map_err(|e| e.to_string())? {
                return Err("PR_SET_KEEPCAPS left on".into());
            }
            Ok(())
        });
    }

    #[test]
    fn stdio_is_handed_to_the_user_except_dev_null() {
        test_fork::in_child(|| {
            let (_rd, wr) = nix::unistd::pipe().map_err(|e| e.to_string())?;
            let null = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
            // SAFETY: plain dup2 onto this child's own stdio numbers.
            unsafe {
                libc::dup2(null.as_raw_fd(), 0);
                libc::dup2(wr.as_raw_fd(), 1);
            }
            let user = UserBuilder::default()
                .uid(1000u32)
                .gid(1000u32)
                .build()
                .unwrap();
            set_identity(&user, true).map_err(|e| e.to_string())?;
            let uid_of = |fd| {
                // SAFETY: fds 0 and 1 are open in this child.
                let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
                nix::sys::stat::fstat(fd)
                    .map(|s| s.st_uid)
                    .unwrap_or(u32::MAX)
            };
            if uid_of(1) != 1000 || uid_of(0) != 0 {
                return Err(format!(
                    "stdout owner {}, stdin owner {}",
                    uid_of(1),
                    uid_of(0)
                ));
            }
            Ok(())
        });
    }

    #[test]
    fn default_umask_and_empty_groups() {
        test_fork::in_child(|| {
            setgroups(&[Gid::from_raw(9)]).map_err(|e| e.to_string())?;
            umask(Mode::from_bits_retain(0o077));
            let user = UserBuilder::default().build().unwrap();
            set_identity(&user, true).map_err(|e| e.to_string())?;
            if !getgroups().map_err(|e| e.to_string())?.is_empty() {
                return Err("supplementary groups not cleared".into());
            }
            if current_umask() != 0o022 {
                return Err(format!("umask {:o}", current_umask()));
            }
            Ok(())
        });
    }

    #[test]
    fn setgroups_denied() {
        test_fork::in_child(|| {
            // Without additionalGids the groups are left alone.
            setgroups(&[Gid::from_raw(9)]).map_err(|e| e.to_string())?;
            let user = UserBuilder::default().build().unwrap();
            set_identity(&user, false).map_err(|e| e.to_string())?;
            if getgroups().map_err(|e| e.to_string())? != vec![Gid::from_raw(9)] {
                return Err("groups changed although setgroups is denied".into());
            }
            let user = UserBuilder::default()
                .additional_gids(vec![3u32])
                .build()
                .unwrap();
            let e = set_identity(&user, false)
                .expect_err("must fail")
                .to_string();
            if !e.starts_with("process.user.additionalGids: ") {
                return Err(e);
            }
            Ok(())
        });
    }

    #[test]
    fn bad_umask_is_rejected_before_any_change() {
        let user = UserBuilder::default()
            .uid(1234u32)
            .umask(0o1777u32)
            .build()
            .unwrap();
        let e = set_identity(&user, true).unwrap_err().to_string();
        assert_eq!(e, "process.user.umask: 0o1777 has bits outside 0777");
        assert_ne!(nix::unistd::getuid().as_raw(), 1234);
    }
}
