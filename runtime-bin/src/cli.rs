//! The command line, with runc's command names, flags and short flags, so engines that drive
//! runc (containerd, podman via conmon, Docker via containerd) drive berth unchanged.

pub use crate::checkpoint_cmd::{CheckpointArgs, RestoreArgs};
use clap::builder::TypedValueParser;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// A container id: text, by runc's rules (letters, digits and `_ + - .`). Arguments are bytes;
/// an id that is not UTF-8 is refused here, naming the argument, rather than reaching a panic.
#[derive(Clone, Copy, Debug)]
pub struct IdParser;

impl TypedValueParser for IdParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        let name = arg.map_or("ID".to_owned(), |a| a.get_id().to_string().to_uppercase());
        let text = value.to_str().ok_or_else(|| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("container {name} {value:?}: not valid UTF-8 (ids are letters, digits and _ + - .)\n"),
            )
            .with_cmd(cmd)
        })?;
        Ok(text.to_owned())
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    about = "Open Container Initiative runtime (runc's command line)",
    disable_version_flag = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags given before the command, as runc's global flags (not `global = true`: `spec
/// --rootless` is a switch while the global `--rootless` takes a value, exactly as in runc).
#[derive(Debug, Args)]
pub struct GlobalOpts {
    /// Root directory for storage of container state (default /run/berth, or
    /// $XDG_RUNTIME_DIR/berth for a non-root user)
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Also write errors (and with --debug, debug messages) to this file
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Log format
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug messages too
    #[arg(long)]
    pub debug: bool,
    /// Have systemd make the container's cgroup, a transient scope (cgroupsPath is then
    /// slice:prefix:name); for create and run, later commands find the scope in the state
    #[arg(long)]
    pub systemd_cgroup: bool,
    /// Rootless cgroups: true, false or auto (default: rootless when not root, or when in a
    /// user namespace other than the host's)
    #[arg(long, value_enum, value_name = "true|false|auto")]
    pub rootless: Option<Rootless>,
    /// Print the version
    #[arg(short = 'v', long)]
    pub version: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Rootless {
    True,
    False,
    Auto,
}

impl Cli {
    /// The command's --preserve-fds (0 for commands without one).
    pub fn preserve_fds(&self) -> u32 {
        match &self.command {
            Some(Command::Create(a)) => a.preserve_fds,
            Some(Command::Run(a)) => a.create.preserve_fds,
            Some(Command::Exec(a)) => a.preserve_fds,
            _ => 0,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container
    Create(CreateArgs),
    /// Execute the user-defined process in a created container
    Start(IdArg),
    /// Create and start a container
    Run(RunArgs),
    /// Output the state of a container
    State(IdArg),
    /// Send a signal (default SIGTERM) to the container's init process
    Kill(KillArgs),
    /// Delete any resources held by the container
    Delete(DeleteArgs),
    /// List containers started by berth with the given root
    List(ListArgs),
    /// Create a new specification file (config.json)
    Spec(SpecArgs),
    /// Execute a new process inside the container
    Exec(ExecArgs),
    /// Suspend all processes inside the container
    Pause(IdArg),
    /// Resume all processes that have been previously paused
    Resume(IdArg),
    /// Display the processes running inside a container
    Ps(PsArgs),
    /// Update container resource constraints
    Update(UpdateArgs),
    /// Display container events such as OOM notifications and usage statistics
    Events(EventsArgs),
    /// Show the enabled features (runtime-spec features.md, JSON)
    Features,
    /// Checkpoint a running container (not supported: berth has no CRIU support)
    Checkpoint(CheckpointArgs),
    /// Restore a container from a previous checkpoint (not supported: berth has no CRIU support)
    Restore(RestoreArgs),
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Set the stats collection interval
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// Display the container's stats then exit
    #[arg(long)]
    pub stats: bool,
    #[arg(value_parser = IdParser)]
    pub id: String,
}

/// runc's update: either a LinuxResources JSON (--resources) or the individual flags; both at
/// once is refused rather than one silently winning.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Path to a file with the resources to update (LinuxResources JSON), or - for stdin
    #[arg(short = 'r', long, value_name = "FILE",
        conflicts_with_all = ["memory", "memory_reservation", "memory_swap", "cpu_share",
            "cpu_quota", "cpu_period", "cpuset_cpus", "cpuset_mems", "pids_limit", "blkio_weight",
            "cpu_rt_period", "cpu_rt_runtime", "l3_cache_schema", "mem_bw_schema"])]
    pub resources: Option<String>,
    /// Memory limit (bytes, or with k, m, g suffix; -1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory reservation (soft limit)
    #[arg(long, allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Total memory plus swap; -1 for unlimited swap
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// CPU shares (relative weight vs. other containers)
    #[arg(long, alias = "cpu-shares")]
    pub cpu_share: Option<u64>,
    /// CPU CFS hardcap limit (in usecs per period)
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period to be used for hardcapping (in usecs)
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPU(s) to use
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory node(s) to use
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Maximum number of pids allowed in the container
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Specifies per cgroup weight, range is from 10 to 1000
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// CPU realtime period to be used for hardcapping (in usecs)
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime hardcap limit (in usecs); allowed cpu time in a given period
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// Intel RDT L3 cache schema (refused: berth does not manage resctrl)
    #[arg(long)]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (refused: berth does not manage resctrl)
    #[arg(long)]
    pub mem_bw_schema: Option<String>,
    #[arg(value_parser = IdParser)]
    pub id: String,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Output format
    #[arg(short = 'f', long, value_enum, default_value_t = PsFormat::Table)]
    pub format: PsFormat,
    #[arg(value_parser = IdParser)]
    pub id: String,
    /// Arguments for the host's ps (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PsFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct IdArg {
    #[arg(value_parser = IdParser)]
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// Path to an AF_UNIX socket which will receive the pty master
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// File to write the container's init pid to
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root to jail the process inside the rootfs
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N additional file descriptors (3..3+N) to the container
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    #[arg(value_parser = IdParser)]
    pub id: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Do not delete the container after it exits
    #[arg(long)]
    pub keep: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Path to a process.json (an OCI process) to run instead of COMMAND
    #[arg(short = 'p', long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Current working directory in the container
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (NAME=VALUE; repeatable)
    #[arg(short = 'e', long, value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// UID (format: <uid>[:<gid>])
    #[arg(short = 'u', long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Additional gids (repeatable)
    #[arg(short = 'g', long, value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Add a capability to the process's sets (repeatable)
    #[arg(short = 'c', long, value_name = "CAP")]
    pub cap: Vec<String>,
    /// Set the no new privileges value for the process
    #[arg(long)]
    pub no_new_privs: bool,
    /// Allocate a pseudo-TTY (its master goes to --console-socket)
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Path to an AF_UNIX socket which will receive the pty master
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process's pid to
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Pass N additional file descriptors (3..3+N) to the process
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Allow exec in a paused container
    #[arg(long)]
    pub ignore_paused: bool,
    /// Run the process in an existing sub-cgroup of the container's: PATH, or
    /// CONTROLLER[,CONTROLLER...]:PATH on cgroup v1 (repeatable)
    #[arg(long, value_name = "[CONTROLLER:]PATH")]
    pub cgroup: Vec<String>,
    /// AppArmor profile for the process (not supported: only an empty value is accepted)
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// SELinux label for the process (not supported: only an empty value is accepted)
    #[arg(long, value_name = "LABEL")]
    pub process_label: Option<String>,
    #[arg(value_parser = IdParser)]
    pub id: String,
    /// The command and its arguments (not with --process); bytes, passed to the process as given
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND",
        value_parser = clap::value_parser!(OsString)
    )]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Send the signal to all processes in the container
    #[arg(short = 'a', long)]
    pub all: bool,
    #[arg(value_parser = IdParser)]
    pub id: String,
    /// KILL, SIGKILL or 9
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Kill the container if it is still running; a missing container is not an error
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(value_parser = IdParser)]
    pub id: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format
    #[arg(short = 'f', long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Display only container ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// Generate a configuration for a rootless container
    #[arg(long)]
    pub rootless: bool,
}

