//! `oci-conformance --runtime PATH [--filter NAME] [--format json] [--expect-failures FILE]`

use clap::{Parser, ValueEnum};
use oci_conformance::bundle::Suite;
use oci_conformance::outcome::Outcome;
use oci_conformance::report::{self, Record};
use oci_conformance::runtime::Runtime;
use oci_conformance::{cases, checker_build, expect};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Parser)]
#[command(about = "Runs OCI conformance cases against a runc-compatible runtime")]
struct Args {
    /// The runtime binary, driven with runc's command line.
    #[arg(long)]
    runtime: PathBuf,
    /// Runs only the cases whose name contains this.
    #[arg(long)]
    filter: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// A Markdown table of `| runtime | case | reason |`; failures listed there for this
    /// runtime do not make the exit status non-zero.
    #[arg(long)]
    expect_failures: Option<PathBuf>,
    /// The runtime's name in the expected-failures table (default: the binary's file name up
    /// to the first `-`, without `.sh`).
    #[arg(long)]
    name: Option<String>,
    /// A prebuilt static checker; by default it is built with cargo.
    #[arg(long)]
    checker: Option<PathBuf>,
    #[arg(long, default_value = "/bin/busybox")]
    busybox: PathBuf,
    /// Lists the case names and exits.
    #[arg(long)]
    list: bool,
}

fn main() {
    let args = Args::parse();
    let mut all = cases::all();
    if let Some(f) = &args.filter {
        all.retain(|c| c.name.contains(f.as_str()));
    }
    if args.list {
        all.iter().for_each(|c| println!("{}", c.name));
        return;
    }
    let name = args.name.clone().unwrap_or_else(|| {
        let file = args
            .runtime
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        // `crun-hybrid.sh` is crun: a wrapper is named after what it wraps.
        let file = file.trim_end_matches(".sh");
        file.split('-').next().unwrap_or(file).to_owned()
    });
    let known = match &args.expect_failures {
        Some(p) => expect::load(p, &name).unwrap_or_else(|e| die(&e)),
        None => BTreeMap::new(),
    };
    let checker = match args.checker.clone() {
        Some(c) => c,
        None => checker_build::build().unwrap_or_else(|e| die(&e)),
    };
    // Absolute, so that cases may run the runtime from any directory.
    let path = std::fs::canonicalize(&args.runtime)
        .unwrap_or_else(|e| die(&format!("runtime {}: {e}", args.runtime.display())));
    let rt = Runtime { path };
    let suite = Suite::new(rt, checker, args.busybox.clone()).unwrap_or_else(|e| die(&e));
    let mut records = Vec::new();
    for case in &all {
        let start = Instant::now();
        let outcome = match (case.run)(&suite) {
            Ok(()) => Outcome::Pass,
            Err(o) => o,
        };
        let r = Record {
            name: case.name,
            outcome,
            millis: start.elapsed().as_millis(),
        };
        if let Format::Text = args.format {
            println!("{}", report::line(&r, known.get(r.name)));
        }
        records.push(r);
    }
    match args.format {
        Format::Text => println!("{}", report::summary(&records)),
        Format::Json => println!("{}", report::json(&records, &name, &known)),
    }
    drop(suite);
    std::process::exit(exit_code(&records, &known, args.expect_failures.is_some()));
}

/// Non-zero when a case failed that is not expected to; with no list, on any failure.
fn exit_code(records: &[Record], known: &BTreeMap<String, String>, have_list: bool) -> i32 {
    let unexpected: Vec<&str> = records
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Fail(_)))
        .filter(|r| !have_list || !known.contains_key(r.name))
        .map(|r| r.name)
        .collect();
    for r in records.iter().filter(|r| r.outcome == Outcome::Pass) {
        if known.contains_key(r.name) {
            eprintln!(
                "note: {} passed but is listed as an expected failure",
                r.name
            );
        }
    }
    if unexpected.is_empty() {
        return 0;
    }
    if have_list {
        eprintln!("unexpected failures: {}", unexpected.join(" "));
    }
    1
}

fn die(msg: &str) -> ! {
    eprintln!("oci-conformance: {msg}");
    std::process::exit(2);
}
