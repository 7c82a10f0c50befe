//! The typed channel between `berth create` and the processes it clones: a SOCK_SEQPACKET
//! socketpair carrying one compact binary message per packet (a tag byte, then the payload), so
//! a message never arrives half-read and nothing is parsed as JSON on the hot path.

use nix::sys::socket::{send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// parent → child messages of the create and exec protocol, in the order they are normally
/// sent (docs/process-model.md has the picture). Only a `ParentEnd` sends them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToChild {
    /// The child is in its cgroup (and, for a cloned user namespace, its id maps are
    /// written); go on.
    Go,
    /// Id maps written.
    IdMapsDone,
    /// The createRuntime hooks ran; here is the state JSON for the hooks the init runs.
    HooksDone(Vec<u8>),
    /// The container is recorded in state.json; the init may now outlive `create`. Until
    /// then it dies with its creator (PR_SET_PDEATHSIG, or this channel's EOF).
    Committed,
    /// The agent at listenerPath holds the seccomp listener; go on.
    SeccompListenerSent,
    /// `berth start` (on the start socket, process/start.rs): exec the container's program.
    Start,
}

/// child → parent messages. Only a `ChildEnd` sends them, and they are what the parent
/// decodes from a process that runs in the container's namespaces (the fuzz target's input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToParent {
    /// I unshared a user namespace; write my id maps.
    NeedIdMaps,
    /// The container's init (or, for `exec`, the new process) has this pid in the parent's
    /// pid namespace; 0 means the child itself.
    InitPid(i32),
    /// Mounts are done; run prestart and createRuntime hooks.
    CreateRuntime,
    /// Set up, waiting for `start`.
    Ready,
    /// Setup failed (the process layer's `SetupError`, in its wire form).
    Error(ErrorPacket),
    /// The exec'd process's SCMP_ACT_NOTIFY listener is this fd number in the process (the
    /// parent takes it with pidfd_getfd). Sent with `write_seccomp_listener`.
    SeccompListener(i32),
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

/// Where the errno sits in an encoded `ToParent::Error` packet (after the tag and the step): an
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

/// A message's wire form: one tag byte (unique across both directions), then the payload.
pub trait Wire: Sized {
    /// The packet for this message.
    fn encode(&self) -> Vec<u8>;
    /// Parses one packet (also the fuzz target's entry point: packets come from another
    /// process and must never panic the parent).
    fn decode(buf: &[u8]) -> Result<Self, ChannelError>;
}

fn tagged(tag: u8, payload: &[u8]) -> Vec<u8> {
    [&[tag][..], payload].concat()
}

fn int_payload(tag: u8, payload: &[u8]) -> Result<i32, ChannelError> {
    let bytes: [u8; 4] = payload
        .try_into()
        .map_err(|_| ChannelError::Malformed(tag))?;
    Ok(i32::from_le_bytes(bytes))
}

/// The tag of `ToParent::SeccompListener` (written by hand without allocating).
const LISTENER_TAG: u8 = 9;

impl Wire for ToChild {
    fn encode(&self) -> Vec<u8> {
        match self {
            ToChild::Go => tagged(1, &[]),
            ToChild::IdMapsDone => tagged(3, &[]),
            ToChild::HooksDone(json) => tagged(6, json),
            ToChild::SeccompListenerSent => tagged(10, &[]),
            ToChild::Committed => tagged(11, &[]),
            ToChild::Start => tagged(12, &[]),
        }
    }

    fn decode(buf: &[u8]) -> Result<Self, ChannelError> {
        let (&tag, payload) = buf.split_first().ok_or(ChannelError::Closed)?;
        Ok(match tag {
            1 => ToChild::Go,
            3 => ToChild::IdMapsDone,
            6 => ToChild::HooksDone(payload.to_vec()),
            10 => ToChild::SeccompListenerSent,
            11 => ToChild::Committed,
            12 => ToChild::Start,
            t => return Err(ChannelError::Malformed(t)),
        })
    }
}

impl ToParent {
    /// The message's name, for an error that names the one out of place.
    pub fn name(&self) -> &'static str {
        match self {
            ToParent::NeedIdMaps => "NeedIdMaps",
            ToParent::InitPid(_) => "InitPid",
            ToParent::CreateRuntime => "CreateRuntime",
            ToParent::Ready => "Ready",
            ToParent::Error(_) => "Error",
            ToParent::SeccompListener(_) => "SeccompListener",
        }
    }
}

