//! `create`: validate everything, then make the container, undoing every step on failure.

use super::{Container, ContainerBuilder, Created, Error};
use crate::cgroups::{self, CgroupPaths};
use crate::namespaces::{oci_name, plan_namespaces, NamespacePlan};
use crate::process::{launch, start::bind_start_listener, LaunchConfig, LaunchEvents};
use crate::state::{now_rfc3339, State, StateDir};
use crate::{attributes, hooks, rootfs, seccomp, spec, sysctl};
use oci_spec::runtime::{LinuxNamespaceType as Ns, Spec};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// The config, checked as a whole before anything exists.
struct Checked {
    spec: Spec,
    bundle: PathBuf,
    rootfs: PathBuf,
    ns: NamespacePlan,
    seccomp: Option<seccomp::SeccompProgram>,
}

pub(super) fn create(mut b: ContainerBuilder) -> Result<Created, Error> {
    // Before berth opens anything, so none of its fds lands among the preserved ones.
    let holes = reserve_holes(passed_fds(&b)?)?;
    let given = b.config.take();
    let checked = check_config(&b, given)?;
    // A loader opened and sealed, or a function found, before anything exists.
    let executor = crate::process::prepare_executor(&b.executor, b.init_executable.as_deref())?;
    if let Some(host) = &b.notify_socket {
        crate::notify::check_reachable(&checked.spec, &checked.ns, host)?;
        // Checked before anything exists: a relay that could not reach it would fail `start`
        // after the container was made.
        host.connect()?;
    }
    // Numbers decided here, before the clone (above 0..2 and the preserved range), so that the
    // init only dup2s them.
    let stdio =
        crate::process::prepare_stdio(b.stdio.as_array(), passed_fds(&b)?).map_err(|e| {
            Error::Io {
                what: "stdio: dup".into(),
                reason: e.to_string(),
            }
        })?;
    // Closed here once create returns (with `b`): the container holds the only copies.
    b.stdio = super::Stdio::default();
    let cgroup = resolve_cgroup(&b, &checked)?;
    cgroups::check_not_frozen(&cgroup)?;
    let mut made = record(&b, &checked, &cgroup)?;
    let rootfs_bind = made.rootfs_bind.as_ref().map(|(_, id)| *id);
    crate::pause_point::pause_at("create:recorded");
    // `launch` kills and reaps every process it made when it fails.
    let state = make(
        &b,
        &checked,
        (cgroup, rootfs_bind),
        (&holes, &stdio, &executor),
        &mut made,
    )?;
    made.keep();
    Ok(Created {
        container: Container {
            root: b.root,
            state,
        },
        config: checked.spec,
    })
}

/// The container's cgroup: where it goes (cgroupsPath, or systemd's slice:prefix:name), and
/// for a rootless container whether it may have one at all.
fn resolve_cgroup(b: &ContainerBuilder, checked: &Checked) -> Result<CgroupPaths, Error> {
    let linux = checked.spec.linux().as_ref();
    let cgroups_path = linux.and_then(|l| l.cgroups_path().as_deref());
    let cgroup = match b.systemd_cgroup {
        true => {
            let annotations = checked.spec.annotations().as_ref();
            cgroups::resolve_systemd(cgroups_path, &b.id, annotations)?
        }
        false => cgroups::resolve(cgroups_path, &b.id)?,
    };
    if b.rootless {
        if b.systemd_cgroup {
            // The per-user systemd manager is not driven (yet): refuse rather than make a
            // system scope the user does not own.
            return Err(cgroups::CgroupError::Systemd {
                reason: "not supported for a rootless container (the user's own systemd \
                         instance is not driven)"
                    .into(),
            }
            .into());
        }
        rootless_cgroup(cgroup, &checked.spec)
    } else {
        Ok(cgroup)
    }
}

