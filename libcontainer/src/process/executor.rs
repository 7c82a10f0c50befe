//! What the container's process is when it is not `process.args` exec'd from the rootfs: a
//! program loader from the host, or a Rust function of the embedder's executable.
//!
//! Neither may hand the container anything of the host's writable. A loader runs from a sealed
//! view of its file, as berth itself does (sealed_exe.rs, CVE-2019-5736): the container's
//! `/proc/1/exe` is then that view. A function runs in a fresh image of the sealed executable
//! (the exec'd init of reexec.rs), never in a copy of the caller: a clone of the caller would
//! carry its memory (keys, tokens) and every fd it opened without CLOEXEC into the container,
//! and could deadlock on a lock another of its threads held.
//!
//! A closure cannot cross that exec, so the function is a plain `fn` of the executable, sent
//! as its offset from the executable's load address (the exec'd image is the same file, so
//! the same offset names the same function) plus the caller's payload bytes.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A function run as the container's process: [`Executor::function`]. Its return value is the
/// process's exit status.
pub type ExecutorFn = fn(&ExecutorContext<'_>) -> i32;

/// What the container's process runs once berth has set everything up (namespaces, mounts,
/// `pivot_root`, cgroup, rlimits, user, capabilities, `noNewPrivileges`, seccomp), in place
/// of the default `execve` of `process.args` resolved in the container's filesystem.
///
/// ```no_run
/// use libcontainer::{ContainerBuilder, Executor, ExecutorContext};
///
/// fn hello(ctx: &ExecutorContext) -> i32 {
///     println!("hello from {:?} with {} payload bytes", ctx.args(), ctx.payload().len());
///     0
/// }
///
/// # fn main() -> Result<(), libcontainer::Error> {
/// libcontainer::ensure_sealed_exe()?;
/// let created = ContainerBuilder::new("fn-demo")?
///     .bundle("/tmp/bundle")
///     .executor(Executor::function(hello, b"state".to_vec()))
///     .create()?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Executor(Kind);

#[derive(Clone, Debug, Default)]
enum Kind {
    #[default]
    Program,
    HostProgram {
        path: PathBuf,
        args: Vec<String>,
    },
    Function {
        f: ExecutorFn,
        payload: Vec<u8>,
    },
}

impl Executor {
    /// The default: `execve` of `process.args[0]`, looked up in the container's filesystem
    /// with the `PATH` of `process.env`, as runc does.
    pub fn program() -> Self {
        Self(Kind::Program)
    }

    /// Runs the host's program `path` (a loader: a WebAssembly runtime, an emulator, an
    /// interpreter) inside the container, with `args` then `process.args` as its arguments
    /// (its argv\[0\] is `path`'s file name), `process.env` as its environment, in
    /// `process.cwd`: the rootfs need not contain it.
    ///
    /// `path` is opened when the container is created, by this process, on the host, and the
    /// container gets a sealed view of it (a read-only detached mount, or a sealed memory
    /// copy): it cannot write the host's file through `/proc/1/exe`. It must be an ELF
    /// executable. A dynamically linked one has its interpreter (`PT_INTERP`) and libraries
    /// loaded by the kernel and `ld.so` from the container's filesystem, where they must
    /// exist: a statically linked loader needs nothing from the rootfs.
    pub fn host_program(
        path: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self(Kind::HostProgram {
            path: path.into(),
            args: args.into_iter().map(Into::into).collect(),
        })
    }

    /// Runs `f` as the container's process, handing it `payload` (the only data that reaches
    /// it from this process) and the container's `process.args` and `process.env`.
    ///
    /// `f` runs in a fresh image of this executable, exec'd from its sealed view: this
    /// program's `main` never ran there, so no state it built exists (no globals it set, no
    /// async runtime, no open files, no other threads); constructors (`.init_array`) may have
    /// run. Everything the process's settings in the config restrict applies to it: it runs
    /// after `start` (and the startContainer hooks) as `process.user`, with the config's
    /// capabilities, rlimits, `noNewPrivileges` and seccomp filter (which must allow what `f`
    /// and Rust's runtime call), in `process.cwd`, with `process.env` as its environment and
    /// only the container's stdio and preserved fds open. It stays non-dumpable, as runc's
    /// init is before its `execve`. Its return value is the exit status; a panic exits 101.
    /// stdout and stderr are flushed, and neither destructors nor `atexit` handlers run.
    ///
    /// `f` must be a function of the executable itself (not of a shared library): `create`
    /// checks it, since only the executable's code is at the same offset in the new image.
    pub fn function(f: ExecutorFn, payload: Vec<u8>) -> Self {
        Self(Kind::Function { f, payload })
    }
}

/// What an [`Executor::function`] gets.
#[derive(Debug)]
pub struct ExecutorContext<'a> {
    args: &'a [String],
    env: &'a [String],
    payload: &'a [u8],
}

