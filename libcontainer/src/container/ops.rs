//! Operations on an existing container: status from kernel facts, start, kill, delete, list.

use super::{Container, Error, Signal, Status};
use crate::process::StartError;
use crate::state::{State, StateDir};
use crate::{cgroups, hooks, seccomp};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::Spec;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Field 22 of `/proc/<pid>/stat` (start time in clock ticks), unless the process is gone or a
/// zombie (a zombie init has stopped: only its exit status is left).
pub(crate) fn start_time(pid: i32) -> Option<u64> {
    let (state, start) = stat_fields(pid)?;
    (state != "Z").then_some(start)
}

/// The start time of a process of ours, zombie or not: an init that already failed is still
/// the container's until we reap it, and its error is still on its way over the channel.
pub(crate) fn own_child_start_time(pid: i32) -> Option<u64> {
    stat_fields(pid).map(|(_, start)| start)
}

pub(super) fn stat_fields(pid: i32) -> Option<(String, u64)> {
    let mut buf = [0u8; 2048];
    let stat = read_proc_line(&format!("/proc/{pid}/stat"), &mut buf)?;
    // comm may contain spaces and parentheses: the fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.to_string();
    Some((state, fields.nth(18)?.parse().ok()?))
}

/// A one-line procfs file in one read (std's read_to_string grows its buffer from 32 bytes:
/// six reads and a statx for a stat line, on every status of every container `list` shows).
/// The kernel hands a seq_file's whole line to a large enough buffer at once.
fn read_proc_line<'a>(path: &str, buf: &'a mut [u8]) -> Option<&'a str> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut n = 0;
    while n < buf.len() && !buf[..n].ends_with(b"\n") {
        match f.read(&mut buf[n..]).ok()? {
            0 => break,
            r => n += r,
        }
    }
    std::str::from_utf8(&buf[..n]).ok()
}

/// Is the recorded init (pid and start time) still alive?
fn init_alive(state: &State) -> bool {
    state.pid > 0 && start_time(state.pid) == Some(state.init_start_time)
}

/// The status seen without the container's lock (`state`, `list`): a record without an init
/// is still being created while a `create` holds the lock, and stopped if that `create` died.
pub(super) fn status_unlocked(root: &Path, state: &State) -> Status {
    if state.pid == 0 && crate::state::is_locked(&root.join(&state.id)) {
        return Status::Creating;
    }
    status(root, state)
}

/// The status seen by a command holding the container's lock.
pub(super) fn status(root: &Path, state: &State) -> Status {
    if !init_alive(state) {
        return Status::Stopped;
    }
    let Ok(dir) = std::fs::File::open(root.join(&state.id)) else {
        return Status::Stopped;
    };
    // SAFETY: borrowing an fd that `dir` owns for the duration of the call.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(dir.as_raw_fd()) };
    // Frozen first, as runc: a created container whose cgroup was frozen is paused (its init
    // could not answer `start`), and `resume` makes it created again.
    if cgroups::is_frozen(&state.cgroup) {
        Status::Paused
    } else if crate::process::start::init_is_waiting(fd) {
        Status::Created
    } else {
        Status::Running
    }
}

/// runtime-spec's state object, plus runc's `rootfs`, `created` and `owner`; the annotations
/// are the config's.
pub(crate) fn oci_state(
    state: &State,
    status: Status,
    annotations: Option<&HashMap<String, String>>,
) -> serde_json::Value {
    let annotations: BTreeMap<&String, &String> = annotations.into_iter().flatten().collect();
    with_annotations(state, status, json!(annotations))
}

fn with_annotations(
    state: &State,
    status: Status,
    annotations: serde_json::Value,
) -> serde_json::Value {
    let pid = if status == Status::Stopped {
        0
    } else {
        state.pid
    };
    json!({
        "ociVersion": state.oci_version,
        "id": state.id,
        "pid": pid,
        "status": status.as_str(),
        "bundle": state.bundle,
        "rootfs": state.rootfs,
        "created": state.created,
        "owner": "",
        "annotations": annotations,
    })
}

