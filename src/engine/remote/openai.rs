//! OpenAI-compatible `/v1/completions` (vLLM, SGLang, LM Studio, llama-server): infill's prompt
//! as raw text in `prompt` (never `suffix`, which vLLM rejects), at most four of the family's
//! tokens as `stop` strings (OpenAI's and vLLM's limit; the decoding stops at the others),
//! special tokens kept in the streamed text (vLLM drops them unless told, and then no stop
//! string or cut could see them). Counts come from a `/tokenize` at the server's root when it
//! has one (llama-server's or vLLM's request), else from the estimate (`tokens::estimate`).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::family;
use super::http::Http;
use super::tokens::{Shape, Tokenizer};
use super::{Done, DoneReason, Event, Piece, Probe, ProbeError, Request, escaped, sse_json};
use crate::prompt::{self, FimTemplate};

/// The server's model list (also the check that it answers), the family (from `/tokenize` if
/// there is one, else `family`, else the model's name) and the counting method.
pub fn probe(
    http: &Http,
    root: &str,
    model: Option<&str>,
    forced_family: Option<&str>,
) -> Result<Probe, ProbeError> {
    let models = http.get_json("/models")?;
    let first = models["data"].as_array().and_then(|m| m.first());
    let listed = first.and_then(|m| m["id"].as_str());
    let model = model.or(listed).unwrap_or("default").to_string();
    // vLLM lists its context window with the model.
    let context_size = first.and_then(|m| m["max_model_len"].as_u64()).map(|n| n as usize);
    // A tokenizer at the server's root, if it has one (in either request shape), counts exactly.
    let tokenizer = [Shape::LlamaServer, Shape::OpenAiServer]
        .into_iter()
        .map(|shape| Tokenizer::new(format!("{root}/tokenize"), shape))
        .find(|tokenizer| tokenizer.tokenize(http, "x", false).is_ok());
    let mut special_ids: HashMap<&'static str, u32> = HashMap::new();
    if let Some(tokenizer) = &tokenizer {
        for text in prompt::template::all_special_texts() {
            if let Ok([id]) = tokenizer.tokenize(http, text, true).as_deref() {
                special_ids.insert(text, *id);
            }
        }
    }
    // The vocabulary counts only when the tokenizer showed it parses special tokens at all;
    // then one without any family's tokens is a chat model's.
    let has_token = |text: &str| special_ids.contains_key(text);
    let vocabulary = (!special_ids.is_empty()).then_some(&has_token as &dyn Fn(&str) -> bool);
    let (template, family_from) = family::choose(forced_family, vocabulary, &model)
        .map_err(|err| ProbeError::family(http, err))?;
    let tokenizer = tokenizer.filter(|_| !special_ids.is_empty());
    // vLLM can heal: `/detokenize` names the last token, `structured_outputs` constrains the
    // first generated ones. Other servers' extensions differ, so they get fresh prompts.
    let vllm = first.is_some_and(|m| m["owned_by"] == "vllm");
    let heals = vllm
        && tokenizer.as_ref().is_some_and(|t| {
            t.shape == Shape::OpenAiServer
                && t.last_piece(http, "fn main").is_ok_and(|piece| piece.is_some())
        });
    Ok(Probe {
        template,
        family_from,
        model,
        context_size,
        tokenize: tokenizer,
        heals,
        special_ids,
        bos: None,
    })
}

/// The most `stop` strings OpenAI's API and vLLM (by default) accept.
const MAX_STOP_STRINGS: usize = 4;

pub fn request(
    template: &FimTemplate,
    model: &str,
    prompt: &str,
    request: &Request,
) -> (&'static str, Value) {
    let sampling = &request.sampling;
    let stop: Vec<_> = request.stop_strings(template).into_iter().take(MAX_STOP_STRINGS).collect();
    let mut body = json!({
        "model": model,
        "prompt": prompt,
        "max_tokens": request.max_tokens.max(1),
        "stream": true,
        "stop": stop,
        "skip_special_tokens": false,
        "logprobs": 1,
        "seed": sampling.seed,
        "temperature": sampling.temperature.max(0.0),
    });
    if sampling.temperature > 0.0 {
        body["top_p"] = json!(sampling.top_p.clamp(0.0, 1.0));
    }
    if !request.forced_start.is_empty() {
        // Token healing (vLLM only, see `probe`): the text taken back from the prompt's end
        // first, in the model's own tokens, then anything.
        let regex = format!("{}[\\s\\S]*", regex_literal(&request.forced_start));
        body["structured_outputs"] = json!({"regex": regex});
    }
    ("/completions", body)
}

/// `text` as a regular expression that matches exactly it: regex syntax escaped, control
/// characters as `\xHH`.
fn regex_literal(text: &str) -> String {
    escaped(text, "\\.^$|?*+()[]{}/-")
}

