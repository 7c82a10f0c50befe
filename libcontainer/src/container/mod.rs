//! The public face of a container: build one from a bundle, then start, signal, inspect and
//! delete it. Every operation that changes the container takes its lock, so concurrent commands
//! on one id are safe; reading it and signalling it do not, so they never wait behind a command
//! that is itself waiting on the container.
//!
//! ```no_run
//! use libcontainer::container::{ContainerBuilder, Container};
//! use libcontainer::Signal;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // First thing in main: re-exec from a sealed view of our executable (CVE-2019-5736).
//! libcontainer::ensure_sealed_exe()?;
//! let root = "/run/berth";
//! let created = ContainerBuilder::new("demo")?.root(root).bundle("/tmp/bundle").create()?;
//! println!("init pid {}", created.container().pid());
//! let mut c = Container::load(root, "demo")?;
//! c.start()?;
//! c.kill(Signal::SIGKILL, false)?;
//! // ... once it has stopped:
//! c.delete(false)?;
//! # Ok(()) }
//! ```

mod create;
mod exec;
mod ops;
mod pidfd;
mod resources;
mod salvage;
mod validate;

use std::path::PathBuf;

pub use exec::{ExecChild, ExecOptions};
pub use nix::sys::signal::Signal;
pub use ops::{list, parse_kill_signal, parse_signal, Listed};
pub use salvage::{delete_broken, kill_broken};

