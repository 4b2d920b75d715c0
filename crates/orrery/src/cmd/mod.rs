pub mod bench;
pub mod bots;
pub mod fingerprint;
pub mod migrate_bench;
pub mod premap;
pub mod roles;
pub mod run;
