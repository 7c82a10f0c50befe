//! pause, resume and ps: thin calls into libcontainer's cgroup operations, printed as runc
//! prints them.

use crate::cli::{IdArg, PsArgs, PsFormat};
use crate::error::CliError;
use libcontainer::Container;
use std::io::Write;
use std::path::Path;

pub fn pause(root: &Path, args: &IdArg) -> Result<i32, CliError> {
    Container::load(root, &args.id)?.pause()?;
    Ok(0)
}

pub fn resume(root: &Path, args: &IdArg) -> Result<i32, CliError> {
    Container::load(root, &args.id)?.resume()?;
    Ok(0)
}

/// runc's ps: `--format json` prints the pids as a JSON array; the table is the host's `ps`
/// (default `-ef`) cut down to its header and the container's processes.
pub fn ps(root: &Path, args: &PsArgs) -> Result<i32, CliError> {
    let pids = Container::load(root, &args.id)?.processes()?;
    let out = match args.format {
        PsFormat::Json => format!("{}\n", serde_json::Value::from(pids)),
        PsFormat::Table => ps_table(&args.ps_args, &pids)?,
    };
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .map_err(|e| CliError::io("stdout", e))?;
    Ok(0)
}

fn ps_table(ps_args: &[String], pids: &[i32]) -> Result<String, CliError> {
    let default = ["-ef".to_string()];
    let ps_args = if ps_args.is_empty() {
        &default[..]
    } else {
        ps_args
    };
    let output = std::process::Command::new("ps")
        .args(ps_args)
        .output()
        .map_err(|e| CliError::io("ps", e))?;
    if !output.status.success() {
        return Err(CliError::Ps(format!(
            "ps {}: {}",
            ps_args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    filter_ps(&String::from_utf8_lossy(&output.stdout), pids)
}

/// Keeps the header and the lines whose PID column is one of `pids`.
fn filter_ps(text: &str, pids: &[i32]) -> Result<String, CliError> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let column = header
        .split_whitespace()
        .position(|c| c == "PID")
        .ok_or_else(|| CliError::Ps("ps output has no PID column (add -o pid)".into()))?;
    let mut out = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(column)
            .and_then(|p| p.parse().ok());
        if pid.is_some_and(|p: i32| pids.contains(&p)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_table_keeps_header_and_container_pids() {
        let text = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep\nroot 420 1 other\n";
        assert_eq!(
            filter_ps(text, &[42]).unwrap(),
            "UID PID PPID CMD\nroot 42 1 sleep\n"
        );
        assert!(filter_ps("UID CMD\n", &[1]).is_err());
    }
}
