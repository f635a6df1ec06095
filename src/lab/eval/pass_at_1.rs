//! pass@1: run `prefix + completion + suffix + test` in a separate Python process with a time
//! limit. Never in this process: the code is model output.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use wait_timeout::ChildExt;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Passed,
    Failed { stderr_tail: String },
    TimedOut,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Self::Passed)
    }
}

/// Runs `program` with `python3` from a temporary file; kills it after `limit`.
pub fn run_python(program: &str, limit: Duration) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("candidate.py");
    std::fs::write(&file, program)?;
    let mut command = Command::new("python3");
    command
        .arg(&file)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    contain(&mut command, limit);
    let mut child = command.spawn().map_err(|e| anyhow::anyhow!("cannot run python3: {e}"))?;
    let Some(status) = child.wait_timeout(limit)? else {
        let _ = child.kill();
        let _ = child.wait();
        return Ok(Outcome::TimedOut);
    };
    if status.success() {
        return Ok(Outcome::Passed);
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    let tail: String = stderr
        .lines()
        .rev()
        .take(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    Ok(Outcome::Failed { stderr_tail: tail })
}

/// Makes the candidate die with `infill eval` and bounds its CPU time, so that an endless loop
/// in model output cannot outlive a stopped or killed evaluation (it used to keep a core busy).
#[cfg(unix)]
fn contain(command: &mut Command, limit: Duration) {
    use std::os::unix::process::CommandExt;
    let seconds = limit.as_secs() + 2;
    // SAFETY: only async-signal-safe system calls run between fork and exec.
    unsafe {
        command.pre_exec(move || {
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            let cpu = libc::rlimit { rlim_cur: seconds, rlim_max: seconds };
            libc::setrlimit(libc::RLIMIT_CPU, &cpu);
            Ok(())
        });
    }
}

#[cfg(not(unix))]
fn contain(_command: &mut Command, _limit: Duration) {}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECK: &str = "\ndef check(f):\n    assert f(3) == 2\n\ncheck(fib)\n";

    #[test]
    fn a_correct_completion_passes() {
        let program =
            format!("def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n{CHECK}");
        assert_eq!(run_python(&program, Duration::from_secs(20)).unwrap(), Outcome::Passed);
    }

    #[test]
    fn a_wrong_completion_fails_with_its_error() {
        let program = format!("def fib(n):\n    return n\n{CHECK}");
        match run_python(&program, Duration::from_secs(20)).unwrap() {
            Outcome::Failed { stderr_tail } => {
                assert!(stderr_tail.contains("AssertionError"), "{stderr_tail}")
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_candidate_dies_with_the_evaluation_and_has_a_cpu_limit() {
        // The candidate checks on itself: PR_GET_PDEATHSIG is 2, SIGKILL 9.
        let program = "import ctypes, resource\n\
            libc = ctypes.CDLL(None)\n\
            signal = ctypes.c_int()\n\
            assert libc.prctl(2, ctypes.byref(signal)) == 0\n\
            assert signal.value == 9, signal.value\n\
            assert resource.getrlimit(resource.RLIMIT_CPU) == (12, 12)\n";
        assert_eq!(run_python(program, Duration::from_secs(10)).unwrap(), Outcome::Passed);
    }

    #[test]
    fn an_endless_completion_is_stopped() {
        let program = "while True:\n    pass\n";
        assert_eq!(run_python(program, Duration::from_millis(300)).unwrap(), Outcome::TimedOut);
    }
}