impl<'a> ExecutorContext<'a> {
    pub(super) fn new(args: &'a [String], env: &'a [String], payload: &'a [u8]) -> Self {
        Self { args, env, payload }
    }
    /// `process.args` of the config.
    pub fn args(&self) -> &[String] {
        self.args
    }
    /// `process.env` of the config (also the process's environment, for `std::env::var`).
    pub fn env(&self) -> &[String] {
        self.env
    }
    /// The bytes given to [`Executor::function`].
    pub fn payload(&self) -> &[u8] {
        self.payload
    }
}

/// An [`Executor`] could not be prepared; nothing was made.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The host program could not be used as a loader.
    #[error("executor: host program {}: {reason}", path.display())]
    HostProgram {
        /// The path given to [`Executor::host_program`].
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The function is not code of the executable, or the executable's layout is unreadable.
    #[error("executor: function: {0}")]
    Function(String),
}

/// An [`Executor`] made ready in the parent, before the clone.
#[derive(Debug)]
pub(crate) enum ExecutorPlan {
    Program,
    /// The sealed view of the loader, and argv up to `process.args`.
    Loader {
        exe: OwnedFd,
        argv: Vec<CString>,
    },
    /// The function's offset in the executable, and the payload.
    Function {
        offset: u64,
        payload: Vec<u8>,
    },
}

impl ExecutorPlan {
    /// A function needs a fresh image of the executable even from a single-threaded caller.
    pub(super) fn needs_exec_init(&self) -> bool {
        matches!(self, ExecutorPlan::Function { .. })
    }

    /// The fd the exec'd init adopts, if any.
    pub(super) fn raw_fd(&self) -> Option<RawFd> {
        use std::os::fd::AsRawFd;
        match self {
            ExecutorPlan::Loader { exe, .. } => Some(exe.as_raw_fd()),
            _ => None,
        }
    }
}

/// Opens and seals a loader, or locates a function; in the parent, before anything exists.
/// `init_exe`: the executable the init is exec'd from, when it is not this one.
pub(crate) fn prepare_executor(
    e: &Executor,
    init_exe: Option<&Path>,
) -> Result<ExecutorPlan, ExecutorError> {
    if let (Kind::Function { .. }, Some(path)) = (&e.0, init_exe) {
        return Err(ExecutorError::Function(format!(
            "runs in a fresh image of this executable, not of the init executable {} (its \
             code is elsewhere there)",
            path.display()
        )));
    }
    match &e.0 {
        Kind::Program => Ok(ExecutorPlan::Program),
        Kind::HostProgram { path, args } => {
            let fail = |reason: String| ExecutorError::HostProgram {
                path: path.clone(),
                reason,
            };
            let exe = open_loader(path).map_err(fail)?;
            let name = path
                .file_name()
                .map(OsStrExt::as_bytes)
                .unwrap_or(b"loader");
            let argv = std::iter::once(name.to_vec())
                .chain(args.iter().map(|a| a.clone().into_bytes()))
                .map(|a| CString::new(a).map_err(|_| fail("an argument contains a NUL".into())))
                .collect::<Result<_, _>>()?;
            Ok(ExecutorPlan::Loader { exe, argv })
        }
        Kind::Function { f, payload } => Ok(ExecutorPlan::Function {
            offset: function_offset(*f as usize)?,
            payload: payload.clone(),
        }),
    }
}

/// A regular, executable ELF file, as a sealed view.
fn open_loader(path: &Path) -> Result<OwnedFd, String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() || std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 == 0
    {
        return Err("not an executable regular file".into());
    }
    let mut magic = [0u8; 4];
    if file.read_exact(&mut magic).is_err() || &magic != b"\x7fELF" {
        // A script's interpreter would be looked up in the container's filesystem.
        return Err("not an ELF executable".into());
    }
    let view = super::sealed_exe::sealed_view_of(file.as_fd()).map_err(|e| e.to_string())?;
    Ok(view)
}

/// The executable's load bias, and whether `addr` lies in one of its executable segments.
/// The executable is the first object `dl_iterate_phdr` reports (glibc and musl).
fn executable_text(addr: usize) -> Result<(usize, bool), ExecutorError> {
    struct Found {
        addr: usize,
        bias: Option<usize>,
        inside: bool,
    }
    extern "C" fn first(info: *mut libc::dl_phdr_info, _: usize, data: *mut libc::c_void) -> i32 {
        // SAFETY: `data` is the `Found` passed below, alive for the whole iteration; `info`
        // and its phdr array are valid during the callback (dl_iterate_phdr's contract).
        unsafe {
            let found = &mut *data.cast::<Found>();
            let info = &*info;
            let bias = info.dlpi_addr as usize;
            let phdrs = std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum));
            found.bias = Some(bias);
            found.inside = phdrs.iter().any(|p| {
                let start = bias.wrapping_add(p.p_vaddr as usize);
                p.p_type == libc::PT_LOAD
                    && p.p_flags & libc::PF_X != 0
                    && (start..start.saturating_add(p.p_memsz as usize)).contains(&found.addr)
            });
        }
        1
    }
    let mut found = Found {
        addr,
        bias: None,
        inside: false,
    };
    // SAFETY: the callback only reads what the loader hands it and writes `found`.
    unsafe { libc::dl_iterate_phdr(Some(first), std::ptr::addr_of_mut!(found).cast()) };
    let bias = found
        .bias
        .ok_or_else(|| ExecutorError::Function("the executable's program headers".into()))?;
    Ok((bias, found.inside))
}

