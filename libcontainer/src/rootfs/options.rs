//! Mount options from config.json: the fstab-style words runc accepts, turned into mount(2)
//! flags, propagation changes and mount_setattr(2) attributes; anything else is filesystem data.

use super::RootfsError;
use nix::mount::MsFlags;
use oci_spec::runtime::{Mount, Spec};
use std::path::Path;

// The MOUNT_ATTR_* values of <linux/mount.h>: the libc crate does not export them.
pub(super) const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub(super) const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub(super) const MOUNT_ATTR_NODEV: u64 = 0x4;
pub(super) const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub(super) const MOUNT_ATTR_ATIME_MASK: u64 = 0x70;
const MOUNT_ATTR_RELATIME: u64 = 0x0;
const MOUNT_ATTR_NOATIME: u64 = 0x10;
const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// One mount entry's options, parsed.
#[derive(Debug, Clone)]
pub(super) struct MountOptions {
    /// mount(2) flags, including MS_BIND (and MS_REC for rbind).
    pub flags: MsFlags,
    /// Propagation changes, applied in order after the mount.
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes (rro, rnosuid, ...) for mount_setattr(AT_RECURSIVE).
    pub attr_set: u64,
    pub attr_clr: u64,
    /// The recursive atime mode, if one was asked for (the kernel treats it as an enum).
    pub attr_atime: Option<u64>,
    /// `tmpcopyup`: fill a new tmpfs with what it covers.
    pub copy_up: bool,
    /// `idmap` (Some(false)) or `ridmap` (Some(true), every mount below it too).
    pub idmap: Option<bool>,
    /// Filesystem-specific data (mode=755, size=65536k, ...), comma-joined for mount(2).
    pub data: Vec<String>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            attr_set: 0,
            attr_clr: 0,
            attr_atime: None,
            copy_up: false,
            idmap: None,
            data: Vec::new(),
        }
    }
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    pub fn has_recursive_attrs(&self) -> bool {
        self.attr_set != 0 || self.attr_clr != 0 || self.attr_atime.is_some()
    }
}

#[derive(Clone, Copy)]
enum Opt {
    Set(MsFlags),
    Clear(MsFlags),
    Propagation(MsFlags),
    AttrSet(u64),
    AttrClear(u64),
    Atime(u64),
    CopyUp,
    /// Idmapped (true: recursively); the mappings are the entry's own (idmapped.rs).
    Idmap(bool),
}

// The tables below are the parser: `lookup` reads them, and `berth features` lists every
// option in them, so the advertised set cannot drift from the
// accepted one.
const M_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW);

/// mount(2) flags and the other per-entry options.
const FLAG_OPTIONS: &[(&str, Opt)] = {
    use MsFlags as M;
    use Opt::*;
    &[
        ("defaults", Set(M::empty())),
        ("ro", Set(M::MS_RDONLY)),
        ("rw", Clear(M::MS_RDONLY)),
        ("suid", Clear(M::MS_NOSUID)),
        ("nosuid", Set(M::MS_NOSUID)),
        ("dev", Clear(M::MS_NODEV)),
        ("nodev", Set(M::MS_NODEV)),
        ("exec", Clear(M::MS_NOEXEC)),
        ("noexec", Set(M::MS_NOEXEC)),
        ("sync", Set(M::MS_SYNCHRONOUS)),
        ("async", Clear(M::MS_SYNCHRONOUS)),
        ("dirsync", Set(M::MS_DIRSYNC)),
        ("remount", Set(M::MS_REMOUNT)),
        ("mand", Set(M::MS_MANDLOCK)),
        ("nomand", Clear(M::MS_MANDLOCK)),
        ("atime", Clear(M::MS_NOATIME)),
        ("noatime", Set(M::MS_NOATIME)),
        ("diratime", Clear(M::MS_NODIRATIME)),
        ("nodiratime", Set(M::MS_NODIRATIME)),
        ("relatime", Set(M::MS_RELATIME)),
        ("norelatime", Clear(M::MS_RELATIME)),
        ("strictatime", Set(M::MS_STRICTATIME)),
        ("nostrictatime", Clear(M::MS_STRICTATIME)),
        ("lazytime", Set(M::MS_LAZYTIME)),
        ("nolazytime", Clear(M::MS_LAZYTIME)),
        ("iversion", Set(M::MS_I_VERSION)),
        ("noiversion", Clear(M::MS_I_VERSION)),
        ("silent", Set(M::MS_SILENT)),
        ("loud", Clear(M::MS_SILENT)),
        // MS_NOSYMFOLLOW (Linux 5.10); nix does not name it.
        ("nosymfollow", Set(M_NOSYMFOLLOW)),
        ("symfollow", Clear(M_NOSYMFOLLOW)),
        ("tmpcopyup", CopyUp),
        ("bind", Set(M::MS_BIND)),
        ("rbind", Set(M::MS_BIND.union(M::MS_REC))),
    ]
};

