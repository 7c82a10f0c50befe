//! The last steps before the user's program: find it, pass only the fds it should get, enter
//! its cwd safely, execve.

use super::executor::{ExecutorContext, ExecutorFn, ExecutorPlan};
use super::setup_error::AtStep;
use super::{SetupError, Step};
use crate::seccomp::{self, SeccompProgram};
use crate::{attributes, capabilities, identity, rlimits};
use nix::unistd::{access, AccessFlags};
use oci_spec::runtime::Spec;
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// What the process becomes, ready for the last step.
pub(super) struct Program {
    image: Image,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

enum Image {
    /// `process.args[0]` resolved in the container's filesystem.
    Path(CString),
    /// A host loader's sealed view (`Executor::host_program`), and how many leading argv
    /// entries are the loader's own.
    Loader { fd: RawFd, prefix: usize },
    /// `Executor::function`, and what it is handed.
    Function {
        f: ExecutorFn,
        payload: Vec<u8>,
        args: Vec<String>,
        env: Vec<String>,
        preserve_fds: u32,
    },
}

impl Program {
    /// The same program with `argv` as given, bytes and all (`berth exec`'s arguments are
    /// bytes: the OCI process's text `args` cannot carry them); after a loader's own.
    pub(super) fn with_argv(mut self, argv: &[CString]) -> Self {
        let keep = match self.image {
            Image::Loader { prefix, .. } => prefix,
            _ => 0,
        };
        self.argv.truncate(keep);
        self.argv.extend_from_slice(argv);
        self
    }
}

fn cstring(field: &str, s: &str) -> Result<CString, SetupError> {
    CString::new(s).map_err(|_| {
        SetupError::new(Step::Exec, format!("{field}: contains a NUL byte: {s:?}"))
            .with_field(Some(field.into()))
    })
}

/// What `executor` makes of the process: the program [`resolve_program`] finds, or a loader
/// or function of the host's (process/executor.rs), which ignore nothing of the config but
/// where `process.args[0]` is looked up. `preserve_fds`: the fds a function keeps.
pub(super) fn resolve_executor(
    spec: &Spec,
    executor: &ExecutorPlan,
    preserve_fds: u32,
) -> Result<Program, SetupError> {
    let process = match executor {
        ExecutorPlan::Program => return resolve_program(spec),
        _ => spec.process().as_ref().ok_or_else(|| {
            SetupError::new(Step::Exec, "process: missing").with_field(Some("process".into()))
        })?,
    };
    let args = process.args().clone().unwrap_or_default();
    let env = process.env().clone().unwrap_or_default();
    let envp = environment(&env, process.user().uid())?;
    match executor {
        ExecutorPlan::Program => unreachable!("returned above"),
        ExecutorPlan::Loader { exe, argv } => Ok(Program {
            image: Image::Loader {
                fd: exe.as_raw_fd(),
                prefix: argv.len(),
            },
            argv: argv
                .iter()
                .cloned()
                .map(Ok)
                .chain(args.iter().map(|a| cstring("process.args", a)))
                .collect::<Result<_, _>>()?,
            envp,
        }),
        ExecutorPlan::Function { offset, payload } => Ok(Program {
            image: Image::Function {
                f: super::executor::function_at(*offset).at(Step::Exec)?,
                payload: payload.clone(),
                args,
                env,
                preserve_fds,
            },
            argv: Vec::new(),
            envp,
        }),
    }
}

/// Resolves `process.args[0]` (after pivot_root, so in the container's view) as runc does
/// (Go's exec.LookPath), so a missing program fails `create`, not `start`, with runc's words:
/// engines read them (Docker exits 127 on "executable file not found" or "no such file or
/// directory", 126 on "permission denied"). A bare name is looked up only in the PATH of
/// `process.env`: without one it is not found, as with runc.
pub(super) fn resolve_program(spec: &Spec) -> Result<Program, SetupError> {
    let missing =
        |field: &str, text: &str| SetupError::new(Step::Exec, text).with_field(Some(field.into()));
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| missing("process", "process: missing"))?;
    let args = process.args().as_deref().unwrap_or_default();
    let name = args
        .first()
        .ok_or_else(|| missing("process.args", "process.args: must not be empty"))?;
    let env = process.env().as_deref().unwrap_or_default();
    let path = if name.contains('/') {
        let p = Path::new(name);
        let full = if p.is_absolute() {
            p.to_path_buf()
        } else {
            Path::new(process.cwd()).join(p)
        };
        check_executable(&full, name).map_err(|(errno, e)| {
            missing("process.args[0]", &format!("exec: {name:?}: {e}")).with_errno(errno)
        })?;
        full
    } else {
        // The last PATH wins, as when runc's init sets the environment one entry at a time.
        let search = env.iter().rev().find_map(|e| e.strip_prefix("PATH="));
        search
            .and_then(|search| find_in_path(name, search))
            .ok_or_else(|| {
                let text = format!("exec: {name:?}: executable file not found in $PATH");
                missing("process.args[0]", &text).with_errno(nix::errno::Errno::ENOENT)
            })?
    };
    Ok(Program {
        image: Image::Path(cstring("process.args[0]", &path.to_string_lossy())?),
        argv: args
            .iter()
            .map(|a| cstring("process.args", a))
            .collect::<Result<_, _>>()?,
        envp: environment(env, process.user().uid())?,
    })
}

