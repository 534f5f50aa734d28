//! The fuzz smoke run (docs/fuzzing.md): this crate's fuzz corpora, regression inputs and seeded mutations of
//! them through the cargo-fuzz entry points, so `cargo test` catches a parser that panics without nightly.

#[test]
fn fuzz_corpora_and_mutations_never_panic() {
    let fuzz_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    ledger::fuzz::smoke(vault::fuzz::TARGETS, &fuzz_dir);
}