/// Propagation types (mount options, and `linux.rootfsPropagation`).
const PROPAGATIONS: &[(&str, MsFlags)] = {
    use MsFlags as M;
    &[
        ("private", M::MS_PRIVATE),
        ("rprivate", M::MS_PRIVATE.union(M::MS_REC)),
        ("shared", M::MS_SHARED),
        ("rshared", M::MS_SHARED.union(M::MS_REC)),
        ("slave", M::MS_SLAVE),
        ("rslave", M::MS_SLAVE.union(M::MS_REC)),
        ("unbindable", M::MS_UNBINDABLE),
        ("runbindable", M::MS_UNBINDABLE.union(M::MS_REC)),
    ]
};

/// Recursive attributes, applied with mount_setattr(AT_RECURSIVE).
const ATTR_OPTIONS: &[(&str, Opt)] = {
    use Opt::*;
    &[
        ("rro", AttrSet(MOUNT_ATTR_RDONLY)),
        ("rrw", AttrClear(MOUNT_ATTR_RDONLY)),
        ("rnosuid", AttrSet(MOUNT_ATTR_NOSUID)),
        ("rsuid", AttrClear(MOUNT_ATTR_NOSUID)),
        ("rnodev", AttrSet(MOUNT_ATTR_NODEV)),
        ("rdev", AttrClear(MOUNT_ATTR_NODEV)),
        ("rnoexec", AttrSet(MOUNT_ATTR_NOEXEC)),
        ("rexec", AttrClear(MOUNT_ATTR_NOEXEC)),
        ("rnodiratime", AttrSet(MOUNT_ATTR_NODIRATIME)),
        ("rdiratime", AttrClear(MOUNT_ATTR_NODIRATIME)),
        ("rnosymfollow", AttrSet(MOUNT_ATTR_NOSYMFOLLOW)),
        ("rsymfollow", AttrClear(MOUNT_ATTR_NOSYMFOLLOW)),
        // The atime modes are one enum in mount_setattr: undoing noatime/strictatime means
        // going back to the kernel's default, relatime.
        ("rnoatime", Atime(MOUNT_ATTR_NOATIME)),
        ("rstrictatime", Atime(MOUNT_ATTR_STRICTATIME)),
        ("rrelatime", Atime(MOUNT_ATTR_RELATIME)),
        ("ratime", Atime(MOUNT_ATTR_RELATIME)),
        ("rnostrictatime", Atime(MOUNT_ATTR_RELATIME)),
        ("rnorelatime", Atime(MOUNT_ATTR_STRICTATIME)),
        ("idmap", Idmap(false)),
        ("ridmap", Idmap(true)),
    ]
};

fn find<T: Copy>(table: &[(&str, T)], option: &str) -> Option<T> {
    table
        .iter()
        .find(|(name, _)| *name == option)
        .map(|&(_, v)| v)
}

fn lookup(option: &str) -> Option<Opt> {
    find(FLAG_OPTIONS, option)
        .or_else(|| lookup_propagation(option).map(Opt::Propagation))
        .or_else(|| find(ATTR_OPTIONS, option))
}

pub(super) fn lookup_propagation(value: &str) -> Option<MsFlags> {
    find(PROPAGATIONS, value)
}

/// Every mount option berth recognises and applies (not filesystem data), sorted: what
/// `berth features` reports as `mountOptions`.
pub fn supported_mount_options() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = FLAG_OPTIONS
        .iter()
        .chain(ATTR_OPTIONS)
        .map(|&(name, _)| name)
        .chain(PROPAGATIONS.iter().map(|&(name, _)| name))
        .collect();
    all.sort_unstable();
    all
}

/// Whether `idmap` mount options are applied: they are when the parser knows them (the
/// kernel's own support, Linux 5.12, is checked when the mount is made).
pub fn idmap_supported() -> bool {
    matches!(find(ATTR_OPTIONS, "idmap"), Some(Opt::Idmap(_)))
}

/// Parses one entry's options; the error is the reason, without the entry's name.
pub(super) fn parse(mount: &Mount) -> Result<MountOptions, String> {
    let mut parsed = MountOptions::default();
    for option in mount.options().as_deref().unwrap_or_default() {
        match lookup(option) {
            Some(Opt::Set(f)) => parsed.flags.insert(f),
            Some(Opt::Clear(f)) => parsed.flags.remove(f),
            Some(Opt::Propagation(f)) => parsed.propagation.push(f),
            Some(Opt::AttrSet(a)) => {
                parsed.attr_set |= a;
                parsed.attr_clr &= !a;
            }
            Some(Opt::AttrClear(a)) => {
                parsed.attr_clr |= a;
                parsed.attr_set &= !a;
            }
            Some(Opt::Atime(a)) => parsed.attr_atime = Some(a),
            Some(Opt::CopyUp) => parsed.copy_up = true,
            Some(Opt::Idmap(recursive)) => parsed.idmap = Some(recursive),
            None => parsed.data.push(option.clone()),
        }
    }
    if mount.typ().as_deref() == Some("bind") {
        parsed.flags.insert(MsFlags::MS_BIND);
    }
    // Mappings without either option imply a plain `idmap`, as with runc.
    if parsed.idmap.is_none() && super::idmapped::has_mappings(mount) {
        parsed.idmap = Some(false);
    }
    Ok(parsed)
}

