//! Evaluation tasks: one FIM hole per JSON line, the dev set's format (`docs/measurements.md`).

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Task {
    pub id: String,
    pub language: String,
    /// Path of the file inside the workspace.
    pub path: String,
    /// Folder under the repos directory holding the whole project, if any.
    pub repo: Option<String>,
    pub prefix: String,
    pub middle: String,
    pub suffix: String,
    pub kind: String,
    /// Python code that raises when appended to a wrong completion.
    #[serde(default)]
    pub test: Option<String>,
}

impl Task {
    /// Kinds whose answer ends at the end of one line: scored on the first line only.
    pub fn is_single_line(&self) -> bool {
        self.kind != "multi-line"
    }
}

pub fn load(path: &Path) -> anyhow::Result<Vec<Task>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not a task", path.display(), i + 1))
        })
        .collect()
}

/// The task as met in an editor that closes brackets itself (VS Code, Zed, Neovim and Helix
/// with the usual plugins): the user has typed the first line of the answer up to its first
/// bracket that closes on that line, and the editor put the closer after the cursor. The answer
/// is what goes inside; the closer is already there, and text after it is not typed yet (so
/// there is no pass@1: the file is not whole). `None`
/// for multi-line tasks and when the first line has no such bracket, or nothing inside it.
pub fn with_editor_closer(task: &Task) -> Option<Task> {
    // A multi-line answer's first line alone would be a different kind of task.
    if !task.is_single_line() {
        return None;
    }
    let line = task.middle.split('\n').next().unwrap_or_default();
    let (open, close) = first_bracket_pair(line)?;
    let inside = &line[open + 1..close];
    if inside.trim().is_empty() {
        return None;
    }
    Some(Task {
        id: format!("{}+closer", task.id),
        prefix: format!("{}{}", task.prefix, &line[..=open]),
        middle: inside.to_string(),
        suffix: format!("{}{}", &line[close..=close], task.suffix),
        // The rest of the line is not typed yet: the file cannot run.
        test: None,
        ..task.clone()
    })
}

/// The task as an editor that keeps indentation asks it: after Enter, the editor indented the new
/// line, so the cursor is after the indentation of the answer's first line, not at column 0.
/// The file is unchanged (pass@1 still runs); ids get `+indent`. `None` when the cursor is not
/// at the start of a line or the answer's first line is not indented.
pub fn with_editor_indent(task: &Task) -> Option<Task> {
    if !(task.prefix.is_empty() || task.prefix.ends_with('\n')) {
        return None;
    }
    let line = task.middle.split('\n').next().unwrap_or_default();
    let indent = &line[..line.len() - line.trim_start_matches([' ', '\t']).len()];
    if indent.is_empty() || indent.len() == line.len() {
        return None;
    }
    Some(Task {
        id: format!("{}+indent", task.id),
        prefix: format!("{}{indent}", task.prefix),
        middle: task.middle[indent.len()..].to_string(),
        ..task.clone()
    })
}

/// Byte offsets of the first `(`, `[` or `{` in `line` and of its closer, outside string
/// literals (`"`, `'`, `` ` ``, on this line).
fn first_bracket_pair(line: &str) -> Option<(usize, usize)> {
    let mut open: Vec<(u8, usize)> = Vec::new();
    let mut quote = None;
    let mut escaped = false;
    for (i, b) in line.bytes().enumerate() {
        if let Some(q) = quote {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                _ if b == q => quote = None,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' | b'\'' | b'`' => quote = Some(b),
            b'(' | b'[' | b'{' => open.push((b, i)),
            b')' | b']' | b'}' => {
                let opener = match b {
                    b')' => b'(',
                    b']' => b'[',
                    _ => b'{',
                };
                match open.pop() {
                    Some((o, at)) if o == opener && open.is_empty() => return Some((at, i)),
                    Some((o, _)) if o == opener => {}
                    _ => return None,
                }
            }
            _ => {}
        }
    }
    None
}

/// `limit` tasks spread evenly over the file, so a short run still covers every kind.
pub fn spread(tasks: Vec<Task>, limit: Option<usize>) -> Vec<Task> {
    match limit {
        Some(limit) if limit < tasks.len() => {
            let n = tasks.len();
            (0..limit).filter_map(|i| tasks.get(i * n / limit).cloned()).collect()
        }
        _ => tasks,
    }
}

