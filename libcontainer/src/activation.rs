//! Socket activation (`LISTEN_FDS` / `LISTEN_PID`), as runc passes it on: when the runtime's
//! own LISTEN_PID is its pid, fds 3..3+LISTEN_FDS are the sockets systemd handed it. `create`
//! and `run` then give the container's process those fds first, the `--preserve-fds` ones
//! after them (3+LISTEN_FDS on), and set LISTEN_FDS and LISTEN_PID=1 in its environment
//! (runc's value: the init is pid 1 of its own pid namespace).

use oci_spec::runtime::Spec;

/// The number of activated fds this process was given: LISTEN_FDS, if LISTEN_PID names this
/// process (as systemd sets it, and as a caller forking the runtime must); else 0. Values that
/// are not numbers count as not set, as sd_listen_fds(3) treats them.
pub fn listen_fds_from_env() -> u32 {
    let var = |name| std::env::var(name).ok();
    listen_fds(
        var("LISTEN_FDS").as_deref(),
        var("LISTEN_PID").as_deref(),
        std::process::id(),
    )
}

fn listen_fds(fds: Option<&str>, pid: Option<&str>, own_pid: u32) -> u32 {
    match (
        fds.and_then(|f| f.parse::<u32>().ok()),
        pid.and_then(|p| p.parse::<u32>().ok()),
    ) {
        (Some(n), Some(pid)) if pid == own_pid => n,
        _ => 0,
    }
}

/// Sets LISTEN_FDS=`n` and LISTEN_PID=1 in the process's environment (replacing any the
/// config has: the values describe the fds the runtime hands over, not the image's).
pub fn add_to_spec(spec: &mut Spec, n: u32) {
    let n = n.to_string();
    set_env(spec, &[("LISTEN_FDS", n.as_str()), ("LISTEN_PID", "1")]);
}

/// Sets each `NAME=VALUE` in the config's process environment, dropping earlier entries of
/// the same names. A config without `process` is left alone (it cannot be started).
pub(crate) fn set_env(spec: &mut Spec, vars: &[(&str, &str)]) {
    let Some(process) = spec.process_mut() else {
        return;
    };
    let mut env = process.env().clone().unwrap_or_default();
    env.retain(|e| {
        let name = e.split('=').next().unwrap_or_default();
        !vars.iter().any(|(n, _)| *n == name)
    });
    env.extend(vars.iter().map(|(n, v)| format!("{n}={v}")));
    process.set_env(Some(env));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fds_meant_for_this_process_count() {
        assert_eq!(listen_fds(Some("2"), Some("42"), 42), 2);
        assert_eq!(listen_fds(Some("2"), Some("43"), 42), 0);
        assert_eq!(listen_fds(Some("2"), None, 42), 0);
        assert_eq!(listen_fds(Some("x"), Some("42"), 42), 0);
        assert_eq!(listen_fds(Some("-1"), Some("42"), 42), 0);
        assert_eq!(listen_fds(None, Some("42"), 42), 0);
    }

    #[test]
    fn the_runtimes_values_replace_the_configs() {
        let mut spec = crate::spec::default_spec(false);
        let mut env = spec.process().as_ref().unwrap().env().clone().unwrap();
        env.push("LISTEN_FDS=9".into());
        env.push("LISTEN_FDSX=keep".into());
        spec.process_mut().as_mut().unwrap().set_env(Some(env));
        add_to_spec(&mut spec, 2);
        let env = spec.process().as_ref().unwrap().env().clone().unwrap();
        let listen: Vec<&String> = env.iter().filter(|e| e.starts_with("LISTEN_")).collect();
        assert_eq!(listen, ["LISTEN_FDSX=keep", "LISTEN_FDS=2", "LISTEN_PID=1"]);
    }
}
