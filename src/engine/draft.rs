//! Prompt-lookup drafts for speculative decoding. Code repeats itself (identifiers, argument
//! lists, whole lines), so the tokens that followed the last occurrence of what was just written
//! are a cheap guess at what comes next. The worker decodes the guess together with the token
//! it follows, in one batch, and keeps the drafted tokens only while each equals the model's own
//! greedy choice: the text is the one plain greedy decoding writes, in fewer decode calls.

/// The longest and shortest run of recent tokens looked up; a longer match is a better guess,
/// a single token matches too often to be worth a batch.
const NGRAM_MAX: usize = 4;
const NGRAM_MIN: usize = 2;

/// Up to `max` tokens that followed the most recent earlier occurrence of the sequence's last
/// tokens, the sequence being `history` followed by `last`; longer runs are tried first. Empty
/// when nothing matches.
pub(super) fn lookup<T: Copy + PartialEq>(history: &[T], last: T, max: usize) -> Vec<T> {
    if max == 0 {
        return Vec::new();
    }
    // The token at index `i` of `history` + [`last`].
    let at = |i: usize| if i == history.len() { last } else { history[i] };
    let len = history.len() + 1;
    for n in (NGRAM_MIN..=NGRAM_MAX).rev() {
        if len <= n {
            continue;
        }
        let tail = len - n;
        // The most recent earlier start `i` whose n tokens equal the last n.
        let found = (0..tail).rev().find(|&i| (0..n).all(|j| at(i + j) == at(tail + j)));
        if let Some(i) = found {
            return (i + n..len.min(i + n + max)).map(at).collect();
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    #[test]
    fn the_tokens_after_the_last_match_are_the_draft() {
        // "ab" occurred twice before; the most recent one was followed by "xyz".
        let history = tokens("abcd ab xyz a");
        assert_eq!(lookup(&history, 'b', 3), tokens(" xy"));
        assert_eq!(lookup(&history, 'b', 10), tokens(" xyz ab"), "up to the sequence's end");
    }

    #[test]
    fn a_longer_match_wins_over_a_more_recent_shorter_one() {
        // "zab" (3 tokens) was followed by '1'; the more recent "ab" (2 tokens) by '2'.
        let history = tokens("zab1 qab2 za");
        assert_eq!(lookup(&history, 'b', 1), tokens("1"));
        let history = tokens("yab1 qab2 za");
        assert_eq!(lookup(&history, 'b', 1), tokens("2"), "only the 2-token run matches");
    }

    #[test]
    fn nothing_matches_nothing_is_drafted() {
        assert!(lookup(&tokens("abcdef"), 'g', 4).is_empty());
        assert!(lookup(&tokens(""), 'a', 4).is_empty());
        assert!(lookup(&tokens("abab"), 'a', 0).is_empty());
    }

    #[test]
    fn code_repeating_a_line_is_drafted_whole() {
        let history: Vec<&str> = "self . x = x \n self . y = y \n self".split(' ').collect();
        assert_eq!(lookup(&history, ".", 3), vec!["y", "=", "y"]);
    }
}
