//! Decoder tests: every receiving rule, limits, compression and arbitrary input.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::Decoder;
use crate::codec::deflate::{DeflateParams, Deflater};
use crate::codec::frame::client_frame;
use crate::codec::{CodecError, CodecLimits, Inbound};

const MASK: [u8; 4] = [0xA1, 0x5B, 0x03, 0xE7];
const LIMITS: CodecLimits = CodecLimits {
    text: 1000,
    binary: 2000,
};

fn deflate_params() -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
        level: 6,
        min_size: 0,
    }
}

fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    client_frame(fin, false, opcode, MASK, payload)
}

/// Feeds `bytes` to `decoder` in pieces of `chunk` bytes; collects everything it yields,
/// stopping at the first error.
fn decode_in(decoder: &mut Decoder, bytes: &[u8], chunk: usize) -> Vec<Result<Inbound, String>> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(inbound)) => out.push(Ok(inbound)),
                Ok(None) => break,
                Err(error) => {
                    out.push(Err(error.to_string()));
                    return out;
                }
            }
        }
    }
    out
}

fn decode(bytes: &[u8]) -> Vec<Result<Inbound, String>> {
    decode_in(&mut Decoder::new(LIMITS, None), bytes, usize::MAX)
}

fn first_error(bytes: &[u8]) -> CodecError {
    let mut decoder = Decoder::new(LIMITS, Some(&deflate_params()));
    let mut buf = BytesMut::from(bytes);
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("no error in {bytes:x?}"),
            Err(error) => return error,
        }
    }
}

#[test]
fn messages_and_control_frames_are_decoded_whatever_the_read_sizes() {
    let mut stream = frame(true, 0x1, "héllo".as_bytes());
    stream.extend(frame(false, 0x2, b"ab"));
    stream.extend(frame(true, 0x9, b"ping"));
    stream.extend(frame(false, 0x0, b""));
    stream.extend(frame(true, 0x0, b"cd"));
    stream.extend(frame(true, 0xA, b""));
    stream.extend(frame(true, 0x8, &[0x03, 0xE8, b'b', b'y', b'e']));
    let expected = vec![
        Ok(Inbound::Text(Bytes::from("héllo"))),
        Ok(Inbound::Ping(Bytes::from_static(b"ping"))),
        Ok(Inbound::Binary(Bytes::from_static(b"abcd"))),
        Ok(Inbound::Pong(Bytes::new())),
        Ok(Inbound::Close(Some((1000, "bye".into())))),
    ];
    for chunk in [1, 2, 3, 5, 7, 64, usize::MAX] {
        let mut decoder = Decoder::new(LIMITS, None);
        assert_eq!(
            decode_in(&mut decoder, &stream, chunk),
            expected,
            "chunk {chunk}"
        );
        assert!(decoder.is_between_messages());
    }
}

#[test]
fn every_protocol_error_class_is_refused() {
    let long_ping = frame(true, 0x9, &[0; 126]);
    let mut rsv2 = frame(true, 0x1, b"");
    rsv2[0] |= 0x20;
    let mut unmasked = frame(true, 0x1, b"x");
    unmasked[1] &= 0x7F;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("unmasked", unmasked, "unmasked"),
        ("RSV2", rsv2, "reserved bits"),
        ("reserved opcode", frame(true, 0x3, b""), "reserved opcode"),
        (
            "reserved control opcode",
            frame(true, 0xB, b""),
            "reserved opcode",
        ),
        ("long ping", long_ping, "at most 125"),
        (
            "fragmented ping",
            frame(false, 0x9, b""),
            "fragmented control",
        ),
        (
            "lone continuation",
            frame(true, 0x0, b"x"),
            "continuation frame without",
        ),
        (
            "RSV1 on a ping",
            client_frame(true, true, 0x9, MASK, b""),
            "RSV1 set on a control",
        ),
        ("1-byte close", frame(true, 0x8, &[0x03]), "1-byte payload"),
        (
            "close code 1005",
            frame(true, 0x8, &[0x03, 0xED]),
            "invalid close code 1005",
        ),
        (
            "close code 999",
            frame(true, 0x8, &[0x03, 0xE7]),
            "invalid close code 999",
        ),
        (
            "close code 5000",
            frame(true, 0x8, &[0x13, 0x88]),
            "invalid close code 5000",
        ),
    ];
    for (name, bytes, expected) in cases {
        let error = first_error(&bytes);
        assert!(matches!(error, CodecError::Protocol(_)), "{name}: {error}");
        assert!(error.to_string().contains(expected), "{name}: {error}");
    }
    let mut interleaved = frame(false, 0x1, b"a");
    interleaved.extend(frame(true, 0x1, b"b"));
    assert!(
        first_error(&interleaved)
            .to_string()
            .contains("new message started")
    );
    let mut rsv1_continuation = client_frame(false, true, 0x1, MASK, &[0x4A, 0x04, 0x00]);
    rsv1_continuation.extend(client_frame(true, true, 0x0, MASK, b""));
    assert!(
        first_error(&rsv1_continuation)
            .to_string()
            .contains("continuation")
    );
    let rsv1 = client_frame(true, true, 0x1, MASK, b"x");
    let without = decode(&rsv1);
    assert!(
        matches!(&without[0], Err(e) if e.contains("without a negotiated")),
        "{without:?}"
    );
}

