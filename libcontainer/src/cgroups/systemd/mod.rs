//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup is a transient scope
//! systemd creates over D-Bus (runc's properties: slice, Delegate, the init's pid, accounting,
//! the limits systemd knows), then every limit is written to the scope's files as the fs
//! driver writes them, and the device program attached. Only on a pure cgroup v2 host.
//!
//! Nothing here runs without the flag. The D-Bus connection (zbus starts threads) is only made
//! once the first child is cloned, so no clone of berth ever copies a multi-threaded process;
//! before that, `resolve` only checks that systemd runs and its bus socket answers.

mod dbus;
mod props;
mod unit;

pub use unit::Unit;

use super::hierarchy::{Layout, Mode};
use super::{devices, fs, CgroupError, CgroupPaths, Hierarchy};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where systemd says it runs (sd_booted(3)).
const SYSTEMD_RUN_DIR: &str = "/run/systemd/system";
const SYSTEM_BUS_SOCKET: &str = "/run/dbus/system_bus_socket";

fn unavailable(reason: impl Into<String>) -> CgroupError {
    CgroupError::Systemd {
        reason: reason.into(),
    }
}

/// The scope for `cgroups_path` and its cgroup, checked against this host: systemd must run
/// (and be reachable), the host must be pure cgroup v2. Creates nothing.
pub(crate) fn resolve(cgroups_path: Option<&Path>, id: &str) -> Result<CgroupPaths, CgroupError> {
    let text = match cgroups_path {
        None => None,
        Some(p) => Some(p.to_str().ok_or_else(|| CgroupError::InvalidPath {
            path: p.to_path_buf(),
            reason: "not valid UTF-8".into(),
        })?),
    };
    let unit = Unit::parse(text, id)?;
    check_host()?;
    let layout = Layout::detect()?;
    if layout.mode != Mode::V2 {
        return Err(unavailable(
            "only cgroup v2 hosts are supported (this one mounts cgroup v1 hierarchies)",
        ));
    }
    let mount = layout
        .unified()
        .ok_or_else(|| unavailable("no cgroup2 mount"))?;
    let inside = unit.cgroup()?;
    let path = mount
        .mount_point
        .join(inside.strip_prefix("/").unwrap_or(&inside));
    Ok(CgroupPaths {
        hierarchies: vec![Hierarchy {
            controllers: Vec::new(),
            unified: true,
            mount_point: mount.mount_point.clone(),
            created: vec![path.clone()],
            path,
        }],
        warnings: Vec::new(),
        systemd: Some(Box::new(unit)),
    })
}

/// The cgroup directory of the scope `cgroups_path` names (`slice:prefix:name`, so not an
/// fs path), for a container whose record is lost; None for another form or a host that is
/// not pure v2.
pub(crate) fn scope_dir(cgroups_path: &Path, id: &str) -> Option<(Hierarchy, Unit)> {
    let text = cgroups_path.to_str()?;
    if !text.contains(':') {
        return None;
    }
    let unit = Unit::parse(Some(text), id).ok()?;
    let layout = Layout::detect().ok()?;
    let mount = layout.unified().filter(|_| layout.mode == Mode::V2)?;
    let inside = unit.cgroup().ok()?;
    let h = Hierarchy {
        controllers: Vec::new(),
        unified: true,
        mount_point: mount.mount_point.clone(),
        path: mount
            .mount_point
            .join(inside.strip_prefix("/").unwrap_or(&inside)),
        created: Vec::new(),
    };
    Some((h, unit))
}

