//! A task's temporary workspace: a copy of its project with the target file rewritten as
//! prefix + suffix, so the answer exists nowhere on disk.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::tasks::Task;

pub struct TaskWorkspace {
    /// Removed when dropped.
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub file: PathBuf,
}

/// Copies `repos/<task.repo>` (if any) into a fresh folder named like the project, and writes
/// the target file without its middle.
pub fn prepare(task: &Task, repos: &Path) -> anyhow::Result<TaskWorkspace> {
    let dir = tempfile::Builder::new().prefix("infill-eval-").tempdir()?;
    let name = task.repo.as_deref().unwrap_or("humaneval");
    let root = dir.path().join(name);
    std::fs::create_dir_all(&root)?;
    if let Some(repo) = &task.repo {
        let source = repos.join(repo);
        if !source.is_dir() {
            bail!("task {}: project folder {} is missing", task.id, source.display());
        }
        copy_tree(&source, &root)?;
    }
    let relative = Path::new(&task.path);
    if relative.is_absolute() || relative.components().any(|c| c.as_os_str() == "..") {
        bail!("task {}: path {} leaves the workspace", task.id, task.path);
    }
    let file = root.join(relative);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&file, format!("{}{}", task.prefix, task.suffix))
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(TaskWorkspace { _dir: dir, root, file })
}

/// Recursive copy of regular files and folders; links are skipped (they could point outside).
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { walk(&path, out) } else { out.push(path) }
        }
    }

    #[test]
    fn the_answer_is_nowhere_in_the_workspace() {
        let repos = tempfile::tempdir().unwrap();
        let project = repos.path().join("proj-1.0");
        std::fs::create_dir_all(project.join("pkg")).unwrap();
        let middle = "unique_answer_4711(x) + 1";
        std::fs::write(project.join("pkg/mod.py"), format!("def f(x):\n    return {middle}\n"))
            .unwrap();
        std::fs::write(project.join("pkg/other.py"), "def unique_answer_4711(x):\n    return x\n")
            .unwrap();
        let task = Task {
            id: "proj-1.0/pkg/mod.py:2".into(),
            language: "python".into(),
            path: "pkg/mod.py".into(),
            repo: Some("proj-1.0".into()),
            prefix: "def f(x):\n    return ".into(),
            middle: middle.into(),
            suffix: "\n".into(),
            kind: "cross-file".into(),
            test: None,
        };
        let ws = prepare(&task, repos.path()).unwrap();
        assert_eq!(ws.root.file_name().unwrap(), "proj-1.0", "the folder name is the repo name");
        assert_eq!(std::fs::read_to_string(&ws.file).unwrap(), "def f(x):\n    return \n");
        let mut files = Vec::new();
        walk(&ws.root, &mut files);
        assert_eq!(files.len(), 2, "the rest of the project is there: {files:?}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(!text.contains(middle), "{} holds the answer", file.display());
        }
        // The original project is untouched.
        assert!(std::fs::read_to_string(project.join("pkg/mod.py")).unwrap().contains(middle));
    }

    #[test]
    fn paths_may_not_leave_the_workspace() {
        let repos = tempfile::tempdir().unwrap();
        let mut task = Task {
            id: "x".into(),
            language: "python".into(),
            path: "../escape.py".into(),
            repo: None,
            prefix: String::new(),
            middle: String::new(),
            suffix: String::new(),
            kind: "single-line".into(),
            test: None,
        };
        assert!(prepare(&task, repos.path()).is_err());
        task.path = "humaneval/1.py".into();
        let ws = prepare(&task, repos.path()).unwrap();
        assert!(ws.file.ends_with("humaneval/humaneval/1.py"));
    }
}