#[test]
fn valid_close_codes_pass_and_a_bad_reason_is_invalid_utf8() {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        let got = decode(&frame(true, 0x8, &code.to_be_bytes()));
        assert_eq!(got, vec![Ok(Inbound::Close(Some((code, String::new()))))]);
    }
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let got = decode(&frame(true, 0x8, &code.to_be_bytes()));
        assert!(
            matches!(&got[0], Err(e) if e.contains("invalid close code")),
            "{code}"
        );
    }
    assert_eq!(
        decode(&frame(true, 0x8, b"")),
        vec![Ok(Inbound::Close(None))]
    );
    let bad_reason = frame(true, 0x8, &[0x03, 0xE8, 0xCE, 0xBA, 0xE1, 0xBD]);
    assert!(matches!(first_error(&bad_reason), CodecError::InvalidUtf8));
}

#[test]
fn fragmented_utf8_split_at_every_byte_is_accepted() {
    let text = "κόσμε 𝄞 €uro".as_bytes();
    for split in 0..=text.len() {
        let mut stream = frame(false, 0x1, &text[..split]);
        stream.extend(frame(true, 0x0, &text[split..]));
        for chunk in [1, usize::MAX] {
            let got = decode_in(&mut Decoder::new(LIMITS, None), &stream, chunk);
            assert_eq!(
                got,
                vec![Ok(Inbound::Text(Bytes::copy_from_slice(text)))],
                "{split}"
            );
        }
    }
}

#[test]
fn invalid_utf8_fails_before_the_frame_or_message_is_complete() {
    // One frame announcing 100 bytes, of which only the first 6 (with the bad byte) came.
    let mut payload = b"abc\xF4\x90zz".to_vec();
    payload.resize(100, b'z');
    let stream = frame(true, 0x1, &payload);
    let mut decoder = Decoder::new(LIMITS, None);
    let mut buf = BytesMut::from(&stream[..6 + 6]);
    assert!(matches!(
        decoder.decode(&mut buf),
        Err(CodecError::InvalidUtf8)
    ));
    // Fragmented: the second of three fragments is bad.
    let mut stream = frame(false, 0x1, "κόσμε".as_bytes());
    stream.extend(frame(false, 0x0, b"\xED\xA0\x80"));
    let got = decode(&stream);
    assert_eq!(got, vec![Err("invalid UTF-8 in a text message".into())]);
}

#[test]
fn text_and_binary_limits_are_separate_and_checked_at_the_header() {
    let header_only = |opcode: u8, len: usize| {
        let bytes = frame(true, opcode, &vec![b'a'; len]);
        let header = if len < 126 { 6 } else { 8 };
        let mut buf = BytesMut::from(&bytes[..header]);
        Decoder::new(LIMITS, None).decode(&mut buf)
    };
    assert!(matches!(header_only(0x1, 1001), Err(CodecError::TooBig(_))));
    assert!(matches!(header_only(0x1, 1000), Ok(None)));
    assert!(matches!(header_only(0x2, 1001), Ok(None)));
    assert!(matches!(header_only(0x2, 2001), Err(CodecError::TooBig(_))));
    // Fragments add up: the third fragment's header already shows 1200 > 1000.
    let mut stream = frame(false, 0x1, &[b'a'; 400]);
    stream.extend(frame(false, 0x0, &[b'a'; 400]));
    stream.extend(frame(true, 0x0, &[b'a'; 400])[..8].to_vec());
    let got = decode(&stream);
    assert!(
        matches!(&got[0], Err(e) if e.contains("text message exceeds the limit of 1000")),
        "{got:?}"
    );
}

