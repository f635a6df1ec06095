//! Fuzzing on stable Rust: property tests (proptest) of the stages that read what an editor or
//! a model sends. Each target states invariants, never expected outputs, and checks them on
//!
//! 1. every file of its corpus, `tests/fuzz/corpus/<target>/` (interesting inputs, kept in the
//!    repository; a case the fuzzer found is added there as a file once it is fixed), then
//! 2. the seeds of past failures in `tests/fuzz/regressions/<target>.txt` (proptest writes them
//!    there when a case fails; commit them), then
//! 3. freshly generated cases: `INFILL_FUZZ_CASES` per target (default: the target's own, a few
//!    seconds in a release build), or as many as fit in `INFILL_FUZZ_SECONDS` per target.
//!
//! `cargo test --release --test fuzz` runs them all (CI does, as part of `cargo test`);
//! `INFILL_FUZZ_SECONDS=600 cargo test --release --test fuzz -- --nocapture framing` fuzzes one
//! target for ten minutes. `docs/fuzzing.md` has more.

mod documents;
mod framing;
mod harness;
mod postprocess;
mod prompt;
mod settings;
