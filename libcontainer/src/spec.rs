//! The config (config.json, runtime-spec's `Spec`): loading it with errors that name the
//! field, berth's default config (`berth spec`), and every type of the config language
//! re-exported from oci-spec, builders included, so that an embedder builds a config in
//! memory without depending on oci-spec itself (and on a matching version of it).
//!
//! ```
//! use libcontainer::spec::{ProcessBuilder, RootBuilder, SpecBuilder};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = libcontainer::spec::default_spec(false);
//! config.set_root(Some(RootBuilder::default().path("/srv/rootfs").readonly(true).build()?));
//! config.set_process(Some(
//!     ProcessBuilder::default()
//!         .args(vec!["echo".to_string(), "hello".to_string()])
//!         .cwd("/")
//!         .build()?,
//! ));
//! # let _ = SpecBuilder::default(); Ok(()) }
//! ```

/// The whole config language (`oci_spec::runtime`): `Spec`, `Process`, `Linux`, `Mount`, ...
/// and their `...Builder`s.
pub use oci_spec::runtime::*;
/// The error of oci-spec's builders (`build()`).
pub use oci_spec::OciSpecError;

use std::path::{Path, PathBuf};

/// config.json (or a document shaped like a part of it) could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("{path}: {reason}")]
    Read {
        /// The path at fault.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// The JSON does not match the runtime spec.
    #[error("{path}: {field}: {reason}")]
    Invalid {
        /// The path at fault.
        path: PathBuf,
        /// The config field at fault (JSON path).
        field: String,
        /// What is wrong, in words.
        reason: String,
    },
}

/// Loads `bundle/config.json`; an error names the JSON path of the bad field.
pub fn load_spec(bundle: &Path) -> Result<Spec, SpecError> {
    let path = bundle.join("config.json");
    let bytes = std::fs::read(&path).map_err(|e| SpecError::Read {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    parse_spec(&bytes, &path)
}

/// Parses config.json's bytes; `path` is only used in errors.
pub(crate) fn parse_spec(bytes: &[u8], path: &Path) -> Result<Spec, SpecError> {
    parse_json(bytes, path)
}

/// Parses a JSON document of the config or a part of it (a process.json, a resources file)
/// with an error that names the bad field. Every config-shaped document berth reads goes
/// through here: one deserializer type means one copy of oci-spec's large derived parsing
/// code in the binary, not one per reader (it was a third of berth's resident pages).
pub fn parse_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    path: &Path,
) -> Result<T, SpecError> {
    let path = path.to_path_buf();
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        SpecError::Invalid {
            path,
            // serde_path_to_error says "." for the document itself (e.g. not JSON at all).
            field: if field == "." {
                "document".into()
            } else {
                field
            },
            reason: e.into_inner().to_string(),
        }
    })
}

/// The largest uid or gid berth accepts anywhere. The kernel's ids are u32, but (uid_t)-1
/// means "unchanged" to setresuid/setresgid/chown, so 4294967295 would silently keep the
/// process root; like runc, everything above INT32_MAX is refused.
pub const MAX_ID: u32 = i32::MAX as u32;

/// `Err(reason)` when `id` is outside 0..=[`MAX_ID`]; the caller names the field.
pub fn check_id(id: u32) -> Result<(), String> {
    if id > MAX_ID {
        return Err(format!("{id} is outside 0..={MAX_ID}"));
    }
    Ok(())
}

/// `Err(reason)` when the ids `start..start+size` do not all lie in 0..=[`MAX_ID`], or the
/// range is empty.
pub(crate) fn check_id_range(start: u32, size: u32) -> Result<(), String> {
    if size == 0 {
        return Err("size must be at least 1".into());
    }
    let last = u64::from(start) + u64::from(size) - 1;
    if last > u64::from(MAX_ID) {
        return Err(format!(
            "{start}..{start}+{size} reaches {last}, outside 0..={MAX_ID}"
        ));
    }
    Ok(())
}

