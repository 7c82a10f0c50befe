//! The processes of a container and the order in which they are made (docs/process-model.md).
//!
//! `launch` runs in `berth create`: it clones the first child straight into the new namespaces
//! and then serves it over a [`Channel`](crate::channel::Channel) until the container's init
//! reports `Ready`. The child side is `stage` (namespaces) then `init` (everything inside).

mod exec;
mod executor;
mod fds;
mod init;
mod join;
mod keyring;
mod plan;
mod reexec;
mod relay;
pub mod sealed_exe;
mod setup_error;
mod stage;
pub mod start;
mod stdio;
mod wait;

pub(crate) use executor::{prepare_executor, ExecutorPlan};
pub use executor::{Executor, ExecutorContext, ExecutorError, ExecutorFn};
pub use fds::reserve_preserved_fds;
pub use join::{spawn_joined, JoinConfig, JoinEvents};
pub use reexec::InitExecutableError;
pub use relay::relay_terminal;
pub use setup_error::{SetupError, Step};
pub use start::StartError;
pub use stdio::{prepare_stdio, PreparedStdio};
pub(crate) use wait::forwarded as forwarded_signals;
pub use wait::{wait_child, wait_forwarding_signals};

use crate::channel::{channel_pair, ChildEnd, ParentEnd, ToChild, ToParent};
use crate::namespaces::NamespacePlan;
use crate::seccomp::SeccompProgram;
use crate::sys::clone::{clone_into, Cloned};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{OwnedFd, RawFd};
use std::path::Path;

