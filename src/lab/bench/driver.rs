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
    /// How long the typist looks at a new place (the cursor at rest) before editing there.
    pub dwell: Duration,
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
    /// client had it in its own cache; `right`: its first line is what the typist typed next
    /// (`is_right`), so accepting it would have saved that typing.
    Suggested { latency_ms: f64, from_cache: bool, right: bool },
    /// The answer for this position came back empty, this long after the last keystroke (the
    /// model's time, during which nothing else could be answered).
    Empty { latency_ms: f64 },
    /// The answer came back empty because the server found its suggestion too unsure
    /// (`minConfidence`); `right`: that suggestion's first line was what the typist typed next.
    Withheld { latency_ms: f64, right: bool },
    /// No answer within the longest wait.
    TimedOut,
}

impl std::fmt::Display for PauseOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Suggested { latency_ms, from_cache, right } => {
                write!(f, "suggestion after {latency_ms:.0} ms")?;
                if *from_cache {
                    f.write_str(" (client cache)")?;
                }
                f.write_str(if *right { ", right" } else { ", wrong" })
            }
            Self::Empty { latency_ms } => write!(f, "empty answer after {latency_ms:.0} ms"),
            Self::Withheld { latency_ms, right } => {
                let right = if *right { "right" } else { "wrong" };
                write!(f, "withheld after {latency_ms:.0} ms ({right})")
            }
            Self::TimedOut => f.write_str("no answer in time"),
        }
    }
}

/// What the client shows for the latest keystroke.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// `from_cache`: the client answered from its own cache, without asking the server; `text`:
    /// what it inserts at the cursor.
    Suggestion { at: Instant, from_cache: bool, text: String },
    /// The answer for this text came back empty at `at` (or the client decided not to ask).
    Nothing { at: Instant },
    /// The server withheld `text` as too unsure (it said so in its trace).
    Withheld { at: Instant, text: String },
}

/// The editor side of a replay: sends changes and requests the way a given client does.
pub trait Client {
    fn open(&mut self, trace: &FileTrace) -> anyhow::Result<()>;
    fn keystroke(&mut self, key: &Keystroke) -> anyhow::Result<()>;
    /// The cursor came to rest at `at` without an edit (a new place); most clients do nothing.
    fn cursor_rest(&mut self, _at: Position) -> anyhow::Result<()> {
        Ok(())
    }
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
        for (index, edit) in trace.edits.iter().enumerate() {
            if timing.until.is_some_and(|until| Instant::now() >= until) {
                break;
            }
            let start = Position::of(&rope, edit.at);
            let end = Position::of(&rope, edit.at + edit.delete);
            // A region's deletion starts the work at a new place: the typist has just moved
            // there and looks before changing it.
            if edit.delete > 0 && !timing.dwell.is_zero() {
                client.cursor_rest(start)?;
                poll_until(client, Instant::now() + timing.dwell)?;
            }
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
                let upcoming = typed_next(&trace.edits[index + 1..], cursor);
                let outcome = wait_out_pause(client, typed_at, timing, &upcoming)?;
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
                poll_until(client, typed_at + timing.key_delay)?;
            }
            progress.inc(1);
        }
        client.close(trace, timing.max_wait)?;
    }
    played.wall = started.elapsed();
    Ok(played)
}

/// Lets `client` handle what arrives until `due`.
fn poll_until(client: &mut dyn Client, due: Instant) -> anyhow::Result<()> {
    while let Some(left) = due.checked_duration_since(Instant::now()).filter(|l| !l.is_zero()) {
        client.poll(left)?;
    }
    Ok(())
}

/// The text the typist types next from `cursor` on: the inserts of the following `edits` while
/// each goes on where the last one left the cursor (a deletion or a jump ends it).
fn typed_next(edits: &[super::trace::Edit], mut cursor: usize) -> String {
    let mut text = String::new();
    for edit in edits.iter().take_while(|e| e.delete == 0) {
        if edit.at != cursor {
            break;
        }
        text.push_str(&edit.insert);
        cursor += edit.insert.chars().count();
    }
    text
}

/// Whether a suggestion is right: up to the end of its first line with code (line breaks and
/// indentation before it included, trailing whitespace not) it is what the typist then typed.
fn is_right(suggestion: &str, typed_next: &str) -> bool {
    let Some(code) = suggestion.find(|c: char| !c.is_whitespace()) else { return false };
    let end = suggestion[code..].find('\n').map_or(suggestion.len(), |n| code + n);
    typed_next.starts_with(suggestion[..end].trim_end())
}

fn since(typed_at: Instant, at: Instant) -> f64 {
    at.saturating_duration_since(typed_at).as_secs_f64() * 1000.0
}

