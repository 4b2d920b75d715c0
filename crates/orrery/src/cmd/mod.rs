pub mod bench;
pub mod bots;
pub mod fingerprint;
pub mod premap;
pub mod run;
