//! Imports flow one way (the order documented at the top of src/lib.rs): a module may use its
//! own layer and the layers below, never one above. This reads every source file, finds each
//! `crate::<module>` path in its code (comments excluded), and fails naming the file, the line
//! and both layers when a lower module reaches a higher one.

use std::path::{Path, PathBuf};

/// The layers, lowest first. Keep in step with src/lib.rs's documented order.
const LAYERS: &[&[&str]] = &[
    // Every raw system call: the lowest layer, using nothing of the crate.
    &["sys"],
    &["spec"],
    // Helpers the setup steps share.
    &["identity", "pause_point", "fdpass"],
    &["proc_root"],
    // One concept each: peers, which may use each other but nothing above.
    &[
        "namespaces",
        "activation",
        "idmap",
        "rootfs",
        "cgroups",
        "seccomp",
        "capabilities",
        "rlimits",
        "sysctl",
        "hooks",
        "tty",
        "channel",
        "attributes",
    ],
    &["state"],
    &["process"],
    // The sd_notify relay serves `start` and uses the process layer's signal list.
    &["container", "features", "notify"],
    // lib.rs: the public API, its re-exports and facade modules (spec's is the oci-spec
    // re-export, which lives in spec.rs itself).
    &["<root>"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The module a file belongs to: its first path component under src/ (`cgroups/v1.rs` is
/// `cgroups`), with the test files that `#[path]` pulls into a module mapped to that module.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("file under src");
    let first = rel
        .components()
        .next()
        .expect("a path component")
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string();
    match first.as_str() {
        "lib" => "<root>".into(),
        "test_fork" => "identity".into(),
        other => other.trim_end_matches("_tests").to_string(),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a line: nothing of a `//` comment (doc links are not imports).
fn code_of(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// The first path segment(s) after each `crate::` on the line: `crate::state::X` gives
/// `state`, `crate::{hooks, rootfs::Y}` gives `hooks` and `rootfs`, and a name that is not a
/// module (`crate::DEFAULT_ROOT`) is the crate root's.
fn targets(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                out.push(first_ident(item.trim()));
            }
        } else {
            out.push(first_ident(rest));
        }
    }
    out.into_iter().filter(|t| !t.is_empty()).collect()
}

/// The unit tests' fork helper (src/test_fork.rs, compiled as `identity::test_fork` under
/// `cfg(test)`) uses nothing of the crate, so every layer's tests may use it; the test below
/// keeps it that way.
const TEST_FORK: &str = "crate::identity::test_fork";

fn first_ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Every `(file:line, from, to)` where `from`'s layer is below `to`'s.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let from = module_of(src, &file);
        let from_layer =
            layer_of(&from).unwrap_or_else(|| panic!("{from}: not in LAYERS (add it)"));
        let text = std::fs::read_to_string(&file).expect("read source");
        for (n, line) in text.lines().enumerate() {
            let code = code_of(line).replace(TEST_FORK, "test_fork");
            for to in targets(&code) {
                let to_module = if layer_of(&to).is_some() {
                    to
                } else {
                    // A root item (a re-export or constant of lib.rs), or `crate::self`.
                    "<root>".to_string()
                };
                let to_layer = layer_of(&to_module).expect("known");
                if to_layer > from_layer {
                    found.push(format!(
                        "{}:{}: {from} (layer {from_layer}) uses crate::{to_module} (layer {to_layer})",
                        file.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn lower_layers_never_import_higher_ones() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "imports against the layer order:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_test_fork_helper_uses_nothing_of_the_crate() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/test_fork.rs");
    let text = std::fs::read_to_string(&file).expect("read test_fork.rs");
    let uses: Vec<&str> = text
        .lines()
        .filter(|l| code_of(l).contains("crate::"))
        .collect();
    assert!(uses.is_empty(), "test_fork.rs uses the crate: {uses:?}");
}

/// The checker itself: a bad import is caught, a good one, a doc link and the test fork
/// helper are not.
#[test]
fn the_checker_sees_an_upward_import() {
    let dir = std::env::temp_dir().join(format!("berth-layering-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("cgroups")).unwrap();
    std::fs::create_dir_all(dir.join("sys")).unwrap();
    std::fs::write(
        dir.join("cgroups/mod.rs"),
        "use crate::spec::Spec;\n/// See [`crate::container::Container`].\nuse crate::{identity, state::State};\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("sys/clone.rs"),
        "use crate::identity::test_fork;\nuse crate::spec::Spec;\n",
    )
    .unwrap();
    std::fs::write(dir.join("lib.rs"), "pub use crate::container::Container;\n").unwrap();
    let found = violations(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("cgroups/mod.rs:3: cgroups (layer 4) uses crate::state (layer 5)"));
    assert!(found[1].contains("sys/clone.rs:2: sys (layer 0) uses crate::spec (layer 1)"));
}
