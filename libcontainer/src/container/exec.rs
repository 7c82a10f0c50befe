//! `exec`: run one more process in a running container, with runc's semantics: the process
//! given in full, or the container's `process` with arguments, environment, user, cwd and
//! capabilities changed (`ExecProcess`).

use super::{Container, Error, ExecOptions, ExecProcess, Overrides, Status};
use crate::namespaces::{oci_name, Join, ALL_KINDS};
use crate::process::{spawn_joined, JoinConfig, JoinEvents};
use crate::state::{State, StateDir};
use crate::{cgroups, seccomp};
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::{Capability, LinuxCapabilities, LinuxNamespaceType as Ns, Process, Spec};
use std::ffi::{CString, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// A process `exec` started: it is the caller's child.
#[derive(Debug)]
pub struct ExecChild {
    pid: i32,
    /// Opened right after the clone, while the process is our unreaped child and its pid
    /// cannot have been reused.
    pidfd: nix::Result<OwnedFd>,
}

impl ExecChild {
    /// Its pid in the caller's pid namespace.
    pub fn pid(&self) -> i32 {
        self.pid
    }
    /// A pidfd (Linux 5.3) for the process, owned by the caller (a new fd on every call): it
    /// names that process even after it was reaped, `pidfd_send_signal(2)` reaches it while it
    /// runs, and it becomes readable when it exits. Fails where the kernel has no pidfd_open.
    ///
    /// The process is this process's child, either the helper that joined the container's
    /// namespaces or that helper's CLONE_PARENT fork (so CLONE_PIDFD would land in the wrong
    /// process): `exec` opens the pidfd by pid before returning, while nothing can have
    /// reaped it. That holds unless this program
    /// reaps children it did not wait for (SIGCHLD ignored, or a `waitpid(-1)` reaper).
    ///
    /// From tokio, await the exit through `AsyncFd` and then reap it (see
    /// [`Created::pidfd`](super::Created::pidfd) for the code).
    pub fn pidfd(&self) -> Result<OwnedFd, Error> {
        let what = || format!("pidfd of exec'd process {}", self.pid);
        match &self.pidfd {
            Ok(fd) => fd.try_clone().map_err(|e| Error::Io {
                what: what(),
                reason: e.to_string(),
            }),
            Err(e) => Err(Error::Io {
                what: what(),
                reason: format!("pidfd_open: {e}"),
            }),
        }
    }
    /// Waits for it to exit and reaps it; returns its exit code, or 128+N if signal N killed
    /// it. Blocks the calling thread without touching its signal mask; to wait without
    /// blocking, await [`ExecChild::pidfd`] becoming readable first.
    pub fn wait(&self) -> Result<i32, Error> {
        super::ops::wait_child(self.pid)
    }
    /// Waits up to `timeout` (`None`: no limit) for it to exit and reaps it: its exit code,
    /// 128+N if signal N killed it, or `Ok(None)` if it still runs at the timeout. No signal
    /// mask is touched and any thread may call it (see [`Container::wait_timeout`]).
    pub fn wait_timeout(&self, timeout: Option<std::time::Duration>) -> Result<Option<i32>, Error> {
        let what = || format!("wait for exec'd process {}", self.pid);
        let fd = self.pidfd.as_ref().map_err(|e| Error::Io {
            what: what(),
            reason: format!("pidfd_open: {e}"),
        })?;
        crate::process::wait_child(self.pid, std::os::fd::AsFd::as_fd(fd), timeout).map_err(|e| {
            Error::Io {
                what: what(),
                reason: e.to_string(),
            }
        })
    }
    /// Kills it and reaps it: for a caller whose own step after `exec` failed (runc's
    /// `--pid-file` it could not write), so no process runs that nobody knows of.
    pub fn kill(self) {
        crate::process::kill_and_reap(self.pid);
    }
    /// Waits for it, forwarding the signals this process receives; returns its exit code, or
    /// 128+N if signal N killed it.
    pub fn wait_forwarding_signals(&self) -> Result<i32, Error> {
        crate::process::wait_forwarding_signals(self.pid).map_err(|e| Error::Io {
            what: format!("wait for exec'd process {}", self.pid),
            reason: e.to_string(),
        })
    }
    /// Like `wait_forwarding_signals`, relaying the caller's stdio to the pty `master`
    /// meanwhile (see `crate::process::relay_terminal`).
    pub fn relay_terminal(&self, master: OwnedFd) -> Result<i32, Error> {
        crate::process::relay_terminal(master, self.pid).map_err(|e| Error::Io {
            what: format!("terminal of exec'd process {}", self.pid),
            reason: e.to_string(),
        })
    }
}

fn config_err(field: &'static str, reason: impl Into<String>) -> Error {
    Error::Config {
        field,
        reason: reason.into(),
    }
}

pub(super) fn exec(c: &Container, opts: ExecOptions) -> Result<ExecChild, Error> {
    // Before berth opens anything, so none of its fds lands among the preserved ones.
    let holes = super::create::reserve_holes(opts.preserve_fds)?;
    let dir = StateDir::open(&c.root, &c.state.id)?;
    let state = dir.load()?;
    check_can_exec(c, &state, opts.ignore_paused)?;
    let cgroup = sub_cgroups(&state.cgroup, &opts.sub_cgroups)?;
    let (spec, argv) = exec_spec(&dir, &opts)?;
    let init_exe = opts.init_executable.as_deref();
    let executor = crate::process::prepare_executor(&opts.executor, init_exe)?;
    let stdio =
        crate::process::prepare_stdio(opts.stdio.as_array(), opts.preserve_fds).map_err(|e| {
            Error::Io {
                what: "stdio: dup".into(),
                reason: e.to_string(),
            }
        })?;
    let program = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(seccomp::compile)
        .transpose()?;
    let joins = open_live_namespaces(c, &state)?;
    let close_in_child = [dir.raw_fd()];
    let cfg = JoinConfig {
        spec: &spec,
        joins: &joins,
        seccomp: program.as_ref(),
        console_socket: opts.console_socket.as_deref(),
        preserve_fds: opts.preserve_fds,
        preserve_holes: &holes,
        close_in_child: &close_in_child,
        argv: argv.as_deref(),
        stdio: &stdio,
        executor: &executor,
        init_exe,
    };
    let pid = spawn_joined(
        &cfg,
        &mut Events {
            state: &state,
            config: &spec,
            lock: Some(dir),
            cgroup: &cgroup,
        },
    )?;
    let child = ExecChild {
        pid,
        pidfd: crate::process::pidfd_open(pid),
    };
    if let Some(path) = &opts.pid_file {
        if let Err(e) = super::create::write_pid_file(path, pid) {
            // The caller learns of no pid, so the process must not run on (as runc).
            child.kill();
            return Err(e);
        }
    }
    Ok(child)
}

/// `exec` needs a live init: not stopped, and not paused unless `ignore_paused`.
fn check_can_exec(c: &Container, state: &State, ignore_paused: bool) -> Result<(), Error> {
    let status = super::ops::status(&c.root, state);
    let reason = match status {
        Status::Stopped => "cannot exec in a stopped container",
        Status::Paused if !ignore_paused => {
            "cannot exec in a paused container (use --ignore-paused to override)"
        }
        _ => return Ok(()),
    };
    Err(Error::WrongStatus {
        id: state.id.clone(),
        status,
        reason,
    })
}

/// The container's config with `process` replaced by the one to run, checked; and its argv
/// as bytes when the caller gave arguments that are not text.
fn exec_spec(
    dir: &StateDir,
    opts: &ExecOptions,
) -> Result<(Spec, Option<Vec<std::ffi::CString>>), Error> {
    let mut spec = dir.load_config()?;
    let argv = match &opts.process {
        ExecProcess::Overrides(o) => raw_argv(&o.args)?,
        ExecProcess::Process(_) => None,
    };
    let process = exec_process(&spec, &opts.process)?;
    super::validate::check_process(&process, opts.console_socket.is_some())?;
    super::validate::check_stdio(&opts.stdio, opts.terminal())?;
    spec.set_process(Some(process));
    Ok((spec, argv))
}

/// The init's namespaces as fds, once it is known to be the recorded init still: an init that
/// exits meanwhile takes its /proc/<pid>/ns links with it, and once the fds are open they name
/// its namespaces even if it exits, so the pid is checked again afterwards (not reused).
fn open_live_namespaces(c: &Container, state: &State) -> Result<Vec<Join>, Error> {
    let stopped = || Error::WrongStatus {
        id: state.id.clone(),
        status: Status::Stopped,
        reason: "cannot exec in a stopped container",
    };
    let is_stopped = || super::ops::status(&c.root, state) == Status::Stopped;
    let joins = open_namespaces(state).map_err(|e| if is_stopped() { stopped() } else { e })?;
    if is_stopped() {
        return Err(stopped());
    }
    Ok(joins)
}

struct Events<'a> {
    state: &'a State,
    config: &'a Spec,
    /// The container's lock, held until the first child is in the container's cgroup (from
    /// then on `delete --force` finds and kills it there). It is released before anything
    /// the container controls runs (the join, /etc/passwd, the program's execve): a
    /// container must not be able to stall its own management by stalling an exec.
    lock: Option<StateDir>,
    /// The container's cgroup, or the sub-cgroups `--cgroup` chose.
    cgroup: &'a cgroups::CgroupPaths,
}

