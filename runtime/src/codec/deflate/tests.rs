//! Deflate tests: round trips, context takeover, lazy state, bombs.

use super::*;

fn params(no_context_takeover: bool, bits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: no_context_takeover,
        client_no_context_takeover: no_context_takeover,
        server_max_window_bits: bits,
        client_max_window_bits: bits,
        level: 6,
        min_size: 0,
    }
}

/// Compresses with the server's compressor and inflates with the server's decompressor:
/// both directions use the same framing.
fn round_trip(deflater: &mut Deflater, inflater: &mut Inflater, message: &[u8]) -> usize {
    let mut wire = Vec::new();
    deflater.deflate(message, &mut wire).expect("deflate");
    let mut out = Vec::new();
    for piece in wire.chunks(7) {
        inflater
            .inflate(piece, &mut out, usize::MAX)
            .expect("inflate");
    }
    inflater.finish(&mut out, usize::MAX).expect("finish");
    assert_eq!(out, message);
    wire.len()
}

const TEXT: &[u8] = b"permessage-deflate compresses repeated text; repeated text compresses well. ";

#[test]
fn nothing_is_allocated_before_the_first_message() {
    let p = params(false, 15);
    assert!(!Deflater::new(&p).is_allocated());
    assert!(!Inflater::new(&p).is_allocated());
}

#[test]
fn context_takeover_shrinks_a_repeated_message_and_keeps_state() {
    let p = params(false, 15);
    let (mut deflater, mut inflater) = (Deflater::new(&p), Inflater::new(&p));
    let first = round_trip(&mut deflater, &mut inflater, TEXT);
    let second = round_trip(&mut deflater, &mut inflater, TEXT);
    assert!(second < first / 2, "{second} vs {first}");
    assert!(deflater.is_allocated() && inflater.is_allocated());
}

#[test]
fn no_context_takeover_frees_state_and_repeats_the_same_bytes() {
    let p = params(true, 15);
    let (mut deflater, mut inflater) = (Deflater::new(&p), Inflater::new(&p));
    let first = round_trip(&mut deflater, &mut inflater, TEXT);
    assert!(!deflater.is_allocated() && !inflater.is_allocated());
    let second = round_trip(&mut deflater, &mut inflater, TEXT);
    assert_eq!(first, second);
}

#[test]
fn every_window_size_round_trips() {
    let big: Vec<u8> = (0..200_000u32)
        .map(|i| (i % 251) as u8 ^ (i / 1000) as u8)
        .collect();
    for bits in 8..=15 {
        let p = params(false, bits);
        let (mut deflater, mut inflater) = (Deflater::new(&p), Inflater::new(&p));
        round_trip(&mut deflater, &mut inflater, &big);
        round_trip(&mut deflater, &mut inflater, b"");
        round_trip(&mut deflater, &mut inflater, &big[..1000]);
    }
}

#[test]
fn a_deflate_bomb_stops_one_byte_past_the_limit() {
    let p = params(false, 15);
    let mut wire = Vec::new();
    Deflater::new(&p)
        .deflate(&vec![0u8; 20 << 20], &mut wire)
        .expect("deflate");
    assert!(wire.len() < 30_000, "{}", wire.len());
    let limit = 64 * 1024;
    let mut inflater = Inflater::new(&p);
    let mut out = Vec::new();
    let result = wire
        .chunks(1024)
        .try_for_each(|piece| inflater.inflate(piece, &mut out, limit));
    assert_eq!(result, Err(InflateError::TooBig));
    assert!(out.capacity() <= limit + 1, "capacity {}", out.capacity());
}

#[test]
fn a_message_exactly_at_the_limit_passes() {
    let p = params(false, 15);
    let message = vec![b'a'; 10_000];
    let mut wire = Vec::new();
    Deflater::new(&p)
        .deflate(&message, &mut wire)
        .expect("deflate");
    let mut inflater = Inflater::new(&p);
    let mut out = Vec::new();
    inflater.inflate(&wire, &mut out, 10_000).expect("inflate");
    inflater.finish(&mut out, 10_000).expect("finish");
    assert_eq!(out.len(), 10_000);
}

#[test]
fn corrupt_data_and_data_after_a_final_block_are_refused() {
    let p = params(false, 15);
    let mut out = Vec::new();
    let corrupt = Inflater::new(&p).inflate(&[0xFF, 0xFF, 0xFF], &mut out, 1000);
    assert!(
        matches!(corrupt, Err(InflateError::Corrupt(_))),
        "{corrupt:?}"
    );
    // An empty final stored block, then more bytes.
    let mut inflater = Inflater::new(&p);
    let result = inflater.inflate(&[0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00], &mut out, 1000);
    assert!(
        matches!(result, Err(InflateError::Corrupt(_))),
        "{result:?}"
    );
}

#[test]
fn a_final_block_ends_the_message_and_a_new_stream_follows() {
    let p = params(false, 15);
    let mut inflater = Inflater::new(&p);
    let mut out = Vec::new();
    // "a" in a final fixed-Huffman block, as some clients send it.
    let mut raw = Compress::new(Compression::new(6), false);
    let mut wire = Vec::with_capacity(64);
    raw.compress_vec(b"a", &mut wire, FlushCompress::Finish)
        .expect("compress");
    inflater.inflate(&wire, &mut out, 100).expect("inflate");
    inflater.finish(&mut out, 100).expect("finish");
    assert_eq!(out, b"a");
    out.clear();
    inflater
        .inflate(&wire, &mut out, 100)
        .expect("inflate again");
    inflater.finish(&mut out, 100).expect("finish again");
    assert_eq!(out, b"a");
}