/// Making or running the container's processes failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// clone(2) of a container process failed.
    #[error("clone: {0}")]
    Clone(nix::Error),
    /// The channel to the container's processes failed.
    #[error("{0}")]
    Channel(#[from] crate::channel::ChannelError),
    /// The container's process failed a setup step: which one, on which field, with which
    /// errno.
    #[error("{0}")]
    Setup(#[source] SetupError),
    /// The container's process broke the protocol (a message out of order).
    #[error("{0}")]
    Protocol(String),
    /// A step the caller performs for us (cgroup, hooks, state: the container layer's own
    /// typed error, which `source()` returns) or the runtime's own preparation failed.
    #[error("{0}")]
    Parent(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl ProcessError {
    fn parent(e: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        ProcessError::Parent(e.into())
    }
}

/// Everything the child processes need. They are clones of this process, so they read it
/// straight from memory: nothing is serialised.
pub struct LaunchConfig<'a> {
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub ns: &'a NamespacePlan,
    pub no_pivot: bool,
    /// Join a new session keyring `_ses.<id>` (runc's default; off with `--no-new-keyring`).
    pub new_keyring: Option<&'a str>,
    /// The console socket, connected by the parent (where the host's permissions apply).
    pub console_socket: Option<&'a OwnedFd>,
    pub preserve_fds: u32,
    /// The placeholders in 3..3+preserve_fds (see `fds`), closed before execve.
    pub preserve_holes: &'a [RawFd],
    /// The caller's stdio for the init, installed where the console would be.
    pub stdio: &'a PreparedStdio,
    pub seccomp: Option<&'a SeccompProgram>,
    pub start_listener: &'a OwnedFd,
    /// fds of the parent the children must close at once (the state dir lock: `start` must
    /// be able to take it while the init waits).
    pub close_in_child: &'a [RawFd],
    /// What the init becomes after `start` (process/executor.rs).
    pub executor: &'a ExecutorPlan,
    /// An executable to exec as the init instead of this one (reexec.rs); with one, the
    /// init is always exec'd.
    pub init_exe: Option<&'a Path>,
    /// `spec.mounts[index]` is to be attached from this detached mount the parent made
    /// (`rootfs::RootfsOptions::premade`).
    pub premade_mount: Option<(usize, &'a OwnedFd)>,
    /// The idmapped mounts the parent made, for the init to attach.
    pub idmapped: &'a crate::rootfs::IdmappedMounts,
}

/// The steps of `create` that belong to the container layer, called by `launch` in order.
pub trait LaunchEvents {
    /// The caller's own error, returned boxed in [`ProcessError::Parent`].
    type Error: std::error::Error + Send + Sync + 'static;
    /// The first child exists (pid in our namespace): put it into the container's cgroup.
    fn child_created(&mut self, pid: i32) -> Result<(), Self::Error>;
    /// The container's init exists.
    fn init_created(&mut self, pid: i32) -> Result<(), Self::Error>;
    /// Mounts are made: run prestart and createRuntime hooks; return the state JSON the init
    /// gives its own hooks (createContainer, startContainer).
    fn create_runtime(&mut self) -> Result<Vec<u8>, Self::Error>;
    /// The init (pid) is waiting for `start`: record the container. Only once this returned
    /// is the init told it may outlive `create` (`Committed`); until then it dies with us.
    fn ready(&mut self, pid: i32) -> Result<(), Self::Error>;
}

/// Does the config ask for hooks that interrupt setup? If not, the round trip is skipped.
pub(crate) fn has_create_hooks(spec: &Spec) -> bool {
    spec.hooks().as_ref().is_some_and(|h| {
        #[allow(deprecated)]
        let prestart = h.prestart().as_ref().is_some_and(|v| !v.is_empty());
        [
            h.create_runtime(),
            h.create_container(),
            h.start_container(),
        ]
        .iter()
        .any(|v| v.as_ref().is_some_and(|v| !v.is_empty()))
            || prestart
    })
}

/// Namespaces that can be created by the clone itself. A cgroup namespace must be unshared
/// after the parent moved the child into its cgroup (its root is the cgroup at unshare time),
/// and a time namespace before its offsets are written, which only works for later children.
/// With a time namespace the init is a second child, so its pid namespace is unshared (not
/// cloned) to make that second child, not the first, its pid 1.
fn direct_clone_flags(ns: &NamespacePlan) -> nix::sched::CloneFlags {
    use crate::namespaces::clone_flag;
    let mut flags =
        ns.new - clone_flag(LinuxNamespaceType::Cgroup) - clone_flag(LinuxNamespaceType::Time);
    if ns.has_new(LinuxNamespaceType::Time) {
        flags -= clone_flag(LinuxNamespaceType::Pid);
    }
    flags
}

/// Creates the container's processes and serves them until the init waits for `start`.
/// Returns the init's pid. On error, every process made is killed and reaped.
pub fn launch<E: LaunchEvents>(cfg: &LaunchConfig, events: &mut E) -> Result<i32, ProcessError> {
    let (parent, child) = channel_pair()?;
    // Joining a namespace by path must happen before new ones are made (a new user namespace
    // would lose the right to join the host's), so then the child unshares instead.
    let reexec = reexec::wanted() || cfg.executor.needs_exec_init() || cfg.init_exe.is_some();
    // An exec'd image born in a new user namespace would exec before its id maps exist, with
    // its root unmapped, and so lose every capability there: it unshares it after the exec.
    let direct = cfg.ns.joins.is_empty() && !(reexec && cfg.ns.has_new(LinuxNamespaceType::User));
    let flags = if direct {
        direct_clone_flags(cfg.ns)
    } else {
        nix::sched::CloneFlags::empty()
    };
    let exec_init = reexec
        .then(|| exec_init_for(cfg, &child, direct))
        .transpose()?;
    let first = match clone_into(flags).map_err(ProcessError::Clone)? {
        Cloned::Child => {
            if let Some(e) = &exec_init {
                e.exec()
            }
            drop(parent);
            stage::child_main(cfg, child, direct)
        }
        Cloned::Parent(pid) => pid,
    };
    drop((child, exec_init));
    let mut init = None;
    let result = serve_child(cfg, &parent, events, first, direct, &mut init);
    if result.is_err() {
        for pid in [Some(first), init].into_iter().flatten() {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
    } else if init != Some(first) {
        // The first child only forked the init (with CLONE_PARENT, so the init is ours).
        let _ = waitpid(first, None);
    }
    result
}

/// For a multithreaded caller, what the clone needs to exec a fresh init (reexec.rs); the
/// plan names every fd the init adopts.
fn exec_init_for(
    cfg: &LaunchConfig,
    child: &ChildEnd,
    direct: bool,
) -> Result<reexec::ExecInit, ProcessError> {
    use std::os::fd::AsRawFd;
    let plan = plan::encode_launch(cfg, direct).map_err(ProcessError::parent)?;
    let mut keep = vec![cfg.start_listener.as_raw_fd()];
    keep.extend(cfg.console_socket.map(AsRawFd::as_raw_fd));
    keep.extend(cfg.premade_mount.map(|(_, fd)| fd.as_raw_fd()));
    keep.extend(cfg.ns.joins.iter().map(|j| j.fd.as_raw_fd()));
    keep.extend(cfg.stdio.raw_fds().into_iter().flatten());
    keep.extend(cfg.executor.raw_fd());
    keep.extend(cfg.idmapped.raw_fds().into_iter().map(|(_, fd)| fd));
    let (preserve, close) = (cfg.preserve_fds, cfg.close_in_child);
    reexec::ExecInit::prepare(&plan, child, (keep, preserve), close, true, cfg.init_exe)
}

fn serve_child<E: LaunchEvents>(
    cfg: &LaunchConfig,
    chan: &ParentEnd,
    events: &mut E,
    first: Pid,
    direct: bool,
    init: &mut Option<Pid>,
) -> Result<i32, ProcessError> {
    if direct && cfg.ns.has_new(LinuxNamespaceType::User) {
        crate::namespaces::write_id_maps(cfg.spec, first.as_raw()).map_err(ProcessError::parent)?;
    }
    events
        .child_created(first.as_raw())
        .map_err(ProcessError::parent)?;
    crate::pause_point::pause_at("create:cgroup");
    chan.send(&ToChild::Go)?;
    loop {
        match chan.recv()? {
            ToParent::NeedIdMaps => {
                crate::namespaces::write_id_maps(cfg.spec, first.as_raw())
                    .map_err(ProcessError::parent)?;
                chan.send(&ToChild::IdMapsDone)?;
            }
            ToParent::InitPid(pid) => {
                let pid = if pid == 0 { first } else { Pid::from_raw(pid) };
                *init = Some(pid);
                events
                    .init_created(pid.as_raw())
                    .map_err(ProcessError::parent)?;
                crate::pause_point::pause_at("create:init");
            }
            ToParent::CreateRuntime => {
                let json = events.create_runtime().map_err(ProcessError::parent)?;
                chan.send(&ToChild::HooksDone(json))?;
            }
            ToParent::Ready => break,
            ToParent::Error(p) => return Err(ProcessError::Setup(SetupError::from_packet(p)?)),
            other => {
                return Err(ProcessError::Protocol(format!(
                    "protocol: unexpected {other:?}"
                )))
            }
        }
    }
    let pid = init
        .map(Pid::as_raw)
        .ok_or_else(|| ProcessError::Protocol("protocol: ready before init pid".into()))?;
    commit(chan, events, pid)
}

/// The init is Ready: the container layer records it, then the init is let go.
fn commit<E: LaunchEvents>(
    chan: &ParentEnd,
    events: &mut E,
    pid: i32,
) -> Result<i32, ProcessError> {
    crate::pause_point::pause_at("create:ready");
    events.ready(pid).map_err(ProcessError::parent)?;
    crate::pause_point::pause_at("create:saved");
    chan.send(&ToChild::Committed)?;
    // The init closes its end once its parent-death signal is off: leaving before that would
    // take it with us.
    match chan.recv() {
        Err(crate::channel::ChannelError::Closed) => Ok(pid),
        Ok(other) => Err(ProcessError::Protocol(format!(
            "protocol: unexpected {other:?} after Committed"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Makes this child of `berth create` die with it (SIGKILL when the thread that cloned it
/// exits): until the container is recorded, nobody else would ever find or stop it. If the
/// creator died before this call, the channel tells: its end is closed, and the child's next
/// send or receive on it fails.
pub(super) fn die_with_creator() -> Result<(), SetupError> {
    nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL)).map_err(|e| {
        SetupError::new(Step::Launch, format!("prctl(PR_SET_PDEATHSIG): {e}")).with_errno(e)
    })
}

/// A copy of fd `fd` of process `pid` (pidfd_getfd, Linux 5.6, as seccomp notify agents
/// need anyway): how a seccomp notify listener leaves a process whose filter may notify any
/// syscall but write(2). The copy is close-on-exec.
pub(crate) fn take_fd(pid: i32, fd: i32) -> Result<OwnedFd, ListenerFdError> {
    use std::os::fd::AsFd;
    let fail = |call| move |source| ListenerFdError { call, pid, source };
    let pidfd = crate::sys::pidfd::open(pid).map_err(fail("pidfd_open"))?;
    crate::sys::pidfd::getfd(pidfd.as_fd(), fd).map_err(fail("pidfd_getfd"))
}

/// A seccomp notify listener could not be copied out of the container's process (`take_fd`):
/// the system call that failed, on which pid; `source()` is its errno.
#[derive(Debug, thiserror::Error)]
#[error("seccomp listener: {call} of pid {pid}: {}", .source.desc())]
pub struct ListenerFdError {
    call: &'static str,
    pid: i32,
    source: nix::errno::Errno,
}

pub(crate) use crate::sys::pidfd::open as pidfd_open;

/// Kills a process of ours and reaps it (undoing a create whose last steps failed).
pub fn kill_and_reap(pid: i32) {
    let pid = Pid::from_raw(pid);
    let _ = kill(pid, Signal::SIGKILL);
    let _ = waitpid(pid, None);
}
