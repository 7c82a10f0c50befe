//! Callers with more than one thread: the clone execs a fresh image of the sealed executable.
//!
//! A clone of a multithreaded process is a copy of one thread, with every lock another thread
//! held at that instant held forever: malloc's arenas, std's environment lock, a OnceLock,
//! glibc's setxid broadcast to threads that do not exist in the copy. The init code allocates,
//! formats and runs serde, so from a tokio program it deadlocked. So when the caller has more
//! than one thread, the child of the clone makes only async-signal-safe calls (close the lock
//! fds, clear close-on-exec on the fds it keeps, PR_SET_PDEATHSIG) and `execveat`s the sealed
//! view of its own executable (sealed_exe.rs), prepared before the clone along with argv,
//! envp and the plan (plan.rs, in a sealed memfd). The new image, single-threaded, recognises
//! itself in [`ENTRY`], an `.init_array` constructor that glibc runs before `main`, reads the
//! plan and runs the very code the fast path runs from memory; it never returns into the
//! embedder's `main`. A single-threaded caller (the `berth` CLI) keeps the plain clone.

use super::{ProcessError, SetupError, Step};
use crate::channel::{ChildEnd, ToParent, Wire};
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::ptr;
use std::sync::OnceLock;

/// argv[0] of an exec'd init. Also the bytes [`entry_point_in`] looks for in an executable.
const ARGV0: &CStr = c"libcontainer-exec-init";
/// `_LIBCONTAINER_INIT=<channel fd>,<plan fd>`: the other half of the marker.
const ENV: &str = "_LIBCONTAINER_INIT";
/// Test knob: `1` takes the exec'd path even from a single-threaded caller, so the
/// integration tests prove both paths with the CLI. Read only here.
const FORCE_ENV: &str = "BERTH_TEST_FORCE_INIT_EXEC";

/// Whether this launch must exec its init: the caller has other threads (or the test knob).
/// A thread count that cannot be read counts as many. While there is only one thread no
/// other can appear before the clone: only this one could start it.
pub(super) fn wanted() -> bool {
    if std::env::var_os(FORCE_ENV).is_some_and(|v| v == "1") {
        return true;
    }
    threads() != Some(1)
}

/// `Threads:` of our status, read through berth's own verified procfs.
fn threads() -> Option<u64> {
    let proc = crate::proc_root::ProcRoot::new().ok()?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut proc.open_own("status").ok()?, &mut text).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// Everything the child of the clone needs to exec the init, made in the parent.
pub(super) struct ExecInit {
    exe: OwnedFd,
    /// Kept open in the parent until the child exec'd (the child's copy is what it reads).
    _plan: OwnedFd,
    _strings: [CString; 2],
    argv: [*const libc::c_char; 2],
    envp: [*const libc::c_char; 2],
    keep: Vec<RawFd>,
    close: Vec<RawFd>,
    chan: RawFd,
    pdeathsig: bool,
    /// `Error` packet for a failed execveat; the child patches in the errno and appends its
    /// digits to the message.
    error: Vec<u8>,
}

impl ExecInit {
    /// `plan`: plan.rs bytes. `keep`: the fds the init adopts (their numbers are in the plan);
    /// the caller's `3..3+preserve_fds` are kept too. `close`: the parent's lock fds.
    /// `init_exe`: the executable to exec instead of this one (`init_executable`).
    pub(super) fn prepare(
        plan: &[u8],
        chan: &ChildEnd,
        (mut keep, preserve_fds): (Vec<RawFd>, u32),
        close: &[RawFd],
        pdeathsig: bool,
        init_exe: Option<&Path>,
    ) -> Result<Self, ProcessError> {
        // The constructor must be linked wherever the code that execs it is.
        std::hint::black_box(&ENTRY);
        let err = |what: &str, e: &dyn std::fmt::Display| {
            ProcessError::parent(format!("exec'd init: {what}: {e}"))
        };
        let (exe, name) = match init_exe {
            None => (own_image()?, exe_name()),
            Some(path) => (
                other_image(path).map_err(ProcessError::parent)?,
                path.display().to_string(),
            ),
        };
        let mut tagged = PLAN_TAG.to_le_bytes().to_vec();
        tagged.extend_from_slice(plan);
        let plan_fd = plan_memfd(&tagged).map_err(|e| err("plan memfd", &e))?;
        let env = CString::new(format!("{ENV}={},{}", chan.raw_fd(), plan_fd.as_raw_fd()))
            .map_err(|e| err("environment", &e))?;
        keep.extend([chan.raw_fd(), plan_fd.as_raw_fd()]);
        keep.extend(3..super::fds::range_end(preserve_fds));
        let error = ToParent::Error(
            SetupError::new(
                Step::Launch,
                format!("exec'd init: execveat of {name} failed: errno "),
            )
            .to_packet(),
        )
        .encode();
        let strings = [ARGV0.to_owned(), env];
        Ok(ExecInit {
            argv: [strings[0].as_ptr(), ptr::null()],
            envp: [strings[1].as_ptr(), ptr::null()],
            _strings: strings,
            exe,
            _plan: plan_fd,
            keep,
            close: close.to_vec(),
            chan: chan.raw_fd(),
            pdeathsig,
            error,
        })
    }

