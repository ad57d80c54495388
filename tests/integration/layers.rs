//! The layering of docs/ARCHITECTURE.md holds: every top-level module of
//! `src/` imports only modules on lower layers (so there is no circle), and
//! every module is placed on a layer. The layer list is read from that file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The ```layers block of ARCHITECTURE.md: top layer first, one line per
/// layer, modules separated by white space.
fn layers(doc: &str) -> Vec<Vec<String>> {
    let start = doc
        .find("```layers\n")
        .expect("docs/ARCHITECTURE.md has a ```layers block");
    let rest = &doc[start + "```layers\n".len()..];
    let end = rest.find("```").expect("the ```layers block is closed");
    rest[..end]
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The top-level modules `source` names through `crate::…` paths, including
/// every first segment of a `use crate::{a::…, b, c::{…}}` group.
fn imports(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The names at depth 0 of the group, each the start of a path.
            let (mut depth, mut at_start, mut name) = (0usize, true, String::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => at_start = true,
                    c if depth == 0 && at_start && (c.is_alphanumeric() || c == '_') => {
                        name.push(c)
                    }
                    _ if depth == 0 && at_start && !name.is_empty() => {
                        out.insert(std::mem::take(&mut name));
                        at_start = false;
                    }
                    _ => {}
                }
            }
            if !name.is_empty() {
                out.insert(name);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out.remove("self");
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every import that is not strictly downward, as "from -> to" lines.
fn violations(
    layers: &[Vec<String>],
    sources: &[(String, String)],
) -> (Vec<String>, BTreeSet<String>) {
    let level: BTreeMap<&str, usize> = layers
        .iter()
        .rev()
        .enumerate()
        .flat_map(|(i, l)| l.iter().map(move |m| (m.as_str(), i)))
        .collect();
    let (mut bad, mut unplaced) = (Vec::new(), BTreeSet::new());
    for (module, source) in sources {
        let Some(&from) = level.get(module.as_str()) else {
            unplaced.insert(module.clone());
            continue;
        };
        for target in imports(source) {
            match level.get(target.as_str()) {
                Some(&to) if target != *module && to >= from => {
                    bad.push(format!("{module} -> {target}"))
                }
                Some(_) => {}
                None => {
                    unplaced.insert(target);
                }
            }
        }
    }
    bad.sort();
    bad.dedup();
    (bad, unplaced)
}

#[test]
fn imports_only_go_down_the_layers_of_architecture_md() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).unwrap();
    let layers = layers(&doc);
    assert!(layers.len() >= 5, "too few layers read: {layers:?}");
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut sources = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_owned();
        if module == "lib" {
            continue; // declares the modules; imports nothing
        }
        sources.push((module, std::fs::read_to_string(&file).unwrap()));
    }
    let (bad, unplaced) = violations(&layers, &sources);
    assert!(
        unplaced.is_empty(),
        "modules on no layer of docs/ARCHITECTURE.md: {unplaced:?}"
    );
    assert!(
        bad.is_empty(),
        "imports that are not downward (see docs/ARCHITECTURE.md):\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_layer_check_sees_grouped_nested_and_sideways_imports() {
    let layers = vec![
        vec!["front".to_owned(), "side".to_owned()],
        vec!["app".to_owned()],
        vec!["leaf".to_owned()],
    ];
    let sources = vec![
        (
            "app".to_owned(),
            "use crate::{\n    leaf::{a, b::{c}},\n    front::Thing,\n};\n// crate::side is a comment\n".to_owned(),
        ),
        ("leaf".to_owned(), "fn f() { crate::app::run() }".to_owned()),
        ("front".to_owned(), "use crate::side::X;\nuse crate::app;".to_owned()),
        ("stray".to_owned(), String::new()),
    ];
    let (bad, unplaced) = violations(&layers, &sources);
    assert_eq!(bad, ["app -> front", "front -> side", "leaf -> app"]);
    assert_eq!(unplaced, BTreeSet::from(["stray".to_owned()]));
}
