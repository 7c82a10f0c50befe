//! The `start` handshake. `create` binds a SOCK_SEQPACKET listener at `<state dir>/start.sock`
//! that only the init holds; the init blocks in accept() until `berth start` connects and
//! sends `S`. The socket closes on exec, which gives three kernel facts for free:
//! - a successful connect means the init is still waiting: the container is `created`;
//! - ECONNREFUSED means the init has exec'd (or died): it is no longer `created`;
//! - EOF after `S` means execve succeeded; an `E` packet carries the init's error instead.
//!
//! The socket is addressed through /proc/self/fd/<dir fd>/start.sock, so a long state root
//! never exceeds the 108-byte limit of a unix socket address.

use nix::sys::socket::{
    accept4, bind, connect, listen, recv, recvmsg, send, sendmsg, socket, AddressFamily, Backlog,
    ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr,
};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const SOCK_NAME: &str = "start.sock";
const START: &[u8] = b"S";
const ERROR_TAG: u8 = b'E';
const LISTENER_TAG: u8 = b'L';

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

/// What the init answered to `S`.
pub enum StartReply {
    /// execve succeeded (the socket closed on exec).
    Executed,
    /// The init sent the seccomp notify listener first; execve followed.
    ExecutedWithListener(OwnedFd),
}

/// `berth start`'s side: release the init and wait for the outcome of its execve.
pub fn request_start(dir: BorrowedFd<'_>) -> Result<StartReply, String> {
    let fd = seqpacket().map_err(|e| e.to_string())?;
    connect(fd.as_raw_fd(), &addr(dir).map_err(|e| e.to_string())?).map_err(|e| {
        format!(
            "the container's init is not waiting for start: {}",
            e.desc()
        )
    })?;
    send(fd.as_raw_fd(), START, MsgFlags::MSG_NOSIGNAL).map_err(|e| e.to_string())?;
    let mut listener = None;
    loop {
        let (bytes, fdrecv) = recv_with_fd(&fd).map_err(|e| e.to_string())?;
        match bytes.first() {
            None => break,
            Some(&ERROR_TAG) => return Err(String::from_utf8_lossy(&bytes[1..]).into_owned()),
            Some(&LISTENER_TAG) => listener = fdrecv,
            Some(t) => return Err(format!("start: unexpected reply tag {t}")),
        }
    }
    Ok(match listener {
        Some(l) => StartReply::ExecutedWithListener(l),
        None => StartReply::Executed,
    })
}

fn recv_with_fd(fd: &OwnedFd) -> nix::Result<(Vec<u8>, Option<OwnedFd>)> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = loop {
        match recvmsg::<()>(
            fd.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => break r?,
        }
    };
    let mut got = None;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel just installed these fds in our table; we own them now.
            got = fds.first().map(|&f| unsafe { OwnedFd::from_raw_fd(f) });
        }
    }
    let n = msg.bytes;
    buf.truncate(n);
    Ok((buf, got))
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

/// The init's side: hand the seccomp notify listener to `start`, which forwards it to the agent.
pub fn reply_listener(conn: &OwnedFd, listener: &OwnedFd) -> nix::Result<()> {
    let fds = [listener.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [std::io::IoSlice::new(&[LISTENER_TAG])];
    sendmsg::<()>(conn.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None).map(|_| ())
}
