//! The container's init: everything inside the namespaces, in the order that keeps it safe.
//! Until `Ready` it reports errors over the channel (so `create` fails and cleans up); after
//! `start`'s `S` over the start connection (so `start` fails with the reason).

use super::exec::{finish_and_exec, resolve_executor, Program};
use super::setup_error::AtStep;
use super::start::{reply_error, reply_listener, wait_for_start};
use super::{LaunchConfig, SetupError, Step};
use crate::channel::{ChildEnd, ToChild, ToParent};
use crate::{hooks, rootfs, sysctl, tty};
use oci_spec::runtime::{LinuxNamespaceType as Ns, Spec};
use std::convert::Infallible;
use std::os::fd::OwnedFd;

pub(super) fn init_main(cfg: &LaunchConfig, chan: ChildEnd) -> i32 {
    let prepared = match prepare(cfg, &chan) {
        Ok(p) => p,
        Err(e) => {
            let _ = chan.send(&ToParent::Error(e.to_packet()));
            return 1;
        }
    };
    if chan.send(&ToParent::Ready).is_err() {
        return 1;
    }
    // Outlive `create` only once it recorded us: a creator that dies first (EOF here, or
    // the parent-death signal) leaves nothing that waits forever for a `start`.
    if chan.expect(&ToChild::Committed).is_err()
        || nix::sys::prctl::set_pdeathsig(None::<nix::sys::signal::Signal>).is_err()
    {
        return 1;
    }
    drop(chan);
    let Ok(conn) = wait_for_start(cfg.start_listener) else {
        return 1;
    };
    match start_program(cfg, &prepared, &conn) {
        Ok(never) => match never {},
        Err(e) => {
            reply_error(&conn, &e);
            127
        }
    }
}

struct Prepared {
    /// None for a config without `process`: created, but `start` fails.
    program: Option<Program>,
    /// The state JSON our own hooks (createContainer, startContainer) get on stdin.
    hooks_state: Vec<u8>,
}

/// Setup up to `Ready`, in runc's order: mounts, then the create hooks (runtime namespace
/// ones in the parent, then ours), then pivot_root, then what needs the final root.
fn prepare(cfg: &LaunchConfig, chan: &ChildEnd) -> Result<Prepared, SetupError> {
    let spec = cfg.spec;
    let console = cfg
        .console_socket
        .map(OwnedFd::try_clone)
        .transpose()
        .map_err(|e| SetupError::from_error(Step::Console, &e).context("console socket: dup"))?;
    if cfg.ns.has_new(Ns::Network) {
        crate::namespaces::bring_up_loopback().at(Step::Namespaces)?;
    }
    if let Some(id) = cfg.new_keyring {
        super::keyring::join_session_keyring(id).at(Step::Keyring)?;
    }
    let opts = rootfs::RootfsOptions {
        rootfs: cfg.rootfs.to_path_buf(),
        bundle: cfg.bundle.to_path_buf(),
        in_user_ns: cfg.ns.in_user_ns(),
        in_cgroup_ns: cfg.ns.has(Ns::Cgroup),
        inherited_mount_ns: !cfg.ns.has(Ns::Mount),
        premade: cfg
            .premade_mount
            .map(|(i, fd)| (i, std::os::fd::AsRawFd::as_raw_fd(fd))),
    };
    rootfs::prepare_rootfs(spec, &opts, cfg.idmapped).at(Step::Mounts)?;
    let hooks_state = if super::has_create_hooks(spec) {
        run_create_hooks(spec, chan)?
    } else {
        Vec::new()
    };
    if opts.inherited_mount_ns {
        rootfs::chroot_rootfs(cfg.rootfs).at(Step::PivotRoot)?;
    } else {
        rootfs::pivot_rootfs(cfg.rootfs, cfg.no_pivot).at(Step::PivotRoot)?;
    }
    set_names(spec)?;
    // Before the read-only paths: /proc/sys is usually one of them.
    if let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        sysctl::apply_sysctl(sysctl).at(Step::Sysctl)?;
    }
    rootfs::finish_rootfs(spec).at(Step::MaskedPaths)?;
    if let Some(socket) = console {
        let size = spec.process().as_ref().and_then(|p| p.console_size());
        let size = size.map(|b| (b.height() as u16, b.width() as u16));
        tty::setup_console(socket, size).at(Step::Console)?;
    }
    cfg.stdio.install().at(Step::Console)?;
    let program = spec
        .process()
        .is_some()
        .then(|| resolve_executor(spec, cfg.executor, cfg.preserve_fds))
        .transpose()?;
    super::fds::limit_fds(cfg.preserve_fds, cfg.preserve_holes).at(Step::Fds)?;
    Ok(Prepared {
        program,
        hooks_state,
    })
}

fn run_create_hooks(spec: &Spec, chan: &ChildEnd) -> Result<Vec<u8>, SetupError> {
    chan.send(&ToParent::CreateRuntime).at(Step::Protocol)?;
    let state = match chan.recv().at(Step::Protocol)? {
        ToChild::HooksDone(json) => json,
        other => {
            let text = format!("protocol: expected HooksDone, got {other:?}");
            return Err(SetupError::new(Step::Protocol, text));
        }
    };
    if let Some(list) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.create_container().as_ref())
    {
        hooks::run_hooks("createContainer", list, &state).at(Step::Hooks)?;
    }
    Ok(state)
}

fn set_names(spec: &Spec) -> Result<(), SetupError> {
    let fail = |field: &str, name: &str, e: nix::errno::Errno| {
        SetupError::new(Step::Hostname, format!("{field} {name:?}: {}", e.desc()))
            .with_field(Some(field.into()))
            .with_errno(e)
    };
    if let Some(name) = spec.hostname().as_deref().filter(|n| !n.is_empty()) {
        nix::unistd::sethostname(name).map_err(|e| fail("hostname", name, e))?;
    }
    if let Some(name) = spec.domainname().as_deref().filter(|n| !n.is_empty()) {
        // SAFETY: the pointer and length describe `name`'s bytes for the duration of the call.
        let r = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
        if r != 0 {
            return Err(fail("domainname", name, nix::errno::Errno::last()));
        }
    }
    Ok(())
}

/// After `start`: the process's own settings, then the startContainer hooks under them (as
/// runc runs them: same user, capabilities, noNewPrivileges and seccomp filter as the
/// program), then exec.
fn start_program(
    cfg: &LaunchConfig,
    p: &Prepared,
    conn: &ChildEnd,
) -> Result<Infallible, SetupError> {
    let spec = cfg.spec;
    let program = p.program.as_ref().ok_or_else(|| {
        SetupError::new(
            Step::Exec,
            "process: the config has none, and runtime-spec requires one to start the container",
        )
        .with_field(Some("process".into()))
    })?;
    let hooks = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_ref());
    let state = hooks.map(|_| created_state(&p.hooks_state));
    let mut start_hooks = || match (hooks, &state) {
        (Some(list), Some(state)) => {
            hooks::run_hooks("startContainer", list, state).at(Step::Hooks)
        }
        _ => Ok(()),
    };
    finish_and_exec(
        spec,
        cfg.seccomp,
        program,
        &mut |l| reply_listener(conn, &l).at(Step::Seccomp),
        &mut start_hooks,
    )
}

/// The state the parent gave us says "creating"; by `start` the container is "created".
fn created_state(creating: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(creating) {
        Ok(mut v) => {
            v["status"] = "created".into();
            v.to_string().into_bytes()
        }
        Err(_) => creating.to_vec(),
    }
}
