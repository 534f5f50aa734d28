//! The fuzz smoke run of `cargo test`: every committed corpus file and regression input of a crate's targets,
//! then a bounded number of seeded random mutations of them, through the same entry points as cargo-fuzz. It
//! needs no nightly toolchain and takes seconds; the real, coverage-guided runs are in docs/fuzzing.md.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use super::Target;

/// Mutations per target unless `TRADELEDGER_FUZZ_SMOKE_MUTATIONS` says otherwise.
const DEFAULT_MUTATIONS: usize = 2_000;
/// Mutated inputs never grow beyond this, so the run stays fast.
const MAX_LEN: usize = 16 * 1024;

/// xorshift64*: a deterministic, seedable generator; the smoke run must be reproducible, not unpredictable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }
}

/// Files directly in `dir`, sorted by name; none if it does not exist.
fn inputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (!name.starts_with('.')).then(|| std::fs::read(e.path()).ok().map(|b| (name, b)))?
        })
        .collect();
    files.sort();
    files
}

/// One random edit of the kinds libFuzzer makes: bit flip, byte set, insert, delete, duplicate, splice,
/// truncate, or an interesting byte ('\n', ' ', '0', 0xff...).
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
    const INTERESTING: &[u8] = b"\n \t0 9+/=,;:\"'\\{}[]-x.p\xff\x00\x7f";
    let at = rng.below(input.len() + 1);
    match rng.below(8) {
        0 if at < input.len() => input[at] ^= 1 << rng.below(8),
        1 if at < input.len() => input[at] = rng.next().to_le_bytes()[0],
        2 => input.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
        3 if at < input.len() => {
            let end = (at + 1 + rng.below(8)).min(input.len());
            input.drain(at..end);
        }
        4 if at < input.len() => {
            let end = (at + 1 + rng.below(32)).min(input.len());
            let chunk = input[at..end].to_vec();
            let to = rng.below(input.len() + 1);
            input.splice(to..to, chunk);
        }
        5 if !other.is_empty() => {
            let from = rng.below(other.len());
            let end = (from + 1 + rng.below(64)).min(other.len());
            input.splice(at..at, other[from..end].iter().copied());
        }
        6 => input.truncate(at),
        _ => {
            let b = INTERESTING[rng.below(INTERESTING.len())];
            if at < input.len() {
                input[at] = b;
            } else {
                input.push(b);
            }
        }
    }
    input.truncate(MAX_LEN);
}

/// Runs one input; on a panic, fails naming the target, where the input came from and its bytes.
fn run_one(name: &str, run: fn(&[u8]), origin: &str, input: &[u8]) {
    if catch_unwind(AssertUnwindSafe(|| run(input))).is_err() {
        panic!(
            "fuzz target {name} panicked on {origin}; input ({} bytes, escaped): {}",
            input.len(),
            input.escape_ascii()
        );
    }
}

/// Replays `fuzz_dir/corpus/<target>/*` and `fuzz_dir/regressions/<target>/*` for every target, then
/// mutates them. Panics (failing the test) on the first input a target panics on.
pub fn smoke(targets: &[Target], fuzz_dir: &Path) {
    let mutations = std::env::var("TRADELEDGER_FUZZ_SMOKE_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MUTATIONS);
    for &(name, run) in targets {
        let mut pool = inputs(&fuzz_dir.join("corpus").join(name));
        let corpus_len = pool.len();
        pool.extend(inputs(&fuzz_dir.join("regressions").join(name)));
        assert!(
            corpus_len > 0,
            "fuzz target {name} has no corpus under {}",
            fuzz_dir.display()
        );
        for (file, input) in &pool {
            run_one(name, run, &format!("{name}/{file}"), input);
        }
        let seed = name.bytes().fold(0x9e37_79b9_7f4a_7c15_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let mut rng = Rng(seed | 1);
        for i in 0..mutations {
            let (file, base) = &pool[rng.below(pool.len())];
            let other = &pool[rng.below(pool.len())].1;
            let mut input = base.clone();
            for _ in 0..=rng.below(4) {
                mutate(&mut rng, &mut input, other);
            }
            run_one(name, run, &format!("mutation {i} of {file}"), &input);
        }
    }
}
