//! `berth spec`: writes runc's default config.json (or its rootless variant) into the bundle.

use crate::cli::SpecArgs;
use crate::error::CliError;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

pub fn spec(args: &SpecArgs) -> Result<i32, CliError> {
    let dir = args.bundle.clone().unwrap_or_else(|| PathBuf::from("."));
    if let Err(source) = std::fs::read_dir(&dir) {
        return Err(CliError::Bundle { path: dir, source });
    }
    let path = dir.join("config.json");
    let spec = libcontainer::spec::default_spec(args.rootless);
    // Tab-indented, as `runc spec` writes it, so the two files diff cleanly.
    let mut bytes = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut bytes, fmt);
    spec.serialize(&mut ser)
        .map_err(|e| CliError::io(&path, std::io::Error::other(e)))?;
    // create_new: never overwrite a config the user wrote, as runc refuses to.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => CliError::Exists { path: path.clone() },
            _ => CliError::io(&path, e),
        })?;
    file.write_all(&bytes).map_err(|e| CliError::io(&path, e))?;
    Ok(0)
}
