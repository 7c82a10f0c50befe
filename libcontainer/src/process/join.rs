//! `berth exec`: a new process inside a running container. setns(2) into a pid (or time)
//! namespace only affects children, so the parent clones a child that joins the container's
//! namespaces and forks the process itself with CLONE_PARENT: it lives in every namespace of
//! the init and is the parent's own child, to wait for.
//!
//! ```text
//! parent                          child                         the process
//! clone ────────────────────────► connect --console-socket
//! join the container's cgroups    close the state-dir lock
//! ── Go ─────────────────────────► setns (user first, mnt last)
//!                                 clone(CLONE_PARENT) ────────► resolve args[0], fds, rlimits,
//! ◄─ InitPid(pid) ──────────────── exit                         cwd, signals, seccomp filter
//! ◄─ SeccompListener(fd number) (SCMP_ACT_NOTIFY only) ─────────  write(2), then wait
//! pidfd_getfd, forward the listener (with the process's pid) to listenerPath
//! ── SeccompListenerSent ────────────────────────────────────────► identity, caps, NNP
//! ◄─ EOF (channel closed by execve) or Error(SetupError) ───────  execve
//! ```
//! (with noNewPrivileges the filter, and so the listener, comes after identity, caps, NNP)

use super::exec::{finish_and_exec, resolve_executor};
use super::reexec::ExecInit;
use super::setup_error::AtStep;
use super::{ProcessError, SetupError, Step};
use crate::channel::{channel_pair, ChannelError, ChildEnd, ParentEnd, ToChild, ToParent};
use crate::namespaces::{join_namespaces, Join};
use crate::seccomp::SeccompProgram;
use crate::sys::clone::{clone_into, Cloned};
use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType as Ns, Spec};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

/// What the exec'd process needs; the children read it from memory.
pub struct JoinConfig<'a> {
    /// The container's config with `process` replaced by the one to run.
    pub spec: &'a Spec,
    /// The init's namespaces, user first and mnt last (fds opened by the parent on the host).
    pub joins: &'a [Join],
    pub seccomp: Option<&'a SeccompProgram>,
    pub console_socket: Option<&'a Path>,
    pub preserve_fds: u32,
    /// The placeholders in 3..3+preserve_fds (see `fds`), closed before execve.
    pub preserve_holes: &'a [RawFd],
    /// The caller's stdio for the process, installed where the console would be.
    pub stdio: &'a super::PreparedStdio,
    /// fds of the parent the children must close at once (the state dir lock).
    pub close_in_child: &'a [RawFd],
    /// The process's argv as bytes, when it is not the text of `spec.process.args`.
    pub argv: Option<&'a [std::ffi::CString]>,
    /// What the process becomes (process/executor.rs).
    pub executor: &'a super::ExecutorPlan,
    /// An executable to exec first instead of this one (reexec.rs); with one, always.
    pub init_exe: Option<&'a Path>,
}

/// What the container layer does for `spawn_joined`.
pub trait JoinEvents {
    /// The caller's own error, returned boxed in [`ProcessError::Parent`].
    type Error: std::error::Error + Send + Sync + 'static;
    /// Put the first child (pid in our namespace) into the container's cgroups, before it
    /// joins anything: the process, forked from it, inherits them.
    fn enter_cgroup(&mut self, pid: i32) -> Result<(), Self::Error>;
    /// The process (`pid`) installed a filter with SCMP_ACT_NOTIFY: hand its listener on.
    fn seccomp_listener(&mut self, listener: OwnedFd, pid: i32) -> Result<(), Self::Error>;
}

/// Starts the process. Returns its pid once its execve succeeded; on error every process
/// made is killed and reaped.
pub fn spawn_joined<E: JoinEvents>(cfg: &JoinConfig, events: &mut E) -> Result<i32, ProcessError> {
    let (parent, child) = channel_pair()?;
    // A multithreaded caller's clone execs a fresh image first (reexec.rs), which joins the
    // container's namespaces itself: nothing in the container sees a copy of the caller.
    let exec_init =
        if super::reexec::wanted() || cfg.executor.needs_exec_init() || cfg.init_exe.is_some() {
            let plan = super::plan::encode_join(cfg).map_err(ProcessError::parent)?;
            let mut keep: Vec<_> = cfg.joins.iter().map(|j| j.fd.as_raw_fd()).collect();
            keep.extend(cfg.stdio.raw_fds().into_iter().flatten());
            keep.extend(cfg.executor.raw_fd());
            let (preserve, close) = (cfg.preserve_fds, cfg.close_in_child);
            Some(ExecInit::prepare(
                &plan,
                &child,
                (keep, preserve),
                close,
                false,
                cfg.init_exe,
            )?)
        } else {
            None
        };
    let first = match clone_into(CloneFlags::empty()).map_err(ProcessError::Clone)? {
        Cloned::Child => {
            if let Some(e) = &exec_init {
                e.exec()
            }
            drop(parent);
            child_main(cfg, child)
        }
        Cloned::Parent(pid) => pid,
    };
    drop((child, exec_init));
    let mut process = None;
    let result = serve(&parent, events, first, &mut process);
    if result.is_err() {
        for pid in [Some(first), process].into_iter().flatten() {
            super::kill_and_reap(pid.as_raw());
        }
    } else if process != Some(first) {
        let _ = waitpid(first, None);
    }
    result
}

