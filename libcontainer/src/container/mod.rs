//! The public face of a container: build one from a bundle, then start, signal, inspect and
//! delete it. Every operation that changes the container takes its lock, so concurrent commands
//! on one id are safe; reading it and signalling it do not, so they never wait behind a command
//! that is itself waiting on the container.
//!
//! The crate documentation walks through a whole lifecycle.

mod builder;
mod create;
mod error;
mod exec;
mod exec_options;
mod ops;
mod pidfd;
mod resources;
mod salvage;
mod stdio;
mod validate;

use std::path::PathBuf;

pub use builder::ContainerBuilder;
pub use error::Error;
pub use exec::ExecChild;
pub use exec_options::{ExecOptions, ExecProcess, Overrides};
pub use nix::sys::signal::Signal;
pub use ops::{list, parse_kill_signal, parse_signal, Listed};
pub use salvage::{delete_broken, kill_broken};
pub use stdio::Stdio;

/// The state root used when none is given, as runc uses /run/runc.
pub const DEFAULT_ROOT: &str = "/run/berth";

/// The OCI status, derived from kernel facts each time it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `create` is still setting it up.
    Creating,
    /// Set up; its init waits for `start`.
    Created,
    /// The user's program runs.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// Its init has exited (or was never there).
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
    ///
    /// ```no_run
    /// # fn main() -> Result<(), libcontainer::Error> {
    /// # libcontainer::ensure_sealed_exe()?;
    /// let mut created = libcontainer::ContainerBuilder::new("web")?
    ///     .bundle("/srv/bundles/web")
    ///     .create()?;
    /// created.start()?;
    /// let code = created.wait()?; // the init is our child
    /// created.delete(false)?;
    /// # let _ = code; Ok(()) }
    /// ```
    pub fn start(&mut self) -> Result<(), Error> {
        ops::start(&mut self.container, Some(&self.config), None)
    }
    /// Like [`Container::start_notify`]. `foreground`: the caller stays for the container's
    /// life (`berth run` without -d), so the host is told MAINPID = the caller's pid, and
    /// the signals the caller gets meanwhile are forwarded to the init.
    pub fn start_notify(
        &mut self,
        host: &crate::notify::HostSocket,
        foreground: bool,
    ) -> Result<(), Error> {
        let notify = ops::NotifyStart {
            host,
            main_pid: foreground.then(|| std::process::id() as i32),
            forward_signals: foreground,
        };
        ops::start(&mut self.container, Some(&self.config), Some(&notify))
    }
    /// Deletes the container (see [`Container::delete`]), running the poststop hooks of the
    /// config it was created with.
    pub fn delete(self, force: bool) -> Result<(), Error> {
        ops::delete(self.container, force, Some(&self.config))
    }
    /// The container as it was recorded at create.
    pub fn container(&self) -> &Container {
        &self.container
    }
    /// The same, mutable (for [`Container::pause`], [`Container::update`], ...).
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
    /// or touching the signal mask by registering the pidfd with `AsyncFd` for
    /// `Interest::READABLE`, then reap it with [`Created::wait`], which no longer blocks: see
    /// `examples/tokio_run.rs`.
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
    ///
    /// ```no_run
    /// use libcontainer::{Container, Error, Status};
    /// # fn main() -> Result<(), Error> {
    /// match Container::load("/run/my-engine", "web") {
    ///     Ok(c) if c.status() == Status::Running => println!("{} runs as {}", c.id(), c.pid()),
    ///     Ok(c) => println!("{} is {}", c.id(), c.status()),
    ///     Err(Error::NotFound(id)) => println!("no container {id}"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
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
        // A state root another user controls (or one this user cannot enter) is neither.
        if let Err(e @ crate::state::StateError::Root { .. }) = read {
            return Err(e.into());
        }
        // No directory at all is a container that does not exist (delete --force of it
        // succeeds); a directory without a readable record is a broken one.
        let entry = std::fs::symlink_metadata(root.join(id));
        if let (Err(e), true) = (&entry, read.is_err()) {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(Error::Io {
                    what: root.join(id).display().to_string(),
                    reason: e.to_string(),
                });
            }
        }
        if read.is_err() && entry.is_err() {
            return Err(crate::state::StateError::NotFound(id.into()).into());
        }
        let state = salvage::check_record(id, read)?;
        Ok(Self { root, state })
    }
    /// Its id, unique in its state root.
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
    /// The bundle directory it was created from (absolute).
    pub fn bundle(&self) -> &std::path::Path {
        &self.state.bundle
    }
    /// When it was created, RFC 3339.
    pub fn created(&self) -> &str {
        &self.state.created
    }
    /// Its OCI status, read from the kernel now (not from the record).
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
        ops::start(self, None, None)
    }
    /// `start` for a container created with a notify socket ([`ContainerBuilder::notify_socket`]):
    /// binds the container's socket, starts it, and returns once the container sent READY=1,
    /// passed on to `host` with MAINPID = the init's pid, or once the init exited first (no
    /// error, as runc). A container created without one is refused, naming NOTIFY_SOCKET.
    pub fn start_notify(&mut self, host: &crate::notify::HostSocket) -> Result<(), Error> {
        let notify = ops::NotifyStart {
            host,
            main_pid: None,
            forward_signals: false,
        };
        ops::start(self, None, Some(&notify))
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
    ///
    /// Runs `ls /` in a running container with its output in a pipe:
    ///
    /// ```no_run
    /// use libcontainer::{Container, ExecOptions, ExecProcess, Overrides, Stdio};
    /// use std::io::Read;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// libcontainer::ensure_sealed_exe()?;
    /// let (mut out, out_w) = std::io::pipe()?;
    /// let mut opts = ExecOptions::new(ExecProcess::Overrides(Overrides::command(["ls", "/"])));
    /// opts.stdio = Stdio::default().stdout(out_w);
    /// let c = Container::load("/run/my-engine", "web")?;
    /// let child = c.exec(opts)?;
    /// let mut listing = String::new();
    /// out.read_to_string(&mut listing)?;
    /// let code = child.wait()?;
    /// # let _ = code; Ok(()) }
    /// ```
    pub fn exec(&self, opts: ExecOptions) -> Result<ExecChild, Error> {
        crate::process::sealed_exe::check_sealed_exe()?;
        exec::exec(self, opts)
    }
    /// Sends `signal` to the init, or with `all` to every process of the container (also of a
    /// stopped one: what is left in its cgroup). SIGKILL thaws a paused container.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), libcontainer::Error> {
    /// let c = libcontainer::Container::load("/run/my-engine", "web")?;
    /// c.kill(libcontainer::Signal::SIGTERM, false)?; // the init only
    /// c.kill(libcontainer::Signal::SIGKILL, true)?; // every process in its cgroup
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```no_run
    /// # fn main() -> Result<(), libcontainer::Error> {
    /// let c = libcontainer::Container::load("/run/my-engine", "web")?;
    /// // Stopped: delete; otherwise `true` kills what runs first (`berth delete --force`).
    /// let force = c.status() != libcontainer::Status::Stopped;
    /// c.delete(force)?;
    /// # Ok(()) }
    /// ```
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