/// `process.env`, with HOME added as runc does.
fn environment(env: &[String], uid: u32) -> Result<Vec<CString>, SetupError> {
    env.iter()
        .map(|e| cstring("process.env", e))
        .chain(default_home(env, uid)?.map(|h| cstring("HOME", &h)))
        .collect()
}

/// runc's rule: without HOME in the environment, the process gets its user's home from the
/// container's /etc/passwd, or "/" when the uid has no entry (or there is no such file). Read
/// in the container's view (after pivot_root, or after joining its mount namespace).
fn default_home(env: &[String], uid: u32) -> Result<Option<String>, SetupError> {
    if env.iter().any(|e| e.starts_with("HOME=")) {
        return Ok(None);
    }
    let passwd = read_container_file(Path::new("/etc/passwd"))
        .at(Step::Exec)?
        .unwrap_or_default();
    let passwd = String::from_utf8_lossy(&passwd);
    let home = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && f[2].parse() == Ok(uid))
        .map(|f| f[5].to_owned())
        .filter(|h| !h.is_empty());
    Ok(Some(format!("HOME={}", home.as_deref().unwrap_or("/"))))
}

/// The most berth reads of one file the container provides.
const CONTAINER_FILE_MAX: u64 = 4 << 20;

/// A file of the container's (the image chose what is there), read so that it cannot stall
/// berth: opened O_NONBLOCK (a FIFO or a device would otherwise block the open or the read,
/// with berth's lock held), refused unless fstat says it is a regular file, and read up to
/// `CONTAINER_FILE_MAX`. `None` when it does not exist.
fn read_container_file(path: &Path) -> Result<Option<Vec<u8>>, String> {
    use nix::fcntl::OFlag;
    use std::io::Read;
    let fail = |reason: String| format!("{}: {reason}", path.display());
    let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let fd = match nix::fcntl::open(path, flags, nix::sys::stat::Mode::empty()) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(fail(e.desc().into())),
    };
    let st = nix::sys::stat::fstat(&fd).map_err(|e| fail(e.desc().into()))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(fail("not a regular file".into()));
    }
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .take(CONTAINER_FILE_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > CONTAINER_FILE_MAX {
        return Err(fail(format!("larger than {CONTAINER_FILE_MAX} bytes")));
    }
    Ok(Some(bytes))
}

