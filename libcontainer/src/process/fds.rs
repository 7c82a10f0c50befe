//! `--preserve-fds N`: the caller's fds 3..3+N go to the container's process, and nothing of
//! berth's may. berth's own fds (the start listener, the channel, the state-dir lock, the
//! namespace fds of an exec, the log file, a console socket) take the lowest free numbers,
//! so where the caller left a gap in 3..3+N one of them would land in the range and be handed
//! over: the start listener alone keeps the container `created` forever.
//!
//! So every free number in the range is taken by a placeholder before berth opens anything
//! (`reserve_preserved_fds`); each of berth's fds then lands above the range. The placeholders
//! are remembered, and the container's side closes them before execve: the container sees
//! exactly the caller's fds, with the caller's gaps.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

/// The placeholders made so far in this process; kept open for its whole life (their numbers
/// must stay taken for every later create or exec).
static PLACEHOLDERS: Mutex<Vec<OwnedFd>> = Mutex::new(Vec::new());

/// Fills every free number in 3..3+`n` with a placeholder (an eventfd: no path, no access to
/// anything) and returns the numbers that are placeholders, made now or by an earlier call.
/// Call it before opening any fd that must stay out of the range: the berth binary does so
/// first thing; `create` and `exec` call it again, which costs nothing once done.
pub fn reserve_preserved_fds(n: u32) -> std::io::Result<Vec<RawFd>> {
    let mut held = PLACEHOLDERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let limit = open_max();
    if 3 + u64::from(n) > limit {
        return Err(std::io::Error::other(format!(
            "fds 3..{} cannot exist under the open-file limit (RLIMIT_NOFILE {limit})",
            3 + u64::from(n)
        )));
    }
    let end = range_end(n);
    for target in 3..end {
        // Open: the caller's, or a placeholder of an earlier call.
        if is_open(target) {
            continue;
        }
        held.push(placeholder_at(target)?);
    }
    Ok(held
        .iter()
        .map(AsRawFd::as_raw_fd)
        .filter(|&fd| fd < end)
        .collect())
}

/// One past the last number of 3..3+`n` that can be open at all: no fd at or above the
/// RLIMIT_NOFILE soft limit exists, so a huge N costs no more than the table's size.
pub(super) fn range_end(n: u32) -> RawFd {
    let end = (3 + u64::from(n)).min(open_max()).min(i32::MAX as u64);
    end.max(3) as RawFd
}

/// RLIMIT_NOFILE's soft limit: every fd number is below it.
fn open_max() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through the pointer (async-signal-safe).
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur
    } else {
        u64::from(u32::MAX)
    }
}

fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD on a number only reads its flags (EBADF when it is free).
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// A close-on-exec eventfd at exactly `target`, which must be free.
fn placeholder_at(target: RawFd) -> std::io::Result<OwnedFd> {
    // SAFETY: eventfd takes two integers and returns a new fd or -1.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh fd nothing else owns.
    let first = unsafe { OwnedFd::from_raw_fd(fd) };
    if fd == target {
        return Ok(first);
    }
    // SAFETY: F_DUPFD_CLOEXEC makes a new fd at the lowest free number >= target.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, target) };
    if dup < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh fd nothing else owns.
    let dup = unsafe { OwnedFd::from_raw_fd(dup) };
    if dup.as_raw_fd() != target {
        // Another thread took `target` meanwhile: it is open now, so not a gap any more.
        return Err(std::io::Error::other(format!(
            "fd {target} was taken while reserving the --preserve-fds range"
        )));
    }
    Ok(dup)
}

/// The container's side, just before execve: the placeholders (`holes`) are closed, the
/// caller's fds in 3..3+`preserve` stay open across exec, and everything above closes on exec,
/// so no fd of berth's (or of whoever ran berth) reaches the container.
pub(super) fn limit_fds(preserve: u32, holes: &[RawFd]) -> Result<(), String> {
    for fd in 3..range_end(preserve) {
        if holes.contains(&fd) {
            // SAFETY: this process's copy of a placeholder; nothing here uses it.
            unsafe { libc::close(fd) };
        } else {
            // SAFETY: fcntl on an fd number: at worst EBADF for a gap the caller left.
            unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        }
    }
    let first = 3u32.saturating_add(preserve);
    crate::sys::fds::cloexec_from(first).map_err(|e| format!("close_range: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::test_fork::{self, cloexec};

    #[test]
    fn gaps_are_held_then_closed_and_the_callers_fds_kept() {
        test_fork::in_child(|| {
            const N: u32 = 64;
            let end = 3 + N as RawFd;
            let free: Vec<RawFd> = (3..end).filter(|&fd| !is_open(fd)).collect();
            let holes = reserve_preserved_fds(N).map_err(|e| e.to_string())?;
            if holes != free {
                return Err(format!("holes {holes:?}, free before {free:?}"));
            }
            if let Some(fd) = (3..end).find(|&fd| !is_open(fd)) {
                return Err(format!("fd {fd} still free after the reservation"));
            }
            // What berth opens now lands above the range; a second call changes nothing.
            let mine = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
            if mine.as_raw_fd() < end {
                return Err(format!("berth's fd {} in the range", mine.as_raw_fd()));
            }
            if reserve_preserved_fds(N).map_err(|e| e.to_string())? != holes {
                return Err("a second reservation changed the holes".into());
            }
            limit_fds(N, &holes)?;
            for fd in 3..end {
                match (holes.contains(&fd), is_open(fd)) {
                    (true, true) => return Err(format!("placeholder {fd} left open")),
                    (false, true) if cloexec(fd) => return Err(format!("caller's {fd} cloexec")),
                    (false, false) => return Err(format!("caller's fd {fd} closed")),
                    _ => {}
                }
            }
            if !cloexec(mine.as_raw_fd()) {
                return Err("berth's own fd above the range survives exec".into());
            }
            Ok(())
        });
    }

    #[test]
    fn a_huge_count_stops_at_the_fd_limit() {
        // 3..u32::MAX would be four billion fcntl calls; the open-file limit bounds it.
        test_fork::in_child(|| {
            let lim = libc::rlimit {
                rlim_cur: 256,
                rlim_max: 256,
            };
            // SAFETY: setrlimit reads one rlimit from the pointer.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
                return Err("setrlimit".into());
            }
            if range_end(u32::MAX) != 256 {
                return Err(format!("range_end {}", range_end(u32::MAX)));
            }
            limit_fds(u32::MAX, &[])
        });
    }
}
