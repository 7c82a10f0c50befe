//! `process.terminal`: a pty whose master goes to the `--console-socket` (SCM_RIGHTS, as runc
//! does) and whose slave becomes the process's stdio and controlling terminal.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// The console socket or the container's terminal failed.
#[derive(Debug, thiserror::Error)]
pub enum TtyError {
    /// Connecting to or receiving from the console socket failed.
    #[error("console socket {path}: {reason}")]
    Socket {
        /// The path at fault.
        path: String,
        /// What is wrong, in words.
        reason: String,
    },
    /// Making or installing the pseudo-terminal failed.
    #[error("terminal: {0}")]
    Pty(String),
}

/// sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
const SUN_PATH_MAX: usize = 107;

/// The payload runc sends with the master fd: the pty's name. containerd's shim and runc's
/// `recvtty` read the fd from the control message and accept this name as the data.
const PTMX: &str = "/dev/ptmx";

/// Connects to the console socket (before pivot_root, while its path is reachable).
pub fn connect_console_socket(path: &Path) -> Result<OwnedFd, TtyError> {
    let fail = |reason: String| TtyError::Socket {
        path: path.display().to_string(),
        reason,
    };
    let stream = if path.as_os_str().len() <= SUN_PATH_MAX {
        UnixStream::connect(path).map_err(|e| fail(e.to_string()))?
    } else {
        // Too long for sockaddr_un: reach it through an fd of its directory instead.
        let (dir, name) = match (path.parent(), path.file_name()) {
            (Some(d), Some(n)) => (d, n),
            _ => return Err(fail("not a socket path".into())),
        };
        let dirfd = nix::fcntl::open(
            dir,
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| fail(format!("{}: {}", dir.display(), e.desc())))?;
        let short = Path::new("/proc/self/fd")
            .join(dirfd.as_raw_fd().to_string())
            .join(name);
        if short.as_os_str().len() > SUN_PATH_MAX {
            return Err(fail(
                "the socket's file name is too long for a unix socket".into(),
            ));
        }
        UnixStream::connect(&short).map_err(|e| fail(e.to_string()))?
    };
    Ok(OwnedFd::from(stream))
}

/// Opens a new pty in the container's /dev/pts (after pivot_root), sends the master over
/// `socket`, and makes the slave the caller's stdin/stdout/stderr and controlling terminal.
/// `size` is process.consoleSize (rows, cols) when given.
pub fn setup_console(socket: OwnedFd, size: Option<(u16, u16)>) -> Result<(), TtyError> {
    let pty = |what: &str, e: nix::Error| TtyError::Pty(format!("{what}: {}", e.desc()));
    let pts = open_devpts()?;
    let master = open_ptmx(&pts)?;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int from the pointer, which outlives the call.
    ioctl_result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) })
        .map_err(|e| pty("unlockpt", e))?;
    let slave = open_slave(&master, &pts)?;
    if let Some((rows, cols)) = size {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize from the pointer, which outlives the call.
        ioctl_result(unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &ws) })
            .map_err(|e| pty("setting process.consoleSize", e))?;
    }
    crate::fdpass::send_with_fd(socket.as_fd(), PTMX.as_bytes(), master.as_fd())
        .map_err(|e| pty("sending the pty master over the console socket", e))?;
    // Only the receiver keeps the master: an extra copy here would keep the pty open after the
    // receiver closes it.
    drop(master);
    drop(socket);
    make_controlling_stdio(slave)
}

const DEVPTS: &str = "/dev/pts";
/// The ptmx node: char 5:2.
const PTMX_RDEV: (u64, u64) = (5, 2);

/// The container's devpts instance, checked by its fd to be one (whatever the image put at
/// /dev/pts, a symlink included, it must resolve to a devpts mount in the container's view).
/// /dev/ptmx itself is never opened: the image shapes /dev (a bind-mounted /dev can hold any
/// file, FIFO or device at that name) and this process still has every capability.
fn open_devpts() -> Result<OwnedFd, TtyError> {
    use nix::fcntl::OFlag;
    let fail = |reason: String| TtyError::Pty(format!("{DEVPTS}: {reason}"));
    let dir = nix::fcntl::open(
        DEVPTS,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| fail(e.desc().into()))?;
    let fs = nix::sys::statfs::fstatfs(&dir).map_err(|e| fail(e.desc().into()))?;
    if fs.filesystem_type() != nix::sys::statfs::DEVPTS_SUPER_MAGIC {
        return Err(fail(
            "not a devpts mount (a terminal needs one at /dev/pts)".into(),
        ));
    }
    Ok(dir)
}

