//! The bus payloads: `SystemInbox`, `NodeInbox`, `ClusterEvent`, `ProxyInbox`. The checks are in `fuzz/src/checks.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| orrery_fuzz::checks::bus_messages(data));
