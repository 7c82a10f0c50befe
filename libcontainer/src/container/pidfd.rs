//! pidfds for embedders: the container's init (`Created::pidfd`). An exec'd process's pidfd is
//! opened by `exec` itself, while the process is an unreaped child (`ExecChild::pidfd`).

use super::Error;
use crate::state::State;
use std::os::fd::OwnedFd;

/// A pidfd for the recorded init. Opened first and checked against the recorded start time
/// after: if the start time still matches, the pid was the init's when the pidfd was opened,
/// so the pidfd names it even if the caller has reaped it since. A zombie init still counts
/// (its pidfd is readable at once).
pub(super) fn of_init(state: &State) -> Result<OwnedFd, Error> {
    let err = |reason: String| Error::Io {
        what: format!("pidfd of the init {} of {}", state.pid, state.id),
        reason,
    };
    let fd = crate::process::pidfd_open(state.pid).map_err(|e| err(format!("pidfd_open: {e}")))?;
    match super::ops::stat_fields(state.pid) {
        Some((_, start)) if start == state.init_start_time => Ok(fd),
        _ => Err(err("the init was reaped (its pid is gone or reused)".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::{kill, Signal};
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult, Pid};
    use std::os::fd::{AsFd, AsRawFd};

    /// A child that pauses until killed; killed and reaped on drop if the test fails first.
    struct Child(Pid);
    impl Child {
        fn pausing() -> Self {
            // SAFETY: the child only pauses until a signal ends it.
            match unsafe { fork() }.expect("fork") {
                ForkResult::Child => loop {
                    // SAFETY: pause(2) just waits.
                    unsafe { libc::pause() };
                },
                ForkResult::Parent { child } => Child(child),
            }
        }
    }
    impl Drop for Child {
        fn drop(&mut self) {
            let _ = kill(self.0, Signal::SIGKILL);
            let _ = waitpid(self.0, None);
        }
    }

    fn state_of(pid: Pid, start: u64) -> State {
        State::for_test("pidfd-test", pid.as_raw(), start)
    }

    /// Whether the pidfd polls readable within `timeout_ms`.
    fn readable(fd: &OwnedFd, timeout_ms: i32) -> bool {
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
        n == 1 && pfd.revents & libc::POLLIN != 0
    }

    fn signal_0(fd: &OwnedFd) -> nix::Result<()> {
        crate::sys::pidfd::send_signal(fd.as_fd(), 0)
    }

    #[test]
    fn the_init_pidfd_names_the_init_and_becomes_readable_when_it_exits() {
        let child = Child::pausing();
        let start = super::super::ops::start_time(child.0.as_raw()).expect("child's start time");
        let fd = of_init(&state_of(child.0, start)).expect("pidfd of a live init");
        signal_0(&fd).expect("the null signal reaches the init through its pidfd");
        assert!(!readable(&fd, 0), "readable while the init runs");
        kill(child.0, Signal::SIGKILL).expect("kill the init");
        // Bounded only so that a broken pidfd fails the test instead of hanging it.
        assert!(readable(&fd, 30_000), "not readable after SIGKILL");
        // Exited but not reaped: still the init, and a new pidfd is readable at once.
        let again = of_init(&state_of(child.0, start)).expect("pidfd of a zombie init");
        assert!(readable(&again, 0));
        assert_eq!(
            waitpid(child.0, None).expect("reap"),
            WaitStatus::Signaled(child.0, Signal::SIGKILL, false)
        );
        assert!(
            of_init(&state_of(child.0, start)).is_err(),
            "pidfd after reaping"
        );
    }

    #[test]
    fn a_pid_with_another_start_time_gets_no_pidfd() {
        let child = Child::pausing();
        let start = super::super::ops::start_time(child.0.as_raw()).expect("child's start time");
        let err = of_init(&state_of(child.0, start + 1)).expect_err("pidfd of a reused pid");
        assert!(err.to_string().contains("reaped"), "{err}");
    }
}