/// Go's wording for an errno ("no such file or directory"): what engines match on.
fn go_errno(e: nix::errno::Errno) -> String {
    let desc = e.desc();
    let mut chars = desc.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A regular file with an execute bit that this process may execute, else the errno and why
/// not in Go's words (`stat NAME: no such file or directory`, `permission denied`), naming it
/// `shown`.
fn check_executable(path: &Path, shown: &str) -> Result<(), (nix::errno::Errno, String)> {
    use nix::errno::Errno;
    let meta =
        nix::sys::stat::stat(path).map_err(|e| (e, format!("stat {shown}: {}", go_errno(e))))?;
    let is_dir = meta.st_mode & libc::S_IFMT == libc::S_IFDIR;
    if is_dir || meta.st_mode & 0o111 == 0 {
        return Err((Errno::EACCES, go_errno(Errno::EACCES)));
    }
    access(path, AccessFlags::X_OK).map_err(|e| (e, go_errno(e)))
}

fn find_in_path(name: &str, search: &str) -> Option<PathBuf> {
    if search.is_empty() {
        return None;
    }
    search
        .split(':')
        .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(name))
        .find(|p| check_executable(p, "").is_ok())
}

/// chdir into `process.cwd` and check we are really inside the container's root: an fd leaked
/// from the host would let a cwd like /proc/self/fd/N escape (CVE-2024-21626), and getcwd
/// reports such a directory as "(unreachable)".
///
/// Called twice, as runc does: first while still privileged (`retry_later`), so that an image
/// whose USER cannot enter its WORKDIR still starts there; when that is refused (EACCES, EPERM:
/// a directory only the user may enter, such as a root-squashed volume) it returns false and
/// is called again after the privileges are dropped.
fn enter_cwd(spec: &Spec, retry_later: bool) -> Result<bool, SetupError> {
    let cwd = spec
        .process()
        .as_ref()
        .map(|p| p.cwd().clone())
        .unwrap_or_else(|| "/".into());
    let fail =
        |text: String| SetupError::new(Step::Cwd, text).with_field(Some("process.cwd".into()));
    match nix::unistd::chdir(&cwd) {
        Err(nix::errno::Errno::EACCES | nix::errno::Errno::EPERM) if retry_later => {
            return Ok(false)
        }
        r => r.map_err(|e| {
            let text = format!("process.cwd {}: {}", cwd.display(), e.desc());
            fail(text).with_errno(e)
        })?,
    }
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => Ok(true),
        Ok(p) => Err(fail(format!(
            "process.cwd {}: outside the container ({})",
            cwd.display(),
            p.display()
        ))),
        Err(e) => Err(fail(format!(
            "process.cwd {}: outside the container ({})",
            cwd.display(),
            e.desc()
        ))
        .with_errno(e)),
    }
}

/// The program starts with default signal dispositions and nothing blocked: ignored
/// dispositions survive execve, and Rust's runtime ignores SIGPIPE in every berth process.
fn reset_signals() -> Result<(), SetupError> {
    let fail = |text: String, e| SetupError::new(Step::Attributes, text).with_errno(e);
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in Signal::iterator().filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP)) {
        // SAFETY: installing SIG_DFL runs no handler code.
        unsafe { sigaction(sig, &default) }.map_err(|e| fail(format!("reset {sig}: {e}"), e))?;
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .map_err(|e| fail(format!("unblock signals: {e}"), e))
}

/// The last step: execve, or the executor's loader or function.
fn exec_program(p: &Program) -> Result<Infallible, SetupError> {
    let (what, e) = match &p.image {
        Image::Path(path) => match nix::unistd::execve(path, &p.argv, &p.envp) {
            Err(e) => (path.to_string_lossy().into_owned(), e),
        },
        Image::Loader { fd, .. } => {
            // SAFETY: the sealed view's fd, owned by the plan for the life of this process.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(*fd) };
            match nix::unistd::fexecve(fd, &p.argv, &p.envp) {
                Err(e) => ("the executor's host program".into(), e),
            }
        }
        Image::Function {
            f,
            payload,
            args,
            env,
            preserve_fds,
        } => {
            let ctx = ExecutorContext::new(args, env, payload);
            // What an execve would close itself: everything above the preserved fds.
            let first = 3u32.saturating_add(*preserve_fds);
            match super::executor::run_function(*f, &ctx, first).at(Step::Exec)? {}
        }
    };
    let text = format!("exec {what}: {}", go_errno(e));
    Err(SetupError::new(Step::Exec, text)
        .with_field(Some("process.args[0]".into()))
        .with_errno(e))
}

