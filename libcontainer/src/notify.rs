//! `NOTIFY_SOCKET` (sd_notify) for a container, as runc does it: a service manager (systemd's
//! Type=notify, podman's `--sdnotify=container`) runs the runtime with NOTIFY_SOCKET set; the
//! container gets a socket of the runtime's own instead, at `/run/notify/notify.sock`, and
//! `start` / `run` wait for its READY=1 and pass it on to the host's socket with MAINPID, the
//! pid the manager is to watch.
//!
//! The host's socket is never shown to the container: `create` makes `<state dir>/notify/`
//! and binds it read-only into the container (a mount of the config, resolved inside the
//! rootfs like the others). With a user namespace the init, as the container's mapped root,
//! could not resolve that path through the 0700 state root: `create` clones the directory
//! alone as a detached read-only mount ([`detached_dir`]) and the init attaches that instead
//! (where the runtime may not clone mounts, an unprivileged user, the container's root is the
//! user, who owns the state root, and the bind by path works). `start` binds `notify.sock` in it, by the directory's fd, before
//! it releases the init, and closes it once it has relayed. What the container sends is data
//! to parse, bounded in size, never passed through whole: see [`Relay::wait`].

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{
    bind, connect, recvmsg, send, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr,
};
use nix::sys::stat::Mode;
use oci_spec::runtime::{Mount, Spec};
use std::ffi::OsStr;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Where the container finds its notify socket (runc's path, whatever the host's is).
pub const IN_CONTAINER_DIR: &str = "/run/notify";
/// The directory in the container's state dir that is bound at [`IN_CONTAINER_DIR`].
pub const STATE_SUBDIR: &str = "notify";
const SOCK_NAME: &str = "notify.sock";
/// systemd reads at most this much of one notification; a longer datagram is dropped whole.
const MAX_DATAGRAM: usize = 4096;
/// `sun_path` holds 108 bytes with the terminating NUL.
const MAX_ADDR: usize = 107;

/// The sd_notify relay could not be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// NOTIFY_SOCKET's value is unusable (relative, too long, not a datagram socket...).
    #[error("NOTIFY_SOCKET {value:?}: {reason}")]
    Invalid {
        /// The value as given.
        value: String,
        /// What is wrong, in words.
        reason: String,
    },
    /// A step of the relay failed.
    #[error("NOTIFY_SOCKET: {what}: {reason}")]
    Io {
        /// What was being done, to what.
        what: String,
        /// What is wrong, in words.
        reason: String,
    },
}

fn io(what: impl Into<String>, e: impl std::fmt::Display) -> NotifyError {
    NotifyError::Io {
        what: what.into(),
        reason: e.to_string(),
    }
}

/// The host's notify socket, as NOTIFY_SOCKET names it: an absolute path, or `@name` for an
/// abstract one.
#[derive(Debug, Clone)]
pub struct HostSocket {
    value: String,
    addr: UnixAddr,
}

impl HostSocket {
    /// Checks the value's form: nothing is touched.
    pub fn parse(value: &OsStr) -> Result<Self, NotifyError> {
        let shown = value.to_string_lossy().into_owned();
        let invalid = |reason: &str| NotifyError::Invalid {
            value: shown.clone(),
            reason: reason.into(),
        };
        let bytes = value.as_bytes();
        if bytes.len() > MAX_ADDR {
            return Err(invalid(&format!(
                "longer than the {MAX_ADDR} bytes a unix socket address holds"
            )));
        }
        let addr = match bytes.split_first() {
            Some((b'@', name)) if !name.is_empty() => UnixAddr::new_abstract(name),
            Some((b'/', _)) => UnixAddr::new(Path::new(value)),
            _ => {
                return Err(invalid(
                    "must be an absolute path, or @name for an abstract socket",
                ))
            }
        }
        .map_err(|e| invalid(&e.to_string()))?;
        Ok(Self { value: shown, addr })
    }

    /// A datagram socket connected to the host's: fails (naming NOTIFY_SOCKET) when there is
    /// no socket there, or no one listening on it.
    pub fn connect(&self) -> Result<OwnedFd, NotifyError> {
        let fd = dgram_socket().map_err(|e| io("socket", e))?;
        connect(fd.as_raw_fd(), &self.addr).map_err(|e| NotifyError::Invalid {
            value: self.value.clone(),
            reason: match e {
                nix::errno::Errno::ENOENT => "no such socket".into(),
                nix::errno::Errno::ECONNREFUSED => {
                    "not a socket, or no one is receiving on it".into()
                }
                nix::errno::Errno::EPROTOTYPE => "not a datagram socket".into(),
                e => format!("connect: {}", e.desc()),
            },
        })?;
        Ok(fd)
    }
}