fn compressed(deflater: &mut Deflater, message: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    deflater.deflate(message, &mut wire).expect("deflate");
    wire
}

#[test]
fn compressed_messages_are_inflated_also_when_fragmented() {
    let params = deflate_params();
    let mut deflater = Deflater::new(&params);
    let text = "compressed text ".repeat(20);
    let wire = compressed(&mut deflater, text.as_bytes());
    let mut stream = client_frame(true, true, 0x1, MASK, &wire);
    let wire2 = compressed(&mut deflater, text.as_bytes());
    let (a, b) = wire2.split_at(wire2.len() / 2);
    stream.extend(client_frame(false, true, 0x1, MASK, a));
    stream.extend(frame(true, 0x9, b""));
    stream.extend(client_frame(true, false, 0x0, MASK, b));
    stream.extend(frame(true, 0x2, b"plain"));
    for chunk in [1, 3, usize::MAX] {
        let mut decoder = Decoder::new(LIMITS, Some(&params));
        let got = decode_in(&mut decoder, &stream, chunk);
        let expected = vec![
            Ok(Inbound::Text(Bytes::from(text.clone()))),
            Ok(Inbound::Ping(Bytes::new())),
            Ok(Inbound::Text(Bytes::from(text.clone()))),
            Ok(Inbound::Binary(Bytes::from_static(b"plain"))),
        ];
        assert_eq!(got, expected, "chunk {chunk}");
    }
}

#[test]
fn a_deflate_bomb_gets_too_big_before_inflating_past_the_limit() {
    let params = deflate_params();
    let wire = compressed(&mut Deflater::new(&params), &vec![b'a'; 10 << 20]);
    let stream = client_frame(true, true, 0x2, MASK, &wire);
    let got = decode_in(&mut Decoder::new(LIMITS, Some(&params)), &stream, 4096);
    assert_eq!(
        got,
        vec![Err(
            "message too big: binary message exceeds the limit of 2000 bytes".into()
        )]
    );
}

#[test]
fn invalid_utf8_inside_compressed_text_fails_fast() {
    let params = deflate_params();
    let mut bad = "valid start ".repeat(50).into_bytes();
    bad.extend_from_slice(b"\xFF");
    bad.extend(vec![b'x'; 5000]);
    let wire = compressed(&mut Deflater::new(&params), &bad);
    let stream = client_frame(true, true, 0x1, MASK, &wire);
    let limits = CodecLimits {
        text: 1 << 20,
        binary: 1 << 20,
    };
    let mut decoder = Decoder::new(limits, Some(&params));
    let mut buf = BytesMut::from(&stream[..stream.len() - 2]);
    assert!(matches!(
        decoder.decode(&mut buf),
        Err(CodecError::InvalidUtf8)
    ));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), chunk in 1usize..64) {
        for deflate in [None, Some(deflate_params())] {
            let limits = CodecLimits { text: 512, binary: 512 };
            let mut decoder = Decoder::new(limits, deflate.as_ref());
            let _ = decode_in(&mut decoder, &bytes, chunk);
        }
    }

    #[test]
    fn masked_frames_with_arbitrary_headers_never_panic(
        frames in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..300)), 1..8),
        chunk in 1usize..512,
    ) {
        let mut stream = Vec::new();
        for (first, payload) in &frames {
            stream.extend(client_frame(first & 0x80 != 0, first & 0x40 != 0, first & 0x0F, MASK, payload));
        }
        let mut decoder = Decoder::new(LIMITS, Some(&deflate_params()));
        let _ = decode_in(&mut decoder, &stream, chunk);
    }
}

#[test]
fn a_close_may_arrive_between_the_fragments_of_a_message() {
    let mut stream = frame(false, 0x1, b"half");
    stream.extend(frame(true, 0x8, &[0x03, 0xE8]));
    assert_eq!(
        decode(&stream),
        vec![Ok(Inbound::Close(Some((1000, String::new()))))]
    );
}
