//! Ollama's `/api/generate` with `raw: true` (no chat template: infill's prompt as it is),
//! streamed as one JSON object per line, `keep_alive` passed on. Ollama has no tokenizer
//! endpoint: counts are estimates (`tokens::estimate`), and the family comes from `family` or
//! the model's name.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::family;
use super::http::Http;
use super::{Done, DoneReason, Event, Piece, Probe, ProbeError, Request};
use crate::prompt::FimTemplate;

pub fn probe(
    http: &Http,
    model: Option<&str>,
    forced_family: Option<&str>,
) -> Result<Probe, ProbeError> {
    let model = model
        .ok_or_else(|| format!("{}: set `engine.model` to the Ollama model to use", http.name))?;
    // Also the check that the server answers and has the model.
    let show = http.post_json("/api/show", &json!({"model": model}))?;
    let context_size = show["model_info"]
        .as_object()
        .and_then(|info| info.iter().find(|(k, _)| k.ends_with(".context_length")))
        .and_then(|(_, v)| v.as_u64())
        .map(|n| n as usize);
    // No tokenizer endpoint: the setting or the name.
    let (template, family_from) =
        family::choose(forced_family, None, model).map_err(|err| ProbeError::family(http, err))?;
    Ok(Probe {
        template,
        family_from,
        model: model.to_string(),
        context_size,
        special_ids: HashMap::new(),
        bos: None,
        tokenize: None,
        heals: false,
    })
}

pub fn request(
    template: &FimTemplate,
    model: &str,
    prompt: &str,
    keep_alive: Option<&str>,
    request: &Request,
) -> (&'static str, Value) {
    let sampling = &request.sampling;
    let stop = request.stop_strings(template);
    let mut options = json!({
        "num_predict": request.max_tokens.max(1),
        "temperature": sampling.temperature.max(0.0),
        "seed": sampling.seed,
        "stop": stop,
    });
    if sampling.temperature > 0.0 {
        options["top_k"] = json!(sampling.top_k.max(1));
        options["top_p"] = json!(sampling.top_p.clamp(0.0, 1.0));
    }
    let mut body = json!({
        "model": model,
        "prompt": prompt,
        "raw": true,
        "stream": true,
        "options": options,
    });
    if let Some(keep_alive) = keep_alive {
        body["keep_alive"] = json!(keep_alive);
    }
    ("/api/generate", body)
}

/// One line of the stream.
pub fn parse(line: &str) -> Result<Event, String> {
    let event: Value =
        serde_json::from_str(line).map_err(|_| format!("not JSON: {}", super::excerpt(line)))?;
    if let Some(error) = event.get("error") {
        return Err(format!("the server reported an error: {error}"));
    }
    let text = event["response"].as_str().ok_or("a line without `response`")?.to_string();
    let piece = Piece { text, ids: Vec::new(), logprobs: None };
    if event["done"].as_bool() != Some(true) {
        return Ok(Event::Piece(piece));
    }
    let reason = match event["done_reason"].as_str() {
        Some("length") => DoneReason::Length,
        _ => DoneReason::Stop,
    };
    Ok(Event::Done(Done {
        reason,
        piece: (!piece.text.is_empty()).then_some(piece),
        prompt: None,
        cached: None,
        evaluated: event["prompt_eval_count"].as_u64().map(|n| n as usize),
        // Nanoseconds.
        prompt_ms: event["prompt_eval_duration"].as_f64().map(|ns| ns / 1e6),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_the_last_line_are_read() {
        let Ok(Event::Piece(piece)) = parse(r#"{"response":"fib","done":false}"#) else { panic!() };
        assert_eq!(piece.text, "fib");
        let last = r#"{"response":"","done":true,"done_reason":"length","prompt_eval_count":12}"#;
        let Ok(Event::Done(done)) = parse(last) else { panic!() };
        assert_eq!((done.reason, done.evaluated), (DoneReason::Length, Some(12)));
        assert!(parse("{}").is_err() && parse("garbage").is_err());
    }
}
