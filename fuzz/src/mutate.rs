//! A fixed pseudo-random sequence of mutations, for fuzzing without libFuzzer: the same
//! inputs every run, so a failure reproduces from its index.

/// xorshift64.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to the formats fuzzed: TOML and JSON punctuation, separators of package
/// names and version requirements, NUL, an invalid UTF-8 byte and a two-byte character.
const ALPHABET: &[u8] = b"\"'=[]{}.,:#@/\\-_+^~*<>\n \x00\x01\xffazAZ09\xc3\xa9";

/// Calls `check` with each seed and then `rounds` mutations of each (bytes replaced,
/// removed, inserted, spliced in from another seed, runs repeated). Returns how many inputs
/// were checked.
pub fn run(seeds: &[Vec<u8>], rounds: usize, mut check: impl FnMut(&[u8])) -> usize {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut tried = 0;
    for seed in seeds {
        check(seed);
        tried += 1;
        for _ in 0..rounds {
            let mut bytes = seed.clone();
            for _ in 0..=rng.below(5) {
                mutate_once(&mut rng, &mut bytes, seeds);
            }
            check(&bytes);
            tried += 1;
        }
    }
    tried
}

fn mutate_once(rng: &mut Rng, bytes: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    let at = rng.below(bytes.len() + 1);
    match rng.below(5) {
        0 if at < bytes.len() => bytes[at] = ALPHABET[rng.below(ALPHABET.len())],
        1 if at < bytes.len() => {
            bytes.remove(at);
        }
        2 => {
            let other = &seeds[rng.below(seeds.len())];
            let from = rng.below(other.len());
            let to = (from + rng.below(16)).min(other.len());
            bytes.splice(at..at, other[from..to].iter().copied());
        }
        3 => {
            // Repeat a run: deep nesting, long names.
            let to = (at + rng.below(8)).min(bytes.len());
            let run = bytes[at..to].to_vec();
            for _ in 0..rng.below(64) {
                bytes.splice(at..at, run.iter().copied());
            }
        }
        _ => bytes.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
    }
}
