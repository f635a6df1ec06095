//! The engine thread on its own, with the tiny StarCoder2-architecture model: KV-cache reuse is
//! exact, cancellation is honoured, and prompt tokenization agrees with the model's
//! `tokenizer.json`.

mod support;

use std::time::Duration;

use infill::config::{FlashAttention, KvCacheType};
use infill::engine::{
    Engine, EngineConfig, EngineError, EngineStatus, GenerationParams, JobHandle, ModelOrigin,
    Sampling,
};
use infill::prompt::hf_tokenizer::HfTokenCounter;
use infill::prompt::{Budgets, ContextSnippet, FimInput, Stability};
use support::{check_placement, repo_path, test_gpu_layers, tiny_model};

/// One thread and a KV window of `context_size` tokens; on the CPU unless
/// `INFILL_TEST_GPU_LAYERS` says otherwise (`support::test_gpu_layers`).
fn config(context_size: u32) -> EngineConfig {
    EngineConfig { gpu_layers: test_gpu_layers(), ..EngineConfig::cpu(1, context_size) }
}

/// Starts an engine on the tiny model and waits until it is loaded (or failed). Loads are one at
/// a time in this process: ggml's Vulkan backend sets a device up on first use, and two tests
/// doing that at once crashed on Mesa 25's lavapipe (one loading thread called a null Vulkan
/// function while the other was in `vkCreateDevice`). infill loads one model per process.
async fn load(config: EngineConfig) -> (Engine, EngineStatus) {
    static LOADING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = LOADING.lock().await;
    let engine = Engine::start(tiny_model(), ModelOrigin::CommandLine, config);
    let status = engine.wait_loaded().await;
    (engine, status)
}

async fn start() -> Engine {
    let (engine, status) = load(config(2048)).await;
    match status {
        EngineStatus::Ready(info) => {
            assert_eq!(info.family, "starcoder2");
            check_placement(&info.placement);
        }
        other => panic!("tiny model did not load: {other:?}"),
    }
    engine
}

/// Stops the engines of a test whose quick answers left background work running (the whole
/// prompt's filling): a test process that exits while an engine thread computes can crash in
/// OpenMP's exit handlers.
async fn stop_all(engines: &[Engine]) {
    for engine in engines {
        engine.stop().await;
    }
}

fn input(prefix: &str, suffix: &str) -> FimInput {
    FimInput {
        path: "src/lib.py".into(),
        repo_name: Some("proj".into()),
        prefix: prefix.into(),
        suffix: suffix.into(),
        context: Vec::new(),
        prefix_first_line: 0,
        repo_header: Default::default(),
    }
}

