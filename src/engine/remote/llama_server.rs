//! llama.cpp's own server: the family from its vocabulary (`/tokenize` of each template token's
//! spelling), exact counts from `/tokenize`, and `/completion` with infill's prompt as token ids
//! (so file text is never read as a special token), streamed as server-sent events.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::family::{self, FamilyError};
use super::http::Http;
use super::tokens::{Shape, Tokenizer};
use super::{Done, DoneReason, Event, Piece, Probe, ProbeError, Request, escaped, sse_json};
use crate::prompt::{self, FimTemplate};

const TOKENIZE: &str = "/tokenize";
const COMPLETION: &str = "/completion";

/// What the server runs: its model, context, family and the ids of the family's tokens.
pub fn probe(http: &Http, forced_family: Option<&str>) -> Result<Probe, ProbeError> {
    let props = http.get_json("/props")?;
    let model = props["model_path"]
        .as_str()
        .or_else(|| props["model_alias"].as_str())
        .unwrap_or("llama-server model")
        .to_string();
    let context_size = props["default_generation_settings"]["n_ctx"]
        .as_u64()
        .or_else(|| props["n_ctx"].as_u64())
        .map(|n| n as usize);
    let tokenizer = Tokenizer::new(TOKENIZE, Shape::LlamaServer);
    let special_ids = special_ids(http, &tokenizer)?;
    let has_token = |text: &str| special_ids.contains_key(text);
    let (template, family_from) = family::choose(forced_family, Some(&has_token), &model)
        .map_err(|err| ProbeError::family(http, err))?;
    // A forced family is checked against the vocabulary too.
    for token in [template.prefix, template.suffix, template.middle] {
        if !token.is_empty() && !special_ids.contains_key(token) {
            let token = Some((template.name, token));
            let error = FamilyError::NoFimTokens { model: model.clone(), token };
            return Err(ProbeError::family(http, error));
        }
    }
    // File text must stay text: a server that parses special tokens anyway cannot be used.
    let plain = tokenizer.tokenize(http, template.prefix, false)?;
    if plain.len() == 1 && special_ids.get(template.prefix) == plain.first() {
        return Err(format!(
            "{}: its /tokenize ignores `parse_special: false`; this llama-server is too old",
            http.name
        )
        .into());
    }
    let bos = match (template.bos, props["bos_token"].as_str()) {
        (false, _) => None,
        (true, Some(text)) => match tokenizer.tokenize(http, text, true)?.as_slice() {
            [id] => Some(*id),
            _ => {
                return Err(
                    format!("{}: its BOS token {text:?} is not one token", http.name).into()
                );
            }
        },
        (true, None) => return Err(format!("{}: /props names no BOS token", http.name).into()),
    };
    // Token healing needs each token's text; a server too old to give it gets fresh prompts.
    let heals = tokenizer.last_piece(http, "fn main").is_ok_and(|piece| piece.is_some());
    Ok(Probe {
        template,
        family_from,
        model,
        context_size,
        special_ids,
        bos,
        tokenize: Some(tokenizer),
        heals,
    })
}

/// Every template token spelling the server's vocabulary has as one token, with its id.
fn special_ids(http: &Http, tokenizer: &Tokenizer) -> Result<HashMap<&'static str, u32>, String> {
    let mut found = HashMap::new();
    for text in prompt::template::all_special_texts() {
        if let [id] = tokenizer.tokenize(http, text, true)?.as_slice() {
            found.insert(text, *id);
        }
    }
    Ok(found)
}

/// The `/completion` request: the prompt as ids, greedy or sampled as the settings say, the
/// family's tokens as stop strings (the server stops on its own; ids are checked too).
pub fn request(
    template: &FimTemplate,
    prompt_ids: &[u32],
    request: &Request,
) -> (&'static str, Value) {
    let sampling = &request.sampling;
    let stop = request.stop_strings(template);
    let mut body = json!({
        "prompt": prompt_ids,
        // 0 would mean "no limit"; a warm-up's one token is not read.
        "n_predict": request.max_tokens.max(1),
        "stream": true,
        "cache_prompt": true,
        "stop": stop,
        "n_probs": 1,
        "return_tokens": true,
        "seed": sampling.seed,
    });
    if !request.forced_start.is_empty() {
        // Token healing: the model writes the text taken back from the prompt's end again, in
        // its own tokens (the grammar admits exactly the tokens that agree with it), then
        // anything.
        body["grammar"] = json!(format!("root ::= {} .*", gbnf_literal(&request.forced_start)));
    }
    if sampling.temperature <= 0.0 {
        body["temperature"] = json!(0.0);
        body["top_k"] = json!(1);
        body["samplers"] = json!(["top_k"]);
    } else {
        body["temperature"] = json!(sampling.temperature);
        body["top_k"] = json!(sampling.top_k.max(1));
        body["top_p"] = json!(sampling.top_p.clamp(0.0, 1.0));
        body["samplers"] = json!(["top_k", "top_p", "temperature"]);
    }
    (COMPLETION, body)
}

