//! The `start` handshake. `create` binds a SOCK_SEQPACKET listener at `<state dir>/start.sock`
//! that only the init holds; the init blocks in accept() until `berth start` connects and
//! sends `ToChild::Start`; the messages are the create channel's (channel.rs), typed by
//! direction: `start` holds a `ParentEnd`, the init a `ChildEnd`. The socket closes on exec,
//! which gives three kernel facts for free:
//! - a successful connect means the init is still waiting: the container is `created`;
//! - ECONNREFUSED means the init has exec'd (or died): it is no longer `created`;
//! - EOF after `Start` means execve succeeded; a `ToParent::Error` carries the init's typed
//!   setup error instead;
//! - a `ToParent::SeccompListener` names the init's seccomp notify listener fd: `start` takes
//!   it, hands it to the agent and answers `SeccompListenerSent`, and only then does the init
//!   go on (to its notified syscalls).
//!
//! The socket is addressed through `/proc/self/fd/<dir fd>/start.sock`, so a long state root
//! never exceeds the 108-byte limit of a unix socket address.

use super::SetupError;
use crate::channel::{ChannelError, ChildEnd, ParentEnd, ToChild, ToParent, Wire};
use nix::sys::socket::{
    accept4, bind, connect, listen, recv, socket, AddressFamily, Backlog, MsgFlags, SockFlag,
    SockType, UnixAddr,
};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const SOCK_NAME: &str = "start.sock";

fn addr(dir: BorrowedFd<'_>) -> nix::Result<UnixAddr> {
    UnixAddr::new(format!("/proc/self/fd/{}/{SOCK_NAME}", dir.as_raw_fd()).as_str())
}

fn seqpacket() -> nix::Result<OwnedFd> {
    socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
}

/// Binds and listens (in `create`, before the clone: the init inherits it).
pub fn bind_start_listener(dir: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    let fd = seqpacket()?;
    bind(fd.as_raw_fd(), &addr(dir)?)?;
    listen(&fd, Backlog::new(16)?)?;
    Ok(fd)
}

/// Is an init waiting for `start` behind this state dir?
pub fn init_is_waiting(dir: BorrowedFd<'_>) -> bool {
    let Ok(fd) = seqpacket() else { return false };
    addr(dir).and_then(|a| connect(fd.as_raw_fd(), &a)).is_ok()
}