fn params(max_tokens: usize) -> GenerationParams {
    GenerationParams {
        max_tokens,
        single_line: false,
        budgets: Budgets::default(),
        sampling: Sampling { temperature: 0.0, top_k: 40, top_p: 0.95, seed: 0 },
        order: None,
        newline_after: None,
        background: false,
        kv_shift: true,
        // Off: these tests check the cache itself; `coming_back_to_a_place_restores_it` below.
        saved_places_bytes: 0,
        sticky_prefix: false,
        typed_middle: false,
        draft_tokens: 0,
        token_healing: false,
        banned_first_token: None,
        quick_answer_after: None,
        early_lines_after: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_reuse_generates_what_a_cold_start_generates() {
    let warm = start().await;
    let cold = start().await;
    let first = input("def add(a, b):\n    return ", "\n");
    let second = input("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return ", "\n");

    let a = warm.generate(first, params(12), JobHandle::default()).await.unwrap();
    assert_eq!(a.reused_tokens, 0, "a new engine has nothing cached");
    let reused = warm.generate(second.clone(), params(12), JobHandle::default()).await.unwrap();
    let fresh = cold.generate(second, params(12), JobHandle::default()).await.unwrap();

    assert!(reused.reused_tokens > 10, "the shared start is reused: {reused:?}");
    assert_eq!(reused.reused_tokens + reused.evaluated_tokens, reused.prompt_tokens);
    assert_eq!(fresh.evaluated_tokens, fresh.prompt_tokens);
    assert_eq!(reused.prompt, fresh.prompt);
    assert_eq!(reused.text, fresh.text, "greedy output must not depend on the cache");
    assert_eq!(reused.generated_tokens, 12);
}

/// A second opinion (`banned_first_token`): from the same cached prompt the model starts with
/// another token, and a cold engine asked the same way agrees (the cache stays exact).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_first_token_gives_another_answer_from_the_same_prompt() {
    let warm = start().await;
    let cold = start().await;
    let hole = input("def add(a, b):\n    return ", "\n");
    let first = warm.generate(hole.clone(), params(6), JobHandle::default()).await.unwrap();
    let banned = first.first_token.expect("the in-process engine knows its first token");
    let second_params = GenerationParams { banned_first_token: Some(banned), ..params(6) };
    let second = warm.generate(hole.clone(), second_params, JobHandle::default()).await.unwrap();
    assert_ne!(second.first_token, Some(banned), "{second:?}");
    assert_ne!(second.text, first.text);
    assert_eq!(second.evaluated_tokens, 1, "the prompt stays cached: {second:?}");
    let fresh = cold.generate(hole, second_params, JobHandle::default()).await.unwrap();
    assert_eq!(fresh.text, second.text, "greedy output must not depend on the cache");
}

/// A quick answer: when the whole prompt would take longer than `quick_answer_after` to
/// evaluate, the engine answers from a short prompt, then evaluates the whole one by itself.
/// The cache is copied out and put back around the short prompt, so the next job there finds
/// the whole prompt cached and answers from it as a cold engine does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_answer_comes_from_a_short_prompt_and_the_whole_one_follows() {
    let warm = start().await;
    let cold = start().await;
    let functions: String =
        (0..120).map(|i| format!("def f{i}(x):\n    return x + {i}\n\n\n")).collect();
    let hole = input(&format!("{functions}def g(a, b):\n    x = a\n"), "\n\n\nprint(g(1, 2))\n");
    // An unrelated prompt first, so that the engine has measured its prompt speed.
    let imports: String = (0..40).map(|i| format!("import mod{i}\n")).collect();
    warm.generate(input(&imports, "\n"), params(2), JobHandle::default()).await.unwrap();

    let always = GenerationParams { quick_answer_after: Some(Duration::ZERO), ..params(24) };
    let before = warm.stats();
    let quick = warm.generate(hole.clone(), always, JobHandle::default()).await.unwrap();
    assert!(quick.quick_answer, "{quick:?}");
    // Its first line only: the short prompt's own answer, asked of a cold engine, goes on.
    let short = Budgets { prefix_tokens: 256, suffix_tokens: 64, repo_context_tokens: 0 };
    let short = GenerationParams { budgets: short, ..params(24) };
    let lines = cold.generate(hole.clone(), short, JobHandle::default()).await.unwrap();
    assert!(lines.text.contains('\n'), "{lines:?}");
    assert_eq!(Some(quick.text.as_str()), lines.text.split('\n').next());
    assert!(quick.prompt_tokens < 400 && quick.evaluated_tokens == quick.prompt_tokens);
    assert!(quick.prompt.contains("def g(a, b):") && !quick.prompt.contains("def f3(x)"));
    // The whole prompt is evaluated after the answer, as background work nobody cancels here.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while warm.stats().background_calls == before.background_calls
        || warm.stats().completed < before.completed + 2
    {
        assert!(std::time::Instant::now() < deadline, "the whole prompt was never evaluated");
        tokio::time::sleep(Duration::from_millis(5)).await; // polling interval, not a timing
    }
    // Asked again there (quick answers still on), the whole prompt answers: it is cached now.
    let whole = warm.generate(hole.clone(), always, JobHandle::default()).await.unwrap();
    assert!(!whole.quick_answer, "{whole:?}");
    assert!(whole.prompt_tokens > 2 * quick.prompt_tokens, "{whole:?}");
    assert_eq!(whole.evaluated_tokens, 1, "the whole prompt was cached: {whole:?}");
    let fresh = cold.generate(hole, params(24), JobHandle::default()).await.unwrap();
    assert_eq!(whole.text, fresh.text, "greedy output must not depend on the cache");
    stop_all(&[warm, cold]).await;
}

/// A quick answer at a place of a file whose front (repository header, other files) the cache
/// holds from a visit elsewhere in the file keeps those files: after them, only the cursor's
/// surroundings are evaluated, and the answer is what a cold engine writes from that prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_answer_keeps_the_other_files_the_cache_holds() {
    let warm = start().await;
    let cold = start().await;
    let helpers = ContextSnippet {
        path: "src/util.py".into(),
        lines: (0..30).map(|i| (i, format!("def helper{i}(x): return x * {i}"))).collect(),
        stability: Stability::Workspace,
    };
    let at = |prefix: &str, suffix: &str| FimInput {
        context: vec![helpers.clone()],
        ..input(prefix, suffix)
    };
    let functions: String =
        (0..120).map(|i| format!("def f{i}(x):\n    return x + {i}\n\n\n")).collect();
    // The first place, near the file's top: its whole prompt, other files first, is cached.
    let first = warm.generate(at("def f(x):\n    return ", "\n"), params(2), JobHandle::default());
    assert_eq!(first.await.unwrap().context_files, ["src/util.py"]);

    let there = at(&format!("{functions}def g(a, b):\n    x = a\n"), "\n\n\nprint(g(1, 2))\n");
    let always = GenerationParams { quick_answer_after: Some(Duration::ZERO), ..params(24) };
    let quick = warm.generate(there.clone(), always, JobHandle::default()).await.unwrap();
    assert!(quick.quick_answer, "{quick:?}");
    assert_eq!(quick.context_files, ["src/util.py"], "{}", quick.prompt);
    assert!(quick.reused_tokens > 200, "the other files came from the cache: {quick:?}");
    assert!(quick.evaluated_tokens < 400, "{quick:?}");
    let short = Budgets { prefix_tokens: 256, suffix_tokens: 64, ..Budgets::default() };
    let short = GenerationParams { budgets: short, ..params(24) };
    let fresh = cold.generate(there, short, JobHandle::default()).await.unwrap();
    assert_eq!(fresh.prompt, quick.prompt);
    assert_eq!(Some(quick.text.as_str()), fresh.text.split('\n').next());
    stop_all(&[warm, cold]).await;
}