/// One server-sent event line.
pub fn parse(line: &str) -> Result<Event, String> {
    let Some(event) = sse_json(line)? else { return Ok(Event::Ignore) };
    let choice = event["choices"].get(0).ok_or("an event without `choices`")?;
    let text = choice["text"].as_str().unwrap_or_default().to_string();
    let piece = Piece { logprobs: logprobs(&choice["logprobs"]), text, ids: Vec::new() };
    let reason = match choice["finish_reason"].as_str() {
        None => return Ok(Event::Piece(piece)),
        Some("length") => DoneReason::Length,
        // vLLM names the stop string it met.
        Some(_) if choice["stop_reason"].as_str() == Some("\n") => DoneReason::EndOfLine,
        Some(_) => DoneReason::Stop,
    };
    // llama-server adds its own figures to the last event; others may give `usage`.
    let (timings, usage) = (&event["timings"], &event["usage"]);
    let count = |value: &Value| value.as_u64().map(|n| n as usize);
    let cached = count(&usage["prompt_tokens_details"]["cached_tokens"]);
    let evaluated = count(&timings["prompt_n"])
        .or_else(|| count(&usage["prompt_tokens"])?.checked_sub(cached?));
    Ok(Event::Done(Done {
        reason,
        piece: (!piece.text.is_empty()).then_some(piece),
        prompt: None,
        cached,
        evaluated,
        prompt_ms: timings["prompt_ms"].as_f64(),
    }))
}

/// (byte length, log-probability) per token: OpenAI's legacy `tokens`/`token_logprobs`, or
/// llama-server's `content` list.
fn logprobs(logprobs: &Value) -> Option<Vec<(usize, f32)>> {
    if let Some(content) = logprobs["content"].as_array() {
        return content
            .iter()
            .map(|p| {
                let len = p["bytes"].as_array().map_or(0, Vec::len);
                Some((len, p["logprob"].as_f64()? as f32))
            })
            .collect();
    }
    let tokens = logprobs["tokens"].as_array()?;
    let values = logprobs["token_logprobs"].as_array()?;
    tokens
        .iter()
        .zip(values)
        .map(|(token, logprob)| Some((token.as_str()?.len(), logprob.as_f64()? as f32)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_to_write_again_becomes_a_regex_of_itself() {
        assert_eq!(regex_literal(" Hash"), " Hash");
        assert_eq!(regex_literal("a.b(c)*"), r"a\.b\(c\)\*");
        assert_eq!(regex_literal("\t[x]\\"), r"\x09\[x\]\\");
    }

    #[test]
    fn the_server_s_prompt_figures_are_read_from_the_last_event() {
        let llama_server = r#"data: {"choices":[{"text":"","finish_reason":"length"}],"usage":{"prompt_tokens":22,"prompt_tokens_details":{"cached_tokens":5}},"timings":{"cache_n":5,"prompt_n":17,"prompt_ms":569.5}}"#;
        let Ok(Event::Done(done)) = parse(llama_server) else { panic!() };
        assert_eq!((done.cached, done.evaluated, done.prompt_ms), (Some(5), Some(17), Some(569.5)));
        let usage_only = r#"data: {"choices":[{"text":"","finish_reason":"stop"}],"usage":{"prompt_tokens":22,"prompt_tokens_details":{"cached_tokens":20}}}"#;
        let Ok(Event::Done(done)) = parse(usage_only) else { panic!() };
        assert_eq!((done.cached, done.evaluated, done.prompt_ms), (Some(20), Some(2), None));
        let nothing = r#"data: {"choices":[{"text":"","finish_reason":"stop"}],"usage":{"prompt_tokens":2,"prompt_tokens_details":{"cached_tokens":20}}}"#;
        let Ok(Event::Done(done)) = parse(nothing) else { panic!() };
        assert_eq!(done.evaluated, None, "a cache larger than the prompt says nothing");
    }

    #[test]
    fn both_logprob_shapes_and_the_finish_reason_are_read() {
        let vllm = r#"data: {"choices":[{"text":" n","logprobs":{"tokens":[" n"],"token_logprobs":[-0.5]},"finish_reason":null}]}"#;
        let Ok(Event::Piece(piece)) = parse(vllm) else { panic!() };
        assert_eq!((piece.text.as_str(), piece.logprobs), (" n", Some(vec![(2, -0.5)])));
        let llama = r#"data: {"choices":[{"text":"1","logprobs":{"content":[{"bytes":[49],"logprob":-0.25}]},"finish_reason":"length"}]}"#;
        let Ok(Event::Done(done)) = parse(llama) else { panic!() };
        assert_eq!(done.reason, DoneReason::Length);
        assert_eq!(done.piece.unwrap().logprobs, Some(vec![(1, -0.25)]));
        assert!(matches!(parse("data: [DONE]"), Ok(Event::Ignore)));
        assert!(parse("data: {}").is_err());
    }
}
