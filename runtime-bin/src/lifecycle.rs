//! create, start, run, kill and delete: each a thin call into libcontainer.

use crate::cli::{CreateArgs, DeleteArgs, IdArg, KillArgs, RunArgs};
use crate::error::CliError;
use libcontainer::ConsoleSocket;
use libcontainer::{Container, ContainerBuilder, Created, Error};
use std::path::Path;

/// `rootless`: `--rootless` resolved; `systemd_cgroup`: the global `--systemd-cgroup`.
fn builder(
    root: &Path,
    args: &CreateArgs,
    rootless: bool,
    systemd_cgroup: bool,
) -> Result<ContainerBuilder, CliError> {
    let mut b = ContainerBuilder::new(&args.id)?
        .root(root)
        .rootless(rootless)
        .systemd_cgroup(systemd_cgroup)
        .no_pivot(args.no_pivot)
        .no_new_keyring(args.no_new_keyring)
        .preserve_fds(args.preserve_fds);
    if let Some(bundle) = &args.bundle {
        b = b.bundle(bundle);
    }
    if let Some(socket) = &args.console_socket {
        b = b.console_socket(socket);
    }
    if let Some(pid_file) = &args.pid_file {
        b = b.pid_file(pid_file);
    }
    if let Some(host) = notify_socket()? {
        b = b.notify_socket(host);
    }
    Ok(b.listen_fds(libcontainer::listen_fds_from_env()))
}

/// The caller's NOTIFY_SOCKET (systemd's Type=notify, podman's --sdnotify=container): as
/// runc, create and run give the container a socket of its own, and start and run relay its
/// READY=1. Empty counts as unset, as with sd_notify(3).
fn notify_socket() -> Result<Option<libcontainer::HostSocket>, CliError> {
    let Some(value) = std::env::var_os("NOTIFY_SOCKET").filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let host = libcontainer::HostSocket::parse(&value).map_err(Error::from)?;
    Ok(Some(host))
}

pub fn create(
    root: &Path,
    args: &CreateArgs,
    rootless: bool,
    systemd_cgroup: bool,
) -> Result<i32, CliError> {
    builder(root, args, rootless, systemd_cgroup)?.create()?;
    Ok(0)
}

/// With NOTIFY_SOCKET, returns only once the container said READY=1 (or exited), as runc.
pub fn start(root: &Path, args: &IdArg) -> Result<i32, CliError> {
    let mut c = Container::load(root, &args.id)?;
    match notify_socket()? {
        Some(host) => c.start_notify(&host)?,
        None => c.start()?,
    }
    Ok(0)
}

/// create + start; in the foreground, waits (forwarding signals to the init), deletes the
/// container (unless --keep) and exits with its status (128+N when signal N killed it).
/// A terminal without --console-socket is relayed by berth itself, as runc does.
pub fn run(
    root: &Path,
    args: &RunArgs,
    rootless: bool,
    systemd_cgroup: bool,
) -> Result<i32, CliError> {
    let id = &args.create.id;
    let bundle = args.create.bundle.as_deref().unwrap_or(Path::new("."));
    // Parsed once, here, to see whether it wants a terminal; a config that does not load is
    // left to create, to report with its own error.
    let config = libcontainer::spec::load_spec(bundle).ok();
    let wants_terminal = config.as_ref().is_some_and(|s| {
        s.process()
            .as_ref()
            .and_then(|p| p.terminal())
            .unwrap_or(false)
    });
    let relay = if !args.detach && args.create.console_socket.is_none() && wants_terminal {
        Some(ConsoleSocket::bind()?)
    } else {
        None
    };
    let mut b = builder(root, &args.create, rootless, systemd_cgroup)?;
    if let Some(config) = config {
        b = b.config(config);
    }
    if let Some(socket) = &relay {
        b = b.console_socket(socket.path());
    }
    let mut created = b.create()?;
    // The init sent the master during create; take it before it runs.
    let master = match relay
        .as_ref()
        .map(ConsoleSocket::receive_master)
        .transpose()
    {
        Ok(m) => m,
        Err(e) => {
            let _ = Container::load(root, id).and_then(|c| c.delete(true));
            return Err(e.into());
        }
    };
    drop(relay);
    let notify = notify_socket()?;
    start_or_delete(root, &mut created, notify.as_ref(), !args.detach)?;
    if args.detach {
        return Ok(0);
    }
    let code = match master {
        Some(m) => created.relay_terminal(m)?,
        None => created.wait_forwarding_signals()?,
    };
    // 137: SIGKILL, which is how the OOM killer ends a process; other exits cost no lookup.
    if code == 128 + libcontainer::Signal::SIGKILL as i32 {
        report_oom_kills(created.container());
    }
    if !args.keep {
        created.delete(true)?;
    }
    Ok(code)
}

/// A foreground `run` stands in for the container at the terminal: an exit by the OOM killer
/// (137, like any SIGKILL) is said so, from the cgroup's counter, before delete removes it.
fn report_oom_kills(c: &Container) {
    match c.oom_kills() {
        Ok(0) => {}
        Ok(n) => log::warn!(
            "container {} was OOM-killed: the kernel's OOM killer killed {n} of its processes \
             (memory limit reached)",
            c.id()
        ),
        Err(e) => log::debug!("OOM kills of {}: {e}", c.id()),
    }
}

/// With a notify socket, returns once the container said READY=1 (or exited), as runc's
/// `run` does, detached or not.
fn start_or_delete(
    root: &Path,
    created: &mut Created,
    notify: Option<&libcontainer::HostSocket>,
    foreground: bool,
) -> Result<(), CliError> {
    let started = match notify {
        Some(host) => created.start_notify(host, foreground),
        None => created.start(),
    };
    if let Err(e) = started {
        // A container that never ran is of no use to anyone: do not leave it behind.
        let id = created.container().id();
        let _ = Container::load(root, id).and_then(|c| c.delete(true));
        return Err(e.into());
    }
    Ok(())
}

pub fn kill(root: &Path, args: &KillArgs) -> Result<i32, CliError> {
    let signal = libcontainer::parse_kill_signal(&args.signal)?;
    match Container::load(root, &args.id) {
        Ok(c) => c.send_signal(signal, args.all)?,
        // Its init is not known: every process left in its cgroup gets the signal.
        // Signal 0 only asks whether the init exists, and a broken record names none.
        Err(Error::Broken { .. }) => match signal {
            Some(signal) => libcontainer::kill_broken(root, &args.id, signal)?,
            None => {
                return Err(CliError::from(Error::Broken {
                    id: args.id.clone(),
                    reason: "its init is not known".into(),
                }))
            }
        },
        Err(e) => return Err(e.into()),
    }
    Ok(0)
}

pub fn delete(root: &Path, args: &DeleteArgs) -> Result<i32, CliError> {
    match Container::load(root, &args.id) {
        Ok(c) => c.delete(args.force)?,
        // runc: `delete --force` of a container that is already gone succeeds, so engines can
        // clean up idempotently.
        Err(Error::NotFound(_)) if args.force => {}
        Err(Error::Broken { .. }) if args.force => libcontainer::delete_broken(root, &args.id)?,
        Err(e) => return Err(e.into()),
    }
    Ok(0)
}
