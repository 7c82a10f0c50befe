//! Waiting for a container's init that is our child: `berth run` forwards to it the signals it
//! receives, as runc does (Ctrl-C or a `kill` of berth reaches the container), which takes
//! over the calling thread's signal mask; embedders wait on its pidfd instead (`wait_child`).

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// Signals that are the job of the container, not of berth's own process.
pub(crate) fn forwarded() -> SigSet {
    let mut set = SigSet::empty();
    for sig in Signal::iterator() {
        if !matches!(
            sig,
            Signal::SIGKILL
                | Signal::SIGSTOP
                | Signal::SIGSEGV
                | Signal::SIGBUS
                | Signal::SIGILL
                | Signal::SIGFPE
                | Signal::SIGTRAP
                | Signal::SIGSYS
                | Signal::SIGABRT
        ) {
            set.add(sig);
        }
    }
    set
}

pub(super) fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Waits for `pid` (our child) to exit, forwarding signals; returns its exit code or 128+N.
pub fn wait_forwarding_signals(pid: i32) -> nix::Result<i32> {
    let pid = Pid::from_raw(pid);
    let set = forwarded();
    let mut old = SigSet::empty();
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))?;
    let result = (|| {
        let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC)?;
        // In a multithreaded caller SIGCHLD may go to another thread, which did not block it:
        // the pidfd still tells this one that the child exited.
        let pidfd = super::pidfd_open(pid.as_raw()).ok();
        loop {
            // A SIGCHLD that arrived before the mask was set is covered by this check.
            if let Some(code) = exit_code(waitpid(pid, Some(WaitPidFlag::WNOHANG))?) {
                return Ok(code);
            }
            if let Some(pidfd) = &pidfd {
                if !signal_first(&sfd, pidfd.as_fd())? {
                    continue;
                }
            }
            let Some(info) = sfd.read_signal()? else {
                continue;
            };
            let sig = Signal::try_from(info.ssi_signo as i32).ok();
            match sig {
                Some(Signal::SIGCHLD) | None => {}
                Some(sig) => {
                    let _ = nix::sys::signal::kill(pid, sig);
                }
            }
        }
    })();
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None)?;
    result
}

/// Waits until a signal is pending on `sfd` (true) or the process of `pidfd` exited (false).
fn signal_first(sfd: &SignalFd, pidfd: BorrowedFd) -> nix::Result<bool> {
    let mut fds = [sfd.as_fd().as_raw_fd(), pidfd.as_raw_fd()].map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    // SAFETY: two valid pollfds for the duration of the call.
    match unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } {
        -1 if nix::errno::Errno::last() == nix::errno::Errno::EINTR => Ok(false),
        -1 => Err(nix::errno::Errno::last()),
        _ => Ok(fds[0].revents & libc::POLLIN != 0),
    }
}

/// Waits for our child `pid`, which `pidfd` names, to exit; returns its exit code (128+N for
/// signal N), or `None` once `timeout` passed. For embedders: no signal mask is touched and
/// any thread may call it (not only the one that created the process), as it polls the pidfd
/// and reaps with waitid(P_PIDFD). A process that is not our child is `ECHILD` at once,
/// before any waiting: its exit code goes to its own parent.
pub fn wait_child(
    pid: i32,
    pidfd: BorrowedFd,
    timeout: Option<Duration>,
) -> nix::Result<Option<i32>> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        if let Some(code) = reap(pid, pidfd)? {
            return Ok(Some(code));
        }
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Rounded up, so a poll never ends just before the deadline and spins.
                left.as_millis()
                    .saturating_add(u128::from(left.subsec_nanos() % 1_000_000 != 0))
                    .min(i32::MAX as u128) as i32
            }
        };
        let mut pfd = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        match unsafe { libc::poll(&mut pfd, 1, ms) } {
            -1 if nix::errno::Errno::last() == nix::errno::Errno::EINTR => {}
            -1 => return Err(nix::errno::Errno::last()),
            0 => return Ok(None),
            _ => {}
        }
    }
}

