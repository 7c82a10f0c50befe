//! Writing a new user namespace's uid and gid maps, by whoever creates it.
//!
//! Root (CAP_SETUID/CAP_SETGID over the host ids) writes `/proc/<pid>/{uid,gid}_map`
//! directly. An unprivileged caller may write them directly only to map its own id, once
//! (and, for gids, only after `setgroups` is "deny": otherwise the container's root could drop
//! a group the host uses to deny it access). Any other map of an unprivileged caller goes
//! through the setuid helpers `newuidmap`/`newgidmap` (Debian's `uidmap` package), which
//! allow exactly what /etc/subuid and /etc/subgid grant that user, as runc does.
//!
//! Also reading the maps of a user namespace the container joins (`maps_of`).

use nix::unistd::{getegid, geteuid};
use oci_spec::runtime::LinuxIdMapping;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct IdMapError {
    pub field: &'static str,
    pub reason: String,
}

/// Which ids a map is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Uid,
    Gid,
}

impl Kind {
    fn field(self) -> &'static str {
        match self {
            Kind::Uid => "linux.uidMappings",
            Kind::Gid => "linux.gidMappings",
        }
    }
    fn file(self) -> &'static str {
        match self {
            Kind::Uid => "uid_map",
            Kind::Gid => "gid_map",
        }
    }
    fn helper(self) -> &'static str {
        match self {
            Kind::Uid => "newuidmap",
            Kind::Gid => "newgidmap",
        }
    }
    /// The caller's own (effective) id of this kind.
    fn own(self) -> u32 {
        match self {
            Kind::Uid => geteuid().as_raw(),
            Kind::Gid => getegid().as_raw(),
        }
    }
}

/// How a map gets written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Way {
    /// By berth, as root.
    Privileged,
    /// By berth, unprivileged: the map is the caller's own id alone (gids: setgroups "deny"
    /// first).
    OwnId,
    /// By the setuid helper at this path.
    Helper(PathBuf),
}

/// Chooses how `maps` can be written by this process; fails, naming the field, when an
/// unprivileged caller needs a helper that is not installed.
pub fn way(kind: Kind, maps: &[LinuxIdMapping]) -> Result<Way, IdMapError> {
    if geteuid().is_root() {
        return Ok(Way::Privileged);
    }
    if let [only] = maps {
        if only.host_id() == kind.own() && only.size() == 1 {
            return Ok(Way::OwnId);
        }
    }
    find_helper(kind.helper())
        .map(Way::Helper)
        .ok_or_else(|| IdMapError {
            field: kind.field(),
            reason: format!(
                "an unprivileged user can map only its own {} ({}) by itself; other maps need \
                 {} (Debian's uidmap package) and an entry in /etc/sub{}, and {} is not in PATH",
                if kind == Kind::Uid { "uid" } else { "gid" },
                kind.own(),
                kind.helper(),
                if kind == Kind::Uid { "uid" } else { "gid" },
                kind.helper(),
            ),
        })
}

/// The helper in $PATH (the caller's own: the helper runs with the caller's privileges plus
/// what /etc/sub[ug]id grants the caller, whichever copy is found), else the usual place.
fn find_helper(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok() && p.is_file()
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Writes `maps` as the `kind` map of process `pid`'s (new, still unmapped) user namespace.
pub fn write(kind: Kind, maps: &[LinuxIdMapping], pid: i32) -> Result<(), IdMapError> {
    let path = format!("/proc/{pid}/{}", kind.file());
    let fail = |what: &str, reason: String| IdMapError {
        field: kind.field(),
        reason: format!("{what}: {reason}"),
    };
    match way(kind, maps)? {
        Way::Privileged => std::fs::write(&path, map_text(maps)),
        Way::OwnId => {
            if kind == Kind::Gid {
                let setgroups = format!("/proc/{pid}/setgroups");
                std::fs::write(&setgroups, "deny").map_err(|e| fail(&setgroups, e.to_string()))?;
            }
            std::fs::write(&path, map_text(maps))
        }
        Way::Helper(helper) => return run_helper(&helper, maps, pid).map_err(|r| fail(&path, r)),
    }
    .map_err(|e| fail(&path, e.to_string()))
}

/// `newuidmap <pid> <containerID> <hostID> <size>...`; its own message on failure (it names
/// the range /etc/subuid does not grant).
fn run_helper(helper: &Path, maps: &[LinuxIdMapping], pid: i32) -> Result<(), String> {
    let mut cmd = Command::new(helper);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.container_id().to_string(),
            m.host_id().to_string(),
            m.size().to_string(),
        ]);
    }
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("running {}: {e}", helper.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    Err(format!(
        "{} refused ({}): {}",
        helper.display(),
        out.status,
        text.trim()
    ))
}

/// One line of an id map: container id, host id, size.
pub type Range = (u32, u32, u32);