    /// In the child of the clone: async-signal-safe calls only, then the exec. Never returns.
    pub(super) fn exec(&self) -> ! {
        // SAFETY: plain syscalls on fd numbers and on memory prepared before the clone (the
        // pointer arrays point into `_strings`, NULL-terminated); no allocation, no lock.
        unsafe {
            for &fd in &self.close {
                libc::close(fd);
            }
            for &fd in &self.keep {
                libc::fcntl(fd, libc::F_SETFD, 0);
            }
            if self.pdeathsig {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            }
            let errno = crate::sys::exec::execveat_empty_path(
                self.exe.as_fd(),
                self.argv.as_ptr(),
                self.envp.as_ptr(),
            ) as i32;
            let mut buf = [0u8; 512];
            let n = self.error.len().min(buf.len() - 12);
            buf[..n].copy_from_slice(&self.error[..n]);
            let at = crate::channel::ERROR_ERRNO_AT;
            buf[at..at + 4].copy_from_slice(&errno.to_le_bytes());
            let n = n + write_decimal(&mut buf[n..], errno);
            libc::send(self.chan, buf.as_ptr().cast(), n, libc::MSG_NOSIGNAL);
            libc::_exit(127)
        }
    }
}

/// This executable, which must carry the entry point (checked once).
fn own_image() -> Result<OwnedFd, ProcessError> {
    let exe = nix::fcntl::open(
        "/proc/self/exe",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| ProcessError::parent(format!("exec'd init: open /proc/self/exe: {e}")))?;
    if !entry_point_in(&exe) {
        return Err(ProcessError::parent(format!(
            "the libcontainer init entry point is not in {} (this process has several \
             threads, so its container processes must exec it): link libcontainer into the \
             executable itself, name one that links it (init_executable), or create \
             containers from a single-threaded process",
            exe_name()
        )));
    }
    Ok(exe)
}

