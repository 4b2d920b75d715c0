//! `ServerEnvelope`, as a client (`orrery-client`) decodes the server's. The checks are in `fuzz/src/checks.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| orrery_fuzz::checks::server_envelope(data));
