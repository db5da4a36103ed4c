//! Frame headers (RFC 6455 §5.2): parsing what a client sends and encoding what the server
//! sends. Pure functions over byte slices; no state, no I/O.
//!
//! [`parse_header`] applies every rule that needs only the header itself: RSV2/RSV3 clear,
//! known opcodes, control frames final and at most 125 bytes, masking present (a server
//! must fail an unmasked client frame) and lengths below 2^63. Rules that need the
//! connection's state (continuation order, RSV1 with permessage-deflate, limits) belong to
//! the decoder.

use bytes::BufMut;

/// The largest control-frame payload (RFC 6455 §5.5).
pub(crate) const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame's opcode (RFC 6455 §5.2); reserved opcodes never get this far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpCode {
    /// 0x0: the next fragment of a message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, ping and pong.
    pub(crate) fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// FIN: the last frame of its message.
    pub(crate) fin: bool,
    /// RSV1: "compressed" under permessage-deflate.
    pub(crate) rsv1: bool,
    /// What the frame carries.
    pub(crate) opcode: OpCode,
    /// The masking key (always present on frames from a client).
    pub(crate) mask: [u8; 4],
    /// Payload length in bytes.
    pub(crate) len: u64,
}

/// A header that breaks RFC 6455 on its own (close 1002).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HeaderError {
    /// RSV2 or RSV3 set: no negotiated extension defines them.
    #[error("reserved bits RSV2/RSV3 set")]
    Reserved,
    /// Opcodes 0x3–0x7 and 0xB–0xF.
    #[error("reserved opcode {0:#x}")]
    Opcode(u8),
    /// A control frame with FIN clear.
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A control frame longer than 125 bytes.
    #[error("control frame payload of {0} bytes (at most 125)")]
    LongControl(u64),
    /// A client frame without a mask.
    #[error("unmasked frame from a client")]
    Unmasked,
    /// A 64-bit length with the most significant bit set.
    #[error("frame length with the most significant bit set")]
    Length,
}

/// Parses a client frame header from the start of `buf`: `Ok(None)` while it is incomplete,
/// else the header and its length in bytes.
pub(crate) fn parse_header(buf: &[u8]) -> Result<Option<(Header, usize)>, HeaderError> {
    let [first, second, ..] = *buf else {
        return Ok(None);
    };
    if first & 0x30 != 0 {
        return Err(HeaderError::Reserved);
    }
    let opcode = OpCode::from_bits(first & 0x0F).ok_or(HeaderError::Opcode(first & 0x0F))?;
    let fin = first & 0x80 != 0;
    if opcode.is_control() && !fin {
        return Err(HeaderError::FragmentedControl);
    }
    if second & 0x80 == 0 {
        return Err(HeaderError::Unmasked);
    }
    let (len, at) = match second & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(b) => (u64::from_be_bytes(b), 10),
            None => return Ok(None),
        },
        short => (u64::from(short), 2),
    };
    if len >> 63 != 0 {
        return Err(HeaderError::Length);
    }
    if opcode.is_control() && len > MAX_CONTROL_PAYLOAD as u64 {
        return Err(HeaderError::LongControl(len));
    }
    let Some(mask) = buf
        .get(at..at + 4)
        .and_then(|m| <[u8; 4]>::try_from(m).ok())
    else {
        return Ok(None);
    };
    let header = Header {
        fin,
        rsv1: first & 0x40 != 0,
        opcode,
        mask,
        len,
    };
    Ok(Some((header, at + 4)))
}

/// Appends an unmasked (server) frame header to `out`.
pub(crate) fn encode_header(
    out: &mut impl BufMut,
    fin: bool,
    rsv1: bool,
    opcode: OpCode,
    len: usize,
) {
    let first = u8::from(fin) << 7 | u8::from(rsv1) << 6 | opcode.bits();
    out.put_u8(first);
    match len {
        0..=125 => out.put_u8(len as u8),
        126..=0xFFFF => {
            out.put_u8(126);
            out.put_u16(len as u16);
        }
        _ => {
            out.put_u8(127);
            out.put_u64(len as u64);
        }
    }
}

