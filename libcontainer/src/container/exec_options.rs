//! What `exec` runs: either a whole process, or the container's own process with some fields
//! changed. An enum, so that a caller cannot give both and have one silently ignored.

use super::Stdio;
use oci_spec::runtime::Process;
use std::ffi::OsString;
use std::path::PathBuf;

/// The process [`Container::exec`](super::Container::exec) runs in the container.
#[derive(Debug, Clone)]
pub enum ExecProcess {
    /// This process, used as given (runc's `exec --process FILE`): nothing of the container's
    /// own `process` is taken. Its `terminal` decides whether it gets a pty.
    Process(Box<Process>),
    /// The container's `process` from its config, with these changes (runc's `exec` flags).
    Overrides(Overrides),
}

/// Changes to the container's `process` for one exec. Every field left at its default keeps
/// the container's value, except `tty` (a terminal is asked for per exec, as with runc); only
/// `args` is required.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The command and its arguments, replacing the container's `process.args`; must not be
    /// empty. Bytes, as argv is: arguments that are not UTF-8 reach the process unchanged
    /// (the program's name must be text, as it is looked up in `PATH`).
    pub args: Vec<OsString>,
    /// `NAME=VALUE` entries added to the container's environment (replacing the same name).
    pub env: Vec<String>,
    /// Working directory instead of the container's `process.cwd`.
    pub cwd: Option<PathBuf>,
    /// uid, and optionally gid, instead of the container's `process.user`.
    pub user: Option<(u32, Option<u32>)>,
    /// Supplementary groups, replacing the container's (none given: the container's).
    pub additional_gids: Vec<u32>,
    /// Capabilities (`CAP_...`) added to the bounding, effective and permitted sets of the
    /// process (inheritable and ambient come only from the config, as in runc since
    /// CVE-2022-29162).
    pub caps: Vec<String>,
    /// Set noNewPrivileges for this process.
    pub no_new_privs: bool,
    /// Allocate a pseudo-terminal, whose master goes to [`ExecOptions::console_socket`]
    /// (the container's `process.terminal` is not inherited).
    pub tty: bool,
}

impl Overrides {
    /// Runs `args` with everything else as the container's process has it.
    pub fn command<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Self {
            args: args.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

/// What to run in the container and how (`berth exec`'s flags).
///
/// ```
/// use libcontainer::{ExecOptions, ExecProcess, Overrides};
/// let mut opts = ExecOptions::new(ExecProcess::Overrides(Overrides {
///     env: vec!["GREETING=hello".into()],
///     ..Overrides::command(["sh", "-c", "echo $GREETING"])
/// }));
/// opts.ignore_paused = true;
/// ```
#[derive(Debug)]
pub struct ExecOptions {
    /// What to run.
    pub process: ExecProcess,
    /// A unix socket the pty master is sent to, when the process has a terminal.
    pub console_socket: Option<PathBuf>,
    /// Pass fds 3..3+n of the caller to the process (see [`crate::reserve_preserved_fds`]).
    pub preserve_fds: u32,
    /// Also exec into a paused container.
    pub ignore_paused: bool,
    /// runc's `--cgroup`: join an existing sub-cgroup of the container's instead of its
    /// cgroup. Each `PATH` (every hierarchy; only when given alone) or
    /// `CONTROLLER[,CONTROLLER...]:PATH` (those v1 controllers' hierarchies).
    pub sub_cgroups: Vec<String>,
    /// Write the process's pid here (atomically, never through a symlink) before `exec`
    /// returns; if that fails the process is killed and reaped and `exec` fails.
    pub pid_file: Option<PathBuf>,
    /// The process's stdin, stdout and stderr, instead of this program's own 0, 1 and 2.
    pub stdio: Stdio,
    /// What the process runs instead of its `args[0]` from the container's filesystem (see
    /// [`Executor`](crate::Executor)); the default execs `args[0]`.
    pub executor: crate::process::Executor,
    /// An executable that links libcontainer, exec'd to start the process instead of this
    /// one (see [`ContainerBuilder::init_executable`](crate::ContainerBuilder::init_executable)).
    pub init_executable: Option<PathBuf>,
}

impl ExecOptions {
    /// Runs `process` with every other option at its default.
    pub fn new(process: ExecProcess) -> Self {
        Self {
            process,
            console_socket: None,
            preserve_fds: 0,
            ignore_paused: false,
            sub_cgroups: Vec::new(),
            pid_file: None,
            stdio: Stdio::default(),
            executor: crate::process::Executor::default(),
            init_executable: None,
        }
    }

    /// Whether the process asks for a terminal.
    pub(crate) fn terminal(&self) -> bool {
        match &self.process {
            ExecProcess::Process(p) => p.terminal().unwrap_or(false),
            ExecProcess::Overrides(o) => o.tty,
        }
    }
}