/// The state dir, made and recorded before anything else exists (with pid 0 and the cgroups
/// about to be made), so that whenever this process dies from here on `delete --force` knows
/// what to empty and remove (and `list` shows the container). Config first: whoever can read
/// the state can also read the config.
fn record(b: &ContainerBuilder, checked: &Checked, cgroup: &CgroupPaths) -> Result<Made, Error> {
    let dir = StateDir::create(&b.root, &b.id)?;
    let mut made = Made {
        dir: Some(dir),
        cgroup: None,
        rootfs_bind: None,
    };
    if !checked.ns.has(Ns::Mount) {
        let id = rootfs::bind_rootfs_in_place(&checked.rootfs)?;
        made.rootfs_bind = Some((checked.rootfs.clone(), id));
    }
    let rootfs_bind = made.rootfs_bind.as_ref().map(|(_, id)| *id);
    let dir = made.dir.as_ref().expect("state dir");
    dir.save_config(&checked.spec)?;
    let mut early = new_state(b, checked, 0, 0, cgroups::planned(cgroup));
    early.rootfs_bind = rootfs_bind;
    dir.save(&early)?;
    Ok(made)
}

/// Rootless: the container's cgroup if this user may make it (a delegated cgroup v2 subtree),
/// else none at all (a partial one would make `pause` or `ps` see part of the container); then
/// every resource limit is refused, naming it, rather than silently not applied.
fn rootless_cgroup(cgroup: CgroupPaths, spec: &Spec) -> Result<CgroupPaths, Error> {
    let Some(denied) = cgroups::not_writable(&cgroup) else {
        return Ok(cgroup);
    };
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    let limits = resources.map(cgroups::limits_set).unwrap_or_default();
    if limits.is_empty() {
        return Ok(CgroupPaths::default());
    }
    let fields: Vec<String> = limits
        .iter()
        .map(|l| format!("linux.resources.{l}"))
        .collect();
    Err(Error::Config {
        field: "linux.resources",
        reason: format!(
            "{} cannot be applied: a rootless container gets a cgroup only where this user \
             may create one (a delegated cgroup v2 subtree named by linux.cgroupsPath), and \
             {} is not writable",
            fields.join(", "),
            denied.display()
        ),
    })
}

/// What `create` has made so far, undone on drop unless kept.
struct Made {
    dir: Option<StateDir>,
    cgroup: Option<CgroupPaths>,
    /// The rootfs and the mount id of its bind, for a container in the runtime's mount
    /// namespace.
    rootfs_bind: Option<(PathBuf, u64)>,
}

impl Made {
    fn keep(mut self) {
        self.dir = None;
        self.cgroup = None;
        self.rootfs_bind = None;
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        if let Some((rootfs, id)) = self.rootfs_bind.take() {
            let _ = rootfs::detach_rootfs(&rootfs, id);
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cgroups::destroy(&cg);
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.remove();
        }
    }
}

fn bundle_path(b: &ContainerBuilder) -> Result<PathBuf, Error> {
    let bundle = b.bundle.canonicalize().map_err(|e| Error::Bundle {
        path: b.bundle.clone(),
        reason: e.to_string(),
    })?;
    // Refused before anything exists: state.json (JSON text) could not record it.
    if bundle.to_str().is_none() {
        return Err(Error::Bundle {
            path: bundle,
            reason: "the path is not valid UTF-8, which the state (JSON) cannot record".into(),
        });
    }
    Ok(bundle)
}

/// `given`: a config the caller passed instead of the bundle's config.json.
fn check_config(b: &ContainerBuilder, given: Option<Spec>) -> Result<Checked, Error> {
    let bundle = bundle_path(b)?;
    let spec = match given {
        Some(config) => config,
        None => spec::load_spec(&bundle)?,
    };
    let rootfs = spec::resolve_rootfs(&spec, &bundle)?;
    // runtime-spec requires `process` only at start: a container without one is created (its
    // namespaces, mounts and hooks exist for whoever joins them) and `start` fails naming it.
    match spec.process() {
        Some(process) => {
            super::validate::check_process(process, b.console_socket.is_some())?;
            super::validate::check_stdio(&b.stdio, process.terminal().unwrap_or(false))?;
        }
        None if b.console_socket.is_some() => {
            return Err(Error::Config {
                field: "process",
                reason: "a console socket was given but there is no process to have a terminal"
                    .into(),
            })
        }
        None => {}
    }
    super::validate::check_unsupported(&spec)?;
    let ns = plan_namespaces(&spec)?;
    check_namespace_needs(&spec, &ns)?;
    if !ns.has(Ns::Mount) {
        rootfs::check_rootfs(&rootfs)?;
    }
    rootfs::validate_mounts(&spec)?;
    let linux = spec.linux().as_ref();
    cgroups::validate(linux.and_then(|l| l.resources().as_ref()))?;
    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        sysctl::validate_sysctl(sysctl, &|kind| ns.has(kind))?;
    }
    attributes::validate_attributes(&spec)?;
    hooks::validate_hooks(spec.hooks().as_ref())?;
    let seccomp = linux
        .and_then(|l| l.seccomp().as_ref())
        .map(seccomp::compile)
        .transpose()?;
    Ok(Checked {
        spec,
        bundle,
        rootfs,
        ns,
        seccomp,
    })
}

