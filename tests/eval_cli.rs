//! `infill eval` end to end on two small tasks with the tiny model: every task goes through a
//! real server over stdio and gets scored; the results file has one row per task.

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::{TempDir, tiny_model};

#[test]
fn eval_scores_every_task_through_the_server() {
    let dir = TempDir::new("eval");
    let repos = dir.path().join("repos");
    std::fs::create_dir_all(repos.join("proj/pkg")).unwrap();
    std::fs::write(repos.join("proj/pkg/util.py"), "def helper(x):\n    return x\n").unwrap();
    std::fs::write(repos.join("proj/pkg/main.py"), "from .util import helper\n\nY = helper(1)\n")
        .unwrap();
    let tasks = [
        json!({"id": "proj/pkg/main.py:3", "language": "python", "path": "pkg/main.py", "repo": "proj",
               "prefix": "from .util import helper\n\nY = ", "middle": "helper(1)", "suffix": "\n",
               "kind": "cross-file", "test": null, "entry_point": null, "source": "test"}),
        json!({"id": "HumanEval/x/0", "language": "python", "path": "humaneval/x.py", "repo": null,
               "prefix": "def one():\n", "middle": "    return 1\n", "suffix": "",
               "kind": "single-line", "test": "\nassert one() == 1\n", "entry_point": "one", "source": "test"}),
    ];
    let file = dir.path().join("tasks.jsonl");
    std::fs::write(&file, tasks.iter().map(|t| format!("{t}\n")).collect::<String>()).unwrap();
    let out = dir.path().join("results.jsonl");

    let output = Command::new(env!("CARGO_BIN_EXE_infill"))
        .args(["--model", tiny_model().to_str().unwrap(), "eval"])
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--options", r#"{"threads": 1, "maxTokens": 16}"#])
        .env("XDG_STATE_HOME", dir.path())
        .output()
        .expect("run infill eval");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout {stdout}\nstderr {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.lines().any(|l| l.starts_with("all") && l.contains("infill")), "{stdout}");

    let rows: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row["engine"], "infill");
        assert_eq!(row["error"], Value::Null, "{row}");
        assert!(row["promptTokens"].as_u64().unwrap() > 5, "{row}");
        assert!(row["latencyMs"].as_f64().unwrap() > 0.0);
    }
    // The HumanEval-style task has a test, so it is run; the random model cannot pass it.
    assert_eq!(rows[1]["passed"], false);
    assert_eq!(rows[0]["passed"], Value::Null);

    // `--minutes 0` runs nothing: with --resume it prints the table of the results already
    // there (complete); on a new file it reports that nothing is scored yet.
    let report = |out: &std::path::Path| {
        let output = Command::new(env!("CARGO_BIN_EXE_infill"))
            .arg("eval")
            .arg(&file)
            .arg("--out")
            .arg(out)
            .args(["--resume", "--minutes", "0"])
            .env("XDG_STATE_HOME", dir.path())
            .output()
            .expect("run infill eval --minutes 0");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let table = report(&out);
    assert!(!table.contains("partial"), "{table}");
    let all = table.lines().find(|l| l.starts_with("all")).unwrap_or_default().to_string();
    assert_eq!(all.split_whitespace().nth(2), Some("2"), "{table}");
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 2, "nothing appended");
    let fresh = report(&dir.path().join("none-yet.jsonl"));
    assert!(fresh.contains("partial: 0 of 2 tasks scored"), "{fresh}");
}

/// An engine that fails answers empty; the row carries the failure instead of a plain miss, so
/// a broken engine cannot pass for a weak one.
#[test]
fn an_engine_failure_is_an_error_row_not_an_empty_answer() {
    let dir = TempDir::new("evalfail");
    let task = json!({"id": "HumanEval/x/0", "language": "python", "path": "humaneval/x.py",
                      "repo": null, "prefix": "def one():\n", "middle": "    return 1\n",
                      "suffix": "", "kind": "single-line", "test": null, "entry_point": null,
                      "source": "test"});
    let file = dir.path().join("tasks.jsonl");
    std::fs::write(&file, format!("{task}\n")).unwrap();
    let out = dir.path().join("results.jsonl");
    // Nothing listens on port 9: every request fails in the remote engine.
    let options = json!({"engine": {"kind": "llama-server", "url": "http://127.0.0.1:9"}});
    let output = Command::new(env!("CARGO_BIN_EXE_infill"))
        .arg("eval")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--options", &options.to_string()])
        .env("XDG_STATE_HOME", dir.path())
        .output()
        .expect("run infill eval");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let row: Value = serde_json::from_str(std::fs::read_to_string(&out).unwrap().trim()).unwrap();
    let error = row["error"].as_str().unwrap_or_default();
    assert!(error.contains("engineError"), "{row}");
}