/// `annotations_too`: read from the stored config (the only place they are kept), when the
/// record says it has any. A config that cannot be read shows none, with a warning: the rest
/// of the state is still worth showing.
pub(super) fn state_json(
    c: &Container,
    status: Status,
    annotations_too: bool,
) -> serde_json::Value {
    let annotations = if annotations_too && c.state.has_annotations {
        match crate::state::read_annotations(&c.root, &c.state.id) {
            Ok(a) => json!(a),
            Err(e) => {
                log::warn!("annotations of {}: {e}", c.state.id);
                json!({})
            }
        }
    } else {
        json!({})
    };
    with_annotations(&c.state, status, annotations)
}

pub(super) fn lock(c: &Container) -> Result<(StateDir, State), Error> {
    let dir = StateDir::open(&c.root, &c.state.id)?;
    let state = dir.load()?;
    Ok((dir, state))
}

/// Locks the container and checks that `allowed` accepts its status; otherwise a
/// WrongStatus error giving `reason`.
pub(super) fn lock_when(
    c: &Container,
    allowed: impl Fn(Status) -> bool,
    reason: &'static str,
) -> Result<(StateDir, State), Error> {
    let (dir, state) = lock(c)?;
    let status = status(&c.root, &state);
    if !allowed(status) {
        return Err(Error::WrongStatus {
            id: state.id,
            status,
            reason,
        });
    }
    Ok((dir, state))
}

/// How `start` relays the container's sd_notify READY=1 (`crate::notify`).
pub(super) struct NotifyStart<'a> {
    pub host: &'a crate::notify::HostSocket,
    /// MAINPID for the host: a foreground `run` gives its own pid (it is the process the
    /// service manager watches, and it exits with the container); else the init's.
    pub main_pid: Option<i32>,
    /// A foreground `run` forwards the signals it gets while it waits.
    pub forward_signals: bool,
}

/// `config`: the one this process created the container with, if it did; else read back.
/// With `notify`, returns once the container said READY=1 (relayed) or its init exited,
/// waiting without the container's lock.
pub(super) fn start(
    c: &mut Container,
    config: Option<&Spec>,
    notify: Option<&NotifyStart<'_>>,
) -> Result<(), Error> {
    let relay = start_locked(c, config, notify.map(|n| n.host))?;
    let (Some(relay), Some(n)) = (relay, notify) else {
        return Ok(());
    };
    // A reaped or vanished init has nothing left to report ready.
    let Ok(init) = super::pidfd::of_init(&c.state) else {
        return Ok(());
    };
    let main_pid = n.main_pid.unwrap_or(c.state.pid);
    let forward = n.forward_signals.then_some(c.state.pid);
    relay.wait(std::os::fd::AsFd::as_fd(&init), main_pid, forward)?;
    Ok(())
}

fn start_locked(
    c: &mut Container,
    config: Option<&Spec>,
    notify: Option<&crate::notify::HostSocket>,
) -> Result<Option<crate::notify::Relay>, Error> {
    let (dir, state) = lock_when(
        c,
        |s| s == Status::Created,
        "only a created container can be started",
    )?;
    let loaded;
    let config = match config {
        Some(config) => config,
        None => {
            loaded = dir.load_config()?;
            &loaded
        }
    };
    crate::pause_point::pause_at("start:locked");
    // Bound before the init is released: the container may notify as soon as it runs.
    let relay = notify
        .map(|host| crate::notify::bind_relay(dir.fd(), host))
        .transpose()?;
    let mut on_listener = |fd| {
        send_seccomp_listener(&state, config, fd, state.pid).map_err(|e| Box::new(e) as Box<_>)
    };
    match crate::process::start::request_start(dir.fd(), state.pid, &mut on_listener) {
        Ok(()) => {}
        Err(StartError::Agent(e)) => {
            // The init waits for the agent that will never come: it cannot go on.
            let _ = signal_init(&state, Some(Signal::SIGKILL));
            return Err(match e.downcast::<Error>() {
                Ok(e) => *e,
                Err(other) => Error::Start(StartError::Agent(other)),
            });
        }
        Err(e) => return Err(Error::Start(e)),
    }
    let json = oci_state(&state, Status::Running, config.annotations().as_ref()).to_string();
    if let Some(list) = config.hooks().as_ref().and_then(|h| h.poststart().as_ref()) {
        // runtime-spec: a failing poststart hook is only logged.
        for e in hooks::run_all_hooks("poststart", list, json.as_bytes()) {
            log::warn!("{e}");
        }
    }
    c.state = state;
    Ok(relay)
}

