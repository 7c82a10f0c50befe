//! Records the git commit berth is built from, for `berth --version`'s `commit:` line (runc
//! prints the same three lines). Outside a git checkout (a source tarball) the line says so.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn main() {
    println!("cargo:rerun-if-env-changed=BERTH_COMMIT");
    let commit = std::env::var("BERTH_COMMIT")
        .ok()
        .or_else(|| git(&["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown (not built from a git checkout)".into());
    // Rebuild when HEAD moves: HEAD itself, and the branch file it points to.
    for path in [
        Some("HEAD".to_owned()),
        git(&["symbolic-ref", "-q", "HEAD"]),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(file) = git(&["rev-parse", "--git-path", &path]) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    println!("cargo:rustc-env=BERTH_COMMIT={commit}");
    // scripts/build-berth.sh links with this list (--symbol-ordering-file) by a fixed path:
    // a new list must relink berth.
    println!("cargo:rerun-if-changed=../scripts/hot-symbols.txt");
}
