//! TCP framing: arbitrary bytes in reads of arbitrary sizes through `frame::split`. The checks are in `fuzz/src/checks.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| orrery_fuzz::checks::frame_split(data));