/// Sends a SCMP_ACT_NOTIFY listener to the agent at listenerPath; `pid` is the process
/// whose filter it is (the init, or an exec'd process).
pub(super) fn send_seccomp_listener(
    state: &State,
    config: &oci_spec::runtime::Spec,
    fd: OwnedFd,
    pid: i32,
) -> Result<(), Error> {
    let sc = config.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let Some(path) = sc.and_then(|s| s.listener_path().as_ref()) else {
        return Err(Error::Config {
            field: "linux.seccomp.listenerPath",
            reason: "SCMP_ACT_NOTIFY needs a listenerPath".into(),
        });
    };
    let msg = json!({
        "ociVersion": state.oci_version,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": sc.and_then(|s| s.listener_metadata().clone()).unwrap_or_default(),
        "state": oci_state(state, Status::Running, config.annotations().as_ref()),
    });
    seccomp::send_listener(path, fd, msg.to_string().as_bytes()).map_err(Error::from)
}

/// The recorded init, held where the kernel allows it.
enum InitHandle {
    Gone,
    /// Opening the pidfd first and checking the start time after closes the window in which
    /// the pid could be reused.
    Pidfd(OwnedFd),
    /// No pidfd_open (kernels before 5.3, valgrind): the start time was checked just now, and
    /// a plain kill follows, as runc does everywhere.
    Pid,
}

fn init_handle(state: &State) -> InitHandle {
    let fd = match crate::sys::pidfd::open(state.pid) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOSYS) if init_alive(state) => return InitHandle::Pid,
        Err(_) => return InitHandle::Gone,
    };
    if init_alive(state) {
        InitHandle::Pidfd(fd)
    } else {
        InitHandle::Gone
    }
}

/// Signals the init (`None`: kill(2)'s null signal, which only checks it can be signalled);
/// false when it is already gone.
fn signal_init(state: &State, sig: Option<Signal>) -> Result<bool, Error> {
    let signo = sig.map_or(0, |s| s as i32);
    let r = match init_handle(state) {
        InitHandle::Gone => return Ok(false),
        InitHandle::Pidfd(fd) => crate::sys::pidfd::send_signal(fd.as_fd(), signo),
        InitHandle::Pid => nix::sys::signal::kill(Pid::from_raw(state.pid), sig),
    };
    match r {
        Ok(()) => Ok(true),
        Err(nix::errno::Errno::ESRCH) => Ok(false),
        Err(errno) => Err(Error::Io {
            what: format!("kill {} {signo}", state.id),
            reason: errno.to_string(),
        }),
    }
}

/// Without the lock: the init is named by a pidfd checked against its start time, so no lock
/// is needed to signal the right process, and a command wedged on the container (holding the
/// lock) must never keep it from being killed.
///
/// As runc: `all` signals whatever is left in the cgroup even of a stopped container (a
/// cgroup already gone is nothing to signal); without it the init must be alive. SIGKILL
/// thaws a paused container, or (on cgroup v1) the signal would wait for `resume`.
pub(super) fn kill(c: &Container, sig: Option<Signal>, all: bool) -> Result<(), Error> {
    let state = crate::state::read_unlocked(&c.root, &c.state.id)?;
    let status = status(&c.root, &state);
    if status == Status::Stopped {
        if !all {
            return Err(Error::WrongStatus {
                id: state.id,
                status,
                reason: "container not running",
            });
        }
        if let Some(sig) = sig {
            if let Ok(pids) = cgroups::pids(&state.cgroup) {
                pids.into_iter().for_each(|p| {
                    let _ = nix::sys::signal::kill(p, sig);
                });
            }
        }
        return Ok(());
    }
    if all {
        signal_all(&c.root, &state, sig)?;
    }
    signal_init(&state, sig)?;
    if status == Status::Paused && sig == Some(Signal::SIGKILL) {
        cgroups::thaw(&state.cgroup)?;
    }
    Ok(())
}

