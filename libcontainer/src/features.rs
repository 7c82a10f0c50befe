//! `berth features` (runtime-spec features.md): what this build of berth recognises, each
//! list read from the module that implements it, so the report cannot drift from behaviour.

use crate::namespaces::{oci_name, ALL_KINDS};
use crate::{hooks, rootfs, seccomp};
use oci_spec::runtime::{
    Apparmor, Cgroup, Features, IDMap, IntelRdt, LinuxFeature, MemoryPolicy, MountExtensions,
    NetDevices, Selinux,
};
use std::collections::HashMap;

/// The oldest config version berth runs (runc's floor too).
pub const OCI_VERSION_MIN: &str = "1.0.0";
/// The newest runtime-spec release whose fields berth implements.
pub const OCI_VERSION_MAX: &str = "1.2.1";

/// The features of this build; host-dependent only in `seccomp.supportedFlags`.
pub fn features() -> Features {
    let mut f = Features::default();
    f.set_oci_version_min(OCI_VERSION_MIN.into());
    f.set_oci_version_max(OCI_VERSION_MAX.into());
    f.set_hooks(Some(hooks::PHASES.iter().map(|s| s.to_string()).collect()));
    f.set_mount_options(Some(
        rootfs::supported_mount_options()
            .into_iter()
            .map(str::to_owned)
            .collect(),
    ));
    f.set_linux(Some(linux()));
    f.set_annotations(Some(HashMap::from([(
        "dev.berth.version".to_owned(),
        env!("CARGO_PKG_VERSION").to_owned(),
    )])));
    // berth acts on no annotation of config.json, so none can be unsafe.
    f.set_potentially_unsafe_config_annotations(Some(Vec::new()));
    f
}

/// `features()` as JSON in runc's shape: fields berth has nothing to say about are left out
/// (oci-spec serialises them as null, which runc never prints).
pub fn features_json() -> serde_json::Value {
    let mut v = serde_json::to_value(features()).expect("features serialise");
    drop_nulls(&mut v);
    v
}

fn drop_nulls(v: &mut serde_json::Value) {
    if let serde_json::Value::Object(map) = v {
        map.retain(|_, v| !v.is_null());
        map.values_mut().for_each(drop_nulls);
    }
}

fn linux() -> LinuxFeature {
    let mut namespaces = ALL_KINDS.to_vec();
    namespaces.sort_by_key(|k| oci_name(*k));
    let mut capabilities: Vec<caps::Capability> = caps::all().into_iter().collect();
    capabilities.sort_by_key(|c| c.index());
    let mut cgroup = Cgroup::default();
    cgroup.set_v1(Some(true));
    cgroup.set_v2(Some(true));
    // --systemd-cgroup (cgroups::systemd); not as a user's systemd (rootless).
    cgroup.set_systemd(Some(true));
    cgroup.set_systemd_user(Some(false));
    // rdma.max is written on both hierarchies (cgroups::v1, cgroups::v2).
    cgroup.set_rdma(Some(true));
    let mut idmap = IDMap::default();
    idmap.set_enabled(Some(rootfs::idmap_supported()));
    let mut mount_extensions = MountExtensions::default();
    mount_extensions.set_idmap(Some(idmap));
    // `create` refuses what these report as disabled (crate::container::validate).
    let mut apparmor = Apparmor::default();
    apparmor.set_enabled(Some(false));
    let mut selinux = Selinux::default();
    selinux.set_enabled(Some(false));
    let mut intel_rdt = IntelRdt::default();
    intel_rdt.set_enabled(Some(false));
    let mut net_devices = NetDevices::default();
    net_devices.set_enabled(Some(false));
    let mut memory_policy = MemoryPolicy::default();
    memory_policy.set_modes(Some(Vec::new()));
    memory_policy.set_flags(Some(Vec::new()));
    let mut l = LinuxFeature::default();
    l.set_namespaces(Some(namespaces));
    l.set_capabilities(Some(capabilities.iter().map(|c| c.to_string()).collect()));
    l.set_cgroup(Some(cgroup));
    l.set_seccomp(Some(seccomp::features()));
    l.set_apparmor(Some(apparmor));
    l.set_selinux(Some(selinux));
    l.set_intel_rdt(Some(intel_rdt));
    l.set_net_devices(Some(net_devices));
    l.set_memory_policy(Some(memory_policy));
    l.set_mount_extensions(Some(mount_extensions));
    l
}
