//! The floors of `docs/architecture.md`, checked against the code: each module of `src/` uses only modules on
//! floors below its own, the simulator uses nothing of the console but `domain` (and only `commands` and `demo`
//! use it), and no two second-level modules use each other in a loop. The floors are read from the document, so
//! the picture and the code cannot drift apart; a new top-level module fails here until it is given a floor.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SIMULATOR: &str = "apple_sim";

/// The floors, top first, from the fenced `floors` block of docs/architecture.md.
fn floors() -> Vec<Vec<String>> {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let block = doc
        .split("```floors\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/architecture.md has a ```floors block");
    block
        .lines()
        .map(|line| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|floor| !floor.is_empty())
        .collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file of `src/`, skipping test folders.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "tests") {
                sources(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file belongs to, `depth` levels deep (`routes::projects` for depth 2), or None for the crate root.
fn module_of(rel: &Path, depth: usize) -> Option<String> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.truncate(depth);
    (!parts.is_empty()).then(|| parts.join("::"))
}

/// The code of a file that ships: everything before its test module.
fn live_code(text: &str) -> String {
    text.lines()
        .take_while(|line| !line.trim_start().starts_with("#[cfg(test)]"))
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path the code names from the crate root: `crate::a::b` and the items of `use crate::{a::x, b}`.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `storedesk_crate::`, not ours
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            for item in split_top_level(&group[..end]) {
                paths.push(segments(item.trim()));
            }
        } else {
            paths.push(segments(rest));
        }
    }
    paths.retain(|p| !p.is_empty());
    paths
}

fn matching_brace(s: &str) -> usize {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    s.len()
}

fn split_top_level(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// The leading lowercase segments of a path (`a::b::Type` → a, b).
fn segments(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for seg in path.split("::") {
        let name: String = seg
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            break;
        }
        let whole = name.len() == seg.len();
        out.push(name);
        if !whole {
            break;
        }
    }
    out
}

/// (from, to) → one `file` that makes the edge, between modules `depth` levels deep.
fn edges(depth: usize) -> BTreeMap<(String, String), String> {
    let src = root().join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let known: BTreeSet<String> = files
        .iter()
        .flat_map(|f| (1..=depth).filter_map(|d| module_of(f.strip_prefix(&src).unwrap(), d)))
        .collect();
    let mut out = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let Some(me) = module_of(rel, depth) else {
            continue;
        };
        let code = live_code(&std::fs::read_to_string(file).unwrap());
        for path in crate_paths(&code) {
            let to = (1..=depth.min(path.len()))
                .rev()
                .map(|d| path[..d].join("::"))
                .find(|m| known.contains(m));
            let Some(to) = to else { continue };
            let nested = |a: &str, b: &str| a.starts_with(&format!("{b}::"));
            if to != me && !nested(&me, &to) && !nested(&to, &me) {
                out.entry((me.clone(), to))
                    .or_insert_with(|| format!("src/{}", rel.display()));
            }
        }
    }
    out
}

#[test]
fn every_module_uses_only_the_floors_below_its_own() {
    let floors = floors();
    let floor_of: BTreeMap<&str, usize> = floors
        .iter()
        .enumerate()
        .flat_map(|(i, f)| f.iter().map(move |m| (m.as_str(), i)))
        .collect();
    let edges = edges(1);
    let modules: BTreeSet<&str> = edges
        .keys()
        .flat_map(|(a, b)| [a.as_str(), b.as_str()])
        .collect();
    let mut wrong = Vec::new();
    for m in modules {
        if m != SIMULATOR && !floor_of.contains_key(m) {
            wrong.push(format!("{m} has no floor in docs/architecture.md"));
        }
    }
    for ((from, to), file) in &edges {
        match (from.as_str(), to.as_str()) {
            (SIMULATOR, "domain") => {}
            (SIMULATOR, other) => wrong.push(format!("the simulator uses {other} ({file})")),
            (user, SIMULATOR) if user != "commands" && user != "demo" => {
                wrong.push(format!("{user} uses the simulator ({file})"))
            }
            (_, SIMULATOR) => {}
            (a, b) => match (floor_of.get(a), floor_of.get(b)) {
                (Some(fa), Some(fb)) if fa < fb => {}
                (Some(_), Some(_)) => {
                    wrong.push(format!("{a} uses {b}, which is not below it ({file})"))
                }
                _ => {}
            },
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_second_level_modules_use_each_other_in_a_loop() {
    let edges = edges(2);
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges.keys() {
        graph.entry(a).or_default().push(b);
    }
    // A loop is an edge a → b where a is reachable again from b.
    let reaches = |from: &str, goal: &str| {
        let (mut seen, mut todo) = (BTreeSet::new(), vec![from]);
        while let Some(m) = todo.pop() {
            if m == goal {
                return true;
            }
            if seen.insert(m) {
                todo.extend(graph.get(m).into_iter().flatten().copied());
            }
        }
        false
    };
    let loops: Vec<String> = edges
        .iter()
        .filter(|((a, b), _)| reaches(b, a))
        .map(|((a, b), file)| format!("{a} → {b} ({file}) closes a loop"))
        .collect();
    assert!(loops.is_empty(), "{}", loops.join("\n"));
}

#[test]
fn the_reader_finds_paths_in_every_form_the_code_writes_them() {
    let code =
        "use crate::{a::X, b::{c, d::E}, F};\nlet x = crate::g::h::I::new();\nmy_crate::z::Y;";
    assert_eq!(
        crate_paths(code),
        [
            vec!["a".to_string()],
            vec!["b".to_string()],
            vec!["g".to_string(), "h".to_string()],
        ]
    );
}
