//! Reading a plugin's handshake verdict (`abi::verdict`, one JSON document written through
//! the ABI's writer) into the runtime's [`Decision`]. What HTTP makes of it (status ranges,
//! valid header text, the offered subprotocols) is the listener's to check.

#![allow(unsafe_code)]

use std::ffi::c_void;

use bytes::Bytes;
use endpoint_api::abi::verdict::{MAX_BODY_BYTES, Verdict};
use endpoint_api::abi::{Bytes as AbiBytes, Status};

use crate::session::{Acceptance, Decision};

/// Collects what the plugin writes (the ABI's `WriteFn` target).
pub(super) unsafe extern "C" fn collect(out: *mut c_void, chunk: AbiBytes) {
    // SAFETY: `out` is the `Vec<u8>` the host passed for this call; the chunk is lent for the
    // duration of this call.
    unsafe {
        if let Some(buffer) = out.cast::<Vec<u8>>().as_mut() {
            buffer.extend_from_slice(chunk.as_slice());
        }
    }
}

/// The decision for a callback's `status` and what it wrote.
pub(super) fn decide(status: Status, written: &[u8]) -> Decision {
    if status != Status::OK {
        return Decision::Failed(format!("on_handshake failed: {}", status.name()));
    }
    if written.is_empty() {
        return Decision::Accept(Acceptance::default());
    }
    match serde_json::from_slice::<Verdict>(written) {
        Ok(Verdict::Accept(accept)) => Decision::Accept(Acceptance {
            subprotocol: accept.subprotocol,
            headers: accept.headers,
            properties: (accept.properties.into_iter())
                .map(|(key, value)| (key, Bytes::from(value.to_string())))
                .collect(),
        }),
        Ok(Verdict::Refuse(refuse)) => Decision::Refuse {
            status: refuse.status,
            headers: refuse.headers,
            body: crate::text::cut(&refuse.body, MAX_BODY_BYTES).to_owned(),
        },
        Err(error) => Decision::Failed(format!("on_handshake's verdict is unreadable: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_written_accepts_and_a_failure_fails() {
        assert_eq!(
            decide(Status::OK, b""),
            Decision::Accept(Acceptance::default())
        );
        assert!(
            matches!(decide(Status::PANICKED, b""), Decision::Failed(why) if why.contains("panicked"))
        );
        assert!(
            matches!(decide(Status::OK, b"{nope"), Decision::Failed(why) if why.contains("unreadable"))
        );
    }

    #[test]
    fn verdicts_become_decisions() {
        let written = br#"{"accept": {"subprotocol": "v1", "headers": [["Set-Cookie", "a=b"]], "properties": {"user": "ann", "n": 3}}}"#;
        let Decision::Accept(accept) = decide(Status::OK, written) else {
            panic!("accepted");
        };
        assert_eq!(accept.subprotocol.as_deref(), Some("v1"));
        assert_eq!(
            accept.headers,
            [("Set-Cookie".to_owned(), "a=b".to_owned())]
        );
        assert_eq!(
            accept.properties,
            [
                ("n".to_owned(), Bytes::from("3")),
                ("user".to_owned(), Bytes::from("\"ann\""))
            ]
        );
        let long = "é".repeat(3000);
        let written = format!(r#"{{"refuse": {{"status": 403, "body": "{long}"}}}}"#);
        let Decision::Refuse { status, body, .. } = decide(Status::OK, written.as_bytes()) else {
            panic!("refused");
        };
        assert_eq!((status, body.len()), (403, 4096));
    }
}
