//! The typed error a container's setup process reports: which OCI setup step failed, on which
//! config field, with which errno. It crosses the channel as a compact binary packet
//! (`channel::ErrorPacket`) and is rebuilt in the parent, so an embedder can match on
//! "the mount source is missing" vs "the seccomp profile was refused" without parsing text.

use crate::channel::{ChannelError, ErrorPacket};
use nix::errno::Errno;

/// The setup steps the container's processes perform, in about the order they run
/// (docs/process-model.md). Non-exhaustive: a later version may tell more steps apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum Step {
    /// Launching the setup processes: their parent-death signal; a multithreaded caller's
    /// exec'd init, its plan and its execveat.
    Launch = 1,
    /// The channel to the runtime failed, or the runtime sent something out of order.
    Protocol = 2,
    /// Joining and unsharing `linux.namespaces`, time namespace offsets, the loopback device.
    Namespaces = 3,
    /// Becoming root of a new user namespace (`linux.uidMappings`, `linux.gidMappings`).
    IdMaps = 4,
    /// The session keyring.
    Keyring = 5,
    /// `mounts`, `linux.devices` and the rootfs's own propagation.
    Mounts = 6,
    /// pivot_root (or chroot without a mount namespace of the container's own).
    PivotRoot = 7,
    /// `linux.maskedPaths`, `linux.readonlyPaths`, a read-only `root`.
    MaskedPaths = 8,
    /// `hostname`, `domainname`.
    Hostname = 9,
    /// `linux.sysctl`.
    Sysctl = 10,
    /// The terminal (`process.terminal`, the console socket) or the caller's stdio.
    Console = 11,
    /// The createContainer and startContainer hooks (run by the container's process).
    Hooks = 12,
    /// The fds the process gets (`--preserve-fds`, LISTEN_FDS).
    Fds = 13,
    /// `process.rlimits`.
    Rlimits = 14,
    /// oomScoreAdj, personality, scheduler, ioPriority, signal dispositions.
    Attributes = 15,
    /// `process.cwd`.
    Cwd = 16,
    /// `linux.seccomp`: the filter, its notify listener.
    Seccomp = 17,
    /// `process.user`: uid, gid, additional groups.
    Identity = 18,
    /// `process.capabilities`, `process.noNewPrivileges`.
    Capabilities = 19,
    /// `process.args[0]`: its resolution in the container, `process.env`, and the execve.
    Exec = 20,
}

impl Step {
    const ALL: [Step; 20] = [
        Step::Launch,
        Step::Protocol,
        Step::Namespaces,
        Step::IdMaps,
        Step::Keyring,
        Step::Mounts,
        Step::PivotRoot,
        Step::MaskedPaths,
        Step::Hostname,
        Step::Sysctl,
        Step::Console,
        Step::Hooks,
        Step::Fds,
        Step::Rlimits,
        Step::Attributes,
        Step::Cwd,
        Step::Seccomp,
        Step::Identity,
        Step::Capabilities,
        Step::Exec,
    ];

    fn from_code(code: u8) -> Option<Step> {
        Step::ALL.into_iter().find(|s| *s as u8 == code)
    }
}

/// A setup step of the container's process failed. Its `Display` is the message `berth`
/// prints (it names the field and what is wrong); the parts are there to match on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError {
    step: Step,
    field: Option<String>,
    errno: Option<Errno>,
    message: String,
}

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SetupError {}

impl SetupError {
    /// The step that failed.
    pub fn step(&self) -> Step {
        self.step
    }

    /// The config field at fault (`mounts[3]`, `process.args[0]`), where one is known.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The errno the step's system call failed with, where one did.
    pub fn errno(&self) -> Option<Errno> {
        self.errno
    }

    /// The message (the same text as `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A failure told in words only.
    pub(crate) fn new(step: Step, message: impl Into<String>) -> Self {
        SetupError {
            step,
            field: None,
            errno: None,
            message: message.into(),
        }
    }

