//! `infill complete FILE:LINE:COL`: one completion from the command line through the same
//! session start-up and pipeline the server uses (window → prompt → engine thread →
//! post-processing).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use infill::engine::ModelError;
use infill::models::ModelRef;
use tower_lsp_server::gen_lsp_types::Position;

use infill::config_file;
use infill::documents::PositionEncoding;
use infill::engine::{EngineStatus, JobHandle};
use infill::session::Session;
use infill::workspace::Workspace;

#[derive(clap::Args)]
pub struct CompleteArgs {
    /// Where to complete: FILE:LINE:COL, 1-based, COL in characters.
    location: String,
    /// Print the suggestion with token counts and timings as JSON.
    #[arg(long)]
    json: bool,
    /// Also print the prompt the engine saw.
    #[arg(long)]
    print_prompt: bool,
    /// Most tokens to generate.
    #[arg(long)]
    max_tokens: Option<usize>,
    /// Leave code from other files of the project out of the prompt.
    #[arg(long)]
    no_repo_context: bool,
    /// Any settings, as a JSON object with the server's keys (e.g. '{"temperature": 0.2}').
    /// `--model`, `--max-tokens` and `--no-repo-context` outrank it.
    #[arg(long, value_name = "JSON", value_parser = infill::config::parse_json_object)]
    options: Option<serde_json::Map<String, serde_json::Value>>,
}

pub async fn run(args: CompleteArgs, command_line_model: Option<PathBuf>) -> anyhow::Result<()> {
    let (file, line, column) = parse_location(&args.location)?;
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", file.display()))?;
    // Before anything slow (the model, the index): a wrong position is the user's typo.
    check_position(&file, &text, line, column)?;
    let file = std::fs::canonicalize(&file)?;

    // As the server layers them: defaults < user config file < the project's `.infill.toml` <
    // --options < the flags below.
    let root = crate::cli_document::project_root(&file);
    let (from_files, mut warnings) =
        config_file::layered(config_file::user_file().as_deref(), std::slice::from_ref(&root));
    // One answer and nothing after it: a quick answer from the short prompt would stand in for
    // the whole prompt's with no later request to profit from it (unless --options asks).
    let mut options = args.options.unwrap_or_default();
    options.entry("quickAnswerAfterMs").or_insert(0.into());
    let (mut settings, option_warnings) =
        from_files.merged(Some(&serde_json::Value::Object(options)));
    warnings.extend(option_warnings);
    for warning in warnings {
        eprintln!("infill: {warning}");
    }
    if let Some(max_tokens) = args.max_tokens {
        settings.max_tokens = max_tokens;
    }
    if args.no_repo_context {
        settings.repo_context = false;
    }
    let (documents, document) = crate::cli_document::open(&file, &text)?;
    let position = Position { line: line - 1, character: column - 1 };
    let cursor_char = document
        .offset_of(position, PositionEncoding::Utf32)
        .with_context(|| format!("{}:{line}:{column} is not in the file", file.display()))?;

    // A model named by name or `hf:` is downloaded first, with a progress bar.
    let env_model = std::env::var_os("INFILL_MODEL").filter(|v| !v.is_empty()).map(PathBuf::from);
    // With none configured and no fetched file, the catalogue's default.
    let value = match infill::engine::model::resolve(
        command_line_model.as_deref(),
        settings.model.as_deref(),
        env_model.as_deref(),
        infill::engine::model::default_cache_path().as_deref(),
    ) {
        Ok((value, _)) => Some((value, None)),
        Err(err @ ModelError::NotFound { .. }) => {
            let (value, context) = infill::models::zero_config_default(&err);
            Some((value, Some(context)))
        }
        Err(_) => None,
    };
    if let Some((value, context)) = value
        && !matches!(ModelRef::parse(&value), Ok(ModelRef::Path(_)) | Err(_))
        && infill::models::local_model(&value).is_err()
    {
        if context.is_some() {
            eprintln!("infill: no model configured: using the default, {}", value.display());
        }
        let pulled = {
            let value = value.clone();
            tokio::task::spawn_blocking(move || crate::cli_models::pull(&value)).await?
        };
        match (pulled, context) {
            (Err(err), Some(context)) => bail!("{context}: {err:#}"),
            (pulled, _) => pulled?,
        };
        if command_line_model.is_none() && settings.model.is_none() && env_model.is_none() {
            settings.model = Some(value);
        }
    }

    let started = Instant::now();
    let workspace = Workspace::new(vec![root]);
    let (session, warnings) =
        Session::start(settings, workspace, command_line_model.as_deref(), documents);
    for warning in warnings {
        eprintln!("infill: {warning}");
    }
    let pipeline = &session.pipeline;
    if let EngineStatus::Failed(message) = pipeline.engine.status() {
        bail!("{message}"); // no model found: say so before indexing anything
    }
    // The model loads on the engine thread meanwhile.
    if let Some(context) = &pipeline.context {
        let report = context.index_now();
        tracing::info!(?report, "workspace indexed");
    }
    let info = match pipeline.engine.wait_loaded().await {
        EngineStatus::Ready(info) => info,
        EngineStatus::Failed(message) | EngineStatus::Unreachable(message) => bail!("{message}"),
        EngineStatus::Loading { .. } => bail!("the engine stopped while loading"),
    };
    let Some(suggestion) =
        pipeline.complete(&document, cursor_char, JobHandle::default(), false, None).await?
    else {
        bail!("{} holds secrets: infill never puts such files into a prompt", file.display());
    };
    let generation = &suggestion.generation;
    if args.json {
        let mut report = serde_json::json!({
            "suggestion": suggestion.text,
            "model": info.path,
            "family": info.family,
            "loadMs": info.load_ms,
            "placement": info.placement,
            "promptTokens": generation.prompt_tokens,
            "reusedTokens": generation.reused_tokens,
            "evaluatedTokens": generation.evaluated_tokens,
            "generatedTokens": generation.generated_tokens,
            "promptMs": generation.prompt_ms,
            "generationMs": generation.generation_ms,
            "totalMs": started.elapsed().as_secs_f64() * 1000.0,
            "stop": generation.stop,
            "healed": generation.healed,
            "contextMs": suggestion.context_ms,
            "contextFiles": generation.context_files,
            "confidence": suggestion.confidence,
            "withheld": suggestion.withheld,
        });
        if args.print_prompt {
            report["prompt"] = generation.prompt.clone().into();
        }
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        if args.print_prompt {
            println!("--- prompt ---\n{}\n--- suggestion ---", generation.prompt);
        }
        println!("{}", suggestion.text);
    }
    Ok(())
}

