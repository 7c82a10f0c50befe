//! config.json: loading with errors that name the field, and the default spec (`berth spec`).

use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: {field}: {reason}")]
    Invalid { path: PathBuf, field: String, reason: String },
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
pub fn parse_spec(bytes: &[u8], path: &Path) -> Result<Spec, SpecError> {
    let path = path.to_path_buf();
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        SpecError::Invalid {
            path,
            // serde_path_to_error says "." for the document itself (e.g. not JSON at all).
            field: if field == "." { "document".into() } else { field },
            reason: e.into_inner().to_string(),
        }
    })
}

/// `root.path` resolved against the bundle (it may be relative) and canonicalised; an error
/// names the field when it is missing or not a directory.
pub fn resolve_rootfs(spec: &Spec, bundle: &Path) -> Result<PathBuf, SpecError> {
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
pub fn default_spec(_rootless: bool) -> Spec {
    todo!()
}