fn check_namespace_needs(spec: &Spec, ns: &NamespacePlan) -> Result<(), Error> {
    if !ns.has(Ns::Mount) {
        check_inherited_mount_ns(spec)?;
    }
    let named = spec.hostname().as_deref().is_some_and(|h| !h.is_empty())
        || spec.domainname().as_deref().is_some_and(|h| !h.is_empty());
    if named && !ns.has(Ns::Uts) {
        return Err(Error::Config {
            field: "hostname",
            reason: "needs a uts namespace of the container's own".into(),
        });
    }
    Ok(())
}

/// Sharing the runtime's mount namespace, the container's mounts are made under a bind of
/// its rootfs, and `/` is left alone: masking paths there is refused as runc refuses it
/// ("unable to restrict sys entries without a private MNT namespace"), and so is a propagation
/// for `/`, which would be the host's.
fn check_inherited_mount_ns(spec: &Spec) -> Result<(), Error> {
    let linux = spec.linux().as_ref();
    let listed = |l: Option<&Vec<String>>| l.is_some_and(|l| !l.is_empty());
    let needs_own = [
        (
            "linux.maskedPaths",
            listed(linux.and_then(|l| l.masked_paths().as_ref())),
        ),
        (
            "linux.readonlyPaths",
            listed(linux.and_then(|l| l.readonly_paths().as_ref())),
        ),
        (
            "linux.rootfsPropagation",
            linux
                .and_then(|l| l.rootfs_propagation().as_deref())
                .is_some_and(|p| !p.is_empty()),
        ),
    ];
    match needs_own.iter().find(|(_, set)| *set) {
        Some((field, _)) => Err(Error::Config {
            field,
            reason: format!(
                "needs a {} namespace of the container's own (it inherits the runtime's)",
                oci_name(Ns::Mount)
            ),
        }),
        None => Ok(()),
    }
}

/// The fds the container's process gets from 3 on: the socket-activated ones, then the
/// preserved ones.
fn passed_fds(b: &ContainerBuilder) -> Result<u32, Error> {
    b.preserve_fds
        .checked_add(b.listen_fds)
        .ok_or_else(|| Error::Config {
            field: "LISTEN_FDS",
            reason: format!(
                "{} with --preserve-fds {} is more fds than exist",
                b.listen_fds, b.preserve_fds
            ),
        })
}

/// A mount `create` made for the init to attach: its index in the launch config's mounts.
type Premade = (usize, OwnedFd);

