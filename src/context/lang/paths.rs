//! Path arithmetic shared by the languages' import resolution: '/'-separated paths relative to
//! the workspace root, which never leave it. Nothing here touches the file system.

use std::collections::HashSet;
use std::fmt;

/// A file's path relative to its workspace root, as normalized segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePath<'a> {
    pub segments: Vec<&'a str>,
}

impl<'a> SourcePath<'a> {
    /// The folder the file is in.
    pub fn dir(&self) -> &[&'a str] {
        &self.segments[..self.segments.len().saturating_sub(1)]
    }
}

impl fmt::Display for SourcePath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segments.join("/"))
    }
}

/// `path` normalized; None when it leaves the root.
pub fn source_path(path: &str) -> Option<SourcePath<'_>> {
    normalize(&[], path).map(|segments| SourcePath { segments })
}

/// `base` followed by the '/'-separated `rel` with `.` and `..` resolved; None when it would leave
/// the root.
pub fn normalize<'a>(base: &[&'a str], rel: &'a str) -> Option<Vec<&'a str>> {
    let mut segments = base.to_vec();
    for segment in rel.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop()?;
            }
            s => segments.push(s),
        }
    }
    Some(segments)
}

/// `dir` and `tail` joined by '/' (just `tail` at the root).
pub fn join(dir: &[&str], tail: &str) -> String {
    let mut s = dir.join("/");
    if !s.is_empty() && !tail.is_empty() {
        s.push('/');
    }
    s.push_str(tail);
    s
}

/// `items` without repeats, first occurrences kept in order.
pub fn dedup(items: &mut Vec<String>) {
    let mut seen = HashSet::new();
    items.retain(|item| seen.insert(item.clone()));
}

/// The last `at_most` segments of `segments` as folder suffixes, longest first
/// (`a/b/c` → `a/b/c/`, `b/c/`, `c/`): where a package named by a path whose head is not a
/// workspace folder (Go modules, Java and C# namespaces) may sit.
pub fn folder_suffixes(segments: &[&str], at_most: usize) -> Vec<String> {
    (1..=segments.len().min(at_most))
        .rev()
        .map(|take| format!("{}/", segments[segments.len() - take..].join("/")))
        .collect()
}

/// Whether `segment` may appear in a path candidate (no empty, `.`/`..`, separator or space).
pub fn plain_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && !segment.contains(['/', '\\', ' ', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_never_leave_the_root() {
        assert_eq!(normalize(&["a", "b"], "../c/./d"), Some(vec!["a", "c", "d"]));
        assert_eq!(normalize(&["a"], "../.."), None);
        assert_eq!(source_path("a//b/./c.ts").unwrap().to_string(), "a/b/c.ts");
        assert!(source_path("../up/x.ts").is_none());
        assert_eq!(source_path("src/x.rs").unwrap().dir(), ["src"]);
        assert_eq!(join(&[], "x.py"), "x.py");
        assert_eq!(join(&["a"], "x.py"), "a/x.py");
    }

    #[test]
    fn folder_suffixes_longest_first() {
        assert_eq!(folder_suffixes(&["a", "b", "c", "d"], 3), ["b/c/d/", "c/d/", "d/"]);
        assert_eq!(folder_suffixes(&["x"], 3), ["x/"]);
        assert!(folder_suffixes(&[], 3).is_empty());
    }
}
