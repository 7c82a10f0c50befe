//! berth: runc's command line over libcontainer. Parsing and output only; every container
//! operation is a libcontainer call.

mod cgroup_cmds;
mod cli;
mod error;
mod events_cmd;
mod exec_cmd;
mod inspect;
mod lifecycle;
mod logging;
mod spec_cmd;
mod update_cmd;

use clap::{CommandFactory, Parser};
use cli::{Cli, Command, GlobalOpts, Rootless};
use error::CliError;
use logging::Logger;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::normalize_args(std::env::args_os());
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidUtf8 => {
            Logger::stderr().error(&cli::non_utf8_text(&args));
            return ExitCode::FAILURE;
        }
        Err(e) => {
            let _ = e.print();
            // runc exits 1 on usage errors too; help goes to stdout and is not an error.
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
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
    match execute(&cli, logger) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX)),
        Err(e) => {
            logger.error(&e.to_string());
            ExitCode::FAILURE
        }
    }
}

fn execute(cli: &Cli, logger: &Logger) -> Result<i32, CliError> {
    let g = &cli.global;
    if g.version {
        print!("{}", version());
        return Ok(0);
    }
    check_unsupported(g)?;
    let Some(command) = &cli.command else {
        let _ = Cli::command().print_help();
        return Ok(0);
    };
    if g.debug {
        let argv: Vec<String> = std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        logger.debug(&format!(
            "{} (state root {})",
            argv.join(" "),
            g.root.display()
        ));
    }
    let root = g.root.as_path();
    match command {
        Command::Create(a) => lifecycle::create(root, a),
        Command::Start(a) => lifecycle::start(root, a),
        Command::Run(a) => lifecycle::run(root, a),
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
    }
}

/// Refused rather than ignored: an engine asking for systemd cgroups or rootless mode would
/// otherwise get a container that silently is not what it asked for.
fn check_unsupported(g: &GlobalOpts) -> Result<(), CliError> {
    if g.systemd_cgroup {
        return Err(CliError::Unsupported {
            flag: "--systemd-cgroup",
        });
    }
    let rootless = match g.rootless {
        None | Some(Rootless::False) => false,
        Some(Rootless::True) => true,
        // runc's auto means rootless when not running as root.
        Some(Rootless::Auto) => !nix::unistd::geteuid().is_root(),
    };
    if rootless {
        return Err(CliError::Unsupported { flag: "--rootless" });
    }
    Ok(())
}

/// runc prints the features indented, one field a line.
fn features() -> Result<i32, CliError> {
    let json = serde_json::to_string_pretty(&libcontainer::features::features_json())
        .expect("a JSON value serialises");
    println!("{json}");
    Ok(0)
}

fn version() -> String {
    format!("berth version {}\n", env!("CARGO_PKG_VERSION"))
}
