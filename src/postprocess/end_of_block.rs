//! A suggestion belongs to the block the cursor is in: it stops before the first new line that is
//! indented less than that block, where the model has run on into the enclosing code.
//!
//! The block's indentation (the reference):
//! - the cursor line holds only whitespace before the cursor: the indentation of the
//!   suggestion's first non-blank line, as it will read (cursor column plus its own leading
//!   whitespace);
//! - otherwise: the indentation of the cursor line.
//!
//! Rules, conservative on purpose:
//! - the line that sets the reference is never cut; blank lines never cut;
//! - a less indented line is kept only if it starts with a closer of a bracket the suggestion
//!   itself opened (`}` of a block it started); following lines are still checked;
//! - **inside a Python-style definition** (`def`/`async def` above the cursor, the nearest header
//!   less indented than the reference), where blocks end by indentation alone, a line may step
//!   back out of the cursor's inner blocks as long as it stays in the definition's body and
//!   deeper than the code that follows the cursor: after `if is_prime:` at the end of a
//!   function, `primes.append(i)` then `    return primes` finishes it. Such a line is cut at
//!   the definition's own level or below (the next `def`), at or below the level of the code
//!   after the cursor (that code is the user's: a line there would more likely write it again
//!   than add to it), and when it starts with a closing bracket it did not open;
//! - elsewhere a dedent to `else:`, `elif`, `except` and the like is cut like any other line: it
//!   could only continue a block the suggestion opened, and that block's header would be
//!   indented at least as much as the reference, so such a line would not be less indented;
//! - a closer of a bracket opened before the cursor is cut too (whether the suffix already
//!   closes it is unknown here): the user's own closing line stays theirs.
//!
//! Tabs count to the next multiple of [`TAB_WIDTH`](super::lines::TAB_WIDTH) columns.

use super::brackets::{Bracket, Role, walk};
use super::lines::{
    cut_before_line, indent_width, is_blank, last_line, line_below, line_spans, pushed_down_line,
};

pub fn cut<'a>(text: &'a str, prefix: &str, suffix: &str) -> &'a str {
    let line_before_cursor = last_line(prefix);
    let lines: Vec<(usize, &str)> = line_spans(text).collect();
    let (reference, first_checked) = if is_blank(line_before_cursor) {
        let Some(first) = lines.iter().position(|(_, line)| !is_blank(line)) else {
            return text;
        };
        let line = lines[first].1;
        let width = if first == 0 {
            indent_width(&format!("{line_before_cursor}{line}"))
        } else {
            indent_width(line)
        };
        (width, first + 1)
    } else {
        (indent_width(line_before_cursor), 1)
    };
    let mut brackets = None;
    let mut floor = None;
    for &(start, line) in lines.iter().skip(first_checked) {
        if is_blank(line) || indent_width(line) >= reference {
            continue;
        }
        let brackets = brackets.get_or_insert_with(|| walk(line_before_cursor, text, &[]));
        if starts_with_own_closer(line, start, brackets) {
            continue;
        }
        // How far a line may step out of the cursor's inner blocks (see the module comment).
        let floor = *floor.get_or_insert_with(|| {
            definition_body(prefix, reference).map(|body| {
                next_code_indent(line_before_cursor, suffix).map_or(body, |next| body.max(next + 1))
            })
        });
        let stays_in = floor.is_some_and(|floor| indent_width(line) >= floor);
        if !stays_in || starts_with_closer(line) {
            return cut_before_line(text, start);
        }
    }
    text
}

/// The least indentation of the body of the Python-style definition the cursor is in: the
/// nearest line above the cursor that is less indented than `reference` and than every line
/// between, if it is a `def` header. `None` when that chain of headers reaches something else
/// first (a class, a loop at the top level, a multi-line string at column 0).
fn definition_body(prefix: &str, reference: usize) -> Option<usize> {
    let above_cursor_line = prefix.rsplit_once('\n')?.0;
    let mut innermost = reference;
    for line in above_cursor_line.rsplit('\n') {
        if is_blank(line) || indent_width(line) >= innermost {
            continue;
        }
        innermost = indent_width(line);
        let header = line.trim_start();
        if header.starts_with("def ") || header.starts_with("async def ") {
            return Some(innermost + 1);
        }
        if innermost == 0 {
            return None;
        }
    }
    None
}

/// The indentation of the code that will follow the suggestion: the cursor line pushed down
/// below it, else the suffix's next non-blank line. `None` at the end of the file.
fn next_code_indent(line_before_cursor: &str, suffix: &str) -> Option<usize> {
    match pushed_down_line(line_before_cursor, suffix) {
        Some(line) => Some(indent_width(&line)),
        None => line_below(suffix).map(indent_width),
    }
}

fn starts_with_closer(line: &str) -> bool {
    line.trim_start().starts_with([')', ']', '}'])
}