fn serve<E: JoinEvents>(
    chan: &ParentEnd,
    events: &mut E,
    first: Pid,
    process: &mut Option<Pid>,
) -> Result<i32, ProcessError> {
    events
        .enter_cgroup(first.as_raw())
        .map_err(ProcessError::parent)?;
    chan.send(&ToChild::Go)?;
    let mut listener = None;
    loop {
        match chan.recv() {
            Ok(ToParent::InitPid(pid)) => {
                *process = Some(if pid == 0 { first } else { Pid::from_raw(pid) });
            }
            Ok(ToParent::SeccompListener(fd)) => listener = Some(fd),
            Ok(ToParent::Error(p)) => return Err(ProcessError::Setup(SetupError::from_packet(p)?)),
            // Every copy of the child's end is gone: the process's execve closed it.
            Err(ChannelError::Closed) => break,
            Ok(other) => {
                return Err(ProcessError::Protocol(format!(
                    "protocol: unexpected {other:?}"
                )))
            }
            Err(e) => return Err(e.into()),
        }
        // The two messages come from different processes, in no guaranteed order: the
        // listener is taken and forwarded once both are in. The process waits for our answer
        // before any syscall its filter might notify.
        if let (Some(fd), Some(pid)) = (listener, *process) {
            listener = None;
            let l = super::take_fd(pid.as_raw(), fd).map_err(ProcessError::parent)?;
            events
                .seccomp_listener(l, pid.as_raw())
                .map_err(ProcessError::parent)?;
            chan.send(&ToChild::SeccompListenerSent)?;
        }
    }
    process
        .map(Pid::as_raw)
        .ok_or_else(|| ProcessError::Protocol("the exec'd process exited before reporting".into()))
}

pub(super) fn child_main(cfg: &JoinConfig, chan: ChildEnd) -> ! {
    // Non-dumpable until execve, as in stage.rs; the exe is the sealed view (sealed_exe.rs).
    let _ = nix::sys::prctl::set_dumpable(false);
    for &fd in cfg.close_in_child {
        // SAFETY: these fds belong to the parent's lock; this copy must not keep them.
        unsafe { libc::close(fd) };
    }
    let code = match run_child(cfg, &chan) {
        Ok(()) => 0,
        Err(e) => {
            let _ = chan.send(&ToParent::Error(e.to_packet()));
            1
        }
    };
    // SAFETY: _exit skips the parent's atexit handlers and buffered state.
    unsafe { libc::_exit(code) }
}

/// Returns in the child once it forked the process; never returns in the process.
fn run_child(cfg: &JoinConfig, chan: &ChildEnd) -> Result<(), SetupError> {
    // The console socket lives on the host: connect before joining the mount namespace.
    let console = cfg
        .console_socket
        .map(crate::tty::connect_console_socket)
        .transpose()
        .at(Step::Console)?;
    chan.expect(&ToChild::Go).at(Step::Protocol)?;
    join_namespaces(cfg.joins).at(Step::Namespaces)?;
    let must_fork = cfg
        .joins
        .iter()
        .any(|j| matches!(j.kind, Ns::Pid | Ns::Time));
    if must_fork {
        let forked = clone_into(CloneFlags::CLONE_PARENT).map_err(|e| {
            SetupError::new(Step::Namespaces, format!("fork process: {e}")).with_errno(e)
        })?;
        match forked {
            Cloned::Child => {}
            Cloned::Parent(pid) => {
                return chan
                    .send(&ToParent::InitPid(pid.as_raw()))
                    .at(Step::Protocol);
            }
        }
    } else {
        chan.send(&ToParent::InitPid(0)).at(Step::Protocol)?;
    }
    if let Some(socket) = console {
        let size = cfg.spec.process().as_ref().and_then(|p| p.console_size());
        let size = size.map(|b| (b.height() as u16, b.width() as u16));
        crate::tty::setup_console(socket, size).at(Step::Console)?;
    }
    cfg.stdio.install().at(Step::Console)?;
    let mut program = resolve_executor(cfg.spec, cfg.executor, cfg.preserve_fds)?;
    if let Some(argv) = cfg.argv {
        program = program.with_argv(argv);
    }
    super::fds::limit_fds(cfg.preserve_fds, cfg.preserve_holes).at(Step::Fds)?;
    // The parent takes the listener, forwards it to the container's listenerPath and answers.
    let mut send_listener = |l: OwnedFd| {
        chan.write_seccomp_listener(l.as_raw_fd())
            .map_err(|e| format!("seccomp listener to berth exec: {e}"))
            .at(Step::Seccomp)?;
        chan.expect(&ToChild::SeccompListenerSent)
            .map_err(|e| format!("berth exec did not hand on the seccomp listener: {e}"))
            .at(Step::Seccomp)
    };
    match finish_and_exec(
        cfg.spec,
        cfg.seccomp,
        &program,
        &mut send_listener,
        &mut || Ok(()),
    )? {}
}