fn dgram_socket() -> nix::Result<OwnedFd> {
    socket(
        AddressFamily::Unix,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
}

/// `create`'s part: the container's notify directory, empty until `start` binds the socket
/// in it. 0755 whatever the umask, so a container user other than root can reach the socket.
pub fn make_dir(state_dir: BorrowedFd<'_>) -> Result<(), NotifyError> {
    let mode = Mode::from_bits_truncate(0o755);
    nix::sys::stat::mkdirat(state_dir, STATE_SUBDIR, mode)
        .map_err(|e| io(format!("mkdir {STATE_SUBDIR}"), e))?;
    nix::sys::stat::fchmodat(
        state_dir,
        STATE_SUBDIR,
        mode,
        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
    )
    .map_err(|e| io(format!("chmod {STATE_SUBDIR}"), e))
}

/// `create`'s part for a container with a user namespace: a detached, read-only
/// (nosuid, nodev, noexec) copy of the notify directory, made here where the host's
/// permissions apply, for the init to attach at [`IN_CONTAINER_DIR`] in place of the bind by
/// path (which, as the container's mapped root, it could not resolve through the 0700 state
/// root). Nothing else of the state dir is in the copy, and no path to it is made anywhere.
///
/// None where the runtime may not clone mounts (an unprivileged user: EPERM; before Linux
/// 5.2: ENOSYS): the init then binds by path, which works when the container's root is the
/// state root's owner (rootless: the user's own id).
pub fn detached_dir(state_dir: BorrowedFd<'_>) -> Result<Option<OwnedFd>, NotifyError> {
    use crate::sys::mount;
    let mnt = match mount::clone_tree(&state_dir, Path::new(STATE_SUBDIR), false) {
        Ok(mnt) => mnt,
        Err(nix::errno::Errno::EPERM | nix::errno::Errno::ENOSYS) => return Ok(None),
        Err(e) => return Err(io(format!("open_tree {STATE_SUBDIR}"), e)),
    };
    let attrs = libc::MOUNT_ATTR_RDONLY
        | libc::MOUNT_ATTR_NOSUID
        | libc::MOUNT_ATTR_NODEV
        | libc::MOUNT_ATTR_NOEXEC;
    mount::setattr(&mnt, attrs, 0, 0, false)
        .map_err(|e| io(format!("mount_setattr {STATE_SUBDIR}"), e))?;
    Ok(Some(mnt))
}

/// Before anything exists, for an unprivileged berth with a new user namespace (it binds the
/// notify directory by path, see [`detached_dir`]): the container's root, which makes that
/// bind, must be the user who owns the state root; another id could not reach it, and would
/// fail the mount after the container was made.
pub fn check_reachable(
    spec: &Spec,
    ns: &crate::namespaces::NamespacePlan,
    host: &HostSocket,
) -> Result<(), NotifyError> {
    if !ns.unprivileged_user_ns() {
        return Ok(());
    }
    let euid = nix::unistd::geteuid().as_raw();
    let maps = spec
        .linux()
        .as_ref()
        .and_then(|l| l.uid_mappings().as_ref());
    let root = maps
        .into_iter()
        .flatten()
        .find(|m| m.container_id() == 0 && m.size() > 0)
        .map(|m| m.host_id());
    if root == Some(euid) {
        return Ok(());
    }
    Err(NotifyError::Invalid {
        value: host.value.clone(),
        reason: format!(
            "the container's root is host uid {}, which cannot reach the notify socket in \
             the state root of uid {euid}: map container uid 0 to {euid} (as \
             `spec --rootless` does)",
            root.map_or("(unmapped)".into(), |r| r.to_string())
        ),
    })
}

/// The bind mount of `source` (the absolute host path of the notify directory) at
/// [`IN_CONTAINER_DIR`], read-only, as runc makes it; and the process's NOTIFY_SOCKET, which
/// replaces any the config has.
pub fn add_to_spec(spec: &mut Spec, source: &Path) -> Result<(), NotifyError> {
    let mount = oci_spec::runtime::MountBuilder::default()
        .destination(IN_CONTAINER_DIR)
        .typ("bind")
        .source(source)
        .options(
            ["bind", "nosuid", "noexec", "nodev", "ro"]
                .map(String::from)
                .to_vec(),
        )
        .build()
        .map_err(|e| io("mount", e))?;
    let mut mounts: Vec<Mount> = spec.mounts().clone().unwrap_or_default();
    mounts.push(mount);
    spec.set_mounts(Some(mounts));
    let value = format!("{IN_CONTAINER_DIR}/{SOCK_NAME}");
    crate::activation::set_env(spec, &[("NOTIFY_SOCKET", value.as_str())]);
    Ok(())
}

/// What the container said before `wait` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// READY=1, passed on to the host.
    Ready,
    /// The init exited first; nothing was passed on (runc neither).
    Exited,
}