fn function_offset(addr: usize) -> Result<u64, ExecutorError> {
    match executable_text(addr)? {
        (bias, true) => Ok((addr - bias) as u64),
        _ => Err(ExecutorError::Function(format!(
            "{addr:#x} is not code of the executable (a function of a shared library cannot \
             be found again in the fresh image the container's process runs)"
        ))),
    }
}

/// In the exec'd image: the function at `offset`, if that is code of this executable. A plan
/// a process forged gets nothing from this: it jumps within its own process.
pub(super) fn function_at(offset: u64) -> Result<ExecutorFn, String> {
    let (bias, _) = executable_text(0).map_err(|e| e.to_string())?;
    let addr = usize::try_from(offset)
        .ok()
        .and_then(|o| bias.checked_add(o))
        .ok_or("executor: function offset out of range")?;
    match executable_text(addr) {
        Ok((_, true)) => {
            // SAFETY: `addr` is in the executable's code, at the offset where the parent,
            // running the very same file, found an `ExecutorFn` (the plan came from it
            // through a sealed memfd).
            Ok(unsafe { std::mem::transmute::<usize, ExecutorFn>(addr) })
        }
        _ => Err("executor: function offset is not code of the executable".into()),
    }
}

/// Runs the function as the container's process and exits with its status: the last step of
/// the init. The start connection (and every other fd of berth's) is closed first, which
/// tells `start` that the process began, as the close-on-exec of an `execve` would.
pub(super) fn run_function(
    f: ExecutorFn,
    ctx: &ExecutorContext<'_>,
    first_closed: u32,
) -> Result<std::convert::Infallible, String> {
    crate::sys::fds::close_from(first_closed).map_err(|e| format!("close_range: {e}"))?;
    for (k, _) in std::env::vars_os() {
        std::env::remove_var(k);
    }
    for kv in ctx.env {
        if let Some((k, v)) = kv.split_once('=').filter(|(k, _)| !k.is_empty()) {
            std::env::set_var(k, v);
        }
    }
    let status = std::panic::catch_unwind(|| f(ctx)).unwrap_or(101);
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: leaves without running the embedder's destructors or atexit handlers, which
    // belong to its `main`, never run in this image.
    unsafe { libc::_exit(status) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(_: &ExecutorContext) -> i32 {
        42
    }

    /// A function of the executable is found again at its offset; an address outside its
    /// code (a libc function, data) is refused before anything is made.
    #[test]
    fn a_function_round_trips_through_its_offset_and_a_library_one_is_refused() {
        let offset = function_offset(sample as *const () as usize).expect("offset");
        let f = function_at(offset).expect("function_at");
        let ctx = ExecutorContext {
            args: &[],
            env: &[],
            payload: &[],
        };
        assert_eq!(f(&ctx), 42);
        let e = function_offset(libc::getpid as *const () as usize).unwrap_err();
        assert!(e.to_string().contains("not code of the executable"), "{e}");
        static DATA: u8 = 0;
        assert!(function_offset(std::ptr::addr_of!(DATA) as usize).is_err());
        assert!(function_at(u64::MAX).is_err());
        assert!(function_at(u64::from(u32::MAX) << 16).is_err());
    }

    #[test]
    fn a_loader_must_be_an_executable_elf() {
        let dir = std::env::temp_dir().join(format!("berth-loader-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("script");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let err = prepare_executor(&Executor::host_program(&script, ["x"]), None).unwrap_err();
        assert!(err.to_string().contains("not an ELF executable"), "{err}");
        let err =
            prepare_executor(&Executor::host_program(&dir, None::<String>), None).unwrap_err();
        assert!(
            err.to_string().contains("not an executable regular file"),
            "{err}"
        );
        let err = prepare_executor(
            &Executor::host_program(dir.join("nope"), None::<String>),
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("No such file"), "{err}");
        let ok = prepare_executor(&Executor::host_program("/bin/busybox", ["sh"]), None).unwrap();
        match ok {
            ExecutorPlan::Loader { argv, .. } => assert_eq!(argv, [c"busybox", c"sh"]),
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