/// A warm-up where a request would be answered quickly gets the short prompt ready first: the
/// request there then evaluates only what its short prompt does not share with it (here: none
/// of it, the other files changed), and answers what a cold engine answers from that prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_up_gets_the_quick_answer_s_short_prompt_ready() {
    let warm = start().await;
    let cold = start().await;
    let file = |name: &str| ContextSnippet {
        path: format!("src/{name}.py"),
        lines: (0..30).map(|i| (i, format!("def {name}{i}(x): return x * {i}"))).collect(),
        stability: Stability::Workspace,
    };
    let functions: String =
        (0..120).map(|i| format!("def f{i}(x):\n    return x + {i}\n\n\n")).collect();
    let prefix = format!("{functions}def g(a, b):\n    x = a\n");
    let at =
        |context| FimInput { context: vec![context], ..input(&prefix, "\n\nprint(g(1, 2))\n") };
    // An unrelated prompt first, so that the engine has measured its prompt speed.
    let imports: String = (0..40).map(|i| format!("import mod{i}\n")).collect();
    warm.generate(input(&imports, "\n"), params(2), JobHandle::default()).await.unwrap();

    let always = GenerationParams {
        quick_answer_after: Some(Duration::ZERO),
        saved_places_bytes: 256 << 20,
        ..params(24)
    };
    let warm_up = GenerationParams { background: true, max_tokens: 0, ..always };
    warm.generate(at(file("util")), warm_up, JobHandle::default()).await.unwrap();
    // The other files changed since: the whole prompt is new, the short one is not.
    let quick = warm.generate(at(file("tools")), always, JobHandle::default()).await.unwrap();
    assert!(quick.quick_answer, "{quick:?}");
    assert!(quick.prompt_tokens > 100 && quick.evaluated_tokens <= 2, "{quick:?}");
    let fresh = cold.generate(at(file("tools")), always, JobHandle::default()).await.unwrap();
    assert!(fresh.quick_answer && fresh.evaluated_tokens == fresh.prompt_tokens, "{fresh:?}");
    assert_eq!((&quick.prompt, &quick.text), (&fresh.prompt, &fresh.text));
    stop_all(&[warm, cold]).await;
}

/// A place to type at for the tests of quick answers again: a prefix under the short prompt's
/// budget (so that every engine starts it at its top) ending in `total = `, and a suffix longer
/// than the short prompt's.
fn place_to_type_at() -> (String, String) {
    let prefix: String =
        (0..4).map(|i| format!("def f{i}(x):\n    return x + {i}\n\n\n")).collect();
    let prefix = format!("{prefix}def g(a, b):\n    total = a\n    total = ");
    let suffix: String =
        (0..60).map(|i| format!("\n\n\ndef h{i}(x):\n    return x - {i}")).collect();
    (prefix, suffix)
}

/// `prefix` and `suffix` with one other file, `src/{name}.py`, as repository context.
fn with_other_file(name: &str, prefix: &str, suffix: &str) -> FimInput {
    let snippet = ContextSnippet {
        path: format!("src/{name}.py"),
        lines: (0..30).map(|i| (i, format!("def {name}{i}(x): return x * {i}"))).collect(),
        stability: Stability::Workspace,
    };
    FimInput { context: vec![snippet], ..input(prefix, suffix) }
}

/// A quick answer again at a place reuses the last quick answer's cache: only what is new to
/// its short prompt (the typed text on) is evaluated, and the answer is what a cold engine
/// writes from that prompt. The other files differ between the two jobs, so the whole prompt
/// filled after the first answer cannot serve the second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_answer_again_at_a_place_reuses_the_last_ones_cache() {
    let warm = start().await;
    let cold = start().await;
    let (prefix, suffix) = place_to_type_at();
    let always = GenerationParams {
        quick_answer_after: Some(Duration::ZERO),
        // The last quick answer's cache is kept as a saved place.
        saved_places_bytes: 64 << 20,
        ..params(24)
    };

    let first =
        warm.generate(with_other_file("util", &prefix, &suffix), always, JobHandle::default());
    let first = first.await.unwrap();
    assert!(first.quick_answer, "{first:?}");
    assert!(first.context_files.is_empty(), "nothing of the other files was cached");

    let typed_on = with_other_file("helpers", &format!("{prefix}total + b"), &suffix);
    let again = warm.generate(typed_on.clone(), always, JobHandle::default()).await.unwrap();
    assert!(again.quick_answer, "{again:?}");
    assert!(again.reused_tokens > 40, "the last short prompt came from the cache: {again:?}");
    assert!(again.evaluated_tokens < 80, "{again:?}");
    let fresh = cold.generate(typed_on, always, JobHandle::default()).await.unwrap();
    assert!(fresh.quick_answer && fresh.reused_tokens == 0, "{fresh:?}");
    assert_eq!(fresh.prompt, again.prompt);
    assert_eq!(fresh.text, again.text);
    stop_all(&[warm, cold]).await;
}