/// The container's notify socket, bound, and the host's, connected.
#[derive(Debug)]
pub struct Relay {
    own: OwnedFd,
    host: OwnedFd,
}

/// `start`'s part, before it releases the init: binds `notify.sock` in the container's notify
/// directory (opened from the state dir's fd, never following a link) and connects to the
/// host's socket.
pub fn bind_relay(state_dir: BorrowedFd<'_>, host: &HostSocket) -> Result<Relay, NotifyError> {
    use nix::fcntl::{openat, OFlag};
    let dir = openat(
        state_dir,
        STATE_SUBDIR,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        nix::errno::Errno::ENOENT => NotifyError::Invalid {
            value: host.value.clone(),
            reason: "set for start, but the container was created without it \
                     (it has no notify socket to relay)"
                .into(),
        },
        e => io(format!("open {STATE_SUBDIR}"), e),
    })?;
    let host_fd = host.connect()?;
    // Left by a start that failed after binding: the directory is the host's (the container
    // sees it read-only), so the name can only be ours.
    match nix::unistd::unlinkat(&dir, SOCK_NAME, nix::unistd::UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(io(format!("unlink {SOCK_NAME}"), e)),
    }
    let own = dgram_socket().map_err(|e| io("socket", e))?;
    let path = format!("/proc/self/fd/{}/{SOCK_NAME}", dir.as_raw_fd());
    let addr = UnixAddr::new(path.as_str()).map_err(|e| io(&path, e))?;
    bind(own.as_raw_fd(), &addr).map_err(|e| io(format!("bind {SOCK_NAME}"), e))?;
    // Any user in the container may notify, as with runc (its socket is 0777 too).
    nix::sys::stat::fchmodat(
        &dir,
        SOCK_NAME,
        Mode::from_bits_truncate(0o777),
        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
    )
    .map_err(|e| io(format!("chmod {SOCK_NAME}"), e))?;
    Ok(Relay { own, host: host_fd })
}

impl Relay {
    /// Waits until the container sends READY=1, then sends the host READY=1 (with the
    /// STATUS= of the same datagram, if any) and `MAINPID=main_pid`; or until `init` (a pidfd)
    /// is readable: the init exited before it was ready.
    ///
    /// `forward_to`: a foreground `run` forwards the signals it receives meanwhile to that
    /// pid (the init), as it does once the container is ready.
    ///
    /// A hostile container can only send datagrams: one larger than [`MAX_DATAGRAM`] is
    /// dropped whole, fds passed with SCM_RIGHTS are discarded by the kernel (no control
    /// buffer is given), its own MAINPID=, fd-store, watchdog or other lines are never
    /// passed on, and a flood of them is read and dropped one at a time, each round also
    /// checking the init's pidfd, so it cannot keep `start` waiting after the init died.
    pub fn wait(
        &self,
        init: BorrowedFd<'_>,
        main_pid: i32,
        forward_to: Option<i32>,
    ) -> Result<Outcome, NotifyError> {
        let signals = forward_to.map(SignalBlock::new).transpose()?;
        let mut buf = vec![0u8; MAX_DATAGRAM + 1];
        loop {
            let entry = |fd: i32| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            let mut fds = [
                entry(self.own.as_raw_fd()),
                entry(init.as_raw_fd()),
                // A negative fd is ignored by poll(2).
                entry(signals.as_ref().map_or(-1, |s| s.sfd.as_raw_fd())),
            ];
            // SAFETY: three valid pollfd entries; no timeout.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
            if n < 0 {
                match nix::errno::Errno::last() {
                    nix::errno::Errno::EINTR => continue,
                    e => return Err(io("poll", e)),
                }
            }
            let ready = |i: usize| fds[i].revents != 0;
            let (own, exited, signalled) = (ready(0), ready(1), ready(2));
            if own {
                if let Some(message) = self.receive(&mut buf)? {
                    self.send_host(&message, main_pid)?;
                    return Ok(Outcome::Ready);
                }
            }
            if exited {
                return Ok(Outcome::Exited);
            }
            if let (true, Some(s)) = (signalled, &signals) {
                s.forward();
            }
        }
    }