/// Every process of the container: those in its cgroup, or for a rootless one without a
/// cgroup, those of its pid namespace.
fn signal_all(root: &Path, state: &State, sig: Option<Signal>) -> Result<(), Error> {
    let pids = if state.cgroup.hierarchies.is_empty() {
        super::resources::pids_without_cgroup(root, state)
            .into_iter()
            .map(Pid::from_raw)
            .collect()
    } else {
        cgroups::pids(&state.cgroup)?
    };
    for pid in pids {
        let _ = nix::sys::signal::kill(pid, sig);
    }
    Ok(())
}

/// `config`: as for `start`.
pub(super) fn delete(c: Container, force: bool, config: Option<&Spec>) -> Result<(), Error> {
    let (dir, state) = lock(&c)?;
    let status = status(&c.root, &state);
    if status != Status::Stopped {
        if !force {
            return Err(Error::WrongStatus {
                id: state.id,
                status,
                reason: "cannot delete a container that is not stopped (use --force)",
            });
        }
        if status == Status::Paused {
            cgroups::thaw(&state.cgroup)?;
        }
        signal_all(&c.root, &state, Some(Signal::SIGKILL))?;
        signal_init(&state, Some(Signal::SIGKILL))?;
        wait_gone(&state)?;
    }
    // What outlives the init: its children when it shared the host's pid namespace (as runc
    // does on delete), the processes of a create that died part-way.
    cgroups::kill_all(&state.cgroup)?;
    crate::pause_point::pause_at("delete:killed");
    // Read before the directory goes. A container whose config cannot be read is still
    // deleted (it is of no use anyway); only its poststop hooks cannot run, and we say so.
    let loaded = match config {
        Some(_) => None,
        None => match dir.load_config() {
            Ok(c) => Some(c),
            Err(e) => {
                log::warn!("poststop hooks of {} not run: {e}", state.id);
                None
            }
        },
    };
    let config = config.or(loaded.as_ref());
    let poststop = config.and_then(|c| c.hooks().as_ref().and_then(|h| h.poststop().clone()));
    destroy_cgroup(&state.cgroup)?;
    crate::pause_point::pause_at("delete:cgroups");
    if let Some(id) = state.rootfs_bind {
        crate::rootfs::detach_rootfs(&state.rootfs, id)?;
    }
    dir.remove()?;
    if let (Some(list), Some(config)) = (&poststop, config) {
        let json = oci_state(&state, Status::Stopped, config.annotations().as_ref()).to_string();
        for e in hooks::run_all_hooks("poststop", list, json.as_bytes()) {
            log::warn!("{e}");
        }
    }
    Ok(())
}

/// The init was SIGKILLed; the kernel needs a moment to tear it down (and its reaper to reap it).
fn wait_gone(state: &State) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while init_alive(state) {
        if Instant::now() > deadline {
            return Err(Error::Io {
                what: format!("delete {}", state.id),
                reason: "init did not die after SIGKILL".into(),
            });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// rmdir of a cgroup fails with EBUSY until its last task has fully exited: retry briefly.
pub(super) fn destroy_cgroup(paths: &cgroups::CgroupPaths) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match cgroups::destroy(paths) {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e.into()),
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

pub(super) fn wait_child(pid: i32) -> Result<i32, Error> {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                return Err(Error::Io {
                    what: format!("wait for process {pid}"),
                    reason: e.to_string(),
                })
            }
        }
    }
}

/// Parses a signal as runc does: `KILL`, `SIGKILL` or `9`.
pub fn parse_signal(s: &str) -> Result<Signal, Error> {
    parse_kill_signal(s)?.ok_or_else(|| Error::UnknownSignal(s.to_string()))
}

