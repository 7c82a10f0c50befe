//! berth: runc's command line over libcontainer. Parsing and output only; every container
//! operation is a libcontainer call.

mod cgroup_cmds;
mod checkpoint_cmd;
mod cli;
mod error;
mod events_cmd;
mod exec_cmd;
mod inspect;
mod lifecycle;
mod logging;
mod ordered;
mod rootless;
mod spec_cmd;
mod update_cmd;

use cli::{Cli, Command};
use error::CliError;
use logging::Logger;
use std::process::ExitCode;

fn main() -> ExitCode {
    // CVE-2019-5736: the commands that start processes in a container first re-exec (once)
    // from a sealed view of this executable (libcontainer::ensure_sealed_exe), before anything
    // is opened, and before clap builds its parser: that is 60 % of a start's instructions,
    // which the process that re-execs would spend for nothing. The error is reported once the
    // logger exists.
    let early = command_name(std::env::args_os()).is_some_and(|c| starts_processes(&c));
    let mut sealed = if early {
        libcontainer::ensure_sealed_exe()
    } else {
        Ok(())
    };
    let args = cli::normalize_args(std::env::args_os());
    let cli = match cli::parse(&args) {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidUtf8 => {
            Logger::stderr().error(&cli::non_utf8_text(&args));
            return ExitCode::FAILURE;
        }
        Err(e) => return usage_error(&e),
    };
    // The scan above only saves time; what clap parsed decides.
    if !early && starts_container_processes(&cli) {
        sealed = libcontainer::ensure_sealed_exe();
    }
    // Before the log file or a console socket takes a number among the fds the
    // container is to get: see libcontainer::reserve_preserved_fds.
    // Socket-activated fds (LISTEN_FDS) come first in that range for create and run.
    let listen = match cli.command {
        Some(Command::Create(_) | Command::Run(_)) => libcontainer::listen_fds_from_env(),
        _ => 0,
    };
    let passed = cli.preserve_fds().saturating_add(listen);
    if let Err(e) = libcontainer::reserve_preserved_fds(passed) {
        Logger::stderr().error(&format!(
            "--preserve-fds {} (and LISTEN_FDS {listen}): {e}",
            cli.preserve_fds()
        ));
        return ExitCode::FAILURE;
    }
    let logger = match Logger::new(
        cli.global.log_format,
        cli.global.log.as_deref(),
        cli.global.debug,
    ) {
        Ok(l) => l.install(),
        Err(e) => {
            let path = cli.global.log.clone().unwrap_or_default();
            Logger::stderr().error(&format!("--log {}: {e}", path.display()));
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = sealed {
        logger.error(&e.to_string());
        return ExitCode::FAILURE;
    }
    match execute(&cli, logger) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX)),
        Err(e) => {
            logger.error(&e.to_string());
            ExitCode::from(failure_code(cli.command.as_ref()))
        }
    }
}

/// runc exits 1 on usage errors; help goes to stdout and is not an error. An unknown command
/// (or `help` of one) is runc's "No help topic", exit 3.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() == ErrorKind::InvalidSubcommand {
        if let Some(ContextValue::String(name)) = e.get(ContextKind::InvalidSubcommand) {
            Logger::stderr().error(&format!(
                "No help topic for '{name}': berth has no such command (berth help lists them)"
            ));
            return ExitCode::from(3);
        }
    }
    let _ = e.print();
    if e.use_stderr() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// runc's exit status for its own failures: 255 for `exec`, whose caller must tell them from
/// the process's own exit status (which `exec` passes on), 1 for every other command.
fn failure_code(command: Option<&Command>) -> u8 {
    match command {
        Some(Command::Exec(_)) => 255,
        _ => 1,
    }
}

