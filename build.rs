//! Records the git commit the binary is built from, for `infill --version`: `git rev-parse
//! --short HEAD`, or "unknown" when there is no git or no repository (a crates.io tarball).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    if commit.is_some() {
        // Build again when HEAD moves: HEAD itself (a checkout) and the branch it points at (a
        // commit), loose or packed. `--git-path` is right in worktrees too.
        let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
        watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
        for path in watched {
            // A path that does not exist would make cargo run this script on every build.
            let file = git(&["rev-parse", "--git-path", &path]);
            if let Some(file) = file.filter(|f| std::path::Path::new(f).exists()) {
                println!("cargo:rerun-if-changed={file}");
            }
        }
    }
    let commit = commit.unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=INFILL_GIT_COMMIT={commit}");
}