impl Wire for ToParent {
    fn encode(&self) -> Vec<u8> {
        match self {
            ToParent::NeedIdMaps => tagged(2, &[]),
            ToParent::InitPid(pid) => tagged(4, &pid.to_le_bytes()),
            ToParent::CreateRuntime => tagged(5, &[]),
            ToParent::Ready => tagged(7, &[]),
            ToParent::Error(packet) => {
                let mut out = vec![8u8];
                packet.encode_into(&mut out);
                out
            }
            ToParent::SeccompListener(fd) => tagged(LISTENER_TAG, &fd.to_le_bytes()),
        }
    }

    fn decode(buf: &[u8]) -> Result<Self, ChannelError> {
        let (&tag, payload) = buf.split_first().ok_or(ChannelError::Closed)?;
        Ok(match tag {
            2 => ToParent::NeedIdMaps,
            4 => ToParent::InitPid(int_payload(tag, payload)?),
            5 => ToParent::CreateRuntime,
            7 => ToParent::Ready,
            8 => ToParent::Error(ErrorPacket::decode(payload).ok_or(ChannelError::Malformed(tag))?),
            LISTENER_TAG => ToParent::SeccompListener(int_payload(tag, payload)?),
            t => return Err(ChannelError::Malformed(t)),
        })
    }
}

/// One end of the channel, typed by direction: it sends `S` and receives `R`, so sending a
/// child's message from the parent does not compile.
#[derive(Debug)]
pub struct Channel<S, R> {
    fd: OwnedFd,
    _dir: PhantomData<fn(S) -> R>,
}

/// berth's end: sends [`ToChild`], receives [`ToParent`].
pub type ParentEnd = Channel<ToChild, ToParent>;
/// The container process's end: sends [`ToParent`], receives [`ToChild`].
pub type ChildEnd = Channel<ToParent, ToChild>;

/// A connected pair: (parent's end, child's end). Both close on exec, so the user's program
/// never inherits them.
pub fn channel_pair() -> Result<(ParentEnd, ChildEnd), ChannelError> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(ChannelError::Io)?;
    Ok((Channel::from_fd(a), Channel::from_fd(b)))
}