fn execute(cli: &Cli, logger: &Logger) -> Result<i32, CliError> {
    let g = &cli.global;
    if g.version {
        print!("{}", version());
        return Ok(0);
    }
    let Some(command) = &cli.command else {
        let _ = cli::command().print_help();
        return Ok(0);
    };
    // Only the commands that use the state root look for (and make) it: `spec` as a user
    // without XDG_RUNTIME_DIR must still work.
    let root = match command {
        Command::Spec(_) | Command::Features | Command::Checkpoint(_) | Command::Restore(_) => None,
        _ => Some(rootless::state_root(g)?),
    };
    if g.debug {
        let argv: Vec<String> = std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let shown = root.as_deref().map(|r| r.display().to_string());
        logger.debug(&format!(
            "{} (state root {}, rootless {})",
            argv.join(" "),
            shown.unwrap_or_else(|| "unused".into()),
            rootless::is_rootless(g)
        ));
    }
    let root = root.as_deref().unwrap_or(std::path::Path::new(""));
    match command {
        Command::Create(a) => {
            lifecycle::create(root, a, rootless::is_rootless(g), g.systemd_cgroup)
        }
        Command::Start(a) => lifecycle::start(root, a),
        Command::Run(a) => lifecycle::run(root, a, rootless::is_rootless(g), g.systemd_cgroup),
        Command::Kill(a) => lifecycle::kill(root, a),
        Command::Delete(a) => lifecycle::delete(root, a),
        Command::State(a) => inspect::state(root, a),
        Command::List(a) => inspect::list(root, a),
        Command::Spec(a) => spec_cmd::spec(a),
        Command::Exec(a) => exec_cmd::exec(root, a),
        Command::Pause(a) => cgroup_cmds::pause(root, a),
        Command::Resume(a) => cgroup_cmds::resume(root, a),
        Command::Ps(a) => cgroup_cmds::ps(root, a),
        Command::Update(a) => update_cmd::update(root, a),
        Command::Events(a) => events_cmd::events(root, a),
        Command::Features => features(),
        // Refused before anything is looked at: nothing is checkpointed, stopped or created.
        Command::Checkpoint(a) => checkpoint_cmd::checkpoint(a),
        Command::Restore(a) => checkpoint_cmd::restore(a),
    }
}

/// `create`, `run` and `exec` clone this process into a container (`--version` runs nothing).
fn starts_container_processes(cli: &Cli) -> bool {
    !cli.global.version
        && matches!(
            cli.command,
            Some(Command::Create(_) | Command::Run(_) | Command::Exec(_))
        )
}

fn starts_processes(command: &std::ffi::OsStr) -> bool {
    ["create", "run", "exec"].iter().any(|c| command == *c)
}

/// The command word, found without clap: the first argument that is neither a flag nor the
/// value of a global flag that takes one (`--root DIR`, `-log FILE`, ...).
fn command_name(args: impl Iterator<Item = std::ffi::OsString>) -> Option<std::ffi::OsString> {
    const VALUED: [&str; 4] = ["root", "log", "log-format", "rootless"];
    let mut args = args.skip(1);
    while let Some(arg) = args.next() {
        let Some(flag) = arg.to_str().and_then(|a| a.strip_prefix('-')) else {
            return Some(arg);
        };
        let flag = flag.trim_start_matches('-');
        if VALUED.contains(&flag) {
            args.next();
        }
    }
    None
}

/// runc prints the features indented, one field a line.
fn features() -> Result<i32, CliError> {
    let json = serde_json::to_string_pretty(&libcontainer::features_json())
        .expect("a JSON value serialises");
    println!("{json}");
    Ok(0)
}

/// runc's three lines: version, commit, the newest runtime-spec version understood.
fn version() -> String {
    format!(
        "berth version {}\ncommit: {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("BERTH_COMMIT"),
        libcontainer::OCI_VERSION_MAX
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The early scan and clap agree on whether a command line starts container processes
    /// (where they did not, the check after parsing would still seal, only later).
    #[test]
    fn the_early_scan_agrees_with_clap() {
        let lines = [
            "berth --root /r run -b /b id",
            "berth --root=/r --log /l --log-format json exec -t id sh",
            "berth -root /r -log run create --bundle /b id",
            "berth --debug create id",
            "berth --rootless false create id",
            "berth --log create state id",
            "berth --root /run state run",
            "berth --version run -b /b id",
            "berth list",
            "berth",
        ];
        for line in lines {
            let argv: Vec<std::ffi::OsString> = line.split(' ').map(Into::into).collect();
            let cli = cli::parse(&cli::normalize_args(argv.clone())).unwrap();
            let early = command_name(argv.into_iter()).is_some_and(|c| starts_processes(&c));
            let version = cli.global.version;
            assert_eq!(
                early && !version,
                starts_container_processes(&cli),
                "{line}"
            );
        }
    }
}
