//! Waiting for a container's init that is our child (`berth run`), forwarding to it the
//! signals we receive, as runc does: Ctrl-C or a `kill` of berth reaches the container.

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

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
        loop {
            // A SIGCHLD that arrived before the mask was set is covered by this check.
            if let Some(code) = exit_code(waitpid(pid, Some(WaitPidFlag::WNOHANG))?) {
                return Ok(code);
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