/// Like `parse_signal`, also taking `0`, the null signal (`None`): runc's `kill <id> 0`
/// checks that the container's init can be signalled.
pub fn parse_kill_signal(s: &str) -> Result<Option<Signal>, Error> {
    let unknown = || Error::UnknownSignal(s.to_string());
    if let Ok(n) = s.parse::<i32>() {
        if n == 0 {
            return Ok(None);
        }
        return Signal::try_from(n).map(Some).map_err(|_| unknown());
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().map(Some).map_err(|_| unknown())
}

/// One entry of `list`.
// A `list` holds a handful of these, moved once: boxing every container would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Listed {
    /// A container whose record was read.
    Container(Container),
    /// A directory whose record cannot be read; `delete --force` removes what is left.
    Broken {
        /// The container's id.
        id: String,
        /// What is wrong, in words.
        reason: String,
    },
}

/// Every container in the state root, in id order. Read without the containers' locks (as
/// runc does), so a list never waits for a create or delete in progress. A directory whose
/// record cannot be read is listed as broken, unless a command holds its lock (a create
/// or delete in progress) or it vanished meanwhile.
///
/// ```no_run
/// use libcontainer::Listed;
/// # fn main() -> Result<(), libcontainer::Error> {
/// for entry in libcontainer::list("/run/my-engine")? {
///     match entry {
///         Listed::Container(c) => println!("{}\t{}\t{}", c.id(), c.status(), c.pid()),
///         Listed::Broken { id, reason } => println!("{id}\tbroken: {reason}"),
///     }
/// }
/// # Ok(()) }
/// ```
pub fn list(root: impl Into<PathBuf>) -> Result<Vec<Listed>, Error> {
    let root = root.into();
    let mut out = Vec::new();
    for id in crate::state::list_ids(&root)? {
        let read = crate::state::read_unlocked(&root, &id);
        match super::salvage::check_record(&id, read) {
            Ok(state) => out.push(Listed::Container(Container {
                root: root.clone(),
                state,
            })),
            Err(Error::Broken { .. })
                if !root.join(&id).exists() || crate::state::is_locked(&root.join(&id)) => {}
            Err(Error::Broken { id, reason }) => out.push(Listed::Broken { id, reason }),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_read_from_one_stat_line() {
        let me = std::process::id() as i32;
        let stat = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
        let field22: u64 = stat[stat.rfind(')').unwrap() + 2..]
            .split(' ')
            .nth(19)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(start_time(me), Some(field22));
        assert_eq!(start_time(i32::MAX), None);
    }

    fn state_of(pid: i32) -> State {
        State::for_test(
            "signal-test",
            pid,
            start_time(pid).expect("child's start time"),
        )
    }

    /// A kernel without pidfd_open (before 5.3): the init is still signalled, by kill(2).
    #[test]
    fn signals_the_init_where_pidfd_open_is_refused() {
        use crate::identity::test_fork;
        use nix::sys::wait::waitpid;
        // SAFETY: the child only pauses until a signal ends it.
        let child = match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => loop {
                // SAFETY: pause(2) just waits.
                unsafe { libc::pause() };
            },
            nix::unistd::ForkResult::Parent { child } => child,
        };
        /// Kills the pausing child if the test fails before it is signalled.
        struct Reap(Pid);
        impl Drop for Reap {
            fn drop(&mut self) {
                let _ = nix::sys::signal::kill(self.0, Signal::SIGKILL);
                let _ = waitpid(self.0, None);
            }
        }
        let _reap = Reap(child);
        let state = state_of(child.as_raw());
        test_fork::in_child(move || {
            test_fork::refuse_with_enosys(libc::SYS_pidfd_open)?;
            match signal_init(&state, Some(Signal::SIGTERM)) {
                Ok(true) => Ok(()),
                other => Err(format!("signal_init: {other:?}")),
            }
        });
        assert_eq!(
            waitpid(child, None).unwrap(),
            WaitStatus::Signaled(child, Signal::SIGTERM, false)
        );
    }
}
