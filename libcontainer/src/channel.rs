//! The typed channel between `berth create` and the processes it clones: a SOCK_SEQPACKET
//! socketpair carrying one compact binary message per packet (a tag byte, then the payload), so
//! a message never arrives half-read and nothing is parsed as JSON on the hot path.

use nix::sys::socket::{
    recvmsg, send, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned,
    MsgFlags, SockFlag, SockType,
};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Every message of the create protocol, in the order they are normally exchanged
/// (docs/process-model.md has the picture).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// parent → child: the child is in its cgroup (and, for a cloned user namespace, its id
    /// maps are written); go on.
    Go,
    /// child → parent: I unshared a user namespace; write my id maps.
    NeedIdMaps,
    /// parent → child: id maps written.
    IdMapsDone,
    /// child → parent: the container's init (or, for `exec`, the new process) has this pid
    /// in the parent's pid namespace; 0 means the child itself.
    InitPid(i32),
    /// init → parent: mounts are done; run prestart and createRuntime hooks.
    CreateRuntime,
    /// parent → init: those hooks ran; here is the state JSON for the hooks the init runs.
    HooksDone(Vec<u8>),
    /// init → parent: set up, waiting for `start`.
    Ready,
    /// parent → init: the container is recorded in state.json; the init may now outlive
    /// `create`. Until then it dies with its creator (PR_SET_PDEATHSIG, or this channel's EOF).
    Committed,
    /// child → parent: setup failed; the text names the step and field.
    Error(String),
    /// exec'd process → parent: its SCMP_ACT_NOTIFY listener is this fd number in the process
    /// (the parent takes it with pidfd_getfd). Sent with `write_seccomp_listener`.
    SeccompListener(i32),
    /// parent → exec'd process: the agent at listenerPath holds the listener; go on.
    SeccompListenerSent,
}

/// The socket between berth and the container's setup processes failed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// A send or receive failed with this errno.
    #[error("channel: {0}")]
    Io(nix::Error),
    /// The process at the other end exited (EOF).
    #[error("channel: the other process exited before answering")]
    Closed,
    /// A message with this tag could not be decoded.
    #[error("channel: malformed message (tag {0})")]
    Malformed(u8),
}

const MAX_MSG: usize = 256 * 1024;

impl Msg {
    /// The packet for this message.
    pub fn encode(&self) -> Vec<u8> {
        let (tag, payload): (u8, &[u8]) = match self {
            Msg::Go => (1, &[]),
            Msg::NeedIdMaps => (2, &[]),
            Msg::IdMapsDone => (3, &[]),
            Msg::InitPid(pid) => return [&[4u8][..], &pid.to_le_bytes()].concat(),
            Msg::CreateRuntime => (5, &[]),
            Msg::HooksDone(json) => (6, json),
            Msg::Ready => (7, &[]),
            Msg::Error(text) => (8, text.as_bytes()),
            Msg::SeccompListener(fd) => return [&[9u8][..], &fd.to_le_bytes()].concat(),
            Msg::SeccompListenerSent => (10, &[]),
            Msg::Committed => (11, &[]),
        };
        [&[tag][..], payload].concat()
    }

    /// Parses one packet (also the fuzz target's entry point: packets come from another
    /// process and must never panic the parent).
    pub fn decode(buf: &[u8]) -> Result<Self, ChannelError> {
        let (&tag, payload) = buf.split_first().ok_or(ChannelError::Closed)?;
        Ok(match tag {
            1 => Msg::Go,
            2 => Msg::NeedIdMaps,
            3 => Msg::IdMapsDone,
            4 => {
                let bytes: [u8; 4] = payload
                    .try_into()
                    .map_err(|_| ChannelError::Malformed(tag))?;
                Msg::InitPid(i32::from_le_bytes(bytes))
            }
            5 => Msg::CreateRuntime,
            6 => Msg::HooksDone(payload.to_vec()),
            7 => Msg::Ready,
            8 => Msg::Error(String::from_utf8_lossy(payload).into_owned()),
            9 => {
                let bytes: [u8; 4] = payload
                    .try_into()
                    .map_err(|_| ChannelError::Malformed(tag))?;
                Msg::SeccompListener(i32::from_le_bytes(bytes))
            }
            10 => Msg::SeccompListenerSent,
            11 => Msg::Committed,
            t => return Err(ChannelError::Malformed(t)),
        })
    }
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// A connected pair: (parent's end, child's end). Both close on exec, so the user's program
/// never inherits them.
pub fn channel_pair() -> Result<(Channel, Channel), ChannelError> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(ChannelError::Io)?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    /// The end an exec'd init was handed (process/reexec.rs): the number it kept across
    /// execve.
    pub(crate) fn from_fd(fd: OwnedFd) -> Self {
        Channel { fd }
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn send(&self, msg: &Msg) -> Result<(), ChannelError> {
        let bytes = msg.encode();
        loop {
            match send(self.fd.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EPIPE) => return Err(ChannelError::Closed),
                Err(e) => return Err(ChannelError::Io(e)),
            }
        }
    }