/// The process's own settings, dropping privileges last, then execve: shared by the init
/// (after `start`) and by `berth exec`. Without noNewPrivileges the seccomp filter must go in
/// while CAP_SYS_ADMIN is still held (before the uid and capability changes); with it, as the
/// very last step before exec. Everything berth itself needs (the cwd and its check, signal
/// dispositions, /proc reads) is done before the filter, so a profile denying getcwd or
/// rt_sigaction does not stop berth, only the program. A SCMP_ACT_NOTIFY listener is handed
/// to `on_listener` as soon as the filter is in, which returns once the agent has it.
/// `before_exec` runs last, under every restriction (the init's startContainer hooks).
pub(super) fn finish_and_exec(
    spec: &Spec,
    seccomp: Option<&SeccompProgram>,
    program: &Program,
    on_listener: &mut dyn FnMut(OwnedFd) -> Result<(), SetupError>,
    before_exec: &mut dyn FnMut() -> Result<(), SetupError>,
) -> Result<Infallible, SetupError> {
    let process = spec
        .process()
        .as_ref()
        .ok_or("process: missing")
        .at(Step::Exec)?;
    if let Some(limits) = process.rlimits() {
        rlimits::apply_rlimits(limits).at(Step::Rlimits)?;
    }
    attributes::apply_attributes(spec).at(Step::Attributes)?;
    let in_cwd = enter_cwd(spec, true)?;
    let nnp = process.no_new_privileges().unwrap_or(false);
    let setgroups = setgroups_allowed();
    reset_signals()?;
    let mut filter = |prog: &SeccompProgram| -> Result<(), SetupError> {
        if let Some(l) = seccomp::install(prog).at(Step::Seccomp)? {
            on_listener(l)?;
        }
        Ok(())
    };
    if let (false, Some(prog)) = (nnp, seccomp) {
        filter(prog)?;
    }
    identity::set_identity(process.user(), setgroups).at(Step::Identity)?;
    capabilities::apply_capabilities(process.capabilities().as_ref()).at(Step::Capabilities)?;
    attributes::apply_no_new_privileges(spec).at(Step::Capabilities)?;
    if !in_cwd {
        // Only the user may enter it (a root-squashed volume): the one step of berth's own
        // that can follow a filter installed without noNewPrivileges.
        enter_cwd(spec, false)?;
    }
    if let (true, Some(prog)) = (nnp, seccomp) {
        filter(prog)?;
    }
    before_exec()?;
    exec_program(program)
}

/// A user namespace whose setgroups is "deny" (joined from someone else) forbids setgroups(2).
/// Read through berth's own procfs: the container's /proc could say "deny" and keep the
/// host's supplementary groups on the process.
fn setgroups_allowed() -> bool {
    let proc = crate::proc_root::ProcRoot::new();
    let text = proc.and_then(|p| p.own("setgroups").map(|f| (p, f)));
    text.ok()
        .and_then(|(p, f)| p.read(&f).ok())
        .is_none_or(|s| s.trim() != "deny")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_files_cannot_block_and_are_capped() {
        let dir = std::env::temp_dir().join(format!("berth-cfile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        // No writer: a blocking open would never return.
        let e = read_container_file(&fifo).unwrap_err();
        assert_eq!(e, format!("{}: not a regular file", fifo.display()));
        let e = read_container_file(&dir).unwrap_err();
        assert!(e.ends_with("not a regular file"), "{e}");
        assert_eq!(read_container_file(&dir.join("missing")).unwrap(), None);
        let plain = dir.join("plain");
        std::fs::write(&plain, "root:x:0:0::/root:/bin/sh\n").unwrap();
        assert_eq!(
            read_container_file(&plain).unwrap().unwrap(),
            b"root:x:0:0::/root:/bin/sh\n"
        );
        let big = dir.join("big");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(CONTAINER_FILE_MAX + 1).unwrap();
        let e = read_container_file(&big).unwrap_err();
        assert!(e.contains("larger than"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