/// The order to run `tasks` in: every prefix of it is spread evenly over the list (positions in
/// bit-reversed order: 0, n/2, n/4, 3n/4, …), so a long run that stops early has still scored a
/// sample of every kind and language, not just the first ones in the file.
pub fn run_order(tasks: Vec<Task>) -> Vec<Task> {
    let n = tasks.len();
    let bits = usize::BITS - n.saturating_sub(1).leading_zeros();
    let mut keyed: Vec<(usize, Task)> = tasks
        .into_iter()
        .enumerate()
        .map(|(i, task)| {
            (if bits == 0 { 0 } else { i.reverse_bits() >> (usize::BITS - bits) }, task)
        })
        .collect();
    keyed.sort_by_key(|(key, _)| *key);
    keyed.into_iter().map(|(_, task)| task).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, kind: &str) -> Task {
        Task {
            id: id.into(),
            language: "python".into(),
            path: "a.py".into(),
            repo: None,
            prefix: String::new(),
            middle: String::new(),
            suffix: String::new(),
            kind: kind.into(),
            test: None,
        }
    }

    #[test]
    fn spread_picks_evenly() {
        let tasks: Vec<Task> = (0..10).map(|i| task(&i.to_string(), "single-line")).collect();
        let ids: Vec<String> = spread(tasks.clone(), Some(3)).into_iter().map(|t| t.id).collect();
        assert_eq!(ids, ["0", "3", "6"]);
        assert_eq!(spread(tasks.clone(), None).len(), 10);
        assert_eq!(spread(tasks, Some(50)).len(), 10);
    }

    fn ids(tasks: Vec<Task>) -> Vec<String> {
        tasks.into_iter().map(|t| t.id).collect()
    }

    #[test]
    fn run_order_spreads_every_prefix() {
        let tasks: Vec<Task> = (0..8).map(|i| task(&i.to_string(), "single-line")).collect();
        assert_eq!(ids(run_order(tasks)), ["0", "4", "2", "6", "1", "5", "3", "7"]);
        // Not a power of two: still each task exactly once, and the first half spans the list.
        let tasks: Vec<Task> = (0..10).map(|i| task(&i.to_string(), "single-line")).collect();
        let order: Vec<usize> =
            ids(run_order(tasks)).iter().map(|id| id.parse().unwrap()).collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        assert_eq!(&order[..5], [0, 8, 4, 2, 6]);
        assert!(ids(run_order(Vec::new())).is_empty());
        assert_eq!(ids(run_order(vec![task("x", "multi-line")])), ["x"]);
    }

    #[test]
    fn an_editor_closer_moves_the_first_brackets_content_into_the_answer() {
        let mut t = task("HumanEval/1/0", "single-line");
        t.prefix = "def f(l):\n".into();
        t.middle = "    return sorted(set(l)) + [\")\"]".into();
        t.suffix = "\n\nprint(f([1]))\n".into();
        t.test = Some("assert f([1]) == [1]".into());
        let moved = with_editor_closer(&t).unwrap();
        assert_eq!(moved.id, "HumanEval/1/0+closer");
        assert_eq!(moved.prefix, "def f(l):\n    return sorted(");
        assert_eq!(moved.middle, "set(l)");
        assert_eq!(moved.suffix, ")\n\nprint(f([1]))\n");
        assert_eq!(moved.test, None, "the line is not whole: no pass@1");
        // Brackets in strings do not count; empty brackets and none at all give no task.
        t.middle = "x = \"(\" + g(a)".into();
        assert_eq!(with_editor_closer(&t).unwrap().middle, "a");
        for middle in ["f()", "x = 1", "a)", "f(\n    a)"] {
            t.middle = middle.into();
            assert_eq!(with_editor_closer(&t), None, "{middle:?}");
        }
    }

    #[test]
    fn editor_indent_moves_the_first_lines_indentation_before_the_cursor() {
        let mut t = task("HumanEval/1/0-1", "multi-line");
        t.prefix = "def f(l):\n".into();
        t.middle = "    s = set(l)\n    return sorted(s)\n".into();
        t.suffix = "\nprint(f([1]))\n".into();
        t.test = Some("assert f([1]) == [1]".into());
        let moved = with_editor_indent(&t).unwrap();
        assert_eq!(moved.id, "HumanEval/1/0-1+indent");
        assert_eq!(moved.prefix, "def f(l):\n    ");
        assert_eq!(moved.middle, "s = set(l)\n    return sorted(s)\n");
        assert_eq!(moved.test, t.test, "the file is whole: pass@1 still runs");
        let whole = |t: &Task| format!("{}{}{}", t.prefix, t.middle, t.suffix);
        assert_eq!(whole(&moved), whole(&t));
        // Tabs count; a cursor inside a line, an unindented or blank first line give no task.
        t.middle = "\tx = 1\n".into();
        assert_eq!(with_editor_indent(&t).unwrap().prefix, "def f(l):\n\t");
        t.middle = "x = 1\n".into();
        assert_eq!(with_editor_indent(&t), None);
        t.middle = "    \n".into();
        assert_eq!(with_editor_indent(&t), None);
        t.middle = "    x = 1\n".into();
        t.prefix = "def f(l):\n    y = ".into();
        assert_eq!(with_editor_indent(&t), None);
    }

    #[test]
    fn loads_jsonl_and_reports_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let line = serde_json::to_string(&task("x", "multi-line")).unwrap();
        std::fs::write(&path, format!("{line}\n\n{line}\n")).unwrap();
        let tasks = load(&path).unwrap();
        assert_eq!(tasks.len(), 2);
        assert!(!tasks[0].is_single_line());
        std::fs::write(&path, format!("{line}\n{{oops\n")).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains(":2:"), "{err}");
    }
}
