//! Runs one fuzz target: its corpus, its persisted failures, then generated cases for a bounded
//! number or time, and prints how many cases ran.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};

/// The files of `tests/fuzz/corpus/<target>/`, sorted, with their bytes.
pub fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|err| panic!("corpus {}: {err}", folder.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the {target} corpus is empty");
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

/// The corpus files of `target` read as JSON values.
pub fn json_corpus(target: &str) -> Vec<(PathBuf, serde_json::Value)> {
    corpus(target)
        .into_iter()
        .map(|(path, bytes)| {
            let value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            (path, value)
        })
        .collect()
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(value.trim().parse().unwrap_or_else(|_| panic!("{name}={value:?} is not a number")))
}

/// Checks `test` on generated values of `strategy`: `INFILL_FUZZ_CASES` cases (default
/// `default_cases`), or batches of them (default a twentieth of `default_cases`) until
/// `INFILL_FUZZ_SECONDS` have passed. Failing seeds
/// are saved in `tests/fuzz/regressions/<target>.txt` and tried first on every run. Other
/// `PROPTEST_*` variables (e.g. `PROPTEST_RNG_SEED`, `PROPTEST_MAX_SHRINK_ITERS`) apply too.
pub fn fuzz<S: Strategy>(
    target: &'static str,
    default_cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let seconds = env_number("INFILL_FUZZ_SECONDS");
    // Under a time bound, cases run in small batches so that the bound is kept closely.
    let default_cases = if seconds.is_some() { default_cases / 20 } else { default_cases };
    let cases = env_number("INFILL_FUZZ_CASES").map_or(default_cases, |n| n as u32).max(1);
    let regressions: &'static str =
        Box::leak(format!("tests/fuzz/regressions/{target}.txt").into_boxed_str());
    let config = Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        // A failing case is shrunk for at most this long before it is reported.
        max_shrink_time: 60_000,
        ..Config::default()
    };
    let started = Instant::now();
    let deadline = seconds.map(|s| started + Duration::from_secs(s));
    let mut ran: u64 = 0;
    loop {
        let mut runner = TestRunner::new(config.clone());
        if let Err(failure) = runner.run(&strategy, &test) {
            panic!("fuzz target {target}: {failure}");
        }
        ran += u64::from(cases);
        if deadline.is_none_or(|d| Instant::now() >= d) {
            break;
        }
    }
    eprintln!("fuzz {target}: {ran} generated cases in {:.1} s", started.elapsed().as_secs_f64());
}

/// `TestCaseError::fail` with a message, for `?` in checks.
pub fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if condition { Ok(()) } else { Err(TestCaseError::fail(message())) }
}
