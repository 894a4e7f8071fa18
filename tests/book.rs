//! The book: mdBook leaves an `{{#include}}` it cannot read in the page instead of failing, so
//! this checks every include in book/src resolves (a named excerpt to an `ANCHOR` the source
//! still has), and that included insta snapshots still have their three-line header (the
//! chapters include them from line 4).

use std::path::{Path, PathBuf};

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// `(file part, range part)` of every `{{#include file:range}}` in `text`.
fn includes(text: &str) -> Vec<(String, Option<String>)> {
    let mut found = Vec::new();
    for (i, _) in text.match_indices("{{#include ") {
        let rest = &text[i + "{{#include ".len()..];
        let end = rest.find("}}").expect("an include is closed with }}");
        let target = rest[..end].trim();
        let (file, range) = match target.split_once(':') {
            Some((file, range)) => (file.to_string(), Some(range.to_string())),
            None => (target.to_string(), None),
        };
        found.push((file, range));
    }
    found
}

#[test]
fn every_include_in_the_book_resolves() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src");
    let mut pages = Vec::new();
    markdown_files(&src, &mut pages);
    let mut seen = 0;
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        for (file, range) in includes(&text) {
            seen += 1;
            let target = page.parent().unwrap().join(&file);
            assert!(
                target.is_file(),
                "{}: {{{{#include {file}}}}} does not resolve",
                page.display()
            );
            if let Some(anchor) = range
                .as_deref()
                .filter(|r| !r.starts_with(|c: char| c.is_ascii_digit()))
            {
                // A named excerpt: the source must still mark it, or mdBook includes nothing.
                let source = std::fs::read_to_string(&target).unwrap();
                assert!(
                    source.contains(&format!("ANCHOR: {anchor}\n"))
                        && source.contains(&format!("ANCHOR_END: {anchor}\n")),
                    "{}: {file} has no ANCHOR {anchor}",
                    page.display()
                );
            }
            if file.ends_with(".snap") {
                let snap = std::fs::read_to_string(&target).unwrap();
                let lines: Vec<&str> = snap.lines().collect();
                assert!(
                    lines.len() > 3
                        && lines[0] == "---"
                        && lines[1].starts_with("source: ")
                        && lines[2] == "---",
                    "{}: the header of {file} is not the three lines the include skips",
                    page.display()
                );
                assert_eq!(
                    range.as_deref(),
                    Some("4:"),
                    "{}: include {file} from line 4, past its header",
                    page.display()
                );
            }
        }
    }
    assert!(seen > 0, "the book includes the lab transcripts");
}

#[test]
fn includes_are_found_with_their_ranges() {
    let found = includes("a {{#include ../x.snap:4:}} b {{#include y.rs}}");
    assert_eq!(
        found,
        [
            ("../x.snap".to_string(), Some("4:".to_string())),
            ("y.rs".to_string(), None)
        ]
    );
}

/// The README quotes the lab's first lines: they must be the transcript's own, from its very
/// first line, in order (`...` marks a cut), so the excerpt cannot drift from what the lab prints.
#[test]
fn the_readme_excerpt_is_the_start_of_the_lab_transcript() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme
        .find("The lab's first lines")
        .expect("the README quotes the lab");
    let block = readme[start..]
        .split("```text\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a text block");
    let snap = std::fs::read_to_string(root.join("tests/snapshots/replication.snap")).unwrap();
    let transcript: Vec<&str> = snap.lines().skip(3).collect();
    let quoted: Vec<&str> = block.lines().collect();
    assert_eq!(
        quoted[0], transcript[0],
        "the excerpt starts where the lab starts"
    );
    let mut at = 0;
    let mut cut = false;
    for line in quoted {
        if line == "..." {
            cut = true;
            continue;
        }
        let found = if cut {
            transcript[at..].iter().position(|l| *l == line)
        } else {
            (transcript.get(at) == Some(&line)).then_some(0)
        };
        match found {
            Some(i) => at += i + 1,
            None => panic!("README excerpt line {line:?} is not the transcript's next line"),
        }
        cut = false;
    }
}