/// Typing on at a place answered quickly: the next short prompt there is the last one with the
/// typed text opening its middle, so that only the typed text is evaluated (the suffix after
/// the cursor stays cached), and the answer is what an engine that kept nothing of the last
/// quick answer writes from the same prompt. (The other files differ between the two jobs, as
/// above, so that the whole prompt filled after the first answer cannot serve the second.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_on_after_a_quick_answer_evaluates_only_the_typed_text() {
    let warm = start().await;
    let uncached = start().await;
    let (prefix, suffix) = place_to_type_at();
    let kept = GenerationParams {
        quick_answer_after: Some(Duration::ZERO),
        saved_places_bytes: 64 << 20,
        typed_middle: true,
        ..params(24)
    };
    // No room for the last quick answer's state: the typed prompt is evaluated after whatever
    // sequence 0 shares with it.
    let not_kept = GenerationParams { saved_places_bytes: 0, ..kept };

    let first = with_other_file("util", &prefix, &suffix);
    let a = warm.generate(first.clone(), kept, JobHandle::default()).await.unwrap();
    let b = uncached.generate(first, not_kept, JobHandle::default()).await.unwrap();
    assert!(a.quick_answer && b.quick_answer, "{a:?} {b:?}");

    let typed_on = with_other_file("helpers", &format!("{prefix}total + b"), &suffix);
    let again = warm.generate(typed_on.clone(), kept, JobHandle::default()).await.unwrap();
    assert!(again.quick_answer, "{again:?}");
    assert!(
        again.prompt.starts_with(&a.prompt) && again.prompt.ends_with("total +"),
        "the last short prompt, the typed text (its last token taken back) after it: {}",
        again.prompt
    );
    assert!(again.evaluated_tokens <= 4, "only the typed text: {again:?}");
    let other = uncached.generate(typed_on, not_kept, JobHandle::default()).await.unwrap();
    assert_eq!(other.prompt, again.prompt);
    assert!(other.evaluated_tokens > again.evaluated_tokens + 40, "{other:?}");
    assert_eq!(other.text, again.text, "greedy output must not depend on the cache");
    assert_eq!(other.healed, again.healed);
    stop_all(&[warm, uncached]).await;
}