impl JoinEvents for Events<'_> {
    type Error = Error;

    fn enter_cgroup(&mut self, pid: i32) -> Result<(), Error> {
        let joined = cgroups::join(self.cgroup, nix::unistd::Pid::from_raw(pid));
        self.lock = None;
        joined?;
        crate::pause_point::pause_at("exec:cgroup");
        Ok(())
    }

    /// As for the init (runc does the same): the agent learns the exec'd process's pid, and
    /// the container's state with the init's.
    fn seccomp_listener(&mut self, listener: OwnedFd, pid: i32) -> Result<(), Error> {
        super::ops::send_seccomp_listener(self.state, self.config, listener, pid)
    }
}

/// The container's cgroup with each hierarchy's path moved to the sub-cgroup `args` name for
/// it (runc 1.1's `--cgroup` rules). A sub-cgroup must stay under the container's (no `..`);
/// it must exist, which joining it checks.
fn sub_cgroups(
    base: &cgroups::CgroupPaths,
    args: &[String],
) -> Result<cgroups::CgroupPaths, Error> {
    let bad = |arg: &str, why: &str| config_err("--cgroup", format!("{arg:?}: {why}"));
    let mut plain = None;
    let mut by_controller = Vec::new();
    for arg in args {
        let (controllers, path) = match arg.split(':').collect::<Vec<_>>()[..] {
            [path] if args.len() == 1 => (None, path),
            [_] => {
                return Err(bad(
                    arg,
                    "missing the CONTROLLER: prefix (several --cgroup)",
                ))
            }
            [controllers, path] => (Some(controllers), path),
            _ => return Err(bad(arg, "expected [CONTROLLER[,CONTROLLER...]:]PATH")),
        };
        let mut sub = PathBuf::new();
        for c in std::path::Path::new(path).components() {
            match c {
                std::path::Component::Normal(n) => sub.push(n),
                std::path::Component::RootDir | std::path::Component::CurDir => {}
                _ => return Err(bad(arg, "not a sub-cgroup of the container's cgroup")),
            }
        }
        match controllers {
            None => plain = Some(sub),
            Some(list) => {
                for c in list.split(',') {
                    if !base
                        .hierarchies
                        .iter()
                        .any(|h| h.controllers.iter().any(|x| x == c))
                    {
                        return Err(bad(
                            arg,
                            &format!("no cgroup v1 hierarchy has controller {c}"),
                        ));
                    }
                    by_controller.push((c.to_owned(), sub.clone()));
                }
            }
        }
    }
    let mut out = base.clone();
    for h in &mut out.hierarchies {
        let sub = by_controller
            .iter()
            .find(|(c, _)| h.controllers.contains(c))
            .map(|(_, p)| p)
            .or(plain.as_ref());
        if let Some(sub) = sub {
            h.path.push(sub);
        }
    }
    Ok(out)
}