/// Why `start` failed, typed so that an embedder can tell "the program is not there"
/// (`Setup` with `Step::Exec` and ENOENT) from "the seccomp profile was refused" (`Setup` with
/// `Step::Seccomp`) or from a container whose init was gone. `Display` is the text `berth
/// start` prints; `source()` leads to the parts (the init's `SetupError`, the channel's error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The start socket could not be made or addressed (a failure of the runtime's own side).
    #[error("start socket: {}", .0.desc())]
    Socket(#[source] nix::errno::Errno),
    /// Nobody accepts on the start socket: the init has exec'd already, or is gone.
    #[error("the container's init is not waiting for start: {}", .0.desc())]
    NotWaiting(#[source] nix::errno::Errno),
    /// The init exited after taking `start` without answering (neither exec'd nor reported).
    #[error("the container's init exited before answering")]
    InitExited,
    /// The init reported a failed setup step after `start` (its cwd, identity, seccomp
    /// filter, capabilities, the execve itself): which step, on which field, with which errno.
    #[error("{0}")]
    Setup(#[source] SetupError),
    /// The start connection failed while doing `what`.
    #[error("{what}: {source}")]
    Channel {
        /// What was being done (`sending start`, `reading the init's answer`).
        what: &'static str,
        /// The channel's error.
        source: ChannelError,
    },
    /// The init sent a message that has no place in the start handshake.
    #[error("protocol: unexpected {0} from the init")]
    Protocol(&'static str),
    /// The init's seccomp notify listener could not be copied out of it.
    #[error("{0}")]
    Listener(#[source] super::ListenerFdError),
    /// Handing the seccomp notify listener to the agent at `linux.seccomp.listenerPath`
    /// failed: the caller's own error (the container layer's `Error`), which `source()`
    /// returns. The init is left waiting: the caller kills it.
    #[error("{0}")]
    Agent(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// `berth start`'s side: release the init and wait for the outcome of its execve. `pid` is
/// the init's. A SCMP_ACT_NOTIFY filter's listener is taken from the init (pidfd_getfd) and
/// given to `on_listener` while the init waits; the init goes on once `on_listener` returned
/// Ok. On its error (`StartError::Agent`) the init is left waiting: the caller kills it.
pub fn request_start(
    dir: BorrowedFd<'_>,
    pid: i32,
    on_listener: &mut dyn FnMut(OwnedFd) -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
) -> Result<(), StartError> {
    let fd = seqpacket().map_err(StartError::Socket)?;
    let addr = addr(dir).map_err(StartError::Socket)?;
    connect(fd.as_raw_fd(), &addr).map_err(StartError::NotWaiting)?;
    let chan = ParentEnd::from_fd(fd);
    let channel = |what| move |source| StartError::Channel { what, source };
    chan.send(&ToChild::Start).map_err(|e| match e {
        ChannelError::Closed => StartError::InitExited,
        e => channel("sending start")(e),
    })?;
    loop {
        let bytes = match recv_packet(&chan) {
            // An init that died before reading `Start` left it unread: a reset, not an EOF.
            Err(nix::errno::Errno::ECONNRESET) => return Err(StartError::InitExited),
            r => r.map_err(|e| channel("reading the init's answer")(ChannelError::Io(e)))?,
        };
        if bytes.is_empty() {
            // The socket closes on exec: EOF is success.
            return Ok(());
        }
        match ToParent::decode(&bytes).map_err(channel("reading the init's answer"))? {
            ToParent::Error(p) => {
                let e = SetupError::from_packet(p).map_err(channel("reading the init's error"))?;
                return Err(StartError::Setup(e));
            }
            ToParent::SeccompListener(n) => {
                on_listener(super::take_fd(pid, n).map_err(StartError::Listener)?)
                    .map_err(StartError::Agent)?;
                chan.send(&ToChild::SeccompListenerSent)
                    .map_err(channel("telling the init the agent has the listener"))?;
            }
            other => return Err(StartError::Protocol(other.name())),
        }
    }
}

fn recv_packet(chan: &ParentEnd) -> nix::Result<Vec<u8>> {
    let mut buf = vec![0u8; 64 * 1024];
    let n = loop {
        match recv(chan.raw_fd(), &mut buf, MsgFlags::empty()) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => break r?,
        }
    };
    buf.truncate(n);
    Ok(buf)
}

/// The init's side: accept until a connection says `Start` (connections that only probe the
/// status close without a byte and are skipped).
pub fn wait_for_start(listener: &OwnedFd) -> nix::Result<ChildEnd> {
    loop {
        let conn = match accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r?,
        };
        // SAFETY: accept4 returned a new fd that nothing else owns.
        let conn = ChildEnd::from_fd(unsafe { OwnedFd::from_raw_fd(conn) });
        if let Ok(ToChild::Start) = conn.recv() {
            return Ok(conn);
        }
    }
}

/// The init's side: report a failure after `Start`.
pub fn reply_error(conn: &ChildEnd, e: &SetupError) {
    let _ = conn.send(&ToParent::Error(e.to_packet()));
}

/// The init's side: tell `start` which fd is the seccomp notify listener, and wait until
/// `start` has handed it to the agent. The filter is already in place, so the only syscall
/// before the agent can answer is this write(2) of a stack buffer (runc refuses
/// SCMP_ACT_NOTIFY on write for the same reason, and so does berth); the answer is read into
/// a stack buffer too.
pub fn reply_listener(conn: &ChildEnd, listener: &OwnedFd) -> Result<(), String> {
    conn.write_seccomp_listener(listener.as_raw_fd())
        .map_err(|e| format!("seccomp listener to start: {e}"))?;
    match conn.recv_bare() {
        Ok(ToChild::SeccompListenerSent) => Ok(()),
        Ok(_) | Err(ChannelError::Closed | ChannelError::Malformed(_)) => {
            Err("start did not hand the seccomp listener to the agent".into())
        }
        Err(ChannelError::Io(e)) => Err(format!(
            "waiting for start to hand on the seccomp listener: {e}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::Step;
    use nix::errno::Errno;
    use std::os::fd::AsFd;

    /// A fresh directory for a start socket, as its fd.
    fn dir(name: &str) -> (std::path::PathBuf, OwnedFd) {
        let path = std::env::temp_dir().join(format!("berth-start-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).unwrap();
        let fd = nix::fcntl::open(
            &path,
            nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        (path, fd)
    }

    fn no_listener(_: OwnedFd) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        panic!("no seccomp listener in this test")
    }

    /// `init` plays the init on the listener (in a thread); returns what `start` got.
    fn start_against(name: &str, init: fn(OwnedFd)) -> Result<(), StartError> {
        let (path, dir) = dir(name);
        let listener = bind_start_listener(dir.as_fd()).unwrap();
        let init = std::thread::spawn(move || init(listener));
        let result = request_start(dir.as_fd(), 0, &mut no_listener);
        init.join().unwrap();
        std::fs::remove_dir_all(path).unwrap();
        result
    }

    #[test]
    fn the_inits_setup_error_comes_back_typed() {
        let got = start_against("setup", |listener| {
            let conn = wait_for_start(&listener).unwrap();
            let e = SetupError::new(Step::Seccomp, "seccomp: load: Operation not permitted")
                .with_errno(Errno::EPERM);
            reply_error(&conn, &e);
        });
        let Err(StartError::Setup(e)) = &got else {
            panic!("{got:?}")
        };
        assert_eq!((e.step(), e.errno()), (Step::Seccomp, Some(Errno::EPERM)));
        let err = got.as_ref().unwrap_err();
        let source = std::error::Error::source(err).and_then(|s| s.downcast_ref::<SetupError>());
        assert_eq!(source, Some(e), "source() is the setup error");
        assert_eq!(err.to_string(), "seccomp: load: Operation not permitted");
    }

    #[test]
    fn an_init_that_dies_without_reading_start_is_not_a_success() {
        let got = start_against("died", |listener| {
            // Accepted, then gone with `Start` unread: what a killed init leaves.
            // (Whether `Start` was sent before the close or not: EPIPE or ECONNRESET.)
            let conn = accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC).unwrap();
            // SAFETY: accept4 returned a new fd that nothing else owns.
            drop(unsafe { OwnedFd::from_raw_fd(conn) });
        });
        assert!(matches!(got, Err(StartError::InitExited)), "{got:?}");
    }

    #[test]
    fn eof_after_start_is_success_and_no_listener_is_not_waiting() {
        // The init's socket closes on exec: EOF after `Start`.
        start_against("exec", |listener| drop(wait_for_start(&listener).unwrap())).unwrap();
        let (path, dir) = dir("gone");
        drop(bind_start_listener(dir.as_fd()).unwrap());
        let got = request_start(dir.as_fd(), 0, &mut no_listener);
        std::fs::remove_dir_all(path).unwrap();
        assert!(
            matches!(got, Err(StartError::NotWaiting(Errno::ECONNREFUSED))),
            "{got:?}"
        );
    }
}
