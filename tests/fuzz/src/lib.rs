//! Coverage-guided fuzzing of storedesk's parsers (docs/fuzzing.md). The harness functions live in `harness`,
//! which the normal test suite also includes (tests/api/fuzz_corpus.rs) to replay every corpus file; the AFL
//! binaries in src/bin add the allocation cap of `cap_alloc` and AFL's persistent loop.
pub mod cap_alloc;
pub mod harness;
