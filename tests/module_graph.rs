//! The module graph has no circles (issue 14).
//!
//! Reads every `src/**/*.rs` file of the library, collects the paths it
//! names (`use crate::…`, `use super::…`, `crate::x::y` in expressions, child
//! modules named by their bare name), resolves each one to the file that
//! defines it (following `use`/`pub use` re-exports, so a facade `mod.rs` does
//! not count as the definer), and fails on
//!
//! - a circle between top-level modules of `src/` (`carehq`, `config`, `sync`,
//!   …), and
//! - a circle between files inside one top-level module (`sync/worker.rs` ↔
//!   `sync/deliver.rs`).
//!
//! Test code counts too: a `#[cfg(test)]` import is still an import. A
//! module's use of its own submodules does not (see `from_sources`).
//!
//! Run it alone with `cargo test --test module_graph`; it prints every circle
//! it finds with the lines that make it up. No dependencies: the scanner is a
//! small tokenizer that skips comments and literals, which is enough for paths.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Edges (from file → to file) tolerated in a circle. Empty since the
/// config rewrite removed the last circles (config ↔ spam, and `raw` ↔ the
/// section files); keep it empty: fix a new circle by moving the shared type
/// to its own file, never by listing it here.
const ALLOWED_IN_CIRCLES: &[(&str, &str)] = &[];