/// runc's help layout (urfave/cli): `NAME:`, `USAGE:` and upper-case sections, which tools
/// and people grep for.
const TOP_HELP: &str = "\
NAME:
   {name} - {about}

USAGE:
   {usage}

COMMANDS:
{subcommands}

GLOBAL OPTIONS:
{options}
";

/// `{about}` and `{usage}` are clap's; the name is the command's own (clap's `{name}` would
/// read `berth-exec`).
const COMMAND_HELP: &str = "\
NAME:
   berth NAME - {about}

USAGE:
   {usage}
";

/// The command line as parsed and as its help is shown: every command's help in runc's layout.
pub fn command() -> clap::Command {
    Cli::command().help_template(TOP_HELP).mut_subcommands(|c| {
        let mut template = COMMAND_HELP.replacen("NAME -", &format!("{} -", c.get_name()), 1);
        if c.get_positionals().next().is_some() {
            template.push_str("\nARGUMENTS:\n{positionals}\n");
        }
        template.push_str("\nOPTIONS:\n{options}\n");
        c.help_template(template)
    })
}

/// Parses `args` (after `normalize_args`).
pub fn parse(args: &[OsString]) -> Result<Cli, clap::Error> {
    use clap::FromArgMatches;
    let mut cmd = command();
    let matches = cmd.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

/// runc (urfave/cli) also takes long flags with one dash (`-root`, `-bundle=x`); clap does not,
/// so such arguments are rewritten to two dashes. Only exact long names berth knows are
/// rewritten, and nothing after `--`, so values and positionals are left alone.
/// Arguments are bytes (`std::env::args_os`): one that is not UTF-8 is never a flag name and
/// is passed on as it is, for clap to take as a path or argv, or refuse as text.
pub fn normalize_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let longs = long_flag_names();
    let mut end_of_flags = false;
    args.into_iter()
        .map(|raw| {
            let Some(arg) = raw.to_str() else { return raw };
            if arg == "--" {
                end_of_flags = true;
            }
            if end_of_flags || !arg.starts_with('-') || arg.starts_with("--") {
                return raw;
            }
            let name = arg[1..].split('=').next().unwrap_or_default();
            if name.len() > 1 && longs.iter().any(|l| l == name) {
                format!("-{arg}").into()
            } else {
                raw
            }
        })
        .collect()
}

