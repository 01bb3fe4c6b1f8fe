//! The shape of the code: no import cycles between the crate's modules. A module is a
//! file (`src/a/b.rs` is `a::b`, `src/a/mod.rs` is `a`); it depends on the modules its
//! `crate::…` and `super::…` paths name. Declaring a submodule (`mod x;`) is not a
//! dependency. A cycle means two parts of the tree cannot be understood, or moved,
//! one without the other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module of `src/`, by path, with its source (line comments dropped).
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, root: &Path, into: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, into);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(root).unwrap().with_extension("");
            let mut segments: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let is_root = segments.last().is_some_and(|s| s == "mod" || s == "lib");
            if is_root || segments == ["main"] {
                segments.pop();
            }
            let source = std::fs::read_to_string(&path).unwrap();
            // A file's unit tests (`#[cfg(test)] mod tests`, at its end) are not the
            // module's dependencies, and their `super` is the module itself.
            let source = source.split("#[cfg(test)]").next().unwrap_or_default();
            let text: String = source
                .lines()
                .map(|line| line.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            into.insert(segments.join("::"), text);
        }
    }
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let mut all = BTreeMap::new();
    walk(root, root, &mut all);
    all
}

/// The paths after `prefix` in `text`: `crate::a::b::C` gives `a::b::C`'s segments
/// that are lower-case (modules), `["a", "b"]`.
fn paths_after<'t>(text: &'t str, prefix: &str) -> Vec<(usize, Vec<&'t str>)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        let after = &rest[at + prefix.len()..];
        rest = after;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        // `super::super::x`: count the levels.
        let mut ups = 1;
        let mut tail = after;
        while let Some(more) = tail.strip_prefix(prefix) {
            ups += 1;
            tail = more;
        }
        let segments: Vec<&str> = tail
            .split("::")
            .map_while(|segment| {
                let name: &str = segment
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or("");
                (!name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_lowercase() || c.is_ascii_digit() || c == '_'))
                .then_some(name)
            })
            .collect();
        found.push((ups, segments));
    }
    found
}

fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let resolve = |segments: &[String]| -> Option<String> {
        (1..=segments.len())
            .rev()
            .map(|n| segments[..n].join("::"))
            .find(|candidate| modules.contains_key(candidate))
    };
    let mut graph = BTreeMap::new();
    for (name, text) in &modules {
        let own: Vec<String> = if name.is_empty() {
            Vec::new()
        } else {
            name.split("::").map(str::to_string).collect()
        };
        let mut depends = BTreeSet::new();
        for (_, segments) in paths_after(text, "crate::") {
            let segments: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
            depends.extend(resolve(&segments));
        }
        for (ups, segments) in paths_after(text, "super::") {
            // `super` is the parent of the module the file is (`a::b` in `a/b.rs`,
            // `a` in `a/mod.rs`).
            let Some(keep) = own.len().checked_sub(ups) else {
                continue;
            };
            let mut full: Vec<String> = own[..keep].to_vec();
            full.extend(segments.iter().map(|s| s.to_string()));
            depends.extend(resolve(&full));
        }
        depends.remove(name);
        depends.remove("");
        graph.insert(name.clone(), depends);
    }
    graph
}

/// Strongly connected components of more than one module (Tarjan's algorithm).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(state: &mut State<'g>, node: &'g str) {
        let at = state.index.len();
        state.index.insert(node, at);
        state.low.insert(node, at);
        state.stack.push(node);
        state.on_stack.insert(node);
        for next in &state.graph[node] {
            let next = next.as_str();
            if !state.index.contains_key(next) {
                visit(state, next);
                let low = state.low[node].min(state.low[next]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(next) {
                let low = state.low[node].min(state.index[next]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(top) = state.stack.pop() {
                state.on_stack.remove(top);
                component.push(top.to_string());
                if top == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    state.found
}

#[test]
fn the_modules_have_no_import_cycles() {
    let graph = dependencies();
    // The reader finds the dependencies it should: a sanity check of the parsing.
    assert!(
        graph["api::auth"].contains("auth"),
        "{:?}",
        graph["api::auth"]
    );
    assert!(
        graph["api::docs"].contains("api::error"),
        "{:?}",
        graph["api::docs"]
    );
    assert!(
        graph["password"].contains("metrics"),
        "{:?}",
        graph["password"]
    );
    let found = cycles(&graph);
    assert!(found.is_empty(), "import cycles: {found:#?}");
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.insert("a".into(), ["b".to_string()].into());
    graph.insert("b".into(), ["c".to_string()].into());
    graph.insert("c".into(), ["a".to_string()].into());
    graph.insert("d".into(), ["a".to_string()].into());
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
}

/// The part or feature a module belongs to (`parts::admin::api` → `parts::admin`).
fn owner(module: &str) -> Option<String> {
    let segments: Vec<&str> = module.split("::").collect();
    match segments.as_slice() {
        ["parts" | "features", name, ..] => Some(format!("{}::{name}", segments[0])),
        _ => None,
    }
}

/// The core never names a part or a feature: it reaches them through the seam's
/// hooks, so a part can be switched off or removed without touching the core. Only
/// the lists (`lib.rs`, `parts/mod.rs`, `features/mod.rs`) name them. A part leans on
/// the core only, never on another part or on the app's features.
#[test]
fn only_the_lists_name_the_parts_and_the_features() {
    let graph = dependencies();
    assert!(
        graph["parts::two_factor::pages"].contains("parts::two_factor::flows"),
        "{:?}",
        graph["parts::two_factor::pages"]
    );
    let lists = ["", "parts", "features"];
    let mut wrong = Vec::new();
    for (module, depends) in &graph {
        if lists.contains(&module.as_str()) {
            continue;
        }
        let own = owner(module);
        for dependency in depends {
            let Some(target) = owner(dependency) else {
                continue;
            };
            let allowed = match &own {
                // Within one part or feature, anything goes.
                Some(own) => *own == target,
                None => false,
            };
            if !allowed {
                wrong.push(format!("{module} names {dependency}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
