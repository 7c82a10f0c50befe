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
pub fn load_spec(_bundle: &Path) -> Result<Spec, SpecError> {
    todo!()
}

/// The spec `berth spec` writes (runc's shape), or its rootless variant.
pub fn default_spec(_rootless: bool) -> Spec {
    todo!()
}
