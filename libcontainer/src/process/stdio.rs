//! The caller's stdio fds for the container's process (`Stdio` of the container layer): each is
//! duplicated in the parent, before the clone, to a close-on-exec number above 0..2 and the
//! `--preserve-fds` range, so the child side only `dup2`s them onto 0, 1 and 2 (async-signal-
//! safe: no allocation, no lock). The copies themselves close at the execve.
//!
//! Kept apart from `fds` on purpose: the only hook into the child is `install_stdio`, called
//! where the console would be installed (the two exclude each other).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The duplicates, in fd order (0, 1, 2); `None` leaves that fd as inherited.
#[derive(Debug, Default)]
pub struct PreparedStdio([Option<OwnedFd>; 3]);

/// Duplicates each given fd to a close-on-exec number at or above `3 + preserve_fds` (after
/// `reserve_preserved_fds`, the range below is full, so the duplicate lands above it).
pub fn prepare_stdio(
    fds: [Option<&OwnedFd>; 3],
    preserve_fds: u32,
) -> std::io::Result<PreparedStdio> {
    let above = RawFd::try_from(3 + u64::from(preserve_fds)).unwrap_or(RawFd::MAX);
    let mut out: [Option<OwnedFd>; 3] = Default::default();
    for (slot, fd) in out.iter_mut().zip(fds) {
        let Some(fd) = fd else { continue };
        // SAFETY: F_DUPFD_CLOEXEC makes a new fd at the lowest free number >= `above`.
        let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, above) };
        if dup < 0 {
            let e = std::io::Error::last_os_error();
            // EINVAL: `above` is at or over RLIMIT_NOFILE, so every number this fd could take
            // is in the preserved range, which the container gets: refuse rather than leak it.
            return Err(match e.raw_os_error() {
                Some(libc::EINVAL) => std::io::Error::other(format!(
                    "no fd number above the preserved range (3..{above}) is under the open-file \
                     limit"
                )),
                _ => e,
            });
        }
        // SAFETY: a fresh fd nothing else owns.
        *slot = Some(unsafe { OwnedFd::from_raw_fd(dup) });
    }
    Ok(PreparedStdio(out))
}

impl PreparedStdio {
    /// The fd numbers an exec'd init must keep (reexec.rs) and finds in its plan (plan.rs).
    pub(super) fn raw_fds(&self) -> [Option<RawFd>; 3] {
        [0, 1, 2].map(|i| self.0[i].as_ref().map(AsRawFd::as_raw_fd))
    }

    /// An exec'd init's copy, from the fds its plan names.
    pub(super) fn from_fds(fds: [Option<OwnedFd>; 3]) -> Self {
        Self(fds)
    }

    /// The container's side: `dup2` each onto its number (which clears close-on-exec there).
    /// The sources are all above 2, so no dup2 overwrites another's source.
    pub(super) fn install(&self) -> Result<(), String> {
        for (target, fd) in (0..).zip(&self.0) {
            let Some(fd) = fd else { continue };
            // SAFETY: dup2 of an fd this process holds onto 0..2; async-signal-safe.
            if unsafe { libc::dup2(fd.as_raw_fd(), target) } < 0 {
                return Err(format!(
                    "stdio: dup2 onto fd {target}: {}",
                    nix::errno::Errno::last()
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::test_fork::{self, cloexec};

    #[test]
    fn copies_land_above_the_range_and_only_0_1_2_inherit_them() {
        test_fork::in_child(|| {
            let (r, w) = nix::unistd::pipe().map_err(|e| e.to_string())?;
            let prepared = prepare_stdio([None, Some(&w), None], 16).map_err(|e| e.to_string())?;
            let copy = prepared.0[1]
                .as_ref()
                .ok_or("no copy of stdout")?
                .as_raw_fd();
            if copy < 19 || !cloexec(copy) || prepared.0[0].is_some() || prepared.0[2].is_some() {
                return Err(format!("copy {copy} (cloexec {})", cloexec(copy)));
            }
            prepared.install()?;
            if cloexec(1) {
                return Err("fd 1 would close at exec".into());
            }
            nix::unistd::write(std::io::stdout(), b"through").map_err(|e| e.to_string())?;
            drop((prepared, w));
            // SAFETY: closes this child's fd 1 (the last write end), so the read sees EOF.
            unsafe { libc::close(1) };
            let mut got = String::new();
            std::io::Read::read_to_string(&mut std::fs::File::from(r), &mut got)
                .map_err(|e| e.to_string())?;
            if got != "through" {
                return Err(format!("read {got:?}"));
            }
            Ok(())
        });
    }
}
