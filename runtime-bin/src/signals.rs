//! `berth run` in the foreground stands in for the container at the terminal: signals sent to
//! berth (^C, a supervisor's SIGTERM) are forwarded to the container's init, as runc does.

use crate::error::CliError;
use libcontainer::{Container, Signal};
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};
use std::path::{Path, PathBuf};

const FORWARDED: [Signal; 6] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

fn set() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set
}

/// Blocks the forwarded signals in this thread and starts a thread that takes them with
/// sigwait and sends each to the container's init. Returns the guard that unblocks them.
pub fn forward_to(root: &Path, id: &str) -> Result<Forwarding, CliError> {
    let set = set();
    let mut old = SigSet::empty();
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))
        .map_err(|e| CliError::Signals(e.to_string()))?;
    let (root, id): (PathBuf, String) = (root.into(), id.into());
    std::thread::spawn(move || {
        while let Ok(sig) = set.wait() {
            // The container may already be gone; then there is nobody left to tell.
            let _ = Container::load(&root, &id).and_then(|c| c.kill(sig, false));
        }
    });
    Ok(Forwarding { old })
}

/// While alive, the forwarded signals are blocked in the thread that made it.
#[derive(Debug)]
pub struct Forwarding {
    old: SigSet,
}

impl Drop for Forwarding {
    fn drop(&mut self) {
        // Restores the caller's mask so that processes started later (poststop hooks run by
        // delete) do not inherit blocked signals.
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}