/// The executable an embedder named to exec as the init (`init_executable`: a program that
/// links libcontainer, for a caller whose own executable does not, such as an interpreter
/// loading it as an extension): it must carry the entry point, and is exec'd from a sealed
/// view of the file opened here, as berth's own executable is (CVE-2019-5736).
fn other_image(path: &Path) -> Result<OwnedFd, InitExecutableError> {
    let fail = |reason: String| InitExecutableError {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let file = OwnedFd::from(file);
    if !carries_marker(&file) {
        return Err(fail(
            "does not link libcontainer (its init entry point is missing)".into(),
        ));
    }
    super::sealed_exe::sealed_view_of(std::os::fd::AsFd::as_fd(&file))
        .map_err(|e| fail(e.to_string()))
}

/// The executable named as the container processes' init could not be used.
#[derive(Debug, thiserror::Error)]
#[error("init executable {}: {reason}", path.display())]
pub struct InitExecutableError {
    path: std::path::PathBuf,
    reason: String,
}

impl InitExecutableError {
    /// The executable named.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What a launch plan starts with: the build of libcontainer that wrote it, so that an init
/// executable built from another one refuses the plan instead of misreading it. The crate's
/// version and a hash of the source of every byte layout the two sides share: the plan, the
/// seccomp program inside it, and the channel's messages (a layout change changes the source).
const PLAN_TAG: u64 = fnv1a(
    concat!(
        env!("CARGO_PKG_VERSION"),
        "\0",
        include_str!("plan.rs"),
        include_str!("../seccomp/mod.rs"),
        include_str!("../channel.rs"),
    )
    .as_bytes(),
);

const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// Digits of a non-negative `v` into `out` (async-signal-safe formatting); returns the count.
fn write_decimal(out: &mut [u8], v: i32) -> usize {
    let mut digits = [0u8; 11];
    let (mut v, mut n) = (v.unsigned_abs(), 0);
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let n = n.min(out.len());
    for i in 0..n {
        out[i] = digits[n - 1 - i];
    }
    n
}

fn exe_name() -> String {
    std::fs::read_link("/proc/self/exe")
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "/proc/self/exe".into())
}

/// The plan in a sealed memfd: no size limit as a channel packet would have, and the child
/// reads it with pread, whatever the shared offset.
fn plan_memfd(plan: &[u8]) -> std::io::Result<OwnedFd> {
    use nix::fcntl::{fcntl, FcntlArg, SealFlag};
    use nix::sys::memfd::{memfd_create, MFdFlags};
    let fd = memfd_create(
        c"libcontainer-plan",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )?;
    let mut file = std::fs::File::from(fd);
    std::io::Write::write_all(&mut file, plan)?;
    let seals = SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_WRITE;
    fcntl(&file, FcntlArg::F_ADD_SEALS(seals))?;
    Ok(file.into())
}

/// Whether the executable carries the constructor: its marker bytes are in the file (they
/// are in every executable that links the code that execs it, which [`ENTRY`] is linked
/// with). An interpreter that loaded libcontainer from a shared library has them not: it
/// would run its own `main` in the container's namespaces instead of the init. Checked once.
fn entry_point_in(exe: &OwnedFd) -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| carries_marker(exe))
}

fn carries_marker(file: &OwnedFd) -> bool {
    let Ok(meta) = nix::sys::stat::fstat(file) else {
        return false;
    };
    let len = meta.st_size as usize;
    if len == 0 {
        return false;
    }
    let needle = ARGV0.to_bytes_with_nul();
    // SAFETY: a private read-only mapping of the whole file, unmapped before returning;
    // memmem only reads within it.
    unsafe {
        let map = libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            file.as_raw_fd(),
            0,
        );
        if map == libc::MAP_FAILED {
            return false;
        }
        let hit = libc::memmem(map, len, needle.as_ptr().cast(), needle.len());
        libc::munmap(map, len);
        !hit.is_null()
    }
}

/// The exec'd init's entry: glibc calls `.init_array` functions with argc, argv and envp
/// before `main`. Everything but an exec'd init returns at once (one string compare).
#[used]
#[link_section = ".init_array"]
static ENTRY: extern "C" fn(libc::c_int, *const *const libc::c_char, *const *const libc::c_char) =
    entry;

extern "C" fn entry(
    argc: libc::c_int,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
) {
    if argc < 1 || argv.is_null() {
        return;
    }
    // SAFETY: glibc passes the process's argv, a NULL-terminated array of C strings.
    let arg0 = unsafe { *argv };
    // SAFETY: a non-null argv[0] is a C string that lives as long as the process.
    if arg0.is_null() || unsafe { CStr::from_ptr(arg0) } != ARGV0 {
        return;
    }
    // SAFETY: glibc passes the process's envp, NULL-terminated, strings living as long.
    if let Some(fds) = unsafe { env_value(envp) } {
        run(fds)
    }
}

/// The value of `ENV` in `envp`.
///
/// # Safety
/// `envp` is null or a NULL-terminated array of C strings that live as long as the process.
unsafe fn env_value(envp: *const *const libc::c_char) -> Option<&'static [u8]> {
    if envp.is_null() {
        return None;
    }
    let mut p = envp;
    loop {
        // SAFETY: within the array, up to and including its NULL terminator.
        let s = unsafe { *p };
        if s.is_null() {
            return None;
        }
        // SAFETY: a non-null entry is a C string living as long as the process.
        let entry = unsafe { CStr::from_ptr(s) }.to_bytes();
        if let Some(value) = entry
            .strip_prefix(ENV.as_bytes())
            .and_then(|r| r.strip_prefix(b"="))
        {
            return Some(value);
        }
        // SAFETY: the entry was not the terminator, so the next one is in the array.
        p = unsafe { p.add(1) };
    }
}

