//! The layer map in `src/lib.rs` is the truth: every module is in it, and no module uses a
//! module listed after it. Reads the numbered list under "# The map" and every `crate::name`
//! path in each module's files.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The modules of the map, bottom first: the `//! N. [`name`]` lines of lib.rs.
fn layer_order(lib: &str) -> Vec<String> {
    let mut in_map = false;
    let mut order = Vec::new();
    for line in lib.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            continue;
        };
        let doc = doc.trim();
        if doc.starts_with('#') {
            in_map = doc == "# The map";
            continue;
        }
        if !in_map {
            continue;
        }
        let Some((number, rest)) = doc.split_once(". [`") else {
            continue;
        };
        if number.chars().all(|c| c.is_ascii_digit()) {
            let name = rest.split('`').next().unwrap_or_default();
            order.push(name.to_string());
        }
    }
    order
}

/// The `pub mod name;` lines of lib.rs.
fn declared_modules(lib: &str) -> BTreeSet<String> {
    lib.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').to_string())
        .collect()
}

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            rust_files(&entry.unwrap().path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// Every `crate::name` a source text names (in `use` lines and inline paths alike).
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if rest.starts_with('{') {
            // `use crate::{a, b::c}`: each name in the group.
            let group = &rest[1..rest.find('}').unwrap_or(rest.len())];
            for item in group.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

#[test]
fn every_module_is_in_the_map_and_no_import_runs_upward() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = fs::read_to_string(root.join("lib.rs")).unwrap();
    let order = layer_order(&lib);
    let declared = declared_modules(&lib);
    let mapped: BTreeSet<String> = order.iter().cloned().collect();
    assert_eq!(
        mapped, declared,
        "lib.rs's map and its `pub mod` lines name different modules"
    );
    let mut violations = Vec::new();
    for (rank, module) in order.iter().enumerate() {
        let mut files = Vec::new();
        for path in [root.join(module), root.join(format!("{module}.rs"))] {
            if path.exists() {
                rust_files(&path, &mut files);
            }
        }
        assert!(!files.is_empty(), "no source for module {module}");
        for file in files {
            let text = fs::read_to_string(&file).unwrap();
            for used in crate_paths(&text) {
                let Some(used_rank) = order.iter().position(|m| *m == used) else {
                    continue; // a crate-level item such as REDIS_VERSION
                };
                if used_rank > rank {
                    violations.push(format!(
                        "{} (layer {module}) uses crate::{used}, a higher layer",
                        file.strip_prefix(&root).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_scanner_sees_grouped_and_inline_paths() {
    let text = "use crate::{server::Shared, cmd};\nlet x = crate::node::run();";
    let found = crate_paths(text);
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["cmd", "node", "server"]
    );
    let lib = "//! # The map\n//!\n//! 1. [`a`]: x\n//! 2. [`b`]: y\n//! # Next\n//! 3. [`c`]: z";
    assert_eq!(layer_order(lib), ["a", "b"]);
}