/// XORs `data` with `mask`, where `data` starts `offset` bytes into the frame's payload.
pub(crate) fn apply_mask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    // A 32-byte key and a plain byte loop, which the compiler turns into vector XORs.
    let mut key = [0u8; 32];
    for (i, k) in key.iter_mut().enumerate() {
        *k = mask[(offset + i) % 4];
    }
    let mut chunks = data.chunks_exact_mut(32);
    for chunk in &mut chunks {
        for (byte, k) in chunk.iter_mut().zip(key) {
            *byte ^= k;
        }
    }
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key) {
        *byte ^= k;
    }
}

/// Encodes a whole masked client frame: for tests and load tools that play the client.
#[cfg(test)]
pub(crate) fn client_frame(
    fin: bool,
    rsv1: bool,
    opcode: u8,
    mask: [u8; 4],
    payload: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    let first = u8::from(fin) << 7 | u8::from(rsv1) << 6 | (opcode & 0x0F);
    out.push(first);
    match payload.len() {
        len @ 0..=125 => out.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], mask, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    #[test]
    fn headers_round_trip_at_every_length_boundary() {
        for len in [0usize, 1, 125, 126, 127, 0xFFFF, 0x10000, 1 << 20] {
            let payload = vec![b'x'; len];
            let bytes = client_frame(true, false, 0x2, MASK, &payload);
            let (header, at) = parse_header(&bytes).expect("valid").expect("complete");
            assert_eq!(header.len, len as u64);
            assert_eq!(header.opcode, OpCode::Binary);
            assert_eq!(header.mask, MASK);
            assert_eq!(at + len, bytes.len());
            let mut body = bytes[at..].to_vec();
            apply_mask(&mut body, header.mask, 0);
            assert_eq!(body, payload);
            for cut in 0..at {
                assert_eq!(parse_header(&bytes[..cut]), Ok(None), "cut at {cut}");
            }
        }
    }

    #[test]
    fn server_headers_use_the_shortest_length_form() {
        for (len, size) in [(0, 2), (125, 2), (126, 4), (0xFFFF, 4), (0x10000, 10)] {
            let mut out = Vec::new();
            encode_header(&mut out, true, true, OpCode::Text, len);
            assert_eq!(out.len(), size, "len {len}");
            assert_eq!(out[0], 0xC1);
            assert_eq!(out[1] & 0x80, 0, "server frames are unmasked");
        }
    }

    #[test]
    fn every_header_rule_is_enforced() {
        let cases: [(&[u8], HeaderError); 7] = [
            (&[0x91, 0x80, 0, 0, 0, 0], HeaderError::Reserved),
            (&[0xA1, 0x80, 0, 0, 0, 0], HeaderError::Reserved),
            (&[0x83, 0x80, 0, 0, 0, 0], HeaderError::Opcode(3)),
            (&[0x8B, 0x80, 0, 0, 0, 0], HeaderError::Opcode(0xB)),
            (&[0x09, 0x80, 0, 0, 0, 0], HeaderError::FragmentedControl),
            (
                &[0x89, 0xFE, 0, 126, 0, 0, 0, 0],
                HeaderError::LongControl(126),
            ),
            (
                &[0x81, 0x05, b'h', b'e', b'l', b'l', b'o'],
                HeaderError::Unmasked,
            ),
        ];
        for (bytes, error) in cases {
            assert_eq!(parse_header(bytes), Err(error), "{bytes:x?}");
        }
        let huge = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(parse_header(&huge), Err(HeaderError::Length));
    }

    #[test]
    fn masking_is_position_independent() {
        let payload: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut whole = payload.clone();
        apply_mask(&mut whole, MASK, 0);
        for split in [1, 3, 7, 8, 9, 500, 999] {
            let mut parts = payload.clone();
            let (a, b) = parts.split_at_mut(split);
            apply_mask(a, MASK, 0);
            apply_mask(b, MASK, split);
            assert_eq!(parts, whole, "split at {split}");
        }
    }
}
