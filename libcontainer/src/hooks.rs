//! The six hooks: each runs with the container's state JSON on stdin, its own env and args,
//! and an optional timeout after which it is killed.
//!
//! Failure rules (runtime-spec): prestart, createRuntime, createContainer, startContainer — a
//! failure aborts (the caller tears the container down); poststart and poststop — a failure is
//! only a warning (the caller logs it and goes on).
//!
//! Hooks run both in berth and in the container's init, so this module keeps no global state
//! and installs no signal handler: the timeout is a poll on a pidfd. Writing to a hook that
//! exits without reading gives EPIPE, not a fatal SIGPIPE, because Rust programs start with
//! SIGPIPE ignored and the init inherits that.

use oci_spec::runtime::{Hook, Hooks};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A hook of the config failed, timed out or could not be run.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// One hook failed: non-zero exit, timeout, or it could not be run.
    #[error("hooks.{phase}[{index}] ({path}): {reason}")]
    Failed {
        /// The hook phase (`prestart`, `poststop`, ...).
        phase: &'static str,
        /// Its position in the config's list.
        index: usize,
        /// The path at fault.
        path: String,
        /// What is wrong, in words.
        reason: String,
    },
}

/// Every hook phase berth runs, by its config name, in the order of `validate_hooks`'s lists
/// (also what `berth features` reports).
pub const PHASES: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Checks every hook of every phase before anything is created: an absolute path, a
/// positive timeout, and env entries of the form KEY=VALUE.
pub fn validate_hooks(hooks: Option<&Hooks>) -> Result<(), HookError> {
    let Some(h) = hooks else { return Ok(()) };
    #[allow(deprecated)] // prestart is deprecated but still part of the spec and still run
    let lists = [
        h.prestart(),
        h.create_runtime(),
        h.create_container(),
        h.start_container(),
        h.poststart(),
        h.poststop(),
    ];
    for (phase, list) in PHASES.into_iter().zip(lists) {
        for (index, hook) in list.iter().flatten().enumerate() {
            check_hook(hook).map_err(|reason| failed(phase, index, hook, reason))?;
        }
    }
    Ok(())
}

/// Runs `hooks` in order, stopping at the first failure. `phase` is the config's name for the
/// list ("prestart", "createRuntime", ...), used in errors.
pub fn run_hooks(phase: &'static str, hooks: &[Hook], state_json: &[u8]) -> Result<(), HookError> {
    for (index, hook) in hooks.iter().enumerate() {
        run_hook(hook, state_json).map_err(|reason| failed(phase, index, hook, reason))?;
    }
    Ok(())
}

/// Runs every hook even when some fail (poststart, poststop: the spec has failures only
/// logged, and a failing hook must not keep the next from running). Returns the failures.
pub fn run_all_hooks(phase: &'static str, hooks: &[Hook], state_json: &[u8]) -> Vec<HookError> {
    hooks
        .iter()
        .enumerate()
        .filter_map(|(index, hook)| {
            run_hook(hook, state_json)
                .err()
                .map(|reason| failed(phase, index, hook, reason))
        })
        .collect()
}

fn failed(phase: &'static str, index: usize, hook: &Hook, reason: String) -> HookError {
    HookError::Failed {
        phase,
        index,
        path: hook.path().display().to_string(),
        reason,
    }
}

fn check_hook(hook: &Hook) -> Result<(), String> {
    if !hook.path().is_absolute() {
        return Err("path must be absolute".into());
    }
    if let Some(t) = hook.timeout() {
        if t <= 0 {
            return Err(format!("timeout must be greater than zero, got {t}"));
        }
    }
    if let Some(bad) = hook.env().iter().flatten().find(|e| !e.contains('=')) {
        return Err(format!("env entry {bad:?} is not KEY=VALUE"));
    }
    Ok(())
}

