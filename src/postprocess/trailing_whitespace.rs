//! Trailing whitespace helps nobody: trim it from every line and drop trailing blank lines.

pub fn trim(text: &str) -> String {
    let lines: Vec<&str> =
        text.split('\n').map(|l| l.trim_end_matches([' ', '\t', '\r'])).collect();
    lines.join("\n").trim_end_matches('\n').to_string()
}

#[cfg(test)]
mod tests {
    use super::trim;

    #[test]
    fn golden() {
        for (input, expected) in [
            ("fib(n - 1) + fib(n - 2)  ", "fib(n - 1) + fib(n - 2)"),
            ("x = 1\t\n    y = 2   \n\n\n", "x = 1\n    y = 2"),
            ("  leading kept", "  leading kept"),
            ("a\r\nb\r\n", "a\nb"),
            ("   ", ""),
            ("", ""),
        ] {
            assert_eq!(trim(input), expected, "input {input:?}");
        }
    }
}