/// `root.path` resolved against the bundle (it may be relative) and canonicalised; an error
/// names the field when it is missing or not a directory.
pub(crate) fn resolve_rootfs(spec: &Spec, bundle: &Path) -> Result<PathBuf, SpecError> {
    let root = spec.root().as_ref().ok_or_else(|| SpecError::Invalid {
        path: bundle.join("config.json"),
        field: "root".into(),
        reason: "missing (the container needs a root filesystem)".into(),
    })?;
    let path = bundle.join(root.path());
    let invalid = |reason: String| SpecError::Invalid {
        path: bundle.join("config.json"),
        field: "root.path".into(),
        reason,
    };
    let canonical = path
        .canonicalize()
        .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    if !canonical.is_dir() {
        return Err(invalid(format!("{}: not a directory", path.display())));
    }
    Ok(canonical)
}

/// The spec `berth spec` writes (runc's shape), or its rootless variant.
pub fn default_spec(rootless: bool) -> Spec {
    // oci-spec's defaults are youki's take on runc's example; only what differs from
    // `runc spec` is changed here, so the two stay comparable field by field.
    let mut spec = Spec::default();
    spec.set_hostname(Some("berth".into()));
    spec.set_annotations(None);
    if let Some(process) = spec.process_mut() {
        process.set_terminal(Some(true));
        if let Some(mut caps) = process.capabilities().clone() {
            caps.set_inheritable(None);
            process.set_capabilities(Some(caps));
        }
    }
    if let Some(linux) = spec.linux_mut() {
        let deny_all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .expect("a device rule with every field set builds");
        let resources = LinuxResourcesBuilder::default()
            .devices(vec![deny_all])
            .build()
            .expect("resources with only devices build");
        linux.set_resources(Some(resources));
        // runc 1.1 leaves the cgroup namespace to the engines; oci-spec's default adds it.
        if let Some(ns) = linux.namespaces_mut() {
            ns.retain(|n| n.typ() != LinuxNamespaceType::Cgroup);
        }
    }
    if rootless {
        make_rootless(&mut spec);
    }
    spec
}

/// runc's `spec --rootless`: a user namespace mapping root to the caller, the host's network
/// namespace (an unprivileged user cannot configure a new one), /sys bind-mounted (sysfs cannot
/// be mounted without owning the network namespace), no `gid=` on mounts (the gid is unmapped)
/// and no cgroup resources (the caller cannot write the cgroup tree).
fn make_rootless(spec: &mut Spec) {
    let map = |host_id: u32| {
        LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(host_id)
            .size(1u32)
            .build()
            .expect("an id mapping with every field set builds")
    };
    if let Some(linux) = spec.linux_mut() {
        linux.set_resources(None);
        linux.set_uid_mappings(Some(vec![map(nix::unistd::geteuid().as_raw())]));
        linux.set_gid_mappings(Some(vec![map(nix::unistd::getegid().as_raw())]));
        if let Some(ns) = linux.namespaces_mut() {
            ns.retain(|n| n.typ() != LinuxNamespaceType::Network);
            let user = LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::User)
                .build()
                .expect("a namespace with only a type builds");
            ns.push(user);
        }
    }
    for mount in spec.mounts_mut().iter_mut().flatten() {
        if mount.destination() == Path::new("/sys") {
            mount.set_typ(Some("none".into()));
            mount.set_source(Some("/sys".into()));
            let mut options = vec!["rbind".to_string()];
            options.extend(mount.options().iter().flatten().cloned());
            mount.set_options(Some(options));
        }
        if let Some(options) = mount.options_mut() {
            options.retain(|o| !o.starts_with("gid="));
        }
    }
}

/// An id mapping line, for unit tests of the modules that check or write maps.
#[cfg(test)]
pub(crate) fn test_id_map(
    container: u32,
    host: u32,
    size: u32,
) -> oci_spec::runtime::LinuxIdMapping {
    oci_spec::runtime::LinuxIdMappingBuilder::default()
        .container_id(container)
        .host_id(host)
        .size(size)
        .build()
        .expect("a mapping of three numbers")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_below_int32_max() {
        assert!(check_id(0).is_ok());
        assert!(check_id(2_147_483_647).is_ok());
        assert!(check_id(2_147_483_648).is_err());
        assert!(check_id(u32::MAX).is_err());
        assert!(check_id_range(0, 2_147_483_648).is_ok());
        assert!(check_id_range(2_147_483_647, 1).is_ok());
        assert!(check_id_range(2_147_483_647, 2).is_err());
        assert!(check_id_range(1000, u32::MAX).is_err());
        assert!(check_id_range(0, 0).is_err());
    }
}
