//! The fuzz targets' inputs, replayed on stable Rust (see docs/fuzzing.md).
//!
//! Every file under `fuzz/regressions/<target>/` (inputs that once crashed a fuzz target) and every seed under
//! `fuzz/corpus/<target>/seed-*` goes through the same checks as the fuzz target `<target>`: this test
//! includes the fuzz crate's `checks.rs` and `seeds.rs` by path, so nothing is duplicated. It also checks that
//! the committed seeds are what `seeds.rs` generates; `ORRERY_WRITE_SEEDS=1` rewrites them instead.

#[path = "../../../fuzz/src/checks.rs"]
mod checks;
#[path = "../../../fuzz/src/seeds.rs"]
mod seeds;

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files directly in `dir` (sorted), skipping dot files and READMEs; none if it does not exist.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("read a directory entry").path())
        .filter(|path| path.is_file())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with('.') && !name.starts_with("README")
        })
        .collect();
    files.sort();
    files
}

/// Runs every file through its target's checks and names all that fail, not just the first.
fn replay(target: &str, files: &[PathBuf]) -> Vec<String> {
    let mut failures = Vec::new();
    for file in files {
        let data = fs::read(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        match catch_unwind(AssertUnwindSafe(|| checks::run(target, &data))) {
            Ok(true) => {}
            Ok(false) => failures.push(format!("{}: no fuzz target called {target:?}", file.display())),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)");
                failures.push(format!("{} ({} bytes): {message}", file.display(), data.len()));
            }
        }
    }
    failures
}

#[test]
fn crashers_found_by_fuzzing_stay_fixed() {
    let root = fuzz_dir().join("regressions");
    let mut failures = Vec::new();
    if let Ok(entries) = fs::read_dir(&root) {
        for entry in entries {
            let path = entry.expect("read fuzz/regressions").path();
            if !path.is_dir() {
                continue;
            }
            let target = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned();
            if !checks::TARGETS.contains(&target.as_str()) {
                failures.push(format!("{}: not a fuzz target (known: {:?})", path.display(), checks::TARGETS));
                continue;
            }
            failures.extend(replay(&target, &files_in(&path)));
        }
    }
    assert!(failures.is_empty(), "fuzz regressions fail:\n{}", failures.join("\n"));
}

#[test]
fn every_seed_passes_its_target() {
    let mut failures = Vec::new();
    for target in checks::TARGETS {
        let seeds: Vec<PathBuf> = files_in(&fuzz_dir().join("corpus").join(target))
            .into_iter()
            .filter(|path| path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("seed-")))
            .collect();
        assert!(!seeds.is_empty(), "fuzz/corpus/{target}/ has no seed-* files");
        failures.extend(replay(target, &seeds));
    }
    assert!(failures.is_empty(), "seeds fail their target's checks:\n{}", failures.join("\n"));
}

#[test]
fn committed_seeds_are_the_generated_ones() {
    let write = std::env::var_os("ORRERY_WRITE_SEEDS").is_some();
    let generated = seeds::seeds();
    let mut problems = Vec::new();
    for target in checks::TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        let expected: Vec<&seeds::Seed> = generated.iter().filter(|seed| seed.target == target).collect();
        assert!(!expected.is_empty(), "seeds.rs makes no seed for {target}");
        if write {
            fs::create_dir_all(&dir).expect("create the corpus directory");
            for old in files_in(&dir) {
                if old.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("seed-")) {
                    fs::remove_file(&old).expect("remove an old seed");
                }
            }
        }
        for seed in &expected {
            let path = dir.join(format!("seed-{}", seed.name));
            if write {
                fs::write(&path, &seed.bytes).expect("write a seed");
            } else if fs::read(&path).ok().as_deref() != Some(&seed.bytes[..]) {
                problems.push(format!("{} is missing or stale", path.display()));
            }
        }
        let committed = files_in(&dir)
            .into_iter()
            .filter(|path| path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("seed-")))
            .count();
        if committed != expected.len() {
            problems.push(format!("{}: {committed} seed files, seeds.rs makes {}", dir.display(), expected.len()));
        }
    }
    assert!(
        problems.is_empty(),
        "{}\nrewrite the seeds with: ORRERY_WRITE_SEEDS=1 cargo test -p orrery-proto --test fuzz_regressions committed_seeds",
        problems.join("\n")
    );
}

/// Hand-made edge cases of the framing, replayed through `frame_split` (the fuzzer finds these quickly too;
/// here they are pinned).
#[test]
fn frame_split_edge_cases() {
    let cases: [&[u8]; 7] = [
        &[],
        &[202],
        &[0, 0, 0, 0, 0, 0],                   // limit 0, one empty frame: allowed
        &[0, 0, 0, 0, 0, 1, 0xff],             // limit 0, a 1-byte frame: too large
        &[204, 0xc0, 0xff, 0xff, 0xff, 0xff],  // the largest length under a 16 MiB limit: too large
        &[202, 0xc0, 0x00, 0x01, 0x00, 0x00],  // exactly 64 KiB announced, nothing follows: wait
        &[1, 0x00, 0, 0, 0, 1, 0x08, 0, 0, 0], // one byte frame (not an envelope), then a partial header
    ];
    for data in cases {
        checks::frame_split(data);
    }
}