/// The uid and gid maps of the user namespace `ns` (an fd of it), as triples
/// (container id, host id, size) relative to the caller's user namespace: a child joins it and
/// waits while the caller reads `/proc/<child>/{uid,gid}_map` through berth's own procfs. For a
/// config that joins a user namespace and repeats its maps (runc 1.1 demands them; podman's
/// pods give them), which must then describe that namespace.
pub fn maps_of(ns: std::os::fd::BorrowedFd<'_>) -> Result<[Vec<Range>; 2], String> {
    use nix::unistd::{fork, pipe2, ForkResult};
    use std::os::fd::AsRawFd;
    let proc = crate::proc_root::ProcRoot::new().map_err(|e| format!("procfs: {e}"))?;
    let read = |pid: &str, file: &str| {
        proc.read(Path::new(&format!("{pid}/{file}")))
            .map_err(|e| format!("reading {file}: {e}"))
    };
    // setns(2) refuses the namespace one is in (EINVAL): then our own maps are its.
    let own = nix::sys::stat::stat("/proc/self/ns/user").map(|s| (s.st_dev, s.st_ino));
    if own == nix::sys::stat::fstat(ns).map(|s| (s.st_dev, s.st_ino)) {
        let pid = proc.pid().map_err(|e| format!("procfs: {e}"))?;
        return Ok([read(&pid, "uid_map")?, read(&pid, "gid_map")?].map(|t| parse_map(&t)));
    }
    let pipe = || pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"));
    let ((joined_r, joined_w), (go_r, go_w)) = (pipe()?, pipe()?);
    // SAFETY: the child makes only async-signal-safe calls (setns, write, read, _exit) on fds
    // and a buffer that exist before the fork.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => unsafe {
            let err = match libc::setns(ns.as_raw_fd(), libc::CLONE_NEWUSER) {
                0 => 0,
                _ => *libc::__errno_location(),
            };
            libc::write(joined_w.as_raw_fd(), (&err as *const i32).cast(), 4);
            // Our copy of the write end, or the read below never sees the caller's close.
            libc::close(go_w.as_raw_fd());
            let mut byte = 0u8;
            libc::read(go_r.as_raw_fd(), (&mut byte as *mut u8).cast(), 1);
            libc::_exit(0)
        },
        ForkResult::Parent { child } => {
            drop((joined_w, go_r));
            let mut err = [0u8; 4];
            let joined = nix::unistd::read(&joined_r, &mut err);
            let child_pid = child.to_string();
            let read = |file| read(&child_pid, file);
            let maps = match (joined, i32::from_ne_bytes(err)) {
                (Ok(4), 0) => read("uid_map").and_then(|u| Ok([u, read("gid_map")?])),
                (Ok(4), errno) => Err(format!("setns: {}", nix::errno::Errno::from_raw(errno))),
                _ => Err("the child that joins it died".into()),
            };
            drop(go_w);
            let _ = nix::sys::wait::waitpid(child, None);
            let [u, g] = maps?;
            Ok([parse_map(&u), parse_map(&g)])
        }
    }
}

/// /proc/<pid>/uid_map's text as triples; lines of another form are left out.
fn parse_map(text: &str) -> Vec<Range> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().map(str::parse::<u32>);
            Some((f.next()?.ok()?, f.next()?.ok()?, f.next()?.ok()?))
        })
        .collect()
}

/// With the caller's own gid written directly, `setgroups` is "deny" in the container: it can
/// have no supplementary groups.
pub fn denies_setgroups(gid_maps: &[LinuxIdMapping]) -> bool {
    matches!(way(Kind::Gid, gid_maps), Ok(Way::OwnId))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::spec::test_id_map as map;

    #[test]
    fn root_writes_any_map_itself() {
        // The unit tests run as root (they fork, mount, ...).
        assert!(geteuid().is_root());
        for maps in [vec![map(0, 1000, 1)], vec![map(0, 100000, 65536)]] {
            assert_eq!(way(Kind::Uid, &maps).unwrap(), Way::Privileged);
        }
    }

    #[test]
    fn an_unprivileged_caller_writes_only_its_own_id_itself() {
        crate::identity::test_fork::in_child(|| {
            let nobody = nix::unistd::Gid::from_raw(65534);
            nix::unistd::setresgid(nobody, nobody, nobody).map_err(|e| e.to_string())?;
            let nobody = nix::unistd::Uid::from_raw(65534);
            nix::unistd::setresuid(nobody, nobody, nobody).map_err(|e| e.to_string())?;
            let own = way(Kind::Uid, &[map(0, 65534, 1)]).map_err(|e| e.to_string())?;
            if own != Way::OwnId || !denies_setgroups(&[map(0, 65534, 1)]) {
                return Err(format!("own id: {own:?}"));
            }
            // Anything else needs the helper (installed on the test machines: uidmap).
            for maps in [
                vec![map(0, 65534, 2)],
                vec![map(0, 0, 1)],
                vec![map(0, 65534, 1), map(1, 100000, 10)],
            ] {
                match way(Kind::Gid, &maps) {
                    Ok(Way::Helper(p)) if p.ends_with("newgidmap") => {}
                    other => return Err(format!("{maps:?}: {other:?}")),
                }
            }
            Ok(())
        });
    }

    #[test]
    fn map_text_is_one_line_a_range() {
        assert_eq!(
            map_text(&[map(0, 1000, 1), map(1, 100000, 65536)]),
            "0 1000 1\n1 100000 65536\n"
        );
    }

    #[test]
    fn the_maps_of_a_joined_namespace_are_read_from_inside_it() {
        let ns = std::fs::File::open("/proc/self/ns/user").expect("own user namespace");
        let own = std::fs::read_to_string("/proc/self/uid_map").expect("own uid_map");
        let [u, g] = maps_of(std::os::fd::AsFd::as_fd(&ns)).expect("maps_of");
        assert_eq!(u, parse_map(&own));
        assert!(!u.is_empty() && !g.is_empty(), "{u:?} {g:?}");
        assert_eq!(
            parse_map("0 1000 1\n1 100000 65536\nbad\n"),
            [(0, 1000, 1), (1, 100000, 65536)]
        );
    }
}
