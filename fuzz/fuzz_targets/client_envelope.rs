//! `ClientEnvelope`, as a proxy decodes a client's frame or WebSocket message. The checks are in `fuzz/src/checks.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| orrery_fuzz::checks::client_envelope(data));