#[test]
fn top_level_modules_form_no_circle() {
    let graph = Graph::load(Path::new(env!("CARGO_MANIFEST_DIR")));
    let problems = graph.top_level_circles();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn files_inside_a_top_level_module_form_no_circle() {
    let graph = Graph::load(Path::new(env!("CARGO_MANIFEST_DIR")));
    let problems = graph.file_circles();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn the_allowed_set_is_still_needed() {
    let graph = Graph::load(Path::new(env!("CARGO_MANIFEST_DIR")));
    for (from, to) in ALLOWED_IN_CIRCLES {
        assert!(
            graph.in_circle(from, to),
            "allowed edge {from} → {to} is no longer in a circle; remove it"
        );
    }
}

#[test]
fn the_scanner_sees_the_crate() {
    // Guards against a scanner that silently finds nothing and so passes.
    let graph = Graph::load(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(
        graph.files.len() > 100,
        "only {} files read",
        graph.files.len()
    );
    assert!(
        graph.edges.len() > 200,
        "only {} edges found",
        graph.edges.len()
    );
    let edge = |from: &str, to: &str| graph.edges.contains_key(&(from.into(), to.into()));
    assert!(edge("src/sync/carehq_step.rs", "src/carehq/error.rs"));
}

#[test]
fn the_scanner_resolves_paths_and_finds_a_circle() {
    let files = [
        ("src/lib.rs", "pub mod a; pub mod b;"),
        (
            "src/a/mod.rs",
            "mod x; mod y; pub use x::X; // crate::b::Nope\n\
             fn f() { let s = \"crate::b::Nope\"; y::go(); }",
        ),
        ("src/a/x.rs", "use super::y::{self, Y as _};\npub struct X;"),
        (
            "src/a/y.rs",
            "pub struct Y; pub fn go() {}\n\
             #[cfg(test)] mod tests { use super::*; use crate::a::X; }",
        ),
        ("src/b/mod.rs", "fn f() -> crate::a::X { todo!() }"),
    ];
    let graph = Graph::from_sources(files.iter().map(|(p, s)| (p.to_string(), s.to_string())));
    let edges: BTreeSet<_> = graph.edges.keys().cloned().collect();
    let expected: BTreeSet<(String, String)> = [
        ("src/a/x.rs", "src/a/y.rs"),
        // Through the re-export in a/mod.rs to the definer.
        ("src/a/y.rs", "src/a/x.rs"),
        ("src/b/mod.rs", "src/a/x.rs"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(edges, expected);
    let circles = graph.file_circles();
    assert_eq!(circles.len(), 1, "{circles:?}");
    assert!(
        circles[0].contains("src/a/x.rs → src/a/y.rs"),
        "{}",
        circles[0]
    );
    assert!(graph.top_level_circles().is_empty());
}

// ---------------------------------------------------------------------------

type ModPath = Vec<String>;

/// A path as written at one place, before resolution.
struct Reference {
    file: String,
    /// The (possibly inline) module the path was written in.
    scope: ModPath,
    segments: Vec<String>,
    line: usize,
}

struct Graph {
    /// File → its module path (`src/sync/worker.rs` → `[sync, worker]`).
    files: BTreeMap<String, ModPath>,
    /// Every module, file or inline, → the file that holds it.
    modules: BTreeMap<ModPath, String>,
    /// Module → names its `use` items bring in → the path as written.
    imports: BTreeMap<ModPath, BTreeMap<String, Vec<String>>>,
    /// (from file, to file) → the lines that make the edge.
    edges: BTreeMap<(String, String), Vec<usize>>,
}

impl Graph {
    fn load(root: &Path) -> Graph {
        let mut paths = Vec::new();
        collect_rs(&root.join("src"), &mut paths);
        let sources = paths.into_iter().filter_map(|path| {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            // main.rs is the binary's crate root: it names the library by its
            // crate name, not by `crate::`.
            (rel != "src/main.rs").then(|| (rel, fs::read_to_string(&path).unwrap()))
        });
        Graph::from_sources(sources)
    }

    fn from_sources(sources: impl Iterator<Item = (String, String)>) -> Graph {
        let mut graph = Graph {
            files: BTreeMap::new(),
            modules: BTreeMap::new(),
            imports: BTreeMap::new(),
            edges: BTreeMap::new(),
        };
        let mut references = Vec::new();
        for (file, source) in sources {
            let module = module_path(&file);
            graph.modules.insert(module.clone(), file.clone());
            graph.files.insert(file.clone(), module.clone());
            scan(&file, module, &source, &mut graph, &mut references);
        }
        for reference in &references {
            let Some(target) = graph.resolve(&reference.scope, &reference.segments, 0) else {
                continue;
            };
            // A module using its own submodules (a mod.rs re-exporting or
            // calling its children) is structure, like the `mod` line itself:
            // children may use what their parent defines. Circles between
            // siblings, or through anything else, count.
            let downward = graph.files[&target].starts_with(&graph.files[&reference.file]);
            if target != reference.file && !downward {
                graph
                    .edges
                    .entry((reference.file.clone(), target))
                    .or_default()
                    .push(reference.line);
            }
        }
        graph
    }

    /// The file that defines what `segments`, written in `scope`, names; None
    /// for paths outside the crate.
    fn resolve(&self, scope: &ModPath, segments: &[String], depth: usize) -> Option<String> {
        if depth > 16 || segments.is_empty() {
            return None;
        }
        let mut absolute: ModPath = match segments[0].as_str() {
            "crate" => segments[1..].to_vec(),
            "self" | "super" => {
                let mut base = scope.clone();
                let mut rest = segments;
                while let Some(first) = rest.first() {
                    match first.as_str() {
                        "self" => {}
                        "super" => {
                            base.pop()?;
                        }
                        _ => break,
                    }
                    rest = &rest[1..];
                }
                base.extend(rest.iter().cloned());
                base
            }
            first => {
                let mut child = scope.clone();
                child.push(first.to_string());
                if self.modules.contains_key(&child) {
                    child.extend(segments[1..].iter().cloned());
                    child
                } else if let Some(path) = self.imports.get(scope).and_then(|m| m.get(first)) {
                    let mut expanded = path.clone();
                    expanded.extend(segments[1..].iter().cloned());
                    return self.resolve(scope, &expanded, depth + 1);
                } else {
                    return None; // another crate, a local item, or a primitive
                }
            }
        };
        // The longest prefix that is a module is where the name lives, unless
        // that module only re-exports it.
        let split = (0..=absolute.len())
            .rev()
            .find(|&n| self.modules.contains_key(&absolute[..n]))?;
        let module = absolute[..split].to_vec();
        let reexport = absolute
            .get(split)
            .and_then(|name| self.imports.get(&module).and_then(|m| m.get(name)));
        match reexport {
            Some(path) => {
                let mut expanded = path.clone();
                expanded.extend(absolute[split + 1..].iter().cloned());
                self.resolve(&module, &expanded, depth + 1)
            }
            None => {
                absolute.truncate(split);
                self.modules.get(&absolute).cloned()
            }
        }
    }

    fn top_level(&self, file: &str) -> Option<String> {
        self.files.get(file).and_then(|m| m.first().cloned())
    }

    fn top_level_edges(&self) -> BTreeMap<(String, String), Vec<(&String, &String)>> {
        let mut edges: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for (from, to) in self.edges.keys() {
            if let (Some(a), Some(b)) = (self.top_level(from), self.top_level(to))
                && a != b
            {
                edges.entry((a, b)).or_default().push((from, to));
            }
        }
        edges
    }

    fn file_edges(&self) -> BTreeSet<(String, String)> {
        self.edges
            .keys()
            .filter(|(from, to)| self.top_level(from) == self.top_level(to))
            .cloned()
            .collect()
    }

    fn in_circle(&self, from: &str, to: &str) -> bool {
        let file_level = strongly_connected(&self.file_edges());
        let top: BTreeSet<_> = self.top_level_edges().into_keys().collect();
        let top_level = strongly_connected(&top);
        same_component(&file_level, from, to)
            || match (self.top_level(from), self.top_level(to)) {
                (Some(a), Some(b)) => a != b && same_component(&top_level, &a, &b),
                _ => false,
            }
    }

    fn top_level_circles(&self) -> Vec<String> {
        let edges = self.top_level_edges();
        let keys: BTreeSet<_> = edges.keys().cloned().collect();
        let component = strongly_connected(&keys);
        let mut problems = Vec::new();
        for ((a, b), file_edges) in &edges {
            if !same_component(&component, a, b) {
                continue;
            }
            let unexplained: Vec<_> = file_edges
                .iter()
                .filter(|(from, to)| !allowed(from, to))
                .map(|(from, to)| self.describe(from, to))
                .collect();
            if !unexplained.is_empty() {
                problems.push(format!(
                    "top-level modules `{a}` → `{b}` is part of a circle ({}), made by:\n  {}",
                    members(&component, component[a]).join(", "),
                    unexplained.join("\n  ")
                ));
            }
        }
        problems
    }

    fn file_circles(&self) -> Vec<String> {
        let edges = self.file_edges();
        let component = strongly_connected(&edges);
        let mut by_component: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for (from, to) in &edges {
            if same_component(&component, from, to) && !allowed(from, to) {
                by_component
                    .entry(component[from])
                    .or_default()
                    .push(self.describe(from, to));
            }
        }
        by_component
            .into_iter()
            .map(|(id, lines)| {
                format!(
                    "files in a circle ({}):\n  {}",
                    members(&component, id).join(", "),
                    lines.join("\n  ")
                )
            })
            .collect()
    }

    fn describe(&self, from: &str, to: &str) -> String {
        let lines = &self.edges[&(from.to_string(), to.to_string())];
        let lines: Vec<_> = lines.iter().map(|l| format!("{from}:{l}")).collect();
        format!("{from} → {to} (at {})", lines.join(", "))
    }
}

fn allowed(from: &str, to: &str) -> bool {
    ALLOWED_IN_CIRCLES.contains(&(from, to))
}

fn same_component(component: &BTreeMap<String, usize>, a: &str, b: &str) -> bool {
    matches!((component.get(a), component.get(b)), (Some(x), Some(y)) if x == y)
}

fn members(component: &BTreeMap<String, usize>, id: usize) -> Vec<String> {
    component
        .iter()
        .filter(|&(_, &c)| c == id)
        .map(|(n, _)| n.clone())
        .collect()
}

/// Tarjan's algorithm: node → component id, only for nodes in a component of
/// two or more.
fn strongly_connected(edges: &BTreeSet<(String, String)>) -> BTreeMap<String, usize> {
    let mut adjacent: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges {
        adjacent.entry(a).or_default().push(b);
        adjacent.entry(b).or_default();
    }
    struct State<'a> {
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        components: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(node: &'a str, adjacent: &BTreeMap<&'a str, Vec<&'a str>>, s: &mut State<'a>) {
        let n = s.index.len();
        s.index.insert(node, n);
        s.low.insert(node, n);
        s.stack.push(node);
        s.on_stack.insert(node);
        for &next in &adjacent[node] {
            if !s.index.contains_key(next) {
                visit(next, adjacent, s);
                let low = s.low[node].min(s.low[next]);
                s.low.insert(node, low);
            } else if s.on_stack.contains(next) {
                let low = s.low[node].min(s.index[next]);
                s.low.insert(node, low);
            }
        }
        if s.low[node] == s.index[node] {
            let mut component = Vec::new();
            while let Some(top) = s.stack.pop() {
                s.on_stack.remove(top);
                component.push(top);
                if top == node {
                    break;
                }
            }
            s.components.push(component);
        }
    }
    let mut state = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for &node in adjacent.keys() {
        if !state.index.contains_key(node) {
            visit(node, &adjacent, &mut state);
        }
    }
    let mut out = BTreeMap::new();
    for (id, component) in state.components.iter().enumerate() {
        if component.len() > 1 {
            for node in component {
                out.insert(node.to_string(), id);
            }
        }
    }
    out
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/lib.rs` → `[]`, `src/a/mod.rs` → `[a]`, `src/a/b.rs` → `[a, b]`.
fn module_path(file: &str) -> ModPath {
    let inner = file
        .strip_prefix("src/")
        .unwrap()
        .strip_suffix(".rs")
        .unwrap();
    let mut parts: ModPath = inner.split('/').map(str::to_string).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

/// Scans one file: registers its inline modules and module-level imports, and
/// pushes every path it writes.
fn scan(file: &str, module: ModPath, source: &str, graph: &mut Graph, refs: &mut Vec<Reference>) {
    let tokens = tokenize(source);
    // Inline modules: (module path, brace depth inside it).
    let mut scopes: Vec<(ModPath, usize)> = vec![(module, 0)];
    let mut depth = 0;
    let mut i = 0;
    while i < tokens.len() {
        let (token, line) = &tokens[i];
        let scope = scopes.last().unwrap().0.clone();
        match token {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                if scopes.len() > 1 && scopes.last().unwrap().1 == depth {
                    scopes.pop();
                }
                depth -= 1;
            }
            Token::Ident(word) if word == "mod" => {
                if let (Some((Token::Ident(name), _)), Some((Token::Punct('{'), _))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    let mut inner = scope.clone();
                    inner.push(name.clone());
                    graph.modules.insert(inner.clone(), file.to_string());
                    depth += 1;
                    scopes.push((inner, depth));
                    i += 3;
                    continue;
                }
            }
            Token::Ident(word)
                if word == "use"
                    && matches!(
                        tokens.get(i + 1).map(|t| &t.0),
                        Some(Token::Ident(_) | Token::PathSep | Token::Punct('{'))
                    ) =>
            {
                let end = (i..tokens.len())
                    .find(|&j| tokens[j].0 == Token::Punct(';'))
                    .unwrap_or(tokens.len());
                let at_module_level = scopes.last().unwrap().1 == depth;
                let mut items = Vec::new();
                parse_use_tree(&tokens[i + 1..end], Vec::new(), &mut items);
                for (segments, name) in items {
                    if segments.is_empty() {
                        continue;
                    }
                    if at_module_level && let Some(name) = name {
                        graph
                            .imports
                            .entry(scope.clone())
                            .or_default()
                            .insert(name, segments.clone());
                    }
                    refs.push(Reference {
                        file: file.to_string(),
                        scope: scope.clone(),
                        segments,
                        line: *line,
                    });
                }
                i = end + 1;
                continue;
            }
            Token::Ident(first) if tokens.get(i + 1).map(|t| &t.0) == Some(&Token::PathSep) => {
                // A path in an item or expression: ident (:: ident)*.
                let starts_path = i == 0 || tokens[i - 1].0 != Token::PathSep;
                let mut segments = vec![first.clone()];
                let mut j = i + 1;
                while let (Some((Token::PathSep, _)), Some((Token::Ident(next), _))) =
                    (tokens.get(j), tokens.get(j + 1))
                {
                    segments.push(next.clone());
                    j += 2;
                }
                if starts_path {
                    refs.push(Reference {
                        file: file.to_string(),
                        scope,
                        segments,
                        line: *line,
                    });
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
}

/// Expands a use tree into (path, name it binds); globs bind no name.
fn parse_use_tree(
    tokens: &[(Token, usize)],
    prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    let mut path = prefix;
    let mut i = 0;
    // A leading `::` names another crate.
    if tokens.first().map(|t| &t.0) == Some(&Token::PathSep) {
        return;
    }
    while i < tokens.len() {
        match &tokens[i].0 {
            Token::Ident(word) if word == "self" && !path.is_empty() && i + 1 >= tokens.len() => {
                let name = path.last().cloned();
                out.push((path, name));
                return;
            }
            Token::Ident(word) => {
                path.push(word.clone());
                i += 1;
                match tokens.get(i).map(|t| &t.0) {
                    Some(Token::PathSep) => i += 1,
                    Some(Token::Ident(as_)) if as_ == "as" => {
                        let alias = match tokens.get(i + 1).map(|t| &t.0) {
                            Some(Token::Ident(alias)) if alias != "_" => Some(alias.clone()),
                            _ => None,
                        };
                        out.push((path, alias));
                        return;
                    }
                    _ => {
                        let name = path.last().cloned();
                        out.push((path, name));
                        return;
                    }
                }
            }
            Token::Punct('*') => {
                out.push((path, None));
                return;
            }
            Token::Punct('{') => {
                // Split the group's body on top-level commas.
                let mut level = 0;
                let mut start = i + 1;
                for j in i + 1..tokens.len() {
                    match tokens[j].0 {
                        Token::Punct('{') => level += 1,
                        Token::Punct('}') if level == 0 => {
                            if start < j {
                                parse_use_tree(&tokens[start..j], path.clone(), out);
                            }
                            return;
                        }
                        Token::Punct('}') => level -= 1,
                        Token::Punct(',') if level == 0 => {
                            if start < j {
                                parse_use_tree(&tokens[start..j], path.clone(), out);
                            }
                            start = j + 1;
                        }
                        _ => {}
                    }
                }
                return;
            }
            _ => return,
        }
    }
}

/// Identifiers, `::` and single punctuation, each with its line; comments,
/// string and char literals are skipped.
fn tokenize(source: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut level = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    level += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    level -= 1;
                    i += 2;
                    if level == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if chars.get(i) == Some(&'\n') {
                    line += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // Raw strings (r"..", r#".."#, br#".."#) and byte strings.
            let hashes = chars[i..].iter().take_while(|&&h| h == '#').count();
            if matches!(word.as_str(), "r" | "br" | "b" | "c" | "cr")
                && chars.get(i + hashes) == Some(&'"')
                && (hashes == 0 || word.ends_with('r'))
            {
                if word.ends_with('r') {
                    i += hashes + 1;
                    let closing: Vec<char> = std::iter::once('"')
                        .chain(std::iter::repeat_n('#', hashes))
                        .collect();
                    while i < chars.len() && !chars[i..].starts_with(&closing) {
                        if chars[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                    i += closing.len();
                }
                // b"..": the string branch takes it next.
                continue;
            }
            if word == "r" && chars.get(i) == Some(&'#') {
                // A raw identifier r#name.
                continue;
            }
            tokens.push((Token::Ident(word), line));
        } else if c == ':' && next == Some(':') {
            tokens.push((Token::PathSep, line));
            i += 2;
        } else if c.is_whitespace() {
            i += 1;
        } else {
            tokens.push((Token::Punct(c), line));
            i += 1;
        }
    }
    tokens
}