/// The exit code if the process exited (reaping it), without blocking. waitid(P_PIDFD) is
/// Linux 5.4; pidfd_open (5.3) without it falls back to the pid, still ours while unreaped.
fn reap(pid: i32, pidfd: BorrowedFd) -> nix::Result<Option<i32>> {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG;
    let status = match nix::sys::wait::waitid(Id::PIDFd(pidfd), flags) {
        Err(nix::errno::Errno::EINVAL) => waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)),
        other => other,
    };
    match status {
        Err(nix::errno::Errno::EINTR) => Ok(None),
        other => Ok(exit_code(other?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::OwnedFd;

    /// A forked child that exits with 3 once `tx` (the write end of `rx`) is closed.
    fn child_waiting_on(rx: std::os::fd::OwnedFd, tx: std::os::fd::OwnedFd) -> (i32, OwnedFd) {
        // SAFETY: the child only closes, reads and exits.
        match unsafe { nix::unistd::fork() }.expect("fork") {
            nix::unistd::ForkResult::Child => {
                drop(tx);
                let mut b = [0u8; 1];
                let _ = nix::unistd::read(&rx, &mut b);
                // SAFETY: leaving the forked test child at once.
                unsafe { libc::_exit(3) }
            }
            nix::unistd::ForkResult::Parent { child } => (child.as_raw(), tx),
        }
    }

    #[test]
    fn waits_on_the_pidfd_from_another_thread_with_a_timeout() {
        let (rx, tx) = nix::unistd::pipe().expect("pipe");
        let (pid, tx) = child_waiting_on(rx, tx);
        let pidfd = super::super::pidfd_open(pid).expect("pidfd_open");
        let running = wait_child(pid, pidfd.as_fd(), Some(Duration::ZERO)).expect("wait");
        assert_eq!(running, None, "the child still runs");
        drop(tx);
        // Another thread than the one that forked; bounded so a hang fails the test.
        let code = std::thread::scope(|s| {
            s.spawn(|| wait_child(pid, pidfd.as_fd(), Some(Duration::from_secs(60))))
                .join()
                .expect("thread")
        });
        assert_eq!(code, Ok(Some(3)));
    }

    /// Called from a thread that is not the leader (as from tokio's blocking pool): the
    /// SIGCHLD goes to the leader, which did not block it, and is dropped; the pidfd still
    /// ends the wait.
    #[test]
    fn forwarding_wait_from_another_thread_returns_when_the_child_exits() {
        let (rx, tx) = nix::unistd::pipe().expect("pipe");
        let (pid, tx) = child_waiting_on(rx, tx);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // SAFETY: gettid has no arguments and cannot fail.
            let _ = tid_tx.send(unsafe { libc::gettid() });
            let _ = done_tx.send(wait_forwarding_signals(pid));
        });
        let tid = tid_rx.recv().expect("the waiter's tid");
        // Only once the waiter sleeps past its first waitpid check (in poll or in the
        // signalfd read) may the child exit: else that check alone would see it.
        let sleeping = || {
            let wchan = std::fs::read_to_string(format!("/proc/self/task/{tid}/wchan"));
            wchan.is_ok_and(|w| w.contains("poll") || w.contains("signalfd"))
        };
        let start = std::time::Instant::now();
        while !sleeping() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the waiter never slept"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(tx);
        // Bounded so that a hang fails the test.
        let got = done_rx.recv_timeout(Duration::from_secs(60));
        assert_eq!(got, Ok(Ok(3)), "the wait did not return the child's exit");
    }

    #[test]
    fn a_process_that_is_not_our_child_is_echild_at_once() {
        let pidfd = super::super::pidfd_open(1).expect("pidfd of pid 1");
        assert_eq!(
            wait_child(1, pidfd.as_fd(), None),
            Err(nix::errno::Errno::ECHILD)
        );
    }
}