impl<S: Wire, R: Wire + PartialEq + std::fmt::Debug> Channel<S, R> {
    /// An end made of an fd: the number an exec'd init kept across execve
    /// (process/reexec.rs).
    pub(crate) fn from_fd(fd: OwnedFd) -> Self {
        Channel {
            fd,
            _dir: PhantomData,
        }
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Sends one message.
    pub fn send(&self, msg: &S) -> Result<(), ChannelError> {
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

    /// Sends `msg` with `fd` attached (SCM_RIGHTS: the receiver gets its own copy). Only the
    /// tests send an fd this way today (the seccomp listener has its own writer).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn send_fd(&self, msg: &S, fd: BorrowedFd<'_>) -> Result<(), ChannelError> {
        match crate::fdpass::send_with_fd(self.fd.as_fd(), &msg.encode(), fd) {
            Ok(_) => Ok(()),
            Err(nix::errno::Errno::EPIPE) => Err(ChannelError::Closed),
            Err(e) => Err(ChannelError::Io(e)),
        }
    }

    /// Receives one message; an fd sent with it is dropped (closed).
    pub fn recv(&self) -> Result<R, ChannelError> {
        self.recv_fd().map(|(msg, _)| msg)
    }

    /// Receives one message and the fd attached to it, if any (close-on-exec).
    pub fn recv_fd(&self) -> Result<(R, Option<OwnedFd>), ChannelError> {
        let mut buf = vec![0u8; MAX_MSG];
        match crate::fdpass::recv_with_fd(self.fd.as_fd(), &mut buf) {
            Err(nix::errno::Errno::ECONNRESET) | Ok((0, _)) => Err(ChannelError::Closed),
            Err(e) => Err(ChannelError::Io(e)),
            Ok((n, fd)) => R::decode(&buf[..n]).map(|m| (m, fd)),
        }
    }

    /// Waits for one specific message.
    pub fn expect(&self, want: &R) -> Result<(), String> {
        match self.recv() {
            Ok(ref got) if got == want => Ok(()),
            Ok(other) => Err(format!("protocol: expected {want:?}, got {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl ChildEnd {
    /// Receives a payload-less message with one read(2) into a stack buffer: for the seccomp
    /// listener's answer, under a filter whose agent may not hold the listener yet.
    pub fn recv_bare(&self) -> Result<ToChild, ChannelError> {
        let mut buf = [0u8; 16];
        loop {
            match nix::unistd::read(&self.fd, &mut buf) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(ChannelError::Io(e)),
                Ok(0) => return Err(ChannelError::Closed),
                Ok(n) => return ToChild::decode(&buf[..n]),
            }
        }
    }

    /// `ToParent::SeccompListener(fd)` with one write(2) of a stack buffer: the filter is already
    /// in place and its agent does not have the listener yet, so nothing but that write may
    /// run (no allocation that could mmap). runc refuses SCMP_ACT_NOTIFY on write for the same
    /// reason, and so does berth.
    pub fn write_seccomp_listener(&self, fd: RawFd) -> Result<(), ChannelError> {
        let n = fd.to_le_bytes();
        let packet = [LISTENER_TAG, n[0], n[1], n[2], n[3]];
        loop {
            match nix::unistd::write(&self.fd, &packet) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EPIPE) => return Err(ChannelError::Closed),
                Err(e) => return Err(ChannelError::Io(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips() {
        let (parent, child) = channel_pair().unwrap();
        let to_child = [
            ToChild::Go,
            ToChild::IdMapsDone,
            ToChild::HooksDone(b"{\"id\":\"x\"}".to_vec()),
            ToChild::Committed,
            ToChild::SeccompListenerSent,
            ToChild::Start,
        ];
        for m in &to_child {
            parent.send(m).unwrap();
            assert_eq!(&child.recv().unwrap(), m);
        }
        let to_parent = [
            ToParent::NeedIdMaps,
            ToParent::InitPid(-7),
            ToParent::InitPid(123_456),
            ToParent::CreateRuntime,
            ToParent::Ready,
            ToParent::Error(ErrorPacket {
                step: 5,
                errno: 2,
                field: b"mounts[3]".to_vec(),
                message: b"mounts[3] (/x): bad".to_vec(),
            }),
            ToParent::Error(ErrorPacket {
                step: 0,
                errno: 0,
                field: Vec::new(),
                message: Vec::new(),
            }),
            ToParent::SeccompListener(5),
        ];
        for m in &to_parent {
            child.send(m).unwrap();
            assert_eq!(&parent.recv().unwrap(), m);
        }
        // A tag of the other direction is not a message of this one.
        assert!(ToParent::decode(&ToChild::Go.encode()).is_err());
        assert!(ToChild::decode(&ToParent::Ready.encode()).is_err());
        child.write_seccomp_listener(42).unwrap();
        assert_eq!(parent.recv().unwrap(), ToParent::SeccompListener(42));
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        child.send_fd(&ToParent::Ready, file.as_fd()).unwrap();
        let (msg, fd) = parent.recv_fd().unwrap();
        assert_eq!(msg, ToParent::Ready);
        let fd = fd.expect("the fd came along");
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        assert!(link.ends_with("stat"), "{link:?}");
        drop(child);
        assert!(matches!(parent.recv(), Err(ChannelError::Closed)));
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
        let bytes = ToParent::Error(p.clone()).encode();
        assert_eq!(
            bytes[ERROR_ERRNO_AT..ERROR_ERRNO_AT + 4],
            (-1i32).to_le_bytes()
        );
        assert_eq!(ToParent::decode(&bytes).unwrap(), ToParent::Error(p));
        // Up to the end of the field every prefix is short; after it, the message is shorter.
        let field_end = 1 + 1 + 4 + 2 + "process.args[0]".len();
        for n in 1..field_end {
            assert!(
                matches!(
                    ToParent::decode(&bytes[..n]),
                    Err(ChannelError::Malformed(8))
                ),
                "prefix {n}"
            );
        }
        for n in field_end..bytes.len() {
            let Ok(ToParent::Error(got)) = ToParent::decode(&bytes[..n]) else {
                panic!("prefix {n} should decode")
            };
            assert_eq!(got.message, bytes[field_end..n]);
        }
        let lying = [8u8, 1, 0, 0, 0, 0, 0xff, 0xff, b'x'];
        assert!(matches!(
            ToParent::decode(&lying),
            Err(ChannelError::Malformed(8))
        ));
    }
}