/// Errors of the public API. Each wraps the failing step's own error, which names the field,
/// path or argument at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },
    #[error("container {0} does not exist")]
    NotFound(String),
    /// Its directory exists but its record cannot be read (missing, empty, torn or corrupt
    /// state.json): only `delete --force` and `kill` act on it, from what is left.
    #[error("container {id} is broken: {reason} (delete --force removes what is left of it)")]
    Broken { id: String, reason: String },
    /// `delete --force` of a broken container removed what it could; these are what it could
    /// not.
    #[error("container {id}: could not clean up: {}", failures.join("; "))]
    Cleanup { id: String, failures: Vec<String> },
    #[error("container {0} already exists")]
    AlreadyExists(String),
    #[error("container {id} is {status}: {reason}")]
    WrongStatus {
        id: String,
        status: Status,
        reason: &'static str,
    },
    #[error("bundle {path}: {reason}")]
    Bundle { path: PathBuf, reason: String },
    #[error("{field}: {reason}")]
    Config { field: &'static str, reason: String },
    #[error("unknown signal {0:?}")]
    UnknownSignal(String),
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    #[error(transparent)]
    State(crate::state::StateError),
    #[error(transparent)]
    Namespace(#[from] crate::namespaces::NamespaceError),
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::RootfsError),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    Capabilities(#[from] crate::capabilities::CapsError),
    #[error(transparent)]
    Rlimit(#[from] crate::rlimits::RlimitError),
    #[error(transparent)]
    Sysctl(#[from] crate::sysctl::SysctlError),
    #[error(transparent)]
    Attribute(#[from] crate::attributes::AttributeError),
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
    #[error(transparent)]
    Tty(#[from] crate::tty::TtyError),
    /// The caller did not run [`crate::ensure_sealed_exe`] first (CVE-2019-5736).
    #[error(transparent)]
    Exe(#[from] crate::process::sealed_exe::SealError),
    #[error("start: {0}")]
    Start(String),
    #[error("{what}: {reason}")]
    Io { what: String, reason: String },
}

impl From<crate::state::StateError> for Error {
    fn from(e: crate::state::StateError) -> Self {
        use crate::state::StateError as S;
        match e {
            S::NotFound(id) => Error::NotFound(id),
            S::AlreadyExists(id) => Error::AlreadyExists(id),
            other => Error::State(other),
        }
    }
}

/// The OCI status, derived from kernel facts each time it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    /// The OCI name (`created`, `running`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Builds a new container (typestate: only `create` turns a builder into a container).
#[derive(Debug, Clone)]
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
            root: crate::DEFAULT_ROOT.into(),
            bundle: ".".into(),
            console_socket: None,
            pid_file: None,
            no_pivot: false,
            no_new_keyring: false,
            preserve_fds: 0,
            config: None,
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
    pub fn console_socket(mut self, path: impl Into<PathBuf>) -> Self {
        self.console_socket = Some(path.into());
        self
    }
    pub fn pid_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.pid_file = Some(path.into());
        self
    }
    pub fn no_pivot(mut self, yes: bool) -> Self {
        self.no_pivot = yes;
        self
    }
    pub fn no_new_keyring(mut self, yes: bool) -> Self {
        self.no_new_keyring = yes;
        self
    }
    /// Pass fds 3..3+n of the caller to the container process.
    pub fn preserve_fds(mut self, n: u32) -> Self {
        self.preserve_fds = n;
        self
    }
    /// Uses `config` instead of reading the bundle's config.json (the rootfs is still taken
    /// relative to the bundle): for a caller that has already parsed it, as `berth run` does
    /// to see whether it wants a terminal, or one that builds its config in memory.
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
    pub fn create(self) -> Result<Created, Error> {
        crate::check_sealed_exe()?;
        create::create(self)
    }
}

/// A container this process just created. Its init is our child, so the caller can wait for
/// it (`berth run`); dropping this value does not touch the container.
#[derive(Debug)]
pub struct Created {
    pub(crate) container: Container,
    /// The config as created: start and delete need its hooks and seccomp listener, and
    /// need not read back from disk what this process just wrote.
    pub(crate) config: oci_spec::runtime::Spec,
}

impl Created {
    /// Starts the container (see [`Container::start`]).
    pub fn start(&mut self) -> Result<(), Error> {
        ops::start(&mut self.container, Some(&self.config))
    }
    /// Deletes the container (see [`Container::delete`]), running the poststop hooks of the
    /// config it was created with.
    pub fn delete(self, force: bool) -> Result<(), Error> {
        ops::delete(self.container, force, Some(&self.config))
    }
    pub fn container(&self) -> &Container {
        &self.container
    }
    pub fn container_mut(&mut self) -> &mut Container {
        &mut self.container
    }
    /// A pidfd (Linux 5.3) for the container's init, owned by the caller: it names that
    /// process for as long as it is open, `pidfd_send_signal(2)` reaches it, and it becomes
    /// readable when the init exits. A new fd on every call. Fails once the init was reaped
    /// (by [`Created::wait`]), or where the kernel has no pidfd_open.
    ///
    /// The init is this process's child, but not always cloned here: where it must be forked
    /// into a new pid namespace, the setup child clones it with CLONE_PARENT, and a
    /// CLONE_PIDFD there would land in the wrong process. So the pidfd is opened by pid and
    /// then checked against the start time recorded at create: it can never name another
    /// process that reused the pid.
    ///
    /// From tokio (not a dependency of this crate), await the exit without blocking a thread
    /// or touching the signal mask, then reap it, which no longer blocks:
    ///
    /// ```ignore
    /// let exited = tokio::io::unix::AsyncFd::with_interest(
    ///     created.pidfd()?,
    ///     tokio::io::Interest::READABLE,
    /// )?;
    /// let _ready = exited.readable().await?;
    /// let code = created.wait()?;
    /// ```
    pub fn pidfd(&self) -> Result<std::os::fd::OwnedFd, Error> {
        pidfd::of_init(&self.container.state)
    }
    /// Waits for the init to exit; returns its exit code, or 128+N if signal N killed it.
    pub fn wait(&self) -> Result<i32, Error> {
        ops::wait_child(self.container.state.pid)
    }
    /// Like `wait`, forwarding the signals this process receives to the init meanwhile
    /// (`berth run` in the foreground: Ctrl-C reaches the container, as with runc).
    pub fn wait_forwarding_signals(&self) -> Result<i32, Error> {
        let pid = self.container.state.pid;
        crate::process::wait_forwarding_signals(pid).map_err(|e| Error::Io {
            what: format!("wait for init {pid}"),
            reason: e.to_string(),
        })
    }
    /// Like `wait_forwarding_signals`, relaying the caller's stdio to the pty `master`
    /// meanwhile (see `crate::process::relay_terminal`).
    pub fn relay_terminal(&self, master: std::os::fd::OwnedFd) -> Result<i32, Error> {
        let pid = self.container.state.pid;
        crate::process::relay_terminal(master, pid).map_err(|e| Error::Io {
            what: format!("terminal of init {pid}"),
            reason: e.to_string(),
        })
    }
}

/// A container known to the state root. It holds what was recorded at create; every
/// operation re-reads it (under the container's lock when it changes the container), and the
/// status comes from the kernel.
#[derive(Debug)]
pub struct Container {
    pub(crate) root: PathBuf,
    pub(crate) state: crate::state::State,
}

impl Container {
    /// Loads the container `id` from the state root `root`.
    pub fn load(root: impl Into<PathBuf>, id: &str) -> Result<Self, Error> {
        let root = root.into();
        crate::state::validate_id(id).map_err(|reason| Error::InvalidId {
            id: id.into(),
            reason,
        })?;
        // Without the lock (state.json is replaced by rename, so it is read whole): `state`
        // and `kill` must not wait behind a command that waits on the container; the
        // operations that change it take the lock themselves.
        let read = crate::state::read_unlocked(&root, id);
        // No directory at all is a container that does not exist (delete --force of it
        // succeeds); a directory without a readable record is a broken one.
        if read.is_err() && std::fs::symlink_metadata(root.join(id)).is_err() {
            return Err(crate::state::StateError::NotFound(id.into()).into());
        }
        let state = salvage::check_record(id, read)?;
        Ok(Self { root, state })
    }
    pub fn id(&self) -> &str {
        &self.state.id
    }
    /// PID of the container's init in berth's PID namespace (0 when stopped).
    pub fn pid(&self) -> i32 {
        match self.status() {
            Status::Stopped => 0,
            _ => self.state.pid,
        }
    }
    pub fn bundle(&self) -> &std::path::Path {
        &self.state.bundle
    }
    /// When it was created, RFC 3339.
    pub fn created(&self) -> &str {
        &self.state.created
    }
    pub fn status(&self) -> Status {
        ops::status_unlocked(&self.root, &self.state)
    }
    /// The OCI state document (`runc state`'s JSON shape), with the config's annotations.
    pub fn state_json(&self) -> serde_json::Value {
        ops::state_json(self, self.status(), true)
    }
    /// Like `state_json` with `annotations` left empty: they live in the stored config, which
    /// is not read for it (`list`'s table does not show them).
    pub fn state_json_brief(&self) -> serde_json::Value {
        ops::state_json(self, self.status(), false)
    }
    /// Releases the init: startContainer hooks, then exec of the user's program; returns once
    /// it has been executed (or with the exec error), then runs poststart hooks.
    pub fn start(&mut self) -> Result<(), Error> {
        ops::start(self, None)
    }
    /// Waits up to `timeout` (`None`: no limit) for the init to exit and reaps it: its exit
    /// code, or 128+N if signal N killed it, or `Ok(None)` if it still runs at the timeout.
    /// Only the process that created the container (its init's parent) can wait for it; for
    /// a container made by another process (`berth create`, then [`Container::load`]) it
    /// fails at once saying so: poll [`Container::status`] or a [`Created::pidfd`]-style pidfd
    /// instead.
    ///
    /// No signal mask is touched and any thread may call it (it polls a pidfd, then
    /// `waitid(P_PIDFD)`), unlike [`Created::wait_forwarding_signals`], which is the CLI's.
    /// From async code, await the pidfd (see [`Created::pidfd`]) and call this with a zero
    /// timeout once it is readable.
    pub fn wait_timeout(&self, timeout: Option<std::time::Duration>) -> Result<Option<i32>, Error> {
        let fd = pidfd::of_init(&self.state)?;
        let pid = self.state.pid;
        crate::process::wait_child(pid, std::os::fd::AsFd::as_fd(&fd), timeout).map_err(|e| {
            Error::Io {
                what: format!("wait for the init {pid} of {}", self.state.id),
                reason: match e {
                    nix::errno::Errno::ECHILD => {
                        "it is not a child of this process (created by another process, or \
                         already reaped): only its creator can wait for its exit code"
                            .into()
                    }
                    e => e.to_string(),
                },
            }
        })
    }
    /// Runs another process in the container (`berth exec`): it joins every namespace and
    /// the cgroup of the init, gets the container's seccomp filter and the process's rlimits,
    /// capabilities and identity. Returns once its execve succeeded (a missing program is an
    /// error here); the process is the caller's child. A stopped container, or a paused one
    /// without `ignore_paused`, is refused, and so is a program that did not run
    /// [`crate::ensure_sealed_exe`] first ([`Error::Exe`]).
    pub fn exec(&self, opts: ExecOptions) -> Result<ExecChild, Error> {
        crate::check_sealed_exe()?;
        exec::exec(self, opts)
    }
    /// Sends `signal` to the init, or with `all` to every process of the container (also of a
    /// stopped one: what is left in its cgroup). SIGKILL thaws a paused container.
    pub fn kill(&self, signal: Signal, all: bool) -> Result<(), Error> {
        ops::kill(self, Some(signal), all)
    }
    /// Like `kill`; `None` is the null signal, which sends nothing and only fails if the
    /// container's init cannot be signalled (`berth kill <id> 0`, as runc). With `all`, a
    /// stopped container is accepted (its cgroup's remaining processes are signalled).
    pub fn send_signal(&self, signal: Option<Signal>, all: bool) -> Result<(), Error> {
        ops::kill(self, signal, all)
    }
    /// Deletes a stopped (or, with `force`, any) container: kills what remains, removes the
    /// cgroup and state, runs poststop hooks.
    pub fn delete(self, force: bool) -> Result<(), Error> {
        ops::delete(self, force, None)
    }
    /// Freezes every process of a running container (`pause`); its status becomes `paused`.
    pub fn pause(&mut self) -> Result<(), Error> {
        resources::pause(self)
    }
    /// Thaws a paused container (`resume`).
    pub fn resume(&mut self) -> Result<(), Error> {
        resources::resume(self)
    }
    /// The pids, in the caller's pid namespace, of every process in the container's cgroup.
    pub fn processes(&self) -> Result<Vec<i32>, Error> {
        resources::processes(self)
    }
    /// Usage statistics of the container's cgroup, in runc's shape (`events --stats`).
    pub fn stats(&self) -> Result<crate::cgroups::Stats, Error> {
        resources::stats(self)
    }
    /// How many of the container's processes the OOM killer has killed so far.
    pub fn oom_kills(&self) -> Result<u64, Error> {
        resources::oom_kills(self)
    }
    /// Writes `resources` over the running container's limits (`update`; the device list is
    /// not changed) and records them in its state. Returns warnings for settings the kernel
    /// no longer has.
    pub fn update(
        &mut self,
        resources: &oci_spec::runtime::LinuxResources,
    ) -> Result<Vec<String>, Error> {
        resources::update(self, resources)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An embedder that forgot `ensure_sealed_exe` (as this unit-test binary does) gets a
    /// typed refusal before anything is made.
    #[test]
    fn create_refuses_an_unsealed_executable() {
        let root = std::env::temp_dir().join(format!("berth-unsealed-{}", std::process::id()));
        let result = ContainerBuilder::new("unsealed")
            .unwrap()
            .root(&root)
            .create();
        assert!(
            matches!(
                result,
                Err(Error::Exe(crate::process::sealed_exe::SealError::NotSealed))
            ),
            "{result:?}"
        );
        assert!(!root.exists(), "create made {}", root.display());
    }
}