/// Propagations of `/` that must wait until after pivot_root: pivot_root refuses a shared
/// mount, and an unbindable `/` could not have the rootfs bind-mounted out of it.
pub(super) fn applied_after_pivot(flags: MsFlags) -> bool {
    flags.intersects(MsFlags::MS_SHARED | MsFlags::MS_UNBINDABLE)
}

/// `linux.rootfsPropagation` as mount flags; None when not set.
pub(super) fn rootfs_propagation(spec: &Spec) -> Result<Option<MsFlags>, RootfsError> {
    let value = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref());
    match value {
        None | Some("") => Ok(None),
        Some(v) => lookup_propagation(v)
            .map(Some)
            .ok_or_else(|| RootfsError::InvalidPropagation(v.to_string())),
    }
}

fn known_filesystems() -> Result<Vec<String>, RootfsError> {
    let text = std::fs::read_to_string("/proc/filesystems").map_err(|e| RootfsError::Op {
        field: "mounts".into(),
        path: "/proc/filesystems".into(),
        op: "read",
        source: e,
    })?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect())
}

/// A filesystem not registered yet may be a module mount(2) loads on demand (`fs-<type>`).
fn loadable_filesystem(typ: &str) -> bool {
    let Ok(release) = nix::sys::utsname::uname() else {
        return false;
    };
    let aliases = Path::new("/lib/modules")
        .join(release.release())
        .join("modules.alias");
    let wanted = format!("alias fs-{typ} ");
    std::fs::read_to_string(aliases).is_ok_and(|text| text.lines().any(|l| l.starts_with(&wanted)))
}

pub(super) fn validate(spec: &Spec) -> Result<(), RootfsError> {
    rootfs_propagation(spec)?;
    super::idmapped::validate(spec)?;
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    if mounts.is_empty() {
        return Ok(());
    }
    let filesystems = known_filesystems()?;
    for (index, mount) in mounts.iter().enumerate() {
        validate_entry(mount, &filesystems).map_err(|reason| RootfsError::InvalidMount {
            index,
            destination: mount.destination().display().to_string(),
            reason,
        })?;
    }
    Ok(())
}

/// The first option setting a superblock flag: a bind remount changes only per-mount flags
/// (ro, nosuid, nodev, noexec, atime, nosymfollow) and would silently ignore these.
fn superblock_option(mount: &Mount) -> Option<&str> {
    let superblock = MsFlags::MS_SYNCHRONOUS
        | MsFlags::MS_DIRSYNC
        | MsFlags::MS_MANDLOCK
        | MsFlags::MS_LAZYTIME
        | MsFlags::MS_I_VERSION
        | MsFlags::MS_SILENT;
    let options = mount.options().as_deref().unwrap_or_default();
    options
        .iter()
        .find(|o| matches!(lookup(o), Some(Opt::Set(f)) if f.intersects(superblock)))
        .map(String::as_str)
}

fn validate_entry(mount: &Mount, filesystems: &[String]) -> Result<(), String> {
    if !mount.destination().is_absolute() {
        return Err("destination must be an absolute path".into());
    }
    super::proc_check::check_destination(mount)?;
    let parsed = parse(mount)?;
    let typ = mount.typ().as_deref().unwrap_or("");
    if parsed.is_bind() {
        if mount.source().is_none() {
            return Err("a bind mount needs a source".into());
        }
        if let Some(option) = superblock_option(mount) {
            return Err(format!(
                "option {option:?} is a filesystem flag, which a bind mount cannot change"
            ));
        }
        // Filesystem data next to `bind` (mode=755, size=1k: engines' tmpfs-style options on a
        // bind) goes to mount(2), which ignores it for a bind, as with runc and crun; the
        // runtime spec passes every unknown option on as data.
    } else if typ.is_empty() || typ == "none" {
        return Err(format!("type {typ:?} needs a \"bind\" or \"rbind\" option"));
    } else if !filesystems.iter().any(|f| f == typ) && !loadable_filesystem(typ) {
        return Err(format!(
            "unknown filesystem type {typ:?} (not in /proc/filesystems)"
        ));
    }
    if parsed.copy_up && (parsed.is_bind() || typ != "tmpfs") {
        return Err("option \"tmpcopyup\" is only for tmpfs mounts".into());
    }
    Ok(())
}
