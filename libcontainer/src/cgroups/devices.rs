//! `linux.resources.devices`: the device allow/deny list, enforced on v1 through
//! devices.deny/devices.allow (cgroups-rs's `DevicesController` writes them).

use super::CgroupError;
use cgroups_rs::devices::{DevicePermissions, DeviceType, DevicesController};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};
use std::path::Path;

/// One rule with its wildcards resolved (-1 = any number).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rule {
    pub allow: bool,
    pub typ: DeviceType,
    pub major: i64,
    pub minor: i64,
    pub access: Vec<DevicePermissions>,
}

/// What berth allows after the config's rules: the runtime-spec "Default Devices" the runtime
/// creates in /dev (null, zero, full, random, urandom, tty, the pty multiplexer) and the ptys
/// behind /dev/pts and /dev/console, so they stay usable even under a bare deny-all config.
///
/// Stricter than runc on purpose: runc also allows mknod of every char and block device
/// (`c *:* m`, `b *:* m`) and tun/tap. With those, a container holding CAP_MKNOD can make a
/// node for any host disk; it cannot open it through the cgroup, but the node outlives the
/// container in a bind-mounted volume, where the host or another container may open it. A
/// container gets to create (and open) exactly what its config allows. Engines that want the
/// blanket mknod (Docker, podman) put those `m` rules in the config themselves.
const DEFAULT_ALLOWED: &[(DeviceType, i64, i64, &str)] = &[
    (DeviceType::Char, 1, 3, "rwm"),
    (DeviceType::Char, 1, 5, "rwm"),
    (DeviceType::Char, 1, 7, "rwm"),
    (DeviceType::Char, 1, 8, "rwm"),
    (DeviceType::Char, 1, 9, "rwm"),
    (DeviceType::Char, 5, 0, "rwm"),
    (DeviceType::Char, 5, 2, "rwm"),
    (DeviceType::Char, 136, -1, "rwm"),
];

/// `resources` with an `m` rule for each node of `linux.devices`: the runtime mknods them
/// inside the container after it joined its cgroup, so listing a device is what allows its
/// creation (reading and writing it still takes a rule of the config).
pub fn allow_creating(resources: Option<&LinuxResources>, nodes: &[LinuxDevice]) -> LinuxResources {
    let mut res = resources.cloned().unwrap_or_default();
    let mut rules = res.devices().clone().unwrap_or_default();
    for n in nodes {
        let typ = match n.typ() {
            LinuxDeviceType::B => LinuxDeviceType::B,
            LinuxDeviceType::C | LinuxDeviceType::U => LinuxDeviceType::C,
            // FIFOs are not devices to the device cgroup.
            _ => continue,
        };
        let mut rule = LinuxDeviceCgroup::default();
        rule.set_allow(true)
            .set_typ(Some(typ))
            .set_major(Some(n.major()))
            .set_minor(Some(n.minor()))
            .set_access(Some("m".into()));
        rules.push(rule);
    }
    res.set_devices(Some(rules));
    res
}

/// The config's rules in order, then the default devices. Errors name the rule.
pub(crate) fn rules(config: Option<&[LinuxDeviceCgroup]>) -> Result<Vec<Rule>, CgroupError> {
    let mut out = Vec::new();
    for (i, dev) in config.unwrap_or_default().iter().enumerate() {
        out.push(rule(i, dev)?);
    }
    for &(typ, major, minor, access) in DEFAULT_ALLOWED {
        out.push(Rule {
            allow: true,
            typ,
            major,
            minor,
            access: parse_access(access).unwrap_or_default(),
        });
    }
    Ok(out)
}

fn rule(i: usize, dev: &LinuxDeviceCgroup) -> Result<Rule, CgroupError> {
    let field = |name: &str| format!("devices[{i}].{name}");
    // As runc: the device cgroup knows only all/char/block.
    let typ = match dev.typ() {
        None | Some(LinuxDeviceType::A) => DeviceType::All,
        Some(LinuxDeviceType::C) => DeviceType::Char,
        Some(LinuxDeviceType::B) => DeviceType::Block,
        Some(other) => {
            return Err(CgroupError::InvalidResource {
                field: field("type"),
                reason: format!(
                    "{:?} is not a cgroup device type (a, b or c)",
                    other.as_str()
                ),
            })
        }
    };
    let number = |value: Option<i64>, name: &str| match value {
        None => Ok(-1),
        Some(n) if n >= 0 => Ok(n),
        Some(n) => Err(CgroupError::InvalidResource {
            field: field(name),
            reason: format!("{n} is negative"),
        }),
    };
    let access = dev.access().clone().unwrap_or_default();
    let access = parse_access(&access).ok_or_else(|| CgroupError::InvalidResource {
        field: field("access"),
        reason: format!("{access:?} must be a non-empty combination of r, w and m"),
    })?;
    Ok(Rule {
        allow: dev.allow(),
        typ,
        major: number(dev.major(), "major")?,
        minor: number(dev.minor(), "minor")?,
        access,
    })
}

fn parse_access(access: &str) -> Option<Vec<DevicePermissions>> {
    if access.is_empty() || !DevicePermissions::is_valid(access) {
        return None;
    }
    DevicePermissions::from_str(access).ok()
}

/// Denies everything, then writes the rules in order, so the last matching rule wins as the
/// spec says.
pub(crate) fn apply_v1(dir: &Path, rules: &[Rule]) -> Result<(), CgroupError> {
    let ctl = DevicesController::new(dir.to_path_buf());
    let wrap = |source| CgroupError::Controller {
        field: "devices".into(),
        dir: dir.to_path_buf(),
        source: Box::new(source),
    };
    ctl.deny_device(DeviceType::All, -1, -1, &DevicePermissions::all())
        .map_err(wrap)?;
    for r in rules {
        let result = if r.allow {
            ctl.allow_device(r.typ, r.major, r.minor, &r.access)
        } else {
            ctl.deny_device(r.typ, r.major, r.minor, &r.access)
        };
        result.map_err(wrap)?;
    }
    Ok(())
}