    /// One datagram: the lines to pass on if it says READY=1.
    fn receive(&self, buf: &mut [u8]) -> Result<Option<String>, NotifyError> {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = match recvmsg::<()>(
            self.own.as_raw_fd(),
            &mut iov,
            None,
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => return Ok(None),
            Err(e) => return Err(io("recvmsg", e)),
        };
        let (len, truncated) = (msg.bytes, msg.flags.contains(MsgFlags::MSG_TRUNC));
        if truncated || len > MAX_DATAGRAM {
            log::debug!("notify: dropped a datagram over {MAX_DATAGRAM} bytes");
            return Ok(None);
        }
        let bytes = iov[0].get(..len).unwrap_or_default();
        Ok(ready_message(bytes))
    }

    fn send_host(&self, message: &str, main_pid: i32) -> Result<(), NotifyError> {
        let text = format!("{message}MAINPID={main_pid}\n");
        send(
            self.host.as_raw_fd(),
            text.as_bytes(),
            MsgFlags::MSG_NOSIGNAL,
        )
        .map_err(|e| io("sending READY=1 to the host's socket", e))?;
        Ok(())
    }
}

/// The lines of a datagram that reach the host, if it says READY=1: READY=1 itself and a
/// STATUS= line; nothing else the container sends (above all not MAINPID=, which would make
/// the service manager watch, and later kill, a process of the container's choosing).
fn ready_message(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.split('\n');
    if !lines.clone().any(|l| l == "READY=1") {
        return None;
    }
    let mut out = String::from("READY=1\n");
    if let Some(status) = lines.find(|l| l.starts_with("STATUS=")) {
        out.push_str(status);
        out.push('\n');
    }
    Some(out)
}

/// The signals a foreground `run` forwards, blocked and read from a signalfd while it waits,
/// and unblocked after (those still pending are then read by the wait for the init).
struct SignalBlock {
    sfd: SignalFd,
    old: SigSet,
    pid: i32,
}

impl SignalBlock {
    fn new(pid: i32) -> Result<Self, NotifyError> {
        let set = crate::process::forwarded_signals();
        let mut old = SigSet::empty();
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))
            .map_err(|e| io("sigprocmask", e))?;
        let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(|e| io("signalfd", e));
        match sfd {
            Ok(sfd) => Ok(Self { sfd, old, pid }),
            Err(e) => {
                let _ =
                    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
                Err(e)
            }
        }
    }

    fn forward(&self) {
        let pid = self.pid;
        while let Ok(Some(info)) = self.sfd.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) | Err(_) => {}
                Ok(sig) => {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
                }
            }
        }
    }
}

impl Drop for SignalBlock {
    fn drop(&mut self) {
        // Those that came since the last poll go to the container, not to berth's default
        // action once unblocked.
        self.forward();
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_the_wrong_form_are_refused_naming_notify_socket() {
        let long = format!("/{}", "x".repeat(MAX_ADDR));
        for bad in ["", "relative/sock", "@", long.as_str()] {
            let e = HostSocket::parse(OsStr::new(bad)).unwrap_err().to_string();
            assert!(e.starts_with("NOTIFY_SOCKET"), "{bad:?}: {e}");
        }
        for good in ["/run/systemd/notify", "@abstract-name"] {
            HostSocket::parse(OsStr::new(good)).unwrap();
        }
    }

    #[test]
    fn only_ready_and_status_reach_the_host() {
        assert_eq!(ready_message(b"STATUS=starting"), None);
        assert_eq!(ready_message(b"READY=0\nREADY=10"), None);
        assert_eq!(
            ready_message(b"MAINPID=1\nREADY=1\nSTATUS=up\nFDSTORE=1\nWATCHDOG=1").as_deref(),
            Some("READY=1\nSTATUS=up\n")
        );
        assert_eq!(ready_message(b"READY=1\n").as_deref(), Some("READY=1\n"));
        assert_eq!(ready_message(b"READY=1\xff"), None);
    }
}
