//! Compiles `proto/orrery/v1/*.proto` with protox (a pure-Rust protobuf compiler), so that building orrery
//! needs no system `protoc`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [root.join("orrery/v1/game.proto"), root.join("orrery/v1/bus.proto")];
    println!("cargo:rerun-if-changed={}", root.join("conformance/cases.json").display());
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let descriptors = protox::compile(&files, [&root])?;
    // The descriptors themselves, for the `conformance` feature: it reads the golden cases' proto3 JSON with them.
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("orrery.v1.descriptors.bin"), prost::Message::encode_to_vec(&descriptors))?;
    prost_build::Config::new().bytes(["."]).compile_fds(descriptors)?;
    Ok(())
}
