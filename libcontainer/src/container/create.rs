//! `create`: validate everything, then make the container, undoing every step on failure.

use super::{Container, ContainerBuilder, Created, Error};
use crate::cgroups::{self, CgroupPaths};
use crate::namespaces::{oci_name, plan_namespaces, NamespacePlan};
use crate::process::{launch, start::bind_start_listener, LaunchConfig, LaunchEvents};
use crate::state::{now_rfc3339, State, StateDir};
use crate::{attributes, hooks, rootfs, seccomp, spec, sysctl};
use oci_spec::runtime::{LinuxNamespaceType as Ns, Spec};
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
    let given = b.config.take();
    let checked = check_config(&b, given)?;
    let linux = checked.spec.linux().as_ref();
    let cgroup = cgroups::resolve(linux.and_then(|l| l.cgroups_path().as_deref()), &b.id)?;
    let dir = StateDir::create(&b.root, &b.id)?;
    let mut made = Made {
        dir: Some(dir),
        cgroup: None,
    };
    let dir = made.dir.as_ref().expect("state dir");
    // Recorded before anything else exists, so that whenever this process dies from here on,
    // `delete --force` knows the cgroups to empty and remove (and `list` shows the container).
    // Config first: whoever can read the state can also read the config.
    dir.save_config(&checked.spec)?;
    dir.save(&new_state(&b, &checked, 0, 0, cgroups::planned(&cgroup)))?;
    crate::pause_point::pause_at("create:recorded");
    // `launch` kills and reaps every process it made when it fails.
    let state = make(&b, &checked, cgroup, &mut made)?;
    made.keep();
    Ok(Created {
        container: Container {
            root: b.root,
            state,
        },
        config: checked.spec,
    })
}

/// What `create` has made so far, undone on drop unless kept.
struct Made {
    dir: Option<StateDir>,
    cgroup: Option<CgroupPaths>,
}

impl Made {
    fn keep(mut self) {
        self.dir = None;
        self.cgroup = None;
    }
}

impl Drop for Made {
    fn drop(&mut self) {
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
    let process = spec.process().as_ref().ok_or(Error::Config {
        field: "process",
        reason: "missing".into(),
    })?;
    super::validate::check_process(process, b.console_socket.is_some())?;
    super::validate::check_unsupported(&spec)?;
    let ns = plan_namespaces(&spec)?;
    check_namespace_needs(&spec, &ns)?;
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
    if !ns.has_new(Ns::Mount) {
        return Err(Error::Config {
            field: "linux.namespaces",
            reason: format!(
                "berth needs a new {} namespace to set up the rootfs",
                oci_name(Ns::Mount)
            ),
        });
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

fn make(
    b: &ContainerBuilder,
    c: &Checked,
    cgroup: CgroupPaths,
    made: &mut Made,
) -> Result<State, Error> {
    let dir = made.dir.as_ref().expect("state dir");
    let listener = bind_start_listener(dir.fd()).map_err(|e| Error::Io {
        what: format!("{}/start.sock", dir.path().display()),
        reason: e.to_string(),
    })?;
    let mut events = Events {
        b,
        c,
        dir,
        cgroup: Some(cgroup),
        state: None,
        made_cgroup: &mut made.cgroup,
    };
    let cfg = LaunchConfig {
        spec: &c.spec,
        bundle: &c.bundle,
        rootfs: &c.rootfs,
        ns: &c.ns,
        no_pivot: b.no_pivot,
        new_keyring: (!b.no_new_keyring).then_some(b.id.as_str()),
        console_socket: b.console_socket.as_deref(),
        preserve_fds: b.preserve_fds,
        seccomp: c.seccomp.as_ref(),
        start_listener: &listener,
        close_in_child: &[dir.raw_fd()],
    };
    launch(&cfg, &mut events)?;
    events
        .state
        .take()
        .ok_or_else(|| Error::Start("init never reported".into()))
}

/// Serves `launch`: the container layer's part of the create sequence.
struct Events<'a> {
    b: &'a ContainerBuilder,
    c: &'a Checked,
    dir: &'a StateDir,
    cgroup: Option<CgroupPaths>,
    state: Option<State>,
    made_cgroup: &'a mut Option<CgroupPaths>,
}

impl LaunchEvents for Events<'_> {
    fn child_created(&mut self, pid: i32) -> Result<(), String> {
        let mut paths = self.cgroup.take().unwrap_or_default();
        let linux = self.c.spec.linux().as_ref();
        let resources = cgroups::allow_creating(
            linux.and_then(|l| l.resources().as_ref()),
            linux
                .and_then(|l| l.devices().as_deref())
                .unwrap_or_default(),
        );
        cgroups::create_and_enter(
            &mut paths,
            nix::unistd::Pid::from_raw(pid),
            Some(&resources),
        )
        .map_err(|e| e.to_string())?;
        *self.made_cgroup = Some(paths);
        Ok(())
    }

    fn init_created(&mut self, pid: i32) -> Result<(), String> {
        let start =
            super::ops::own_child_start_time(pid).ok_or_else(|| format!("init {pid} vanished"))?;
        let cgroup = self.made_cgroup.clone().unwrap_or_default();
        self.state = Some(new_state(self.b, self.c, pid, start, cgroup));
        Ok(())
    }

    fn ready(&mut self, pid: i32) -> Result<(), String> {
        let state = self
            .state
            .as_ref()
            .ok_or("protocol: ready before init pid")?;
        self.dir.save(state).map_err(|e| e.to_string())?;
        if let Some(pid_file) = &self.b.pid_file {
            write_pid_file(pid_file, pid).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn create_runtime(&mut self) -> Result<Vec<u8>, String> {
        let state = self
            .state
            .as_ref()
            .ok_or("protocol: hooks before init pid")?;
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
                hooks::run_hooks(phase, list, json.as_bytes()).map_err(|e| e.to_string())?;
            }
        }
        Ok(json.into_bytes())
    }
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
    }
}

/// runc writes the pid file atomically too: a reader never sees an empty file.
fn write_pid_file(path: &Path, pid: i32) -> Result<(), Error> {
    let err = |e: std::io::Error| Error::Io {
        what: format!("--pid-file {}", path.display()),
        reason: e.to_string(),
    };
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, pid.to_string()).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}