/// `ptmx` of that devpts, opened below its fd without following a symlink, and checked to be
/// the ptmx node (devpts holds nothing else of that number, but the check costs one fstat).
fn open_ptmx(pts: &OwnedFd) -> Result<OwnedFd, TtyError> {
    use nix::fcntl::OFlag;
    let fail = |reason: String| TtyError::Pty(format!("{DEVPTS}/ptmx: {reason}"));
    let master = nix::fcntl::openat(
        pts,
        "ptmx",
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| fail(e.desc().into()))?;
    let st = nix::sys::stat::fstat(&master).map_err(|e| fail(e.desc().into()))?;
    let rdev = (
        nix::sys::stat::major(st.st_rdev),
        nix::sys::stat::minor(st.st_rdev),
    );
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || rdev != PTMX_RDEV {
        return Err(fail(format!(
            "not the pty multiplexer (char 5:2), found {:o} {}:{}",
            st.st_mode, rdev.0, rdev.1
        )));
    }
    Ok(master)
}

fn ioctl_result(r: libc::c_int) -> nix::Result<libc::c_int> {
    nix::errno::Errno::result(r)
}

/// TIOCGPTPEER opens the slave from the master without a path lookup (no race with a
/// replaced /dev/pts entry); kernels before 4.13 lack it, then the slave is opened by name
/// below the devpts fd `pts`.
fn open_slave(master: &OwnedFd, pts: &OwnedFd) -> Result<OwnedFd, TtyError> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes its flags by value and returns a new fd or -1.
    let fd = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
    if fd >= 0 {
        // SAFETY: a fresh fd nothing else owns.
        return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    let err = nix::errno::Errno::last();
    if err != nix::errno::Errno::EINVAL && err != nix::errno::Errno::ENOTTY {
        return Err(TtyError::Pty(format!("TIOCGPTPEER: {}", err.desc())));
    }
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int through the pointer.
    ioctl_result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) })
        .map_err(|e| TtyError::Pty(format!("ptsname: {}", e.desc())))?;
    let name = n.to_string();
    nix::fcntl::openat(
        pts,
        name.as_str(),
        nix::fcntl::OFlag::from_bits_retain(flags) | nix::fcntl::OFlag::O_NOFOLLOW,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| TtyError::Pty(format!("{DEVPTS}/{name}: {}", e.desc())))
}

/// A new session whose controlling terminal is the slave, which becomes fds 0, 1 and 2.
fn make_controlling_stdio(slave: OwnedFd) -> Result<(), TtyError> {
    let pty = |what: &str, e: nix::Error| TtyError::Pty(format!("{what}: {}", e.desc()));
    nix::unistd::setsid().map_err(|e| pty("setsid", e))?;
    // SAFETY: TIOCSCTTY takes an int argument by value.
    ioctl_result(unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) })
        .map_err(|e| pty("TIOCSCTTY", e))?;
    for target in 0..=2 as RawFd {
        // SAFETY: dup2 onto the stdio numbers; the previous stdio is meant to be replaced.
        let r = unsafe { libc::dup2(slave.as_raw_fd(), target) };
        ioctl_result(r).map_err(|e| pty(&format!("dup2 onto fd {target}"), e))?;
    }
    if slave.as_raw_fd() <= 2 {
        // The slave already sits on a stdio number; dropping it would close that.
        std::mem::forget(slave);
    }
    Ok(())
}

#[cfg(test)]
#[path = "tty_tests.rs"]
mod tests;

/// A console socket berth listens on itself (`run -t` / `exec -t` without --console-socket):
/// a fresh private directory in the temp dir holding the socket, removed on drop.
pub struct ConsoleSocket {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
    listener: std::os::unix::net::UnixListener,
}

impl ConsoleSocket {
    /// Makes the directory and binds the socket in it; the container's process connects
    /// to [`ConsoleSocket::path`] when given it as a console socket.
    pub fn bind() -> Result<Self, TtyError> {
        use std::os::unix::fs::DirBuilderExt;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("berth-console-{}-{nanos}", std::process::id()));
        let fail = |reason: String| TtyError::Socket {
            path: dir.display().to_string(),
            reason,
        };
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| fail(e.to_string()))?;
        let path = dir.join("console.sock");
        let listener = match std::os::unix::net::UnixListener::bind(&path) {
            Ok(l) => l,
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                return Err(fail(e.to_string()));
            }
        };
        Ok(Self {
            dir,
            path,
            listener,
        })
    }

    /// The socket's path, to pass as the console socket.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pty master the container's process sent while it was set up (so this never
    /// waits: no pending connection means no terminal was made).
    pub fn receive_master(&self) -> Result<OwnedFd, TtyError> {
        let fail = |reason: String| TtyError::Socket {
            path: self.path.display().to_string(),
            reason,
        };
        self.listener
            .set_nonblocking(true)
            .map_err(|e| fail(e.to_string()))?;
        let (stream, _) = self
            .listener
            .accept()
            .map_err(|e| fail(format!("no terminal was sent: {e}")))?;
        stream
            .set_nonblocking(false)
            .map_err(|e| fail(e.to_string()))?;
        let mut buf = [0u8; 4096];
        if let (_, Some(fd)) = crate::fdpass::recv_with_fd(stream.as_fd(), &mut buf)
            .map_err(|e| fail(e.to_string()))?
        {
            return Ok(fd);
        }
        Err(fail("no fd came with the message".into()))
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}