/// FILE:LINE:COL, split from the right so paths may contain ':'.
fn parse_location(location: &str) -> anyhow::Result<(PathBuf, u32, u32)> {
    let mut parts = location.rsplitn(3, ':');
    let (Some(column), Some(line), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        bail!("expected FILE:LINE:COL, got {location:?}");
    };
    let number = |s: &str, what: &str| -> anyhow::Result<u32> {
        match s.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => bail!("{what} must be a number from 1, got {s:?}"),
        }
    };
    Ok((PathBuf::from(file), number(line, "LINE")?, number(column, "COL")?))
}

/// That LINE:COL (1-based, COL in characters) is in `text`, told in the user's own numbers. The
/// line after a final line break exists (it is where one types at the end of a file), and so
/// does the column just past a line's last character.
fn check_position(file: &Path, text: &str, line: u32, column: u32) -> anyhow::Result<()> {
    let rope = ropey::Rope::from_str(text);
    // What an editor numbers: the empty line after a final line break is there to type on, but
    // "it has N lines" counts the lines the file has, as `wc -l` and editors do.
    let lines_in_file =
        rope.len_lines() - usize::from(text.is_empty() || text.ends_with(['\n', '\r']));
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let Some(line_text) = rope.get_line(line as usize - 1) else {
        bail!(
            "line {line} is past the end of {} (it has {})",
            file.display(),
            plural(lines_in_file, "line")
        );
    };
    let line_text = line_text.to_string();
    let characters = line_text.trim_end_matches(['\n', '\r']).chars().count();
    if column as usize > characters + 1 {
        bail!(
            "column {column} is past the end of line {line} ({})",
            plural(characters, "character")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{check_position, parse_location};

    #[test]
    fn positions_are_checked_in_the_users_numbers() {
        let file = Path::new("f.py");
        let text = "def f():\n    return 1\n";
        assert!(check_position(file, text, 1, 1).is_ok());
        assert!(check_position(file, text, 2, 13).is_ok(), "just past the last character");
        assert!(check_position(file, text, 3, 1).is_ok(), "the line after the final break");
        let err = check_position(file, text, 99, 1).unwrap_err().to_string();
        assert_eq!(err, "line 99 is past the end of f.py (it has 2 lines)");
        let err = check_position(file, text, 2, 40).unwrap_err().to_string();
        assert_eq!(err, "column 40 is past the end of line 2 (12 characters)");
        let err = check_position(file, "x", 1, 3).unwrap_err().to_string();
        assert_eq!(err, "column 3 is past the end of line 1 (1 character)");
        let err = check_position(file, "é\r\n", 1, 3).unwrap_err().to_string();
        assert_eq!(err, "column 3 is past the end of line 1 (1 character)");
        assert!(check_position(file, "", 1, 1).is_ok());
        let err = check_position(file, "", 2, 1).unwrap_err().to_string();
        assert_eq!(err, "line 2 is past the end of f.py (it has 0 lines)");
    }

    #[test]
    fn location_parses_from_the_right() {
        let (file, line, col) = parse_location("C:/a:b/x.py:3:9").unwrap();
        assert_eq!((file.to_str().unwrap(), line, col), ("C:/a:b/x.py", 3, 9));
        assert!(parse_location("x.py:3").is_err());
        assert!(parse_location("x.py:0:1").is_err());
        assert!(parse_location("x.py:a:1").is_err());
    }
}
