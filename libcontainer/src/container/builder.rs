//! `ContainerBuilder`: everything `create` needs, set by the caller, checked by `create`.

use super::{create, Created, Error, Stdio, DEFAULT_ROOT};
use std::path::PathBuf;

/// Builds a new container (typestate: only `create` turns a builder into a container).
#[derive(Debug)]
pub struct ContainerBuilder {
    pub(crate) id: String,
    pub(crate) root: PathBuf,
    pub(crate) bundle: PathBuf,
    pub(crate) console_socket: Option<PathBuf>,
    pub(crate) pid_file: Option<PathBuf>,
    pub(crate) no_pivot: bool,
    pub(crate) no_new_keyring: bool,
    pub(crate) preserve_fds: u32,
    pub(crate) config: Option<oci_spec::runtime::Spec>,
    pub(crate) stdio: Stdio,
    pub(crate) rootless: bool,
    pub(crate) notify_socket: Option<crate::notify::HostSocket>,
    pub(crate) listen_fds: u32,
    pub(crate) systemd_cgroup: bool,
    pub(crate) executor: crate::process::Executor,
    pub(crate) init_executable: Option<PathBuf>,
}

impl ContainerBuilder {
    /// Validates the id (not empty, no `/`, not `.` or `..`, runc's character set).
    pub fn new(id: &str) -> Result<Self, Error> {
        crate::state::validate_id(id).map_err(|reason| Error::InvalidId {
            id: id.into(),
            reason,
        })?;
        Ok(Self {
            id: id.into(),
            root: DEFAULT_ROOT.into(),
            bundle: ".".into(),
            console_socket: None,
            pid_file: None,
            no_pivot: false,
            no_new_keyring: false,
            preserve_fds: 0,
            config: None,
            stdio: Stdio::default(),
            rootless: false,
            notify_socket: None,
            listen_fds: 0,
            systemd_cgroup: false,
            executor: crate::process::Executor::default(),
            init_executable: None,
        })
    }
    /// State root; default `/run/berth`.
    pub fn root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = root.into();
        self
    }
    /// Bundle directory (config.json + rootfs); default the current directory.
    pub fn bundle(mut self, bundle: impl Into<PathBuf>) -> Self {
        self.bundle = bundle.into();
        self
    }
    /// A unix socket the container's pty master is sent to (SCM_RIGHTS, as runc does), for
    /// a config with `process.terminal`; the receiver relays the terminal. Default: none.
    pub fn console_socket(mut self, path: impl Into<PathBuf>) -> Self {
        self.console_socket = Some(path.into());
        self
    }
    /// Writes the init's pid (in the caller's pid namespace) to `path` once it is created,
    /// atomically and never through a symlink.
    pub fn pid_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.pid_file = Some(path.into());
        self
    }
    /// Uses `MS_MOVE` + `chroot` instead of `pivot_root(2)` (for a rootfs on a ramfs, where
    /// pivot_root is impossible; weaker: see runc's `--no-pivot`). Default false.
    pub fn no_pivot(mut self, yes: bool) -> Self {
        self.no_pivot = yes;
        self
    }
    /// Keeps the caller's session keyring instead of giving the container a new one
    /// (`_ses.<id>`). Default false.
    pub fn no_new_keyring(mut self, yes: bool) -> Self {
        self.no_new_keyring = yes;
        self
    }
    /// Rootless cgroups (runc's `--rootless`): where this user may not create the container's
    /// cgroup (cgroup v1, or v2 without a delegated subtree), the container gets none instead
    /// of failing, and a config asking for resource limits is refused, naming them. Without a
    /// cgroup, `pause`, `resume`, `update` and `events` refuse the container.
    pub fn rootless(mut self, yes: bool) -> Self {
        self.rootless = yes;
        self
    }
    /// runc's `--systemd-cgroup`: the cgroup is a transient scope systemd makes (cgroup v2
    /// hosts with systemd only), named by `linux.cgroupsPath` as `slice:prefix:name`.
    pub fn systemd_cgroup(mut self, yes: bool) -> Self {
        self.systemd_cgroup = yes;
        self
    }
    /// Pass fds 3..3+n of the caller to the container process.
    pub fn preserve_fds(mut self, n: u32) -> Self {
        self.preserve_fds = n;
        self
    }
    /// The host's NOTIFY_SOCKET (see [`crate::HostSocket`]): the container gets a notify socket
    /// of its own at /run/notify/notify.sock, which [`Container::start_notify`](super::Container::start_notify) relays.
    /// Checked here: create fails, leaving nothing, when no one receives on it.
    pub fn notify_socket(mut self, host: crate::notify::HostSocket) -> Self {
        self.notify_socket = Some(host);
        self
    }
    /// Socket activation (see [`crate::listen_fds_from_env`]): the caller's fds 3..3+n go to the
    /// container's process first, the `preserve_fds` ones after them, with LISTEN_FDS=n and
    /// LISTEN_PID=1 in its environment.
    pub fn listen_fds(mut self, n: u32) -> Self {
        self.listen_fds = n;
        self
    }
    /// Starts the container's processes by exec'ing `path` (a program that links
    /// libcontainer: the `berth` binary, or one of your own) instead of this executable.
    /// For a caller whose own executable does not link libcontainer (an interpreter that
    /// loaded it as an extension module) and that may have several threads: the clone of a
    /// multithreaded process must exec an image carrying libcontainer's init, and by default
    /// that is this executable. With it, the init is always exec'd (about 1 ms per create),
    /// from a sealed view of `path` (never the writable host file, CVE-2019-5736); it must be
    /// built from the same libcontainer, or the init refuses the launch plan. Not with
    /// [`Executor::function`](crate::Executor::function), whose code is in this executable.
    pub fn init_executable(mut self, path: impl Into<PathBuf>) -> Self {
        self.init_executable = Some(path.into());
        self
    }
    /// What the container's process runs after `start`, instead of `process.args[0]` from
    /// the rootfs: a loader from the host, or a function of this executable. See
    /// [`Executor`](crate::Executor) for what each may do and what it gets.
    pub fn executor(mut self, executor: crate::process::Executor) -> Self {
        self.executor = executor;
        self
    }
    /// The init's stdin, stdout and stderr (pipes, files, ...) instead of this program's own
    /// 0, 1 and 2; see [`Stdio`]. Refused with a config that asks for a terminal.
    pub fn stdio(mut self, stdio: Stdio) -> Self {
        self.stdio = stdio;
        self
    }
    /// Uses `config` instead of reading the bundle's config.json: for a caller that has already
    /// parsed it, as `berth run` does to see whether it wants a terminal, or one that builds
    /// its config in memory ([`crate::spec`] re-exports oci-spec's builders). A relative
    /// `root.path` (and relative mount sources) are still taken relative to the bundle; with
    /// an absolute `root.path` no bundle directory is needed (the bundle, recorded in the
    /// state and given to hooks, is then the current directory unless set).
    ///
    /// Runs `echo hello` from `/tmp/bundle/rootfs` with this program's stdio (as root; not
    /// run by `cargo test`):
    ///
    /// ```no_run
    /// use libcontainer::ContainerBuilder;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // First thing in main: create refuses to run from a writable executable.
    /// libcontainer::ensure_sealed_exe()?;
    /// let mut config = libcontainer::spec::default_spec(false);
    /// config.set_hostname(Some("in-memory".into()));
    /// if let Some(process) = config.process_mut() {
    ///     // `berth spec`'s default asks for a terminal, which needs a console socket to send
    ///     // the pty to; without one the process shares this program's stdio.
    ///     process.set_terminal(Some(false));
    ///     process.set_args(Some(vec!["echo".into(), "hello".into()]));
    /// }
    /// let mut created = ContainerBuilder::new("demo")?
    ///     .root("/run/berth")
    ///     .bundle("/tmp/bundle") // holds only the rootfs, at config.root.path ("rootfs")
    ///     .config(config)
    ///     .create()?;
    /// created.start()?;
    /// let code = created.wait()?;
    /// created.delete(false)?;
    /// # let _ = code; Ok(()) }
    /// ```
    pub fn config(mut self, config: oci_spec::runtime::Spec) -> Self {
        self.config = Some(config);
        self
    }
    /// Creates the container: namespaces, cgroup, rootfs, createRuntime/createContainer hooks;
    /// returns once the init waits for `start`. On any error nothing is left behind.
    /// Refused with [`Error::Exe`] unless the program ran [`crate::ensure_sealed_exe`] first.
    ///
    /// From a bundle directory (config.json and its rootfs), as `berth create` does:
    ///
    /// ```no_run
    /// # fn main() -> Result<(), libcontainer::Error> {
    /// libcontainer::ensure_sealed_exe()?;
    /// let created = libcontainer::ContainerBuilder::new("web")?
    ///     .root("/run/my-engine")
    ///     .bundle("/srv/bundles/web")
    ///     .pid_file("/run/my-engine/web.pid")
    ///     .create()?;
    /// println!("init {} waits for start", created.container().pid());
    /// # Ok(()) }
    /// ```
    pub fn create(self) -> Result<Created, Error> {
        crate::process::sealed_exe::check_sealed_exe()?;
        create::create(self)
    }
}
