//! The typed channel between `berth create` and the processes it clones: a SOCK_SEQPACKET
//! socketpair carrying one compact binary message per packet (a tag byte, then the payload), so
//! a message never arrives half-read and nothing is parsed as JSON on the hot path.

use nix::sys::socket::{send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

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
    /// child → parent: setup failed (the process layer's `SetupError`, in its wire form).
    Error(ErrorPacket),
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

/// A setup error on the wire: the step's code, the errno (0: none), the config field (empty:
/// none) and the message, as raw bytes so that whatever decodes re-encodes identically. The
/// process layer gives the codes their meaning (`process::SetupError`); this layer only
/// frames them: `[step u8][errno i32 LE][field length u16 LE][field][message]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPacket {
    /// The setup step's code.
    pub step: u8,
    /// The errno the step failed with, 0 when none.
    pub errno: i32,
    /// The config field at fault (`mounts[3]`), empty when none; at most `u16::MAX` bytes.
    pub field: Vec<u8>,
    /// The whole message, as the CLI prints it.
    pub message: Vec<u8>,
}

/// Where the errno sits in an encoded `Msg::Error` packet (after the tag and the step): an
/// exec'd init's clone patches it in a packet prepared before the clone.
pub(crate) const ERROR_ERRNO_AT: usize = 2;

impl ErrorPacket {
    fn encode_into(&self, out: &mut Vec<u8>) {
        let field = &self.field[..self.field.len().min(u16::MAX as usize)];
        out.push(self.step);
        out.extend_from_slice(&self.errno.to_le_bytes());
        out.extend_from_slice(&(field.len() as u16).to_le_bytes());
        out.extend_from_slice(field);
        out.extend_from_slice(&self.message);
    }

    fn decode(payload: &[u8]) -> Option<Self> {
        let (&step, rest) = payload.split_first()?;
        let (errno, rest) = rest.split_first_chunk::<4>()?;
        let (len, rest) = rest.split_first_chunk::<2>()?;
        let len = u16::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return None;
        }
        let (field, message) = rest.split_at(len);
        Some(ErrorPacket {
            step,
            errno: i32::from_le_bytes(*errno),
            field: field.to_vec(),
            message: message.to_vec(),
        })
    }
}

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
            Msg::Error(packet) => {
                let mut out = vec![8u8];
                packet.encode_into(&mut out);
                return out;
            }
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
            8 => Msg::Error(ErrorPacket::decode(payload).ok_or(ChannelError::Malformed(tag))?),
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
        match crate::fdpass::send_with_fd(self.fd.as_fd(), &msg.encode(), fd) {
            Ok(_) => Ok(()),
            Err(nix::errno::Errno::EPIPE) => Err(ChannelError::Closed),
            Err(e) => Err(ChannelError::Io(e)),
        }
    }

    /// Receives one message; an fd sent with it is dropped (closed).
    pub fn recv(&self) -> Result<Msg, ChannelError> {
        self.recv_fd().map(|(msg, _)| msg)
    }

    /// Receives one message and the fd attached to it, if any (close-on-exec).
    pub fn recv_fd(&self) -> Result<(Msg, Option<OwnedFd>), ChannelError> {
        let mut buf = vec![0u8; MAX_MSG];
        match crate::fdpass::recv_with_fd(self.fd.as_fd(), &mut buf) {
            Err(nix::errno::Errno::ECONNRESET) | Ok((0, _)) => Err(ChannelError::Closed),
            Err(e) => Err(ChannelError::Io(e)),
            Ok((n, fd)) => Msg::decode(&buf[..n]).map(|m| (m, fd)),
        }
    }

    /// Waits for one specific message; an `Error` from the other side becomes `Err(text)`.
    pub fn expect(&self, want: &Msg) -> Result<(), String> {
        match self.recv() {
            Ok(ref got) if got == want => Ok(()),
            Ok(Msg::Error(p)) => Err(String::from_utf8_lossy(&p.message).into_owned()),
            Ok(other) => Err(format!("protocol: expected {want:?}, got {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            Msg::Error(ErrorPacket {
                step: 5,
                errno: 2,
                field: b"mounts[3]".to_vec(),
                message: b"mounts[3] (/x): bad".to_vec(),
            }),
            Msg::Error(ErrorPacket {
                step: 0,
                errno: 0,
                field: Vec::new(),
                message: Vec::new(),
            }),
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

    /// Every truncation of an error packet, and a field length past its end, is `Malformed`
    /// (never a panic); the field and message come out exactly as they went in.
    #[test]
    fn error_packets_decode_exactly_or_not_at_all() {
        let p = ErrorPacket {
            step: 3,
            errno: -1,
            field: b"process.args[0]".to_vec(),
            message: b"exec: \"/x\": stat /x: no such file or directory \xff".to_vec(),
        };
        let bytes = Msg::Error(p.clone()).encode();
        assert_eq!(
            bytes[ERROR_ERRNO_AT..ERROR_ERRNO_AT + 4],
            (-1i32).to_le_bytes()
        );
        assert_eq!(Msg::decode(&bytes).unwrap(), Msg::Error(p));
        // Up to the end of the field every prefix is short; after it, the message is shorter.
        let field_end = 1 + 1 + 4 + 2 + "process.args[0]".len();
        for n in 1..field_end {
            assert!(
                matches!(Msg::decode(&bytes[..n]), Err(ChannelError::Malformed(8))),
                "prefix {n}"
            );
        }
        for n in field_end..bytes.len() {
            let Ok(Msg::Error(got)) = Msg::decode(&bytes[..n]) else {
                panic!("prefix {n} should decode")
            };
            assert_eq!(got.message, bytes[field_end..n]);
        }
        let lying = [8u8, 1, 0, 0, 0, 0, 0xff, 0xff, b'x'];
        assert!(matches!(
            Msg::decode(&lying),
            Err(ChannelError::Malformed(8))
        ));
    }
}
