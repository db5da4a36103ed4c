//! Text helpers several layers need: header lists whose elements may hold quoted strings
//! (RFC 9110 §5.6), read by `http` (the `Forwarded` header) and `codec` (the
//! `Sec-WebSocket-Extensions` offers), and cutting text to a byte budget on a character
//! boundary (close reasons, refusal bodies). A leaf module: it imports nothing of the crate,
//! so any layer may use it. Pure.

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub(crate) fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The elements of `text` separated by `separator` where it is not inside a quoted string
/// (a backslash escapes the next character there), trimmed; empty elements are skipped. An
/// unterminated quoted string runs to the end of `text`. Lazy: nothing is allocated.
pub(crate) fn split_outside_quotes(text: &str, separator: char) -> SplitOutsideQuotes<'_> {
    SplitOutsideQuotes {
        rest: Some(text),
        separator,
    }
}

/// The iterator of [`split_outside_quotes`].
#[derive(Debug, Clone)]
pub(crate) struct SplitOutsideQuotes<'a> {
    /// What is left to split; `None` once the last element was yielded.
    rest: Option<&'a str>,
    separator: char,
}

impl<'a> SplitOutsideQuotes<'a> {
    /// The next element, empty or not.
    fn next_element(&mut self) -> Option<&'a str> {
        let text = self.rest?;
        let (mut quoted, mut escaped) = (false, false);
        for (at, c) in text.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                c if c == self.separator && !quoted => {
                    self.rest = Some(&text[at + c.len_utf8()..]);
                    return Some(&text[..at]);
                }
                _ => {}
            }
        }
        self.rest = None;
        Some(text)
    }
}

impl<'a> Iterator for SplitOutsideQuotes<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            let element = self.next_element()?.trim();
            if !element.is_empty() {
                return Some(element);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str, separator: char) -> Vec<&str> {
        split_outside_quotes(text, separator).collect()
    }

    #[test]
    fn separators_inside_quoted_strings_do_not_split() {
        assert_eq!(
            split(r#"for="[::1]:80,x";proto=http, for=a"#, ','),
            [r#"for="[::1]:80,x";proto=http"#, "for=a"]
        );
        assert_eq!(split(r#"a="x;y"; b"#, ';'), [r#"a="x;y""#, "b"]);
    }

    #[test]
    fn an_escaped_quote_does_not_end_a_quoted_string() {
        assert_eq!(split(r#"a="x\",y", b"#, ','), [r#"a="x\",y""#, "b"]);
        // Outside quoted strings a backslash is a plain character: the quote after it opens one.
        assert_eq!(split(r#"a\"b,", c"#, ','), [r#"a\"b,""#, "c"]);
    }

    #[test]
    fn elements_are_trimmed_and_empty_ones_skipped() {
        assert_eq!(split(" a ,, ,b,", ','), ["a", "b"]);
        assert_eq!(split("", ','), Vec::<&str>::new());
        assert_eq!(split(" , ", ','), Vec::<&str>::new());
    }

    #[test]
    fn an_unterminated_quote_runs_to_the_end() {
        assert_eq!(split(r#"a, "b, c"#, ','), ["a", r#""b, c"#]);
    }

    #[test]
    fn multi_byte_characters_and_separators_are_kept_whole() {
        assert_eq!(split("é;ü", ';'), ["é", "ü"]);
        assert_eq!(split("aéb", 'é'), ["a", "b"]);
    }
}