/// systemd is PID 1 here and its bus socket accepts a connection. A plain connect, not zbus:
/// see the module comment.
fn check_host() -> Result<(), CgroupError> {
    if !Path::new(SYSTEMD_RUN_DIR).is_dir() {
        return Err(unavailable(format!(
            "systemd is not running on this host (no {SYSTEMD_RUN_DIR})"
        )));
    }
    let socket = match std::env::var("DBUS_SYSTEM_BUS_ADDRESS") {
        Ok(addr) => match addr.strip_prefix("unix:path=") {
            Some(p) => PathBuf::from(p.split(',').next().unwrap_or(p)),
            // Another transport: zbus reports it when it connects.
            None => return Ok(()),
        },
        Err(_) => PathBuf::from(SYSTEM_BUS_SOCKET),
    };
    std::os::unix::net::UnixStream::connect(&socket)
        .map(drop)
        .map_err(|e| {
            unavailable(format!(
                "cannot reach the system D-Bus at {}: {e}",
                socket.display()
            ))
        })
}

/// One connection per process, made on first use.
fn bus() -> Result<&'static dbus::Bus, CgroupError> {
    static BUS: OnceLock<dbus::Bus> = OnceLock::new();
    if let Some(bus) = BUS.get() {
        return Ok(bus);
    }
    let bus = dbus::Bus::connect().map_err(unavailable)?;
    Ok(BUS.get_or_init(|| bus))
}

/// Starts the scope with `pid` in it and the limits systemd knows, checks that its cgroup is
/// the one computed, then applies every limit to the files. A scope left half-made is stopped.
pub(crate) fn create_and_enter(
    paths: &mut CgroupPaths,
    unit: &Unit,
    pid: Pid,
    res: &LinuxResources,
) -> Result<(), CgroupError> {
    let bus = bus()?;
    // StartTransientUnit refuses an existing unit too; asking first keeps the error plain.
    if bus.control_group(&unit.name).is_ok() {
        return Err(CgroupError::InvalidPath {
            path: PathBuf::from(&unit.name),
            reason: "a unit of that name exists already".into(),
        });
    }
    let rules = devices::rules(res.devices().as_deref())?;
    let pid_u32 = u32::try_from(pid.as_raw()).unwrap_or(0);
    let props = props::for_new_scope(unit, pid_u32, res, &rules)?;
    bus.start_unit(&unit.name, &props)
        .map_err(|e| unavailable(format!("creating {}: {e}", unit.name)))?;
    match check_and_apply(bus, paths, unit, res) {
        Ok(warnings) => {
            paths.warnings.extend(warnings);
            Ok(())
        }
        Err(e) => {
            let _ = bus.stop_unit(&unit.name);
            let _ = fs::remove_created(paths);
            Err(e)
        }
    }
}

fn check_and_apply(
    bus: &dbus::Bus,
    paths: &CgroupPaths,
    unit: &Unit,
    res: &LinuxResources,
) -> Result<Vec<String>, CgroupError> {
    let want = unit.cgroup()?;
    let got = bus
        .control_group(&unit.name)
        .map_err(|e| unavailable(format!("reading {}: {e}", unit.name)))?;
    if Path::new(&got) != want {
        return Err(unavailable(format!(
            "systemd put {} at {got}, not at {}",
            unit.name,
            want.display()
        )));
    }
    super::apply(paths, res, true)
}

/// `update`: the unit's properties (runtime ones, so `daemon-reload` keeps them), then the
/// files (the caller writes those).
pub(crate) fn update(unit: &Unit, res: &LinuxResources) -> Result<(), CgroupError> {
    let props = props::resources(res)?;
    if props.is_empty() {
        return Ok(());
    }
    bus()?
        .set_properties(&unit.name, &props)
        .map_err(|e| unavailable(format!("updating {}: {e}", unit.name)))
}

/// `delete`: stops the scope (gone already when its last process exited) and removes what is
/// left of its cgroup (sub-cgroups the container made, if systemd left them).
pub(crate) fn destroy(paths: &CgroupPaths, unit: &Unit) -> Result<(), CgroupError> {
    bus()?
        .stop_unit(&unit.name)
        .map_err(|e| unavailable(format!("stopping {}: {e}", unit.name)))?;
    fs::remove_created(paths)
}
