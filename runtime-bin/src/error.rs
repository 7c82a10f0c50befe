//! The binary's own failures, next to the library's. Each names the flag or path at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Container(#[from] libcontainer::Error),
    #[error(transparent)]
    Tty(#[from] libcontainer::errors::TtyError),
    #[error("{flag} is not supported by berth")]
    Unsupported { flag: &'static str },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{command} is not supported by berth: it has no checkpoint/restore (CRIU) support")]
    NotSupported { command: &'static str },
    #[error("{0}")]
    Usage(String),
    #[error("{flag}: {reason}")]
    Flag { flag: &'static str, reason: String },
    #[error("ps: {0}")]
    Ps(String),
    #[error("{path}: already exists; remove it first")]
    Exists { path: PathBuf },
    #[error("--bundle {path}: {source}")]
    Bundle {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl CliError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