/// The process to run: the one given, or the container's changed by the overrides.
fn exec_process(config: &Spec, what: &ExecProcess) -> Result<Process, Error> {
    let opts: &Overrides = match what {
        ExecProcess::Process(p) => return Ok((**p).clone()),
        ExecProcess::Overrides(o) => o,
    };
    let mut p = config.process().clone().unwrap_or_default();
    if opts.args.is_empty() {
        return Err(config_err("args", "exec needs a command"));
    }
    // The text the process's record and hooks see; execve gets the bytes (`raw_argv`).
    p.set_args(Some(
        opts.args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
    ));
    let mut env = p.env().clone().unwrap_or_default();
    for e in &opts.env {
        let name = e.split('=').next().unwrap_or_default().to_owned();
        env.retain(|old| old.split('=').next() != Some(name.as_str()));
        env.push(e.clone());
    }
    p.set_env(Some(env));
    if let Some(cwd) = &opts.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut user = p.user().clone();
    if let Some((uid, gid)) = opts.user {
        user.set_uid(uid);
        if let Some(gid) = gid {
            user.set_gid(gid);
        }
    }
    if !opts.additional_gids.is_empty() {
        user.set_additional_gids(Some(opts.additional_gids.clone()));
    }
    p.set_user(user);
    if !opts.caps.is_empty() {
        p.set_capabilities(Some(add_caps(p.capabilities().clone(), &opts.caps)?));
    }
    if opts.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    p.set_terminal(Some(opts.tty));
    Ok(p)
}

