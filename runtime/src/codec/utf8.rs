//! Incremental UTF-8 validation across frames and reads.
//!
//! A text message arrives in pieces: fragments, and partial reads within a fragment. The
//! validator fails as soon as the bytes seen so far cannot start any valid UTF-8 text
//! (RFC 6455 §8.1, Autobahn 6.4.*: "fail fast"), not when the message is complete. It keeps
//! at most three bytes of an unfinished character between pieces.

/// Validates one text message piece by piece.
#[derive(Debug, Default, Clone)]
pub(crate) struct Utf8Validator {
    /// The start of a character whose remaining bytes have not arrived yet.
    partial: [u8; 4],
    partial_len: usize,
}

/// The bytes can never be valid UTF-8, whatever follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidUtf8;

impl Utf8Validator {
    /// Checks the next piece of the message.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            bytes = self.complete_partial(bytes)?;
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => Ok(()),
            Err(error) if error.error_len().is_some() => Err(InvalidUtf8),
            Err(error) => {
                // A valid prefix of a character is left at the end: keep it (1–3 bytes).
                let tail = &bytes[error.valid_up_to()..];
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len();
                Ok(())
            }
        }
    }

    /// Checks that the message did not end inside a character.
    pub(crate) fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let unfinished = self.partial_len > 0;
        self.partial_len = 0;
        if unfinished { Err(InvalidUtf8) } else { Ok(()) }
    }

    /// Adds bytes to the unfinished character; returns the input left after it.
    fn complete_partial<'a>(&mut self, bytes: &'a [u8]) -> Result<&'a [u8], InvalidUtf8> {
        let width = match self.partial[0] {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        };
        let take = (width - self.partial_len).min(bytes.len());
        let mut char_bytes = self.partial;
        char_bytes[self.partial_len..self.partial_len + take].copy_from_slice(&bytes[..take]);
        let len = self.partial_len + take;
        match std::str::from_utf8(&char_bytes[..len]) {
            Ok(_) => {
                self.partial_len = 0;
                Ok(&bytes[take..])
            }
            Err(error) if error.error_len().is_some() => Err(InvalidUtf8),
            Err(_) => {
                // Still unfinished: all of `bytes` was taken.
                self.partial = char_bytes;
                self.partial_len = len;
                Ok(&[])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_check(bytes: &[u8], splits: &[usize]) -> Result<(), InvalidUtf8> {
        let mut validator = Utf8Validator::default();
        let mut start = 0;
        for &end in splits.iter().chain([bytes.len()].iter()) {
            validator.feed(&bytes[start..end])?;
            start = end;
        }
        validator.finish()
    }

    const VALID: &str = "κόσμε — Hello-µ@ßöäüàá-UTF-8!! 𝄞 €";

    #[test]
    fn valid_text_passes_split_at_every_byte_and_every_pair() {
        let bytes = VALID.as_bytes();
        for a in 0..=bytes.len() {
            assert_eq!(split_check(bytes, &[a]), Ok(()), "split at {a}");
            for b in a..=bytes.len() {
                assert_eq!(split_check(bytes, &[a, b]), Ok(()), "split at {a},{b}");
            }
        }
        let one_by_one: Vec<usize> = (1..bytes.len()).collect();
        assert_eq!(split_check(bytes, &one_by_one), Ok(()));
    }

    #[test]
    fn invalid_text_fails_split_at_every_byte() {
        let cases: [&[u8]; 7] = [
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"abc\xff",
            b"\xf4\x90\x80\x80",
            b"\xc0\xaf",
            b"\xe0\x80\xaf",
            b"\xed\xbf\xbf",
            b"ok\x80",
        ];
        for bytes in cases {
            for a in 0..=bytes.len() {
                assert_eq!(
                    split_check(bytes, &[a]),
                    Err(InvalidUtf8),
                    "{bytes:x?} at {a}"
                );
            }
        }
    }

    #[test]
    fn a_message_ending_inside_a_character_is_invalid() {
        for bytes in [&b"\xe2\x82"[..], b"\xf0", b"a\xf0\x9d\x84"] {
            assert_eq!(split_check(bytes, &[]), Err(InvalidUtf8));
        }
    }

    #[test]
    fn failure_is_reported_at_the_first_impossible_byte() {
        let mut validator = Utf8Validator::default();
        // U+10FFFF + 1 is impossible as soon as F4 90 is seen.
        assert_eq!(validator.feed(b"abc\xf4"), Ok(()));
        assert_eq!(validator.feed(b"\x90"), Err(InvalidUtf8));
        let mut validator = Utf8Validator::default();
        assert_eq!(validator.feed(b"\xed"), Ok(()));
        assert_eq!(validator.feed(b"\xa0"), Err(InvalidUtf8), "surrogate");
    }
}