/// The config the init runs, when the caller's environment adds to it (NOTIFY_SOCKET,
/// LISTEN_FDS); config.json keeps the bundle's, as runc's does for `exec`'s sake. With a
/// user namespace, also the notify directory's mount made here (its index in the mounts).
fn launch_spec<'a>(
    b: &ContainerBuilder,
    c: &'a Checked,
    dir: &StateDir,
) -> Result<(std::borrow::Cow<'a, Spec>, Option<Premade>), Error> {
    if b.notify_socket.is_none() && b.listen_fds == 0 {
        return Ok((std::borrow::Cow::Borrowed(&c.spec), None));
    }
    let mut spec = c.spec.clone();
    if b.listen_fds > 0 {
        crate::activation::add_to_spec(&mut spec, b.listen_fds);
    }
    if b.notify_socket.is_some() {
        crate::notify::make_dir(dir.fd())?;
        // The init mounts it by path: an absolute one of the host's, as the state root may be
        // given relative.
        let source = dir
            .path()
            .canonicalize()
            .map_err(|e| Error::Io {
                what: dir.path().display().to_string(),
                reason: e.to_string(),
            })?
            .join(crate::notify::STATE_SUBDIR);
        crate::notify::add_to_spec(&mut spec, &source)?;
        // The container's mapped root cannot resolve that path through the 0700 state root:
        // the init attaches this copy instead, where berth may make one.
        if c.ns.in_user_ns() {
            let index = spec
                .mounts()
                .as_ref()
                .map_or(0, |m| m.len().saturating_sub(1));
            let premade = crate::notify::detached_dir(dir.fd())?.map(|fd| (index, fd));
            return Ok((std::borrow::Cow::Owned(spec), premade));
        }
    }
    Ok((std::borrow::Cow::Owned(spec), None))
}

/// `crate::process::reserve_preserved_fds`, as the error `create` and `exec` report.
pub(super) fn reserve_holes(n: u32) -> Result<Vec<std::os::fd::RawFd>, Error> {
    crate::process::reserve_preserved_fds(n).map_err(|e| Error::Io {
        what: format!("--preserve-fds {n}"),
        reason: e.to_string(),
    })
}

fn make(
    b: &ContainerBuilder,
    c: &Checked,
    (cgroup, rootfs_bind): (CgroupPaths, Option<u64>),
    (holes, stdio, executor): (
        &[std::os::fd::RawFd],
        &crate::process::PreparedStdio,
        &crate::process::ExecutorPlan,
    ),
    made: &mut Made,
) -> Result<State, Error> {
    let dir = made.dir.as_ref().expect("state dir");
    let (spec, premade) = launch_spec(b, c, dir)?;
    let idmapped = rootfs::IdmappedMounts::prepare(&spec, &c.bundle)?;
    let listener = bind_start_listener(dir.fd()).map_err(|e| Error::Io {
        what: format!("{}/start.sock", dir.path().display()),
        reason: e.to_string(),
    })?;
    // Here, not in the init: the socket is the host's, and with a user namespace the init
    // has no host privileges left to reach it (runc connects in its parent too).
    let console = b
        .console_socket
        .as_deref()
        .map(crate::tty::connect_console_socket)
        .transpose()?;
    let mut events = Events {
        b,
        c,
        dir,
        cgroup: Some(cgroup),
        rootfs_bind,
        state: None,
        made_cgroup: &mut made.cgroup,
    };
    let cfg = LaunchConfig {
        spec: &spec,
        bundle: &c.bundle,
        rootfs: &c.rootfs,
        ns: &c.ns,
        no_pivot: b.no_pivot,
        new_keyring: (!b.no_new_keyring).then_some(b.id.as_str()),
        console_socket: console.as_ref(),
        preserve_fds: passed_fds(b)?,
        preserve_holes: holes,
        stdio,
        seccomp: c.seccomp.as_ref(),
        start_listener: &listener,
        close_in_child: &[dir.raw_fd()],
        executor,
        init_exe: b.init_executable.as_deref(),
        premade_mount: premade.as_ref().map(|(i, fd)| (*i, fd)),
        idmapped: &idmapped,
    };
    launch(&cfg, &mut events)?;
    events
        .state
        .take()
        .ok_or_else(|| protocol("protocol: ready before init pid".into()))
}

/// Serves `launch`: the container layer's part of the create sequence.
struct Events<'a> {
    b: &'a ContainerBuilder,
    c: &'a Checked,
    dir: &'a StateDir,
    cgroup: Option<CgroupPaths>,
    /// The mount id of the rootfs bind, without a mount namespace of the container's own.
    rootfs_bind: Option<u64>,
    state: Option<State>,
    made_cgroup: &'a mut Option<CgroupPaths>,
}