/// A multi-line suggestion still being written past `early_lines_after` publishes its whole
/// lines so far on the job's handle and writes on: the final text goes on from them, and is
/// what the engine writes without publishing anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_lines_are_published_while_the_rest_is_written() {
    let engine = start().await;
    let hole = input("def add(a, b):\n    ", "\n");
    let whole = engine.generate(hole.clone(), params(32), JobHandle::default()).await.unwrap();
    assert!(whole.text.trim_end().contains('\n'), "a multi-line answer to split: {whole:?}");

    let handle = JobHandle::default();
    let early = GenerationParams { early_lines_after: Some(Duration::ZERO), ..params(32) };
    let last = engine.generate(hole, early, handle.clone()).await.unwrap();
    // A guard against a hang, not a timing: the lines were published before the job ended.
    let lines = tokio::time::timeout(Duration::from_secs(5), handle.early_lines()).await;
    let lines = lines.expect("whole lines were published");
    assert_eq!(last.text, whole.text, "publishing changes nothing in what is written");
    let rest = last.text.strip_prefix(lines.text.as_str()).expect("the lines start the text");
    assert!(rest.starts_with('\n'), "whole lines only: {lines:?} then {rest:?}");
    assert!(!lines.text.trim().is_empty());
    assert!(lines.generated_tokens < last.generated_tokens);
    let probabilities = &lines.token_logprobs;
    assert!(!probabilities.is_empty() && probabilities.iter().all(|t| t.end <= lines.text.len()));
    stop_all(&[engine]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_is_not_run() {
    let engine = start().await;
    let cancel = JobHandle::default();
    cancel.cancel();
    let result = engine.generate(input("x = ", ""), params(8), cancel).await;
    assert!(matches!(result, Err(EngineError::Cancelled)), "{result:?}");
    // The engine is still serving.
    let ok = engine.generate(input("x = ", ""), params(8), JobHandle::default()).await;
    assert_eq!(ok.unwrap().generated_tokens, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_tokens_agree_with_the_models_tokenizer_json() {
    let engine = start().await;
    let hf =
        HfTokenCounter::from_file(&repo_path("assets/tiny-starcoder2.tokenizer.json")).unwrap();
    for (prefix, suffix) in [
        ("fn main() {\n    let x = 12345;\n    println!(\"{x}\");", "\n}\n"),
        ("# 日本語のコメント\ns = \"😀 𝕏\"\n", "\r\n\tpass\r\n"),
        ("    \n\n  trailing   ", "   \n"),
    ] {
        let generation =
            engine.generate(input(prefix, suffix), params(1), JobHandle::default()).await.unwrap();
        let expected = hf.encode(&generation.prompt).len();
        assert_eq!(generation.prompt_tokens, expected, "prompt {:?}", generation.prompt);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_long_a_prompt_is_an_error_not_a_crash() {
    let config = config(64);
    let (engine, _) = load(config).await;
    let long = "x = 1\n".repeat(200);
    let result = engine.generate(input(&long, ""), params(8), JobHandle::default()).await;
    assert!(matches!(result, Err(EngineError::PromptTooLong { .. })), "{result:?}");
    // An enormous maxTokens must not wrap the length check around.
    let result = engine.generate(input("x = ", ""), params(usize::MAX), JobHandle::default()).await;
    assert!(matches!(result, Err(EngineError::PromptTooLong { .. })), "{result:?}");
}

/// A context smaller than a prompt chunk (llama.cpp caps its batch at the context asked for)
/// once aborted the process in `llama_decode` (`GGML_ASSERT(n_tokens_all <= n_batch)`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_context_size_never_aborts_the_process() {
    for context_size in [1, 100, 255] {
        let config = config(context_size);
        let (engine, status) = load(config).await;
        assert!(matches!(status, EngineStatus::Ready(_)));
        for lines in [5, 20, 40, 200] {
            let prefix = "x = 1\n".repeat(lines);
            let result = engine.generate(input(&prefix, ""), params(4), JobHandle::default()).await;
            assert!(
                matches!(result, Ok(_) | Err(EngineError::PromptTooLong { .. })),
                "contextSize {context_size}, {lines} lines: {result:?}"
            );
        }
        engine.stop().await;
    }
}

/// A quantized KV cache (`kvCacheType`) without flash attention is refused at load, naming both
/// settings. (That it loads and answers with flash attention is `lsp_real_model`'s: the tiny
/// model's 16-wide heads do not hold 32-wide quantized blocks.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quantized_kv_cache_without_flash_attention_is_refused_with_the_settings_names() {
    let config = EngineConfig {
        flash_attention: FlashAttention::Off,
        kv_cache_type: KvCacheType::Q8_0,
        ..config(512)
    };
    match load(config).await.1 {
        EngineStatus::Failed(message) => {
            assert!(message.contains("flashAttention") && message.contains("q8_0"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_family_the_vocabulary_lacks_fails_to_load_with_a_reason() {
    let config = EngineConfig { family: Some("qwen2.5-coder".into()), ..config(512) };
    match load(config).await.1 {
        EngineStatus::Failed(message) => assert!(message.contains("<|fim_prefix|>"), "{message}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_before_the_suffix_shifts_the_suffix_instead_of_evaluating_it() {
    let engine = start().await;
    let suffix = "\n\n\ndef sub(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n";
    let before = input("def add(a, b):\n    return a", suffix);
    let typed = input("def add(a, b):\n    return a + b", suffix);
    engine.generate(before, params(4), JobHandle::default()).await.unwrap();

    let shifted = engine.generate(typed.clone(), params(4), JobHandle::default()).await.unwrap();
    assert_eq!(shifted.reused_tokens + shifted.evaluated_tokens, shifted.prompt_tokens);
    assert!(
        shifted.evaluated_tokens <= 6,
        "only the typed tokens and the last one are evaluated: {shifted:?}"
    );
    // The cache now holds exactly the new prompt: asking again re-evaluates its last token only.
    let again = engine.generate(typed.clone(), params(4), JobHandle::default()).await.unwrap();
    assert_eq!(again.evaluated_tokens, 1, "{again:?}");

    // Without shifting, everything after the edit is evaluated again.
    let cold = start().await;
    let no_shift = GenerationParams { kv_shift: false, ..params(4) };
    cold.generate(input("def add(a, b):\n    return a", suffix), no_shift, JobHandle::default())
        .await
        .unwrap();
    let plain = cold.generate(typed, no_shift, JobHandle::default()).await.unwrap();
    assert!(plain.evaluated_tokens > shifted.evaluated_tokens + 16, "{plain:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_long_generation_stops_it_within_one_token() {
    let engine = start().await;
    let cancel = JobHandle::default();
    let job = {
        let (engine, cancel) = (engine.clone(), cancel.clone());
        tokio::spawn(async move { engine.generate(input("x = ", ""), params(1900), cancel).await })
    };
    // Poll (no sleep) until the engine is generating.
    while engine.stats().generated_tokens < 3 {
        tokio::task::yield_now().await;
    }
    cancel.cancel();
    let at_cancel = engine.stats().generated_tokens;
    let result = job.await.unwrap();
    assert!(matches!(result, Err(EngineError::Cancelled)), "{result:?}");
    let after = engine.stats().generated_tokens;
    assert!(after - at_cancel <= 1, "{} tokens after the cancel", after - at_cancel);
}

/// A job cancelled while it evaluates its prompt leaves the chunks it finished in the KV cache:
/// asked again at the same place, the engine reuses them instead of evaluating them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_cancelled_part_way_leaves_its_evaluated_chunks_for_the_next_job() {
    let engine = start().await;
    // The cancel has to land between two chunks of the prompt: poll for the first chunk, then
    // raise it; if the whole prompt got evaluated first, try again with a new prompt (new from
    // its first line, as the prompt keeps only the prefix's last lines).
    for attempt in 0..20 {
        let prefix: String = (0..250).map(|i| format!("x{i} = {}\n", i + 1000 * attempt)).collect();
        let cancel = JobHandle::default();
        let before = engine.stats().evaluated_tokens;
        let job = {
            let (engine, cancel, prefix) = (engine.clone(), cancel.clone(), prefix.clone());
            tokio::spawn(
                async move { engine.generate(input(&prefix, ""), params(1), cancel).await },
            )
        };
        while engine.stats().evaluated_tokens == before {
            tokio::task::yield_now().await;
        }
        cancel.cancel();
        match job.await.unwrap() {
            Err(EngineError::Cancelled) => {}
            finished => {
                assert!(finished.is_ok(), "{finished:?}");
                continue;
            }
        }
        let evaluated = (engine.stats().evaluated_tokens - before) as usize;

        let again = engine.generate(input(&prefix, ""), params(1), JobHandle::default()).await;
        let again = again.unwrap();
        if evaluated >= again.prompt_tokens {
            continue;
        }
        // Reused: what the cancelled job evaluated, and the few tokens of prompt header it had
        // itself found in the cache.
        assert!(again.reused_tokens >= evaluated, "{evaluated} evaluated, then {again:?}");
        assert_eq!(again.reused_tokens + again.evaluated_tokens, again.prompt_tokens);
        return;
    }
    panic!("in 20 tries, no cancel landed while a prompt was being evaluated");
}

/// The engine's prompt chunk (`PROMPT_CHUNK` in `engine::kv`).
const CHUNK: usize = 256;

/// A prompt of several chunks, and a cold engine's greedy answer to it.
async fn several_chunks() -> (FimInput, infill::engine::Generation) {
    let cold = start().await;
    let body: String = (0..60).map(|i| format!("    total += values[{i}] * {i}\n")).collect();
    let prompt = input(&format!("def weigh(values):\n    total = 0\n{body}    return "), "\n");
    let expected = cold.generate(prompt.clone(), params(8), JobHandle::default()).await.unwrap();
    assert!(expected.prompt_tokens > 3 * CHUNK, "several chunks: {}", expected.prompt_tokens);
    (prompt, expected)
}

/// A cancel stops even a prompt chunk being decoded, and leaves the KV cache exact: the next
/// prompt reuses only the chunks that were finished, and its greedy text is a cold engine's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_inside_a_decode_stops_it_and_keeps_the_cache_exact() {
    let warm = start().await;
    let (prompt, expected) = several_chunks().await;

    // Cancelled at the first check of the first chunk's decode: nothing of it stays.
    let job = JobHandle::default();
    job.cancel_inside_decode(1, true);
    let result = warm.generate(prompt.clone(), params(8), job).await;
    assert!(matches!(result, Err(EngineError::Cancelled)), "{result:?}");
    let next = warm.generate(prompt.clone(), params(8), JobHandle::default()).await.unwrap();
    assert_eq!(next.reused_tokens, 0, "the aborted chunk was not kept");
    assert_eq!(next.text, expected.text);

    // Later and later inside the evaluation: what was finished is reused, nothing else.
    let other = input("x = 1\n", "\n"); // moves the cache away from the prompt
    warm.generate(other.clone(), params(1), JobHandle::default()).await.unwrap();
    let shared = warm.generate(prompt.clone(), params(1), JobHandle::default()).await.unwrap();
    let shared = shared.reused_tokens; // the repository header both prompts start with
    let mut cancelled_later = 0;
    for checks in (1..20).map(|n| 1u32 << n) {
        warm.generate(other.clone(), params(1), JobHandle::default()).await.unwrap();
        let job = JobHandle::default();
        job.cancel_inside_decode(checks, true);
        match warm.generate(prompt.clone(), params(8), job).await {
            Err(EngineError::Cancelled) => {}
            Ok(_) => break, // the whole job ran within `checks` checks
            Err(other) => panic!("{other:?}"),
        }
        let next = warm.generate(prompt.clone(), params(8), JobHandle::default()).await.unwrap();
        let kept = next.reused_tokens;
        assert_eq!(next.text, expected.text, "after a cancel at check {checks}");
        // The start shared with `other`, then whole chunks; or, when the cancel came after the
        // prompt (while generating), the whole prompt but its last token (evaluated for logits).
        assert!(kept >= shared, "reused {kept} after a cancel at check {checks}");
        if kept == next.prompt_tokens - 1 {
            continue;
        }
        assert_eq!((kept - shared) % CHUNK, 0, "reused {kept} after a cancel at check {checks}");
        if kept > shared {
            cancelled_later += 1;
        }
    }
    assert!(cancelled_later > 0, "some cancel landed in a later chunk");
}

/// A cancel with no other job waiting (the user typed on and the typing-through cache answered)
/// lets the prompt chunk being decoded finish: it stays in the cache for the next prompt there,
/// the job stops after it, and the next greedy text is still a cold engine's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_that_nobody_waits_on_finishes_the_chunk_and_keeps_it() {
    let warm = start().await;
    let (prompt, expected) = several_chunks().await;

    // Cancelled at the first check of the first chunk's decode, as an interrupt would be.
    let job = JobHandle::default();
    job.cancel_inside_decode(1, false);
    let result = warm.generate(prompt.clone(), params(8), job).await;
    assert!(matches!(result, Err(EngineError::Cancelled)), "{result:?}");
    let stats = warm.stats();
    assert_eq!((stats.cancelled, stats.cancels_finishing_chunk), (1, 1), "{stats:?}");
    assert!(stats.cancel_delays_ms.is_empty(), "nobody waited: {stats:?}");
    assert_eq!(stats.finishing_chunk_ms.len(), 1);
    let next = warm.generate(prompt.clone(), params(8), JobHandle::default()).await.unwrap();
    assert_eq!(next.reused_tokens, CHUNK, "the first chunk was finished and kept, no more");
    assert_eq!(next.text, expected.text);
}

/// A jump away saves the place the cursor left; coming back restores it instead of evaluating it
/// again, and the greedy text is a cold engine's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coming_back_to_a_place_restores_it_exactly() {
    let warm = start().await;
    let cold = start().await;
    let places = GenerationParams { saved_places_bytes: 256 << 20, kv_shift: false, ..params(8) };
    let body = |name: &str| -> String {
        (0..40).map(|i| format!("    {name} += values[{i}] * {i}\n")).collect()
    };
    let place = |name: &str, typed: &str| {
        input(&format!("def {name}(values):\n    {name} = 0\n{}    {typed}", body(name)), "\n")
    };
    let first = warm.generate(place("weigh", "ret"), places, JobHandle::default()).await.unwrap();
    assert!(first.prompt_tokens > 3 * CHUNK, "several chunks: {}", first.prompt_tokens);
    warm.generate(place("count", "ret"), places, JobHandle::default()).await.unwrap();
    assert_eq!(warm.stats().places_saved, 1, "leaving `weigh` saved it");

    let back = warm.generate(place("weigh", "retu"), places, JobHandle::default()).await.unwrap();
    let stats = warm.stats();
    assert_eq!(stats.places_restored, 1, "{stats:?}");
    assert_eq!(stats.places_saved, 2, "leaving `count` saved it too");
    assert!(back.evaluated_tokens < 16, "only the cursor's tail is evaluated: {back:?}");
    let expected =
        cold.generate(place("weigh", "retu"), places, JobHandle::default()).await.unwrap();
    assert_eq!(expected.evaluated_tokens, expected.prompt_tokens);
    assert_eq!(back.prompt, expected.prompt);
    assert_eq!(back.text, expected.text, "greedy output must not depend on the restore");

    // And back at `count`, which was saved when the cursor left it for the second time.
    let count = warm.generate(place("count", "re"), places, JobHandle::default()).await.unwrap();
    assert_eq!(warm.stats().places_restored, 2);
    let expected = cold.generate(place("count", "re"), places, JobHandle::default()).await.unwrap();
    assert_eq!(count.text, expected.text);

    // Switched off, nothing is saved.
    let off = GenerationParams { saved_places_bytes: 0, ..places };
    let before = warm.stats();
    warm.generate(place("other", "x"), off, JobHandle::default()).await.unwrap();
    warm.generate(place("weigh", "x"), off, JobHandle::default()).await.unwrap();
    let after = warm.stats();
    assert_eq!(
        (after.places_saved, after.places_restored),
        (before.places_saved, before.places_restored)
    );
}

/// A jump 16 lines down the file keeps the prefix start of the prompt before it (its text up to
/// the old cursor stays cached) where the plain cut would move the start by one anchor and make
/// the whole file part new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jump_down_the_file_keeps_the_prefix_start_and_its_cache() {
    let lines: Vec<String> = (0..140).map(|i| format!("total += values[{i}] * {i}\n")).collect();
    let at = |line: usize| {
        let mut hole = input(&format!("{}x = ", lines[..line].concat()), "\n");
        hole.suffix = format!("\n{}", lines[line..].concat());
        hole
    };
    let budgets = Budgets { prefix_tokens: 512, suffix_tokens: 32, repo_context_tokens: 0 };
    let sticky = GenerationParams { budgets, sticky_prefix: true, kv_shift: false, ..params(4) };
    let plain = GenerationParams { sticky_prefix: false, ..sticky };
    let (kept, moved) = (start().await, start().await);
    let before = kept.generate(at(100), sticky, JobHandle::default()).await.unwrap();
    moved.generate(at(100), plain, JobHandle::default()).await.unwrap();
    let after_kept = kept.generate(at(116), sticky, JobHandle::default()).await.unwrap();
    let after_moved = moved.generate(at(116), plain, JobHandle::default()).await.unwrap();

    // The file text of the first prompt starts at this line.
    let first_line = before.prompt.split("src/lib.py\n").nth(1).unwrap().lines().next().unwrap();
    assert!(after_kept.prompt.contains(first_line), "{}", after_kept.prompt);
    assert!(!after_moved.prompt.contains(first_line), "{}", after_moved.prompt);
    assert!(
        after_kept.reused_tokens > after_moved.reused_tokens + 64,
        "kept {after_kept:?}\nmoved {after_moved:?}"
    );
}

/// Typing at the last prompt's cursor continues that prompt with the typed text after its
/// middle token: only the typed tokens are evaluated, where a fresh prompt evaluates the suffix
/// again. Both prompts hold the same text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_at_the_cursor_keeps_the_suffix_in_the_cache() {
    let suffix =
        format!("\n{}", (0..40).map(|i| format!("y{i} = f(x, {i})\n")).collect::<String>());
    let before = input("def f(x):\n    return x\n\nx = ", &suffix);
    let typed = input("def f(x):\n    return x\n\nx = f(3", &suffix);
    let on = GenerationParams { typed_middle: true, kv_shift: false, ..params(4) };
    let off = GenerationParams { typed_middle: false, ..on };
    let (continuing, fresh) = (start().await, start().await);
    for (engine, params) in [(&continuing, on), (&fresh, off)] {
        engine.generate(before.clone(), params, JobHandle::default()).await.unwrap();
    }
    let continued = continuing.generate(typed.clone(), on, JobHandle::default()).await.unwrap();
    let rebuilt = fresh.generate(typed, off, JobHandle::default()).await.unwrap();

    // The typed text's last token is taken back and written again by the model (healed).
    let typed_prompt = format!("{}{}", continued.prompt, continued.healed);
    assert!(typed_prompt.ends_with("<fim_middle>f(3"), "{typed_prompt}");
    assert!(rebuilt.prompt.ends_with(&format!("x = f(3<fim_suffix>{suffix}<fim_middle>")));
    // Only the typed text is new to the model; the fresh prompt evaluates the suffix again.
    assert!(continued.evaluated_tokens <= 4, "{continued:?}");
    assert!(rebuilt.evaluated_tokens > 100, "{rebuilt:?}");
    // The same text, cut into tokens apart at the old cursor.
    assert!(continued.prompt_tokens.abs_diff(rebuilt.prompt_tokens) <= 2);
}

/// Speculative decoding from the prompt writes exactly what one-token greedy decoding writes,
/// whether its drafts are confirmed or rejected, and leaves the cache exact for the next job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafted_tokens_change_nothing_in_the_text() {
    let plain = start().await;
    let drafting = start().await;
    let draft = GenerationParams { draft_tokens: 8, ..params(48) };
    let one_by_one = GenerationParams { draft_tokens: 0, ..params(48) };
    let lines: String = (0..12).map(|i| format!("    self.f{i} = f{i}\n")).collect();
    let prompts = [
        input(&format!("class P:\n  def __init__(self, f0, f1):\n{lines}    self."), "\n"),
        input("def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return ", "\n"),
        input("x = [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, ", "]\n"),
    ];
    for prompt in prompts {
        let expected = plain.generate(prompt.clone(), one_by_one, JobHandle::default()).await;
        let got = drafting.generate(prompt.clone(), draft, JobHandle::default()).await;
        let (expected, got) = (expected.unwrap(), got.unwrap());
        assert_eq!(got.text, expected.text, "{}", expected.prompt);
        assert_eq!(got.generated_tokens, expected.generated_tokens);
        // The next job reuses the cache the drafts went through.
        let again = drafting.generate(prompt, one_by_one, JobHandle::default()).await.unwrap();
        assert_eq!(again.text, expected.text);
    }
    let stats = drafting.stats();
    // Both paths ran: drafts confirmed, and drafts rejected and removed from the cache.
    assert!(stats.accepted_drafts > 0, "{stats:?}");
    assert!(stats.accepted_drafts < stats.drafted_tokens, "{stats:?}");
    assert_eq!(plain.stats().drafted_tokens, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_split_by_the_cursor_is_taken_back_and_written_again() {
    let engine = start().await;
    let split = input("def add(a, b):\n    return ", "\n");
    let healing = GenerationParams { token_healing: true, ..params(6) };
    let healed = engine.generate(split.clone(), healing, JobHandle::default()).await.unwrap();
    assert_eq!(healed.healed, " ", "the lone space token goes back to the model");
    assert!(healed.prompt.contains("    return<fim_suffix>"), "{}", healed.prompt);

    let plain = engine.generate(split, params(6), JobHandle::default()).await.unwrap();
    assert_eq!(plain.healed, "");
    assert!(plain.prompt.contains("    return <fim_suffix>"), "{}", plain.prompt);

    // A line break is a token boundary: nothing to take back at the start of a line.
    let line_start = input("def add(a, b):\n", "\n");
    let whole = engine.generate(line_start, healing, JobHandle::default()).await.unwrap();
    assert_eq!(whole.healed, "");
}