/// Runs the init (or exec's helper) from the plan; never returns. Whoever execs the sealed
/// executable with the marker gets exactly this: setup code acting with the privileges the
/// process already has, on fds it already holds.
fn run(fds: &[u8]) -> ! {
    let parsed = std::str::from_utf8(fds).ok().and_then(|s| {
        let (c, p) = s.split_once(',')?;
        Some((c.parse::<RawFd>().ok()?, p.parse::<RawFd>().ok()?))
    });
    let Some((chan, plan)) = parsed.filter(|(c, p)| *c >= 0 && *p >= 0 && c != p) else {
        // SAFETY: leaving without running anything of the embedder's.
        unsafe { libc::_exit(127) }
    };
    let (Some(chan), Some(plan)) = (adopt(chan), adopt(plan)) else {
        // SAFETY: as above.
        unsafe { libc::_exit(127) }
    };
    let chan = ChildEnd::from_fd(chan);
    match read_plan(plan).and_then(|bytes| decode(&bytes)) {
        Ok(Plan::Launch(p)) => super::stage::child_main(&p.config(), chan, p.direct()),
        Ok(Plan::Join(p)) => super::join::child_main(&p.config(), chan),
        Err(text) => {
            let _ = chan.send(&ToParent::Error(
                SetupError::new(Step::Launch, text).to_packet(),
            ));
            // SAFETY: as above.
            unsafe { libc::_exit(1) }
        }
    }
}

/// An fd number handed over across execve, if it is open; close-on-exec again, so the user's
/// program never inherits it.
fn adopt(fd: RawFd) -> Option<OwnedFd> {
    // SAFETY: F_SETFD only changes the flags of the number (EBADF when it is free).
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } == -1 {
        return None;
    }
    // SAFETY: the parent kept it open across execve for this image alone.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn read_plan(plan: OwnedFd) -> Result<Vec<u8>, String> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::from(plan);
    let len = file
        .metadata()
        .map_err(|e| format!("launch plan: {e}"))?
        .len();
    let mut bytes = vec![0; usize::try_from(len).map_err(|_| "launch plan: too big")?];
    file.read_exact_at(&mut bytes, 0)
        .map_err(|e| format!("launch plan: {e}"))?;
    Ok(bytes)
}

enum Plan {
    Launch(super::plan::Launch),
    Join(super::plan::Joined),
}

/// Decodes the plan; every fd it names is checked open and made close-on-exec again (the
/// caller's preserved fds are the init's business: `limit_fds`).
fn decode(bytes: &[u8]) -> Result<Plan, String> {
    let tag = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes);
    if tag != Some(PLAN_TAG) {
        return Err(format!(
            "launch plan: written by another build of libcontainer than this init executable's \
             ({}); name an executable built from the same libcontainer (init_executable)",
            env!("CARGO_PKG_VERSION")
        ));
    }
    let (&kind, rest) = bytes[8..].split_first().ok_or("launch plan: empty")?;
    match kind {
        super::plan::CREATE => super::plan::decode_launch(rest).map(Plan::Launch),
        super::plan::JOIN => super::plan::decode_join(rest).map(Plan::Join),
        k => Err(format!("launch plan: unknown kind {k}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &str) -> OwnedFd {
        std::fs::File::open(path).expect("open").into()
    }

    /// An executable linking libcontainer (this test binary) carries the entry point; one
    /// that does not (an interpreter, here busybox) is refused before any clone.
    #[test]
    fn finds_the_entry_point_only_where_libcontainer_is_linked() {
        assert!(carries_marker(&open("/proc/self/exe")));
        assert!(!carries_marker(&open("/bin/busybox")));
    }

    /// A plan from another build (another tag) is refused whole, before any field is read.
    #[test]
    fn a_plan_of_another_build_is_refused() {
        let mut bytes = (PLAN_TAG ^ 1).to_le_bytes().to_vec();
        bytes.push(super::super::plan::CREATE);
        let e = decode(&bytes).err().expect("refused");
        assert!(e.contains("another build of libcontainer"), "{e}");
        assert!(decode(&PLAN_TAG.to_le_bytes()).is_err());
        assert!(decode(&[1, 2]).is_err());
    }

    #[test]
    fn formats_an_errno_without_allocating() {
        let mut out = [0u8; 11];
        let n = write_decimal(&mut out, 13);
        assert_eq!(&out[..n], b"13");
        let n = write_decimal(&mut out, 0);
        assert_eq!(&out[..n], b"0");
    }
}
