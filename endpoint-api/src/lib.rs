//! The Berth plugin SDK: write WebSocket endpoints in safe Rust and build them as a `cdylib`
//! that the `berth` container loads from a web context's directory.
