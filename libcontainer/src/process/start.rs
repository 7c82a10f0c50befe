//! The `start` handshake. `create` binds a SOCK_SEQPACKET listener at `<state dir>/start.sock`
//! that only the init holds; the init blocks in accept() until `berth start` connects and
//! sends `S`. The socket closes on exec, which gives three kernel facts for free:
//! - a successful connect means the init is still waiting: the container is `created`;
//! - ECONNREFUSED means the init has exec'd (or died): it is no longer `created`;
//! - EOF after `S` means execve succeeded; an `E` packet carries the init's error instead;
//! - an `L` packet names the init's seccomp notify listener fd: `start` takes it, hands it to
//!   the agent and answers `A`, and only then does the init go on (to its notified syscalls).
//!
//! The socket is addressed through `/proc/self/fd/<dir fd>/start.sock`, so a long state root
//! never exceeds the 108-byte limit of a unix socket address.

use nix::sys::socket::{
    accept4, bind, connect, listen, recv, send, socket, AddressFamily, Backlog, MsgFlags, SockFlag,
    SockType, UnixAddr,
};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const SOCK_NAME: &str = "start.sock";
const START: &[u8] = b"S";
const ERROR_TAG: u8 = b'E';
const LISTENER_TAG: u8 = b'L';
const ACK_TAG: u8 = b'A';

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

/// `berth start`'s side: release the init and wait for the outcome of its execve. `pid` is
/// the init's. A SCMP_ACT_NOTIFY filter's listener is taken from the init (pidfd_getfd) and
/// given to `on_listener` while the init waits; the init goes on once `on_listener` returned
/// Ok. On its error the init is left waiting: the caller kills it.
pub fn request_start(
    dir: BorrowedFd<'_>,
    pid: i32,
    on_listener: &mut dyn FnMut(OwnedFd) -> Result<(), String>,
) -> Result<(), String> {
    let fd = seqpacket().map_err(|e| e.to_string())?;
    connect(fd.as_raw_fd(), &addr(dir).map_err(|e| e.to_string())?).map_err(|e| {
        format!(
            "the container's init is not waiting for start: {}",
            e.desc()
        )
    })?;
    send(fd.as_raw_fd(), START, MsgFlags::MSG_NOSIGNAL).map_err(|e| e.to_string())?;
    loop {
        let bytes = recv_packet(&fd).map_err(|e| e.to_string())?;
        match bytes.split_first() {
            None => return Ok(()),
            Some((&ERROR_TAG, text)) => return Err(String::from_utf8_lossy(text).into_owned()),
            Some((&LISTENER_TAG, n)) => {
                let n: [u8; 4] = n
                    .try_into()
                    .map_err(|_| "start: malformed listener reply")?;
                on_listener(super::take_fd(pid, i32::from_le_bytes(n))?)?;
                send(fd.as_raw_fd(), &[ACK_TAG], MsgFlags::MSG_NOSIGNAL).map_err(|e| {
                    format!("start: telling the init the agent has the listener: {e}")
                })?;
            }
            Some((t, _)) => return Err(format!("start: unexpected reply tag {t}")),
        }
    }
}

fn recv_packet(fd: &OwnedFd) -> nix::Result<Vec<u8>> {
    let mut buf = vec![0u8; 64 * 1024];
    let n = loop {
        match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => break r?,
        }
    };
    buf.truncate(n);
    Ok(buf)
}

/// The init's side: accept until a connection says `S` (connections that only probe the
/// status close without a byte and are skipped).
pub fn wait_for_start(listener: &OwnedFd) -> nix::Result<OwnedFd> {
    loop {
        let conn = match accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r?,
        };
        // SAFETY: accept4 returned a new fd that nothing else owns.
        let conn = unsafe { OwnedFd::from_raw_fd(conn) };
        let mut b = [0u8; 1];
        if let Ok(1) = recv(conn.as_raw_fd(), &mut b, MsgFlags::empty()) {
            if b == START {
                return Ok(conn);
            }
        }
    }
}

/// The init's side: report a failure after `S` (the text names the step and field).
pub fn reply_error(conn: &OwnedFd, text: &str) {
    let msg = [&[ERROR_TAG][..], text.as_bytes()].concat();
    let _ = send(conn.as_raw_fd(), &msg, MsgFlags::MSG_NOSIGNAL);
}

/// The init's side: tell `start` which fd is the seccomp notify listener, and wait until
/// `start` has handed it to the agent. The filter is already in place, so the only syscall
/// before the agent can answer is this write(2) of a stack buffer (runc refuses
/// SCMP_ACT_NOTIFY on write for the same reason, and so does berth).
pub fn reply_listener(conn: &OwnedFd, listener: &OwnedFd) -> Result<(), String> {
    let n = listener.as_raw_fd().to_le_bytes();
    let packet = [LISTENER_TAG, n[0], n[1], n[2], n[3]];
    nix::unistd::write(conn, &packet)
        .map_err(|e| format!("seccomp listener to start: {}", e.desc()))?;
    let mut ack = [0u8; 1];
    match nix::unistd::read(conn, &mut ack) {
        Ok(1) if ack[0] == ACK_TAG => Ok(()),
        Ok(_) => Err("start did not hand the seccomp listener to the agent".into()),
        Err(e) => Err(format!(
            "waiting for start to hand on the seccomp listener: {e}"
        )),
    }
}