/// The arguments as bytes for execve when one is not UTF-8 (None: the text args are exact).
fn raw_argv(args: &[OsString]) -> Result<Option<Vec<CString>>, Error> {
    if args.iter().all(|a| a.to_str().is_some()) {
        return Ok(None);
    }
    if args.first().is_some_and(|a| a.to_str().is_none()) {
        return Err(config_err(
            "COMMAND",
            format!("{:?}: the program's name must be UTF-8", args[0]),
        ));
    }
    args.iter()
        .map(|a| {
            CString::new(a.as_bytes())
                .map_err(|_| config_err("COMMAND", format!("{a:?}: contains a NUL byte")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn add_caps(caps: Option<LinuxCapabilities>, names: &[String]) -> Result<LinuxCapabilities, Error> {
    let mut caps = caps.unwrap_or_default();
    for name in names {
        let cap: Capability = serde_json::from_value(name.clone().into())
            .map_err(|_| config_err("--cap", format!("{name:?}: unknown capability")))?;
        let add = |set: &Option<_>| {
            let mut set: std::collections::HashSet<Capability> = set.clone().unwrap_or_default();
            set.insert(cap);
            Some(set)
        };
        // Not inheritable or ambient (CVE-2022-29162): those survive execve for a non-root
        // user, so `--cap` would hand the capability to whatever the process runs. They
        // come only from the config.
        caps.set_bounding(add(caps.bounding()));
        caps.set_effective(add(caps.effective()));
        caps.set_permitted(add(caps.permitted()));
    }
    Ok(caps)
}

/// The init's namespaces, opened now (on the host), user first and mnt last: the user
/// namespace grants the right to join the others, and after the mount namespace no host
/// path resolves any more.
fn open_namespaces(state: &State) -> Result<Vec<Join>, Error> {
    let mut kinds: Vec<Ns> = ALL_KINDS
        .into_iter()
        .filter(|k| state.namespace_paths.contains_key(oci_name(*k)))
        .collect();
    kinds.sort_by_key(|k| match k {
        Ns::User => 0,
        Ns::Mount => 2,
        _ => 1,
    });
    kinds
        .into_iter()
        .map(|kind| {
            let path = &state.namespace_paths[oci_name(kind)];
            let fd =
                open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()).map_err(|e| {
                    Error::Io {
                        what: format!("{} namespace {}", oci_name(kind), path.display()),
                        reason: e.desc().into(),
                    }
                })?;
            Ok(Join { kind, fd })
        })
        .collect()
}
