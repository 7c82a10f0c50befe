//! `--rootless` and the default state root, by runc's rules: rootless (cgroups set up only
//! where this user may, see `ContainerBuilder::rootless`) when not root or in a user namespace
//! other than the host's; a non-root user keeps its state in `$XDG_RUNTIME_DIR/berth`.

use crate::cli::{GlobalOpts, Rootless};
use crate::error::CliError;
use std::path::PathBuf;

/// `--rootless` resolved: auto (also when not given, as runc) is rootless when the effective
/// uid is not 0 or berth runs in a user namespace that is not the initial one.
pub fn is_rootless(g: &GlobalOpts) -> bool {
    match g.rootless {
        Some(Rootless::True) => true,
        Some(Rootless::False) => false,
        None | Some(Rootless::Auto) => {
            !nix::unistd::geteuid().is_root() || libcontainer::in_user_namespace()
        }
    }
}

/// `--root`, else `$XDG_RUNTIME_DIR/berth` for a non-root user (and for root in a user
/// namespace, unless $USER is root: runc's rule, which rootless podman relies on), else
/// /run/berth. A non-root user without XDG_RUNTIME_DIR must say where: /run/berth is not
/// theirs.
pub fn state_root(g: &GlobalOpts) -> Result<PathBuf, CliError> {
    if let Some(root) = &g.root {
        return Ok(root.clone());
    }
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty());
    let root_user = nix::unistd::geteuid().is_root();
    let honour_xdg = !root_user
        || (libcontainer::in_user_namespace()
            && std::env::var_os("USER").is_none_or(|u| u != "root"));
    match xdg {
        // The XDG base directory specification: a relative path is invalid.
        Some(dir) if honour_xdg && !std::path::Path::new(&dir).is_absolute() => {
            Err(CliError::Flag {
                flag: "--root",
                reason: format!(
                    "not given, and XDG_RUNTIME_DIR {dir:?} is not an absolute path (the XDG \
                     base directory specification makes a relative one invalid)"
                ),
            })
        }
        Some(dir) if honour_xdg => {
            check_xdg_dir(std::path::Path::new(&dir))?;
            make_xdg_root(PathBuf::from(dir).join("berth"))
        }
        None if !root_user => Err(CliError::Flag {
            flag: "--root",
            reason: format!(
                "not given, and XDG_RUNTIME_DIR is not set: uid {} is not root, so the state \
                 root must be named (--root DIR) or be $XDG_RUNTIME_DIR/berth",
                nix::unistd::geteuid()
            ),
        }),
        _ => Ok(PathBuf::from(libcontainer::DEFAULT_ROOT)),
    }
}

/// `$XDG_RUNTIME_DIR` is this user's alone, as the XDG base directory specification requires:
/// whoever else can write it could replace `berth/` in it with a symlink to any directory of
/// this user's, where `delete --force` of a "broken" container removes directories.
fn check_xdg_dir(dir: &std::path::Path) -> Result<(), CliError> {
    let st = nix::sys::stat::stat(dir).map_err(|e| CliError::Flag {
        flag: "--root",
        reason: format!(
            "not given, and XDG_RUNTIME_DIR {}: {}",
            dir.display(),
            e.desc()
        ),
    })?;
    let me = nix::unistd::geteuid().as_raw();
    let why = if st.st_uid != me {
        format!("is owned by uid {}, not this user ({me})", st.st_uid)
    } else if st.st_mode & 0o022 != 0 {
        format!(
            "is writable by group or others (mode {:o})",
            st.st_mode & 0o7777
        )
    } else {
        return Ok(());
    };
    Err(CliError::Flag {
        flag: "--root",
        reason: format!(
            "not given, and XDG_RUNTIME_DIR {} {why}: it must be this user's alone",
            dir.display()
        ),
    })
}

/// Makes `$XDG_RUNTIME_DIR/berth` 0700 with the sticky bit, which the XDG base directory
/// specification asks of files that must not be pruned by the session's cleaner (as runc
/// does). An existing one is left as it is: libcontainer checks it is this user's and
/// writable by no one else.
fn make_xdg_root(root: PathBuf) -> Result<PathBuf, CliError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    match std::fs::DirBuilder::new().mode(0o700).create(&root) {
        Ok(()) => std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o1700))
            .map_err(|e| CliError::io(&root, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(CliError::Flag {
                flag: "--root",
                reason: format!("default $XDG_RUNTIME_DIR/berth {}: {e}", root.display()),
            })
        }
    }
    Ok(root)
}