    /// `e` as a failure of `step`, with the errno found in its source chain, if any.
    pub(crate) fn from_error(step: Step, e: &(dyn std::error::Error + 'static)) -> Self {
        SetupError {
            errno: errno_in(e),
            ..SetupError::new(step, e.to_string())
        }
    }

    /// The message prefixed with what was being done (`console socket: dup: ...`).
    pub(crate) fn context(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    pub(crate) fn with_field(mut self, field: Option<String>) -> Self {
        self.field = field.or(self.field);
        self
    }

    pub(crate) fn with_errno(mut self, errno: Errno) -> Self {
        self.errno = Some(errno);
        self
    }

    /// The wire form (channel.rs frames it).
    pub(crate) fn to_packet(&self) -> ErrorPacket {
        ErrorPacket {
            step: self.step as u8,
            errno: self.errno.map_or(0, |e| e as i32),
            field: self.field.clone().unwrap_or_default().into_bytes(),
            message: self.message.clone().into_bytes(),
        }
    }

    /// Rebuilt from the wire; a step code this build does not know is a malformed packet.
    pub(crate) fn from_packet(p: ErrorPacket) -> Result<Self, ChannelError> {
        let step = Step::from_code(p.step).ok_or(ChannelError::Malformed(8))?;
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
        Ok(SetupError {
            step,
            field: (!p.field.is_empty()).then(|| text(p.field)),
            errno: (p.errno != 0).then(|| Errno::from_raw(p.errno)),
            message: text(p.message),
        })
    }
}

/// The first errno in `e`'s source chain (an `io::Error` of the OS, or nix's `Errno`).
fn errno_in(e: &(dyn std::error::Error + 'static)) -> Option<Errno> {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if let Some(errno) = e.downcast_ref::<Errno>() {
            return Some(*errno);
        }
        if let Some(code) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
        {
            return Some(Errno::from_raw(code));
        }
        cur = e.source();
    }
    None
}

/// What a step's own error becomes: its text, the errno in it, and the field it names where
/// its type records one.
pub(crate) trait Cause {
    fn into_setup(self, step: Step) -> SetupError;
}

impl Cause for String {
    fn into_setup(self, step: Step) -> SetupError {
        SetupError::new(step, self)
    }
}

impl Cause for &str {
    fn into_setup(self, step: Step) -> SetupError {
        SetupError::new(step, self)
    }
}

impl Cause for SetupError {
    fn into_setup(self, _: Step) -> SetupError {
        self
    }
}

macro_rules! plain_cause {
    ($($t:ty),*) => {$(
        impl Cause for $t {
            fn into_setup(self, step: Step) -> SetupError {
                SetupError::from_error(step, &self)
            }
        }
    )*};
}

plain_cause!(
    Errno,
    std::io::Error,
    ChannelError,
    crate::namespaces::NamespaceError,
    crate::sysctl::SysctlError,
    crate::tty::TtyError,
    crate::rlimits::RlimitError,
    crate::attributes::AttributeError,
    crate::seccomp::SeccompError,
    crate::identity::IdentityError,
    crate::capabilities::CapsError
);

impl Cause for crate::rootfs::RootfsError {
    fn into_setup(self, step: Step) -> SetupError {
        let field = self.field();
        SetupError::from_error(step, &self).with_field(field)
    }
}

impl Cause for crate::hooks::HookError {
    fn into_setup(self, step: Step) -> SetupError {
        let crate::hooks::HookError::Failed { phase, index, .. } = &self;
        let field = format!("hooks.{phase}[{index}]");
        SetupError::from_error(step, &self).with_field(Some(field))
    }
}

/// `.at(Step::Mounts)` on a step's result: the step boundary where an error gets its type.
pub(crate) trait AtStep<T> {
    fn at(self, step: Step) -> Result<T, SetupError>;
}

impl<T, E: Cause> AtStep<T> for Result<T, E> {
    fn at(self, step: Step) -> Result<T, SetupError> {
        self.map_err(|e| e.into_setup(step))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_survives_the_wire() {
        for step in Step::ALL {
            let e = SetupError::new(step, "mounts[3] (/x): mount: No such file or directory")
                .with_field(Some("mounts[3]".into()))
                .with_errno(Errno::ENOENT);
            let back = SetupError::from_packet(e.to_packet()).unwrap();
            assert_eq!(back, e);
            assert_eq!(back.to_string(), e.message());
        }
        let bare = SetupError::new(Step::Exec, "");
        assert_eq!(SetupError::from_packet(bare.to_packet()).unwrap(), bare);
        let unknown = ErrorPacket {
            step: 0,
            errno: 0,
            field: Vec::new(),
            message: Vec::new(),
        };
        assert!(SetupError::from_packet(unknown).is_err());
    }

    #[test]
    fn finds_the_errno_in_the_source_chain() {
        let io = std::io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(
            io.into_setup(Step::Cwd).errno(),
            Some(Errno::EACCES),
            "an io::Error's"
        );
        assert_eq!(
            Errno::EPERM.into_setup(Step::Identity).errno(),
            Some(Errno::EPERM)
        );
        assert_eq!("words".into_setup(Step::Exec).errno(), None);
    }
}
