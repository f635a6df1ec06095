//! The typist: plays a trace's edits in real time against one editor-side client and measures
//! each pause. Keystrokes are `key_delay` apart; after a pause point the typist waits at least
//! `pause`, and longer while the suggestion for the current text is still on its way (up to
//! `max_wait`), so every pause gets a latency however slow the server is.

use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use ropey::Rope;
use serde::Serialize;

use super::trace::FileTrace;

#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub key_delay: Duration,
    pub pause: Duration,
    pub max_wait: Duration,
    /// Print every pause's outcome to stderr.
    pub verbose: bool,
    /// Stop typing (and close the document) once this moment has passed (a soak's end).
    pub until: Option<Instant>,
}

/// An LSP position (UTF-16 code units, the encoding the replay negotiates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: u32,
    pub character: u32,
}

impl Position {
    pub fn of(rope: &Rope, char_idx: usize) -> Self {
        let line = rope.char_to_line(char_idx);
        let character = rope
            .slice(rope.line_to_char(line)..char_idx)
            .chars()
            .map(char::len_utf16)
            .sum::<usize>();
        Self { line: line as u32, character: character as u32 }
    }
}

/// One keystroke as the client sees it.
pub struct Keystroke<'a> {
    /// The replaced range, in the text before the edit.
    pub start: Position,
    pub end: Position,
    pub text: &'a str,
    /// The document after the edit, and the cursor in it (char offset and position).
    pub doc: &'a Rope,
    pub cursor: usize,
    pub cursor_position: Position,
    pub typed_at: Instant,
}

/// What the typist saw at one pause.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PauseOutcome {
    /// A non-empty suggestion appeared this long after the last keystroke; `from_cache`: the
    /// client had it in its own cache.
    Suggested { latency_ms: f64, from_cache: bool },
    /// The answer for this position came back empty.
    Empty,
    /// No answer within the longest wait.
    TimedOut,
}

impl std::fmt::Display for PauseOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Suggested { latency_ms, from_cache: false } => {
                write!(f, "suggestion after {latency_ms:.0} ms")
            }
            Self::Suggested { latency_ms, from_cache: true } => {
                write!(f, "suggestion after {latency_ms:.0} ms (client cache)")
            }
            Self::Empty => f.write_str("empty answer"),
            Self::TimedOut => f.write_str("no answer in time"),
        }
    }
}

/// What the client shows for the latest keystroke.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shown {
    /// `from_cache`: the client answered from its own cache, without asking the server.
    Suggestion { at: Instant, from_cache: bool },
    /// The answer for this text came back empty (or the client decided not to ask).
    Nothing,
}

/// The editor side of a replay: sends changes and requests the way a given client does.
pub trait Client {
    fn open(&mut self, trace: &FileTrace) -> anyhow::Result<()>;
    fn keystroke(&mut self, key: &Keystroke) -> anyhow::Result<()>;
    /// Handles whatever arrives within `timeout`; may return early after one event.
    fn poll(&mut self, timeout: Duration) -> anyhow::Result<()>;
    /// `None` while the answer for the latest keystroke is still outstanding.
    fn shown(&self) -> Option<Shown>;
    /// Waits (up to `patience`) for outstanding answers, then closes the document.
    fn close(&mut self, trace: &FileTrace, patience: Duration) -> anyhow::Result<()>;
}

pub struct Played {
    pub keystrokes: usize,
    pub pauses: Vec<PauseOutcome>,
    pub wall: Duration,
}

pub fn play(
    client: &mut dyn Client,
    traces: &[FileTrace],
    timing: &Timing,
    progress: &ProgressBar,
) -> anyhow::Result<Played> {
    let started = Instant::now();
    let mut played = Played { keystrokes: 0, pauses: Vec::new(), wall: Duration::ZERO };
    for trace in traces {
        client.open(trace)?;
        let mut rope = Rope::from_str(&trace.text);
        for edit in &trace.edits {
            if timing.until.is_some_and(|until| Instant::now() >= until) {
                break;
            }
            let start = Position::of(&rope, edit.at);
            let end = Position::of(&rope, edit.at + edit.delete);
            rope.remove(edit.at..edit.at + edit.delete);
            rope.insert(edit.at, &edit.insert);
            let cursor = edit.at + edit.insert.chars().count();
            let typed_at = Instant::now();
            client.keystroke(&Keystroke {
                start,
                end,
                text: &edit.insert,
                doc: &rope,
                cursor,
                cursor_position: Position::of(&rope, cursor),
                typed_at,
            })?;
            played.keystrokes += 1;
            if edit.pause_after {
                let outcome = wait_out_pause(client, typed_at, timing)?;
                if let PauseOutcome::Suggested { latency_ms, .. } = outcome {
                    progress.set_message(format!("last pause → suggestion {latency_ms:.0} ms"));
                }
                if timing.verbose {
                    let at = Position::of(&rope, cursor);
                    let name = trace.path.file_name().unwrap_or_default().to_string_lossy();
                    progress.suspend(|| {
                        eprintln!("{name}:{}:{}  {outcome}", at.line + 1, at.character + 1)
                    });
                }
                played.pauses.push(outcome);
            } else {
                let due = typed_at + timing.key_delay;
                while let Some(left) =
                    due.checked_duration_since(Instant::now()).filter(|left| !left.is_zero())
                {
                    client.poll(left)?;
                }
            }
            progress.inc(1);
        }
        client.close(trace, timing.max_wait)?;
    }
    played.wall = started.elapsed();
    Ok(played)
}

fn wait_out_pause(
    client: &mut dyn Client,
    typed_at: Instant,
    timing: &Timing,
) -> anyhow::Result<PauseOutcome> {
    let mut outcome = None;
    loop {
        let elapsed = typed_at.elapsed();
        if outcome.is_none() {
            outcome = match client.shown() {
                Some(Shown::Suggestion { at, from_cache }) => Some(PauseOutcome::Suggested {
                    latency_ms: at.saturating_duration_since(typed_at).as_secs_f64() * 1000.0,
                    from_cache,
                }),
                Some(Shown::Nothing) => Some(PauseOutcome::Empty),
                None if elapsed >= timing.max_wait => Some(PauseOutcome::TimedOut),
                None => None,
            };
        }
        let until = if outcome.is_some() { timing.pause } else { timing.max_wait };
        match until.checked_sub(elapsed).filter(|left| !left.is_zero()) {
            Some(left) => client.poll(left)?,
            None if outcome.is_some() => break,
            None => {}
        }
    }
    Ok(outcome.unwrap_or(PauseOutcome::TimedOut))
}
