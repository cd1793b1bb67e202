//! The fuzz targets' bodies. Each takes arbitrary bytes and runs them through the code the app runs on what a
//! client sends, through the same public entry points, and checks what must hold whatever the input (no panic, an
//! error that says something, an accepted value that round-trips). The AFL binaries (tests/fuzz/src/bin) call
//! them in AFL's persistent loop; the normal test suite includes this module (tests/api/fuzz_corpus.rs) and
//! replays every corpus file through the same functions, so CI runs exactly what was fuzzed.
pub mod jws;
pub mod multipart;
pub mod p8;
pub mod pki;
pub mod webhook;

/// A target's body.
pub type Harness = fn(&[u8]);

/// Every target, by the name its binary, corpus folder and run.sh use.
pub const TARGETS: [(&str, Harness); 4] = [
    ("p8", p8::run),
    ("jws", jws::run),
    ("webhook", webhook::run),
    ("multipart", multipart::run),
];

/// Splits off the first byte, the harness's choice of mode; an empty input is mode 0 with no data.
pub fn mode_and_rest(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((mode, rest)) => (*mode, rest),
        None => (0, data),
    }
}