fn starts_with_own_closer(line: &str, start: usize, brackets: &[Bracket]) -> bool {
    let first_char = start + line.len() - line.trim_start().len();
    brackets.iter().any(|b| b.offset == first_char && matches!(b.role, Role::ClosesOwn { .. }))
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn golden() {
        for (line_before_cursor, text, expected) in [
            // Python: the model writes the body, then the next function and test code.
            ("    ", "return a + b\n\ndef sub(a, b):\n    return a - b", "return a + b\n"),
            ("    ", "x = 1\n    y = 2\nprint(x)", "x = 1\n    y = 2"),
            // Deeper lines are fine; the suggestion may open blocks of its own.
            (
                "    ",
                "for i in range(3):\n        total += i\n    return total\nprint(f())",
                "for i in range(3):\n        total += i\n    return total",
            ),
            // The first line's own leading whitespace adds to the cursor column.
            ("", "    if x:\n        y()\n    z()\nw()", "    if x:\n        y()\n    z()"),
            // Mid-line: the cursor line's indentation is the reference.
            (
                "    result = compute(",
                "a,\n        b)\n    return result\nmain()",
                "a,\n        b)\n    return result",
            ),
            // A blank first line: the first written line sets the reference.
            ("    ", "\n    foo()\nbar()", "\n    foo()"),
            // A dedented `else:` that the suggestion did not open is cut.
            ("        ", "y = 1\n    else:\n        y = 2", "y = 1"),
            // ... and one at the level of the suggestion's own `if` is kept.
            (
                "    ",
                "if a:\n        b()\n    else:\n        c()",
                "if a:\n        b()\n    else:\n        c()",
            ),
            // A closer less indented than the reference stays if it closes what the suggestion opened.
            ("    value = ", "[\n        1,\n  ]\nprint(value)", "[\n        1,\n  ]"),
            // A closer of a bracket opened before the cursor is cut.
            ("    ", "println!(\"hi\");\n}", "println!(\"hi\");"),
            ("    ", "a,\n    b,\n)", "a,\n    b,"),
            // Blank lines never cut, whatever their whitespace.
            ("    ", "a()\n\n  \n    b()", "a()\n\n  \n    b()"),
            // Tabs: a tab is 4 columns.
            ("\t", "x := 1\n\ty := 2\n}", "x := 1\n\ty := 2"),
            ("\t", "x := 1\n    y := 2\n  z", "x := 1\n    y := 2"),
            // Unicode text does not disturb the offsets.
            ("    ", "s = \"é\"\n    t = \"ü\"\nu = 1", "s = \"é\"\n    t = \"ü\""),
            // At the top level nothing is less indented.
            ("", "a = 1\n\nb = 2", "a = 1\n\nb = 2"),
            ("    ", "", ""),
            ("    ", "\n\n", "\n\n"),
            ("x = ", "1", "1"),
        ] {
            assert_eq!(
                cut(text, line_before_cursor, ""),
                expected,
                "{line_before_cursor:?} + {text:?}"
            );
        }
    }

    /// Python: a function's last block may be left for the rest of the function's body.
    #[test]
    fn a_definition_body_goes_on_after_the_inner_block() {
        let prefix = "def count_up_to(n):\n    primes = []\n    for i in range(2, n):\n        if is_prime(i):\n";
        for (suffix, text, expected) in [
            // End of file: the function is finished, the next top-level line is not the user's.
            (
                "",
                "            primes.append(i)\n    return primes\n\n\ndef main():\n    pass",
                "            primes.append(i)\n    return primes\n\n",
            ),
            // The next definition follows: the same.
            (
                "\n\ndef other():\n    pass\n",
                "            primes.append(i)\n        else:\n            break\n    return primes",
                "            primes.append(i)\n        else:\n            break\n    return primes",
            ),
            // The function's body goes on below the cursor: that code is the user's.
            (
                "\n    return primes\n",
                "            primes.append(i)\n    print(primes)",
                "            primes.append(i)",
            ),
            // The cursor at the start of a code line (the suggestion goes in above it): that
            // line is the code below, and a line at its level is cut.
            (
                "        return primes\n",
                "            primes.append(i)\n        else:\n            pass\n    return primes",
                "            primes.append(i)",
            ),
            // A closing bracket the suggestion did not open is cut inside the body too.
            (
                "",
                "            primes.append(i)\n    )\n    return primes",
                "            primes.append(i)",
            ),
        ] {
            assert_eq!(cut(text, prefix, suffix), expected, "{suffix:?} + {text:?}");
        }
        // Only a `def` opens such a body: in a class body or at the top level the rule stays.
        for prefix in ["class A:\n    if x:\n", "for i in range(3):\n    if i:\n"] {
            let text = "        a()\n    b()";
            assert_eq!(cut(text, prefix, ""), "        a()", "{prefix:?}");
        }
        // Methods: the body is the method's, not the class's.
        let prefix = "class A:\n    def f(self):\n        if self.x:\n";
        let text = "            return 1\n        return 2\n    def g(self):\n        pass";
        assert_eq!(cut(text, prefix, ""), "            return 1\n        return 2");
        // Stepping out of an inner loop, above the function's last line (inserted before it).
        let prefix = "def f(n):\n    while n:\n        while d:\n";
        let text = "            d -= 1\n        n -= 1\n    return r";
        assert_eq!(cut(text, prefix, "    return r\n"), "            d -= 1\n        n -= 1");
        let prefix = "async def f():\n    while True:\n        x = 1\n        ";
        assert_eq!(cut("y()\n    return x\nz", prefix, ""), "y()\n    return x");
    }
}