fn command(hook: &Hook) -> Command {
    let mut cmd = Command::new(hook.path());
    if let Some((argv0, rest)) = hook.args().as_deref().and_then(|a| a.split_first()) {
        cmd.arg0(argv0).args(rest);
    }
    // Exactly the hook's environment: nothing of berth's own leaks into it.
    cmd.env_clear();
    for entry in hook.env().iter().flatten() {
        if let Some((k, v)) = entry.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    cmd
}

fn run_hook(hook: &Hook, state: &[u8]) -> Result<(), String> {
    check_hook(hook)?;
    let mut child = command(hook)
        .spawn()
        .map_err(|e| format!("cannot execute: {e}"))?;
    let stdin = child.stdin.take();
    // A timeout too far away for an Instant (i64::MAX seconds) is no timeout at all, not a
    // panic that would abort berth half-way through create.
    let deadline = hook.timeout().and_then(|t| {
        let secs = u64::try_from(t).ok()?;
        Some((t, Instant::now().checked_add(Duration::from_secs(secs))?))
    });
    let status = match wait_feeding(&mut child, stdin, state, deadline.map(|d| d.1)) {
        Ok(Some(status)) => status,
        Ok(None) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {}s", deadline.map_or(0, |d| d.0)));
        }
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    if status.success() {
        return Ok(());
    }
    Err(match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => match nix::sys::signal::Signal::try_from(sig) {
            Ok(s) => format!("killed by signal {s}"),
            Err(_) => format!("killed by signal {sig}"),
        },
        _ => format!("ended with {status}"),
    })
}

/// Feeds `state` to the hook's stdin while waiting for it to exit. Returns `None` when the
/// deadline passed first. The pipe is non-blocking so a hook that never reads cannot stall
/// berth past its timeout.
fn wait_feeding(
    child: &mut Child,
    stdin: Option<ChildStdin>,
    state: &[u8],
    deadline: Option<Instant>,
) -> Result<Option<ExitStatus>, String> {
    let pidfd = pidfd_open(child.id());
    let mut stdin = stdin;
    if let Some(s) = &stdin {
        set_nonblocking(s.as_raw_fd()).map_err(|e| format!("stdin pipe: {}", e.desc()))?;
    }
    let mut written = 0;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("wait: {e}"))? {
            return Ok(Some(status));
        }
        let remaining = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(r) if !r.is_zero() => Some(r),
                _ => return Ok(None),
            },
            None => None,
        };
        wait_ready(pidfd.as_ref(), stdin.as_ref(), remaining)?;
        if let Some(pipe) = stdin.as_mut() {
            match pipe.write(&state[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // The hook may exit or close stdin without reading the state: not an error.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => written = state.len(),
                Err(e) => return Err(format!("writing the state to stdin: {e}")),
            }
            if written == state.len() {
                stdin = None; // closing gives the hook EOF
            }
        }
    }
}

/// Sleeps until the hook exits (pidfd readable), its stdin accepts more, or `remaining`
/// passes. Without a pidfd (kernel < 5.3) it wakes every 10ms to check on the hook.
fn wait_ready(
    pidfd: Option<&OwnedFd>,
    stdin: Option<&ChildStdin>,
    remaining: Option<Duration>,
) -> Result<(), String> {
    let mut fds = Vec::with_capacity(2);
    if let Some(p) = pidfd {
        fds.push(libc::pollfd {
            fd: p.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
    }
    if let Some(s) = stdin {
        fds.push(libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        });
    }
    let cap = if pidfd.is_some() {
        None
    } else {
        Some(Duration::from_millis(10))
    };
    let wait = match (remaining, cap) {
        (Some(r), Some(c)) => Some(r.min(c)),
        (r, c) => r.or(c),
    };
    // Round up so a sub-millisecond remainder does not spin.
    let ms = wait.map_or(-1, |d| {
        d.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
    });
    // SAFETY: fds is a valid, initialized array of fds.len() pollfd entries.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("poll: {e}"));
        }
    }
    Ok(())
}

fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    crate::sys::pidfd::open(pid as libc::pid_t).ok()
}

fn set_nonblocking(fd: i32) -> nix::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    // SAFETY: fd is the live stdin pipe owned by the caller for the duration of this call.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map(drop)
}

#[cfg(test)]
#[path = "hooks_tests.rs"]
mod tests;
