//! The public face of a container: build one from a bundle, then start, signal, inspect and
//! delete it. Every operation takes the container's lock, so concurrent commands on one id are safe.
//!
//! ```no_run
//! use libcontainer::container::{ContainerBuilder, Container};
//! use libcontainer::Signal;
//! # fn main() -> Result<(), libcontainer::container::Error> {
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

use std::path::PathBuf;

pub use nix::sys::signal::Signal;

/// Errors of the public API. Each wraps the failing step's own error, which names the field,
/// path or argument at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },
    #[error("container {0} does not exist")]
    NotFound(String),
    #[error("container {0} already exists")]
    AlreadyExists(String),
    #[error("container {id} is {status}: {reason}")]
    WrongStatus { id: String, status: String, reason: &'static str },
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
}

impl ContainerBuilder {
    /// Validates the id (not empty, no `/`, not `.` or `..`, runc's character set).
    pub fn new(_id: &str) -> Result<Self, Error> {
        todo!()
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
    /// Creates the container: namespaces, cgroup, rootfs, createRuntime/createContainer hooks;
    /// returns once the init waits for `start`. On any error nothing is left behind.
    pub fn create(self) -> Result<Created, Error> {
        todo!()
    }
}

/// A container this process just created. Its init is our child, so the caller can wait for
/// it (`berth run`); dropping this value does not touch the container.
#[derive(Debug)]
pub struct Created {
    pub(crate) container: Container,
}

impl Created {
    pub fn container(&self) -> &Container {
        &self.container
    }
    pub fn container_mut(&mut self) -> &mut Container {
        &mut self.container
    }
    /// Waits for the init to exit; returns its exit code, or 128+N if signal N killed it.
    pub fn wait(&self) -> Result<i32, Error> {
        todo!()
    }
}

/// A container known to the state root.
#[derive(Debug)]
pub struct Container {
    pub(crate) root: PathBuf,
    pub(crate) id: String,
}

impl Container {
    /// Loads the container `id` from the state root `root`.
    pub fn load(_root: impl Into<PathBuf>, _id: &str) -> Result<Self, Error> {
        todo!()
    }
    pub fn id(&self) -> &str {
        &self.id
    }
    /// PID of the container's init in berth's PID namespace (0 when stopped).
    pub fn pid(&self) -> i32 {
        todo!()
    }
    pub fn status(&self) -> Status {
        todo!()
    }
    /// The OCI state document (`runc state`'s JSON shape).
    pub fn state_json(&self) -> serde_json::Value {
        todo!()
    }
    /// Releases the init: startContainer hooks, then exec of the user's program; returns once
    /// it has been executed (or with the exec error), then runs poststart hooks.
    pub fn start(&mut self) -> Result<(), Error> {
        todo!()
    }
    /// Sends `signal` to the init, or with `all` to every process of the container.
    pub fn kill(&self, _signal: Signal, _all: bool) -> Result<(), Error> {
        todo!()
    }
    /// Deletes a stopped (or, with `force`, any) container: kills what remains, removes the
    /// cgroup and state, runs poststop hooks.
    pub fn delete(self, _force: bool) -> Result<(), Error> {
        todo!()
    }
}

/// Parses a signal as runc does: `KILL`, `SIGKILL` or `9`.
pub fn parse_signal(_s: &str) -> Result<Signal, Error> {
    todo!()
}

/// Every container in the state root, in id order.
pub fn list(_root: impl Into<PathBuf>) -> Result<Vec<Container>, Error> {
    todo!()
}