/// clap's own message for a text argument that is not UTF-8 names none; this one names it.
pub fn non_utf8_text(args: &[OsString]) -> String {
    match args.iter().enumerate().find(|(_, a)| a.to_str().is_none()) {
        Some((i, a)) => format!(
            "argument {i} ({a:?}) is not valid UTF-8: only paths and the arguments of a \
             container's process may be bytes"
        ),
        None => "an argument is not valid UTF-8".into(),
    }
}

fn long_flag_names() -> Vec<String> {
    fn collect(cmd: &clap::Command, out: &mut Vec<String>) {
        out.extend(
            cmd.get_arguments()
                .filter_map(|a| a.get_long())
                .map(str::to_owned),
        );
        for sub in cmd.get_subcommands() {
            collect(sub, out);
        }
    }
    let mut out = vec!["help".to_owned()];
    collect(&Cli::command(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<OsString> {
        normalize_args(args.iter().map(OsString::from))
    }

    #[test]
    fn single_dash_long_flags_become_double_dash() {
        assert_eq!(
            norm(&[
                "berth",
                "-root",
                "/r",
                "create",
                "-bundle=/b",
                "-b",
                "x",
                "id"
            ]),
            [
                "berth",
                "--root",
                "/r",
                "create",
                "--bundle=/b",
                "-b",
                "x",
                "id"
            ]
        );
        // Unknown names and signal-looking positionals are not flags berth knows.
        assert_eq!(
            norm(&["berth", "kill", "id", "-KILL"]),
            ["berth", "kill", "id", "-KILL"]
        );
        assert_eq!(norm(&["berth", "--", "-root"]), ["berth", "--", "-root"]);
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn runc_command_lines_parse() {
        let ok = [
            "berth --root /r --log /l --log-format json --systemd-cgroup create --bundle /b --pid-file /p --console-socket /s --no-pivot --no-new-keyring --preserve-fds 2 id",
            "berth run -d --keep -b /b id",
            "berth kill -a id KILL",
            "berth kill id",
            "berth delete -f id",
            "berth list -f json -q",
            "berth spec -b /b --rootless",
            "berth --rootless false state id",
            "berth --rootless=auto state id",
            "berth -v",
            "berth exec -d --pid-file /p --process /f id",
            "berth exec -t --console-socket /s -e A=1 -e B=2 -u 1:2 -g 3 -g 4 -c CAP_KILL --cwd /tmp --no-new-privs --preserve-fds 1 id sh -c true",
            "berth exec id ls -l",
            "berth exec --cgroup pids:sub --cgroup cpu,cpuacct:/other id true",
            "berth pause id",
            "berth resume id",
            "berth ps -f json id",
            "berth ps id -o pid,comm",
            "berth update --memory 64m --memory-swap -1 --cpu-share 512 --pids-limit 7 id",
            "berth update -r - id",
            "berth events --stats id",
            "berth events --interval 1s id",
            "berth checkpoint --image-path /i --work-path /w --leave-running --tcp-established --ext-unix-sk --shell-job --file-locks --manage-cgroups-mode soft --empty-ns network --auto-dedup id",
            "berth restore -d -b /b --image-path /i --pid-file /p --no-subreaper --no-pivot --console-socket /s id",
        ];
        for line in ok {
            let args = normalize_args(line.split(' ').map(OsString::from));
            assert!(Cli::try_parse_from(args).is_ok(), "{line}");
        }
        let line = normalize_args("berth exec id ls -l".split(' ').map(OsString::from));
        let Some(Command::Exec(a)) = Cli::try_parse_from(line).unwrap().command else {
            panic!("not exec")
        };
        assert_eq!(
            (a.id.as_str(), a.command),
            ("id", vec!["ls".into(), "-l".into()])
        );
    }
}