fn wait_out_pause(
    client: &mut dyn Client,
    typed_at: Instant,
    timing: &Timing,
    typed_next: &str,
) -> anyhow::Result<PauseOutcome> {
    let mut outcome = None;
    loop {
        let elapsed = typed_at.elapsed();
        if outcome.is_none() {
            outcome = match client.shown() {
                Some(Shown::Suggestion { at, from_cache, text }) => Some(PauseOutcome::Suggested {
                    latency_ms: since(typed_at, at),
                    from_cache,
                    right: is_right(&text, typed_next),
                }),
                Some(Shown::Nothing { at }) => {
                    Some(PauseOutcome::Empty { latency_ms: since(typed_at, at) })
                }
                Some(Shown::Withheld { at, text }) => Some(PauseOutcome::Withheld {
                    latency_ms: since(typed_at, at),
                    right: is_right(&text, typed_next),
                }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::bench::trace::Edit;

    fn typing(at: usize, insert: &str) -> Edit {
        Edit { at, delete: 0, insert: insert.into(), pause_after: false }
    }

    /// Records what the typist did; answers every keystroke with a suggestion at once.
    #[derive(Default)]
    struct Recorder {
        events: Vec<String>,
        shown: Option<Shown>,
    }

    impl Client for Recorder {
        fn open(&mut self, _: &FileTrace) -> anyhow::Result<()> {
            Ok(())
        }
        fn keystroke(&mut self, key: &Keystroke) -> anyhow::Result<()> {
            self.events.push(format!("edit {:?}", key.text));
            let text = "b".to_string();
            self.shown = Some(Shown::Suggestion { at: key.typed_at, from_cache: false, text });
            Ok(())
        }
        fn cursor_rest(&mut self, at: Position) -> anyhow::Result<()> {
            self.events.push(format!("rest {}:{}", at.line, at.character));
            Ok(())
        }
        fn poll(&mut self, timeout: Duration) -> anyhow::Result<()> {
            std::thread::sleep(timeout.min(Duration::from_millis(1)));
            Ok(())
        }
        fn shown(&self) -> Option<Shown> {
            self.shown.clone()
        }
        fn close(&mut self, _: &FileTrace, _: Duration) -> anyhow::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_typist_rests_at_each_new_place_and_a_suggestion_of_what_follows_is_right() {
        let trace = FileTrace {
            path: "a.py".into(),
            language: "python",
            text: "x = 1\nyy\n".into(),
            regions: Vec::new(),
            edits: vec![
                Edit { at: 6, delete: 2, insert: String::new(), pause_after: false },
                Edit { at: 6, delete: 0, insert: "a".into(), pause_after: true },
                typing(7, "b"),
            ],
        };
        let timing = Timing {
            key_delay: Duration::ZERO,
            pause: Duration::from_millis(1),
            max_wait: Duration::from_secs(1),
            dwell: Duration::from_millis(1),
            verbose: false,
            until: None,
        };
        let mut client = Recorder::default();
        let played =
            play(&mut client, std::slice::from_ref(&trace), &timing, &ProgressBar::hidden())
                .unwrap();
        assert_eq!(client.events, ["rest 1:0", "edit \"\"", "edit \"a\"", "edit \"b\""]);
        // The pause after `a` showed `b`, which the typist then typed.
        assert!(matches!(played.pauses[..], [PauseOutcome::Suggested { right: true, .. }]));
        // Without a dwell, no rest.
        let mut client = Recorder::default();
        let timing = Timing { dwell: Duration::ZERO, ..timing };
        play(&mut client, &[trace], &timing, &ProgressBar::hidden()).unwrap();
        assert_eq!(client.events[0], "edit \"\"");
    }

    #[test]
    fn what_is_typed_next_runs_until_a_deletion_or_a_jump() {
        let edits = [typing(10, "ab"), typing(12, "c"), typing(40, "x")];
        assert_eq!(typed_next(&edits, 10), "abc");
        assert_eq!(typed_next(&edits, 11), "");
        let deletion = Edit { at: 12, delete: 3, insert: String::new(), pause_after: false };
        assert_eq!(typed_next(&[typing(10, "ab"), deletion, typing(12, "c")], 10), "ab");
    }

    #[test]
    fn a_suggestion_is_right_when_its_first_line_of_code_is_typed_next() {
        assert!(is_right("len(x))", "len(x))\n    return y"));
        assert!(is_right("len(x))\n    wrong()", "len(x))\n    return y"));
        assert!(is_right("\n    return y  ", "\n    return y\n"));
        assert!(!is_right("len(y))", "len(x))"));
        assert!(!is_right("  \n ", "  \n "), "nothing to accept");
        assert!(!is_right("len(x)) + 1", "len(x))"), "runs past what was typed");
    }
}
