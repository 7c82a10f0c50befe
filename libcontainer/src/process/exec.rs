//! The last steps before the user's program: find it, pass only the fds it should get, enter
//! its cwd safely, execve.

use crate::seccomp::{self, SeccompProgram};
use crate::{attributes, capabilities, identity, rlimits};
use nix::unistd::{access, AccessFlags};
use oci_spec::runtime::Spec;
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The program resolved in the container's filesystem, ready for execve.
pub(super) struct Program {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

impl Program {
    /// The same program with `argv` as given, bytes and all (`berth exec`'s arguments are
    /// bytes: the OCI process's text `args` cannot carry them).
    pub(super) fn with_argv(self, argv: &[CString]) -> Self {
        Self {
            argv: argv.to_vec(),
            ..self
        }
    }
}

fn cstring(field: &str, s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("{field}: contains a NUL byte: {s:?}"))
}

/// Resolves `process.args[0]` (after pivot_root, so in the container's view) the way runc
/// does, so a missing program fails `create`, not `start`.
pub(super) fn resolve_program(spec: &Spec) -> Result<Program, String> {
    let process = spec.process().as_ref().ok_or("process: missing")?;
    let args = process.args().as_deref().unwrap_or_default();
    let name = args.first().ok_or("process.args: must not be empty")?;
    let env = process.env().as_deref().unwrap_or_default();
    let path = if name.contains('/') {
        let p = Path::new(name);
        let full = if p.is_absolute() {
            p.to_path_buf()
        } else {
            Path::new(process.cwd()).join(p)
        };
        access(&full, AccessFlags::X_OK).map_err(|e| format!("exec: {name:?}: {}", e.desc()))?;
        full
    } else {
        let search = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH);
        find_in_path(name, search)
            .ok_or_else(|| format!("exec: {name:?}: executable file not found in $PATH"))?
    };
    Ok(Program {
        path: cstring("process.args[0]", &path.to_string_lossy())?,
        argv: args
            .iter()
            .map(|a| cstring("process.args", a))
            .collect::<Result<_, _>>()?,
        envp: env
            .iter()
            .map(|e| cstring("process.env", e))
            .chain(default_home(env, process.user().uid()).map(|h| cstring("HOME", &h)))
            .collect::<Result<_, _>>()?,
    })
}

/// runc's rule: without HOME in the environment, the process gets its user's home from the
/// container's /etc/passwd, or "/" when the uid has no entry. Read in the container's view
/// (after pivot_root, or after joining its mount namespace).
fn default_home(env: &[String], uid: u32) -> Option<String> {
    if env.iter().any(|e| e.starts_with("HOME=")) {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let home = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && f[2].parse() == Ok(uid))
        .map(|f| f[5].to_owned())
        .filter(|h| !h.is_empty());
    Some(format!("HOME={}", home.as_deref().unwrap_or("/")))
}

fn find_in_path(name: &str, search: &str) -> Option<PathBuf> {
    search
        .split(':')
        .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(name))
        .find(|p| p.is_file() && access(p.as_path(), AccessFlags::X_OK).is_ok())
}

/// fds 3..3+n are the caller's `--preserve-fds`: they stay open across exec. Everything
/// above closes on exec, so no fd of berth's (or of whoever ran berth) reaches the container.
pub(super) fn limit_fds(preserve: u32) -> Result<(), String> {
    for fd in 3..3 + preserve as i32 {
        // SAFETY: fcntl on an fd number: at worst EBADF for a gap the caller left.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
    // SAFETY: close_range with CLOEXEC only flags fds; no memory is touched.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 + preserve,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r != 0 {
        return Err(format!("close_range: {}", nix::errno::Errno::last()));
    }
    Ok(())
}

/// chdir into `process.cwd` and check we are really inside the container's root: an fd leaked
/// from the host would let a cwd like /proc/self/fd/N escape (CVE-2024-21626), and getcwd
/// reports such a directory as "(unreachable)".
fn enter_cwd(spec: &Spec) -> Result<(), String> {
    let cwd = spec
        .process()
        .as_ref()
        .map(|p| p.cwd().clone())
        .unwrap_or_else(|| "/".into());
    nix::unistd::chdir(&cwd).map_err(|e| format!("process.cwd {}: {}", cwd.display(), e.desc()))?;
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => Ok(()),
        Ok(p) => Err(format!(
            "process.cwd {}: outside the container ({})",
            cwd.display(),
            p.display()
        )),
        Err(e) => Err(format!(
            "process.cwd {}: outside the container ({})",
            cwd.display(),
            e.desc()
        )),
    }
}

/// The program starts with default signal dispositions and nothing blocked: ignored
/// dispositions survive execve, and Rust's runtime ignores SIGPIPE in every berth process.
fn reset_signals() -> Result<(), String> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in Signal::iterator().filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP)) {
        // SAFETY: installing SIG_DFL runs no handler code.
        unsafe { sigaction(sig, &default) }.map_err(|e| format!("reset {sig}: {e}"))?;
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .map_err(|e| format!("unblock signals: {e}"))
}

fn exec_program(p: &Program) -> Result<Infallible, String> {
    nix::unistd::execve(&p.path, &p.argv, &p.envp)
        .map_err(|e| format!("exec {:?}: {}", p.path, e.desc()))
}

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The process's own settings, dropping privileges last, then execve: shared by the init
/// (after `start`) and by `berth exec`. Without noNewPrivileges the seccomp filter must go in
/// while CAP_SYS_ADMIN is still held (before the uid and capability changes); with it, as the
/// very last step before exec. A SCMP_ACT_NOTIFY listener is handed to `on_listener`.
pub(super) fn finish_and_exec(
    spec: &Spec,
    seccomp: Option<&SeccompProgram>,
    program: &Program,
    on_listener: &mut dyn FnMut(OwnedFd) -> Result<(), String>,
) -> Result<Infallible, String> {
    let process = spec.process().as_ref().ok_or("process: missing")?;
    if let Some(limits) = process.rlimits() {
        rlimits::apply_rlimits(limits).map_err(s)?;
    }
    attributes::apply_attributes(spec).map_err(s)?;
    let nnp = process.no_new_privileges().unwrap_or(false);
    let mut listener = None;
    if let (false, Some(prog)) = (nnp, seccomp) {
        listener = seccomp::install(prog).map_err(s)?;
    }
    identity::set_identity(process.user(), setgroups_allowed()).map_err(s)?;
    capabilities::apply_capabilities(process.capabilities().as_ref()).map_err(s)?;
    attributes::apply_no_new_privileges(spec).map_err(s)?;
    if let (true, Some(prog)) = (nnp, seccomp) {
        listener = seccomp::install(prog).map_err(s)?;
    }
    enter_cwd(spec)?;
    reset_signals()?;
    if let Some(l) = listener {
        on_listener(l)?;
    }
    exec_program(program)
}

/// A user namespace whose setgroups is "deny" (joined from someone else) forbids setgroups(2).
fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() != "deny")
}