impl LaunchEvents for Events<'_> {
    type Error = Error;

    fn child_created(&mut self, pid: i32) -> Result<(), Error> {
        let mut paths = self.cgroup.take().unwrap_or_default();
        // A rootless container without a cgroup (see rootless_cgroup).
        if paths.hierarchies.is_empty() {
            return Ok(());
        }
        let linux = self.c.spec.linux().as_ref();
        let resources = cgroups::allow_creating(
            linux.and_then(|l| l.resources().as_ref()),
            linux
                .and_then(|l| l.devices().as_deref())
                .unwrap_or_default(),
        );
        // Rootless and without the host's privileges, the device policy cannot be set.
        let ns = &self.c.ns;
        let enter = if self.b.rootless && (ns.unprivileged || ns.runtime_in_user_ns) {
            cgroups::create_and_enter_without_devices
        } else {
            cgroups::create_and_enter
        };
        enter(
            &mut paths,
            nix::unistd::Pid::from_raw(pid),
            Some(&resources),
        )?;
        *self.made_cgroup = Some(paths);
        Ok(())
    }

    fn init_created(&mut self, pid: i32) -> Result<(), Error> {
        let start = super::ops::own_child_start_time(pid)
            .ok_or_else(|| protocol(format!("init {pid} vanished")))?;
        let cgroup = self.made_cgroup.clone().unwrap_or_default();
        let mut state = new_state(self.b, self.c, pid, start, cgroup);
        state.rootfs_bind = self.rootfs_bind;
        self.state = Some(state);
        Ok(())
    }

    fn ready(&mut self, pid: i32) -> Result<(), Error> {
        let state = self
            .state
            .as_ref()
            .ok_or_else(|| protocol("protocol: ready before init pid".into()))?;
        self.dir.save(state).map_err(Error::State)?;
        if let Some(pid_file) = &self.b.pid_file {
            write_pid_file(pid_file, pid)?;
        }
        Ok(())
    }

    fn create_runtime(&mut self) -> Result<Vec<u8>, Error> {
        let state = self
            .state
            .as_ref()
            .ok_or_else(|| protocol("protocol: hooks before init pid".into()))?;
        let annotations = self.c.spec.annotations().as_ref();
        let json = super::ops::oci_state(state, super::Status::Creating, annotations).to_string();
        let h = self.c.spec.hooks().as_ref();
        #[allow(deprecated)]
        let lists = [
            ("prestart", h.and_then(|h| h.prestart().as_ref())),
            ("createRuntime", h.and_then(|h| h.create_runtime().as_ref())),
        ];
        for (phase, list) in lists {
            if let Some(list) = list {
                hooks::run_hooks(phase, list, json.as_bytes())?;
            }
        }
        Ok(json.into_bytes())
    }
}

/// The init's side of the protocol went wrong (an init that vanished, messages out of order).
fn protocol(text: String) -> Error {
    Error::Process(crate::process::ProcessError::Protocol(text))
}

/// The record of the container; `pid` 0 while there is no init yet.
fn new_state(
    b: &ContainerBuilder,
    c: &Checked,
    pid: i32,
    start: u64,
    cgroup: CgroupPaths,
) -> State {
    let namespace_paths = crate::namespaces::ALL_KINDS
        .iter()
        .filter(|k| c.ns.has(**k))
        .map(|k| {
            (
                oci_name(*k).to_string(),
                PathBuf::from(format!(
                    "/proc/{pid}/ns/{}",
                    crate::namespaces::proc_name(*k)
                )),
            )
        })
        .collect();
    State {
        oci_version: c.spec.version().clone(),
        id: b.id.clone(),
        pid,
        init_start_time: start,
        bundle: c.bundle.clone(),
        rootfs: c.rootfs.clone(),
        created: now_rfc3339(),
        has_annotations: c.spec.annotations().as_ref().is_some_and(|a| !a.is_empty()),
        cgroup,
        namespace_paths,
        rootfs_bind: None,
    }
}

/// By `state::write_file_atomic`: a reader never sees an empty file, and a symlink planted at
/// the name (or at a temp name) never redirects the write.
pub(super) fn write_pid_file(path: &Path, pid: i32) -> Result<(), Error> {
    crate::state::write_file_atomic(path, pid.to_string().as_bytes(), 0o644).map_err(|e| {
        Error::Io {
            what: format!("--pid-file {}", path.display()),
            reason: e.to_string(),
        }
    })
}