/// `request`'s body asking for its first token only, greedy, with `banned` ruled out (a
/// second opinion's start; llama-server's probabilities stay the model's own).
pub fn first_token_except(request: &Value, banned: i32) -> Value {
    let mut ask = request.clone();
    ask["n_predict"] = json!(1);
    ask["logit_bias"] = json!([[banned, false]]);
    ask["temperature"] = json!(0.0);
    ask["top_k"] = json!(1);
    ask["samplers"] = json!(["top_k"]);
    ask
}

/// `text` as a GBNF string literal: quotes and backslashes escaped, control characters as
/// `\xHH`; other characters as they are (GBNF reads UTF-8).
fn gbnf_literal(text: &str) -> String {
    format!("\"{}\"", escaped(text, "\"\\"))
}

/// One server-sent event line.
pub fn parse(line: &str) -> Result<Event, String> {
    // llama-server also reports some failures as an `error:` line instead of an event.
    if let Some(error) = line.strip_prefix("error:") {
        return Err(format!("the server reported an error: {}", error.trim()));
    }
    let Some(event) = sse_json(line)? else { return Ok(Event::Ignore) };
    let content = event["content"].as_str().ok_or("an event without `content`")?.to_string();
    let ids: Vec<u32> = event["tokens"]
        .as_array()
        .map(|ids| ids.iter().filter_map(|id| id.as_u64().map(|id| id as u32)).collect())
        .unwrap_or_default();
    if event["stop"].as_bool() == Some(true) {
        let reason = match (event["stop_type"].as_str(), event["stopping_word"].as_str()) {
            (Some("limit"), _) => DoneReason::Length,
            (Some("word"), Some("\n")) => DoneReason::EndOfLine,
            _ => DoneReason::Stop,
        };
        let timings = &event["timings"];
        // The last event may still carry text (a server that sends it in one piece).
        let piece =
            (!content.is_empty()).then(|| Piece { text: content, ids, logprobs: logprobs(&event) });
        return Ok(Event::Done(Done {
            reason,
            piece,
            prompt: event["prompt"].as_str().map(str::to_string),
            cached: timings["cache_n"].as_u64().map(|n| n as usize),
            evaluated: timings["prompt_n"].as_u64().map(|n| n as usize),
            prompt_ms: timings["prompt_ms"].as_f64(),
        }));
    }
    Ok(Event::Piece(Piece { text: content, ids, logprobs: logprobs(&event) }))
}

/// Each token's (byte length, log-probability), when the server sent them.
fn logprobs(event: &Value) -> Option<Vec<(usize, f32)>> {
    let probabilities = event["completion_probabilities"].as_array()?;
    probabilities
        .iter()
        .map(|p| {
            let logprob = p["logprob"].as_f64()? as f32;
            let len = p["bytes"].as_array().map_or(0, Vec::len);
            Some((len, logprob))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_with_their_tokens_and_probabilities() {
        let line = r#"data: {"content":" fib","tokens":[15801],"stop":false,"completion_probabilities":[{"id":15801,"token":" fib","bytes":[32,102,105,98],"logprob":-1.25}]}"#;
        let Ok(Event::Piece(piece)) = parse(line) else { panic!("{line}") };
        assert_eq!(piece.text, " fib");
        assert_eq!(piece.ids, vec![15801]);
        assert_eq!(piece.logprobs, Some(vec![(4, -1.25)]));
        let last = r#"data: {"content":"","tokens":[],"stop":true,"stop_type":"limit","prompt":"<p>x","timings":{"cache_n":7,"prompt_n":1}}"#;
        let Ok(Event::Done(done)) = parse(last) else { panic!("{last}") };
        assert_eq!(done.reason, DoneReason::Length);
        assert_eq!((done.cached, done.evaluated), (Some(7), Some(1)));
        assert_eq!(done.prompt.as_deref(), Some("<p>x"));
        assert!(done.piece.is_none());
    }

    #[test]
    fn text_to_write_again_becomes_a_grammar_literal() {
        assert_eq!(gbnf_literal(" Hash"), r#"" Hash""#);
        assert_eq!(gbnf_literal(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(gbnf_literal("\tx\u{7f}é"), r#""\x09x\x7Fé""#);
    }

    #[test]
    fn garbage_and_errors_are_errors() {
        assert!(parse("data: {not json").is_err());
        assert!(parse("<html>").is_err());
        assert!(parse(r#"data: {"error":{"code":500}}"#).is_err());
        assert!(parse(r#"error: {"message":"boom"}"#).is_err());
    }
}
