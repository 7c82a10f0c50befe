//! `exec`: runc's flags turned into libcontainer's `ExecOptions`.

use crate::cli::ExecArgs;
use crate::error::CliError;
use libcontainer::ConsoleSocket;
use libcontainer::{Container, ExecOptions, ExecProcess, Overrides};
use oci_spec::runtime::Process;
use std::path::Path;

/// Runs the process; without --detach waits for it and returns its exit status (128+N when
/// signal N killed it).
/// A terminal without --console-socket (and without --detach) is relayed by berth itself,
/// as runc does.
pub fn exec(root: &Path, args: &ExecArgs) -> Result<i32, CliError> {
    let mut opts = options(args)?;
    let terminal = match &opts.process {
        ExecProcess::Process(p) => p.terminal().unwrap_or(false),
        ExecProcess::Overrides(o) => o.tty,
    };
    let relay = if terminal && opts.console_socket.is_none() {
        if args.detach {
            return Err(CliError::Usage(
                "--tty with --detach needs --console-socket (nothing would hold the terminal)"
                    .into(),
            ));
        }
        let socket = ConsoleSocket::bind()?;
        opts.console_socket = Some(socket.path().to_path_buf());
        Some(socket)
    } else {
        None
    };
    let container = Container::load(root, &args.id)?;
    let child = container.exec(opts)?;
    if args.detach {
        return Ok(0);
    }
    match relay {
        Some(socket) => {
            let master = socket.receive_master()?;
            drop(socket);
            Ok(child.relay_terminal(master)?)
        }
        None => Ok(child.wait_forwarding_signals()?),
    }
}

fn options(a: &ExecArgs) -> Result<ExecOptions, CliError> {
    if a.apparmor.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(CliError::Unsupported { flag: "--apparmor" });
    }
    if a.process_label.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(CliError::Unsupported {
            flag: "--process-label",
        });
    }
    let process = process(a)?;
    let mut opts = ExecOptions::new(process);
    opts.console_socket = a.console_socket.clone();
    opts.preserve_fds = a.preserve_fds;
    opts.ignore_paused = a.ignore_paused;
    opts.sub_cgroups = a.cgroup.clone();
    opts.pid_file = a.pid_file.clone();
    Ok(opts)
}

/// `--process FILE` is the whole process, refused beside a flag that would change it; without
/// it, the flags are changes to the container's process.
fn process(a: &ExecArgs) -> Result<ExecProcess, CliError> {
    if let Some(file) = &a.process {
        // The file is the whole process: a flag changing it as well would be ignored.
        let conflicting = [
            (!a.command.is_empty(), "COMMAND"),
            (a.cwd.is_some(), "--cwd"),
            (!a.env.is_empty(), "--env"),
            (a.user.is_some(), "--user"),
            (!a.additional_gids.is_empty(), "--additional-gids"),
            (!a.cap.is_empty(), "--cap"),
            (a.no_new_privs, "--no-new-privs"),
        ];
        if let Some((_, flag)) = conflicting.iter().find(|(set, _)| *set) {
            return Err(CliError::Usage(format!(
                "{flag} cannot be combined with --process (the file gives the whole process)"
            )));
        }
        let text = std::fs::read(file).map_err(|e| CliError::io(file, e))?;
        let process = parse_process(&text, file)?;
        // conmon (podman's `exec -t`) passes --tty beside a file asking for a terminal too:
        // accepted when the two agree, refused rather than ignored when they do not.
        if a.tty && process.terminal() != Some(true) {
            return Err(CliError::Usage(format!(
                "--tty conflicts with --process {}: its \"terminal\" is not true",
                file.display()
            )));
        }
        return Ok(ExecProcess::Process(Box::new(process)));
    }
    if a.command.is_empty() {
        return Err(CliError::Usage(
            "exec needs a COMMAND (or --process FILE)".into(),
        ));
    }
    for gid in &a.additional_gids {
        libcontainer::spec::check_id(*gid)
            .map_err(|r| CliError::Usage(format!("--additional-gids {gid}: {r}")))?;
    }
    Ok(ExecProcess::Overrides(Overrides {
        args: a.command.clone(),
        env: a.env.clone(),
        cwd: a.cwd.clone(),
        user: a.user.as_deref().map(parse_user).transpose()?,
        additional_gids: a.additional_gids.clone(),
        caps: a.cap.clone(),
        no_new_privs: a.no_new_privs,
        tty: a.tty,
    }))
}

/// runc reads the file into Go's zero values: a process without `user` runs as 0:0. Any
/// other missing field the spec requires is still an error naming it.
fn parse_process(text: &[u8], file: &Path) -> Result<Process, CliError> {
    let bad = |e: String| CliError::Usage(format!("--process {}: {e}", file.display()));
    let mut value: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| bad(e.to_string()))?;
    if let Some(obj) = value.as_object_mut() {
        obj.entry("user")
            .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
    }
    let text = serde_json::to_vec(&value).map_err(|e| bad(e.to_string()))?;
    libcontainer::spec::parse_json(&text, file)
        .map_err(|e| CliError::Usage(format!("--process {e}")))
}

fn parse_user(s: &str) -> Result<(u32, Option<u32>), CliError> {
    let bad = || CliError::Usage(format!("--user {s:?}: expected UID[:GID] (numbers)"));
    let (uid, gid) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let uid = uid.parse().map_err(|_| bad())?;
    let gid = gid.map(str::parse).transpose().map_err(|_| bad())?;
    for id in std::iter::once(uid).chain(gid) {
        libcontainer::spec::check_id(id)
            .map_err(|r| CliError::Usage(format!("--user {s:?}: {r}")))?;
    }
    Ok((uid, gid))
}