    /// `Msg::SeccompListener(fd)` with one write(2) of a stack buffer: the filter is already
    /// in place and its agent does not have the listener yet, so nothing but that write may
    /// run (no allocation that could mmap). runc refuses SCMP_ACT_NOTIFY on write for the same
    /// reason, and so does berth.
    pub fn write_seccomp_listener(&self, fd: RawFd) -> Result<(), ChannelError> {
        let n = fd.to_le_bytes();
        let packet = [9u8, n[0], n[1], n[2], n[3]];
        loop {
            match nix::unistd::write(&self.fd, &packet) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EPIPE) => return Err(ChannelError::Closed),
                Err(e) => return Err(ChannelError::Io(e)),
            }
        }
    }

    /// Sends `msg` with `fd` attached (SCM_RIGHTS: the receiver gets its own copy). Only the
    /// tests send an fd this way today (the seccomp listener has its own writer).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn send_fd(&self, msg: &Msg, fd: BorrowedFd<'_>) -> Result<(), ChannelError> {
        let bytes = msg.encode();
        let fds = [fd.as_raw_fd()];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        let iov = [IoSlice::new(&bytes)];
        loop {
            match sendmsg::<()>(
                self.fd.as_raw_fd(),
                &iov,
                &cmsg,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EPIPE) => return Err(ChannelError::Closed),
                Err(e) => return Err(ChannelError::Io(e)),
            }
        }
    }

    /// Receives one message; an fd sent with it is dropped (closed).
    pub fn recv(&self) -> Result<Msg, ChannelError> {
        self.recv_fd().map(|(msg, _)| msg)
    }

    /// Receives one message and the fd attached to it, if any (close-on-exec).
    pub fn recv_fd(&self) -> Result<(Msg, Option<OwnedFd>), ChannelError> {
        let mut buf = vec![0u8; MAX_MSG];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::ECONNRESET) => return Err(ChannelError::Closed),
                Err(e) => return Err(ChannelError::Io(e)),
                Ok(m) => m,
            };
            let mut fd = None;
            for c in msg.cmsgs().map_err(ChannelError::Io)? {
                if let ControlMessageOwned::ScmRights(fds) = c {
                    for &f in &fds {
                        // SAFETY: the kernel just installed these fds in our table; we own them.
                        let owned = unsafe { OwnedFd::from_raw_fd(f) };
                        fd.get_or_insert(owned);
                    }
                }
            }
            let n = msg.bytes;
            if n == 0 {
                return Err(ChannelError::Closed);
            }
            return Msg::decode(&buf[..n]).map(|m| (m, fd));
        }
    }

    /// Waits for one specific message; an `Error` from the other side becomes `Err(text)`.
    pub fn expect(&self, want: &Msg) -> Result<(), String> {
        match self.recv() {
            Ok(ref got) if got == want => Ok(()),
            Ok(Msg::Error(text)) => Err(text),
            Ok(other) => Err(format!("protocol: expected {want:?}, got {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn every_message_round_trips() {
        let (a, b) = channel_pair().unwrap();
        let msgs = [
            Msg::Go,
            Msg::NeedIdMaps,
            Msg::IdMapsDone,
            Msg::InitPid(-7),
            Msg::InitPid(123_456),
            Msg::CreateRuntime,
            Msg::HooksDone(b"{\"id\":\"x\"}".to_vec()),
            Msg::Ready,
            Msg::Committed,
            Msg::Error("mounts[3] (/x): bad".into()),
            Msg::SeccompListener(5),
            Msg::SeccompListenerSent,
        ];
        for m in &msgs {
            a.send(m).unwrap();
            assert_eq!(&b.recv().unwrap(), m);
        }
        a.write_seccomp_listener(42).unwrap();
        assert_eq!(b.recv().unwrap(), Msg::SeccompListener(42));
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        a.send_fd(&Msg::Ready, file.as_fd()).unwrap();
        let (msg, fd) = b.recv_fd().unwrap();
        assert_eq!(msg, Msg::Ready);
        let fd = fd.expect("the fd came along");
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        assert!(link.ends_with("stat"), "{link:?}");
        drop(a);
        assert!(matches!(b.recv(), Err(ChannelError::Closed)));
    }
}
