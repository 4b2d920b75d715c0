pub mod fingerprint;
pub mod premap;
