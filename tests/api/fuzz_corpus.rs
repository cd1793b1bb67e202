//! The fuzz campaigns' corpora in the normal test suite: every file of tests/fuzz/corpus/<target>/ (the seeds,
//! the minimized queue of the last campaign and any input that once crashed) is run through the very harness
//! the AFL binaries run (tests/fuzz/src/harness, included here), and property tests mutate the seeds the way a
//! fuzzer does, for a bounded number of cases. What must hold is in the harness: no panic, a refusal that says
//! something, an accepted key or payload that reads back the same. The campaigns themselves: docs/fuzzing.md.
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use proptest::prelude::*;

#[path = "../fuzz/src/harness/mod.rs"]
#[allow(dead_code)]
mod harness;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn harness_of(target: &str) -> harness::Harness {
    harness::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, run)| *run)
        .unwrap()
}

/// Runs every file; a panic names the file that caused it.
fn replay(target: &str) {
    let run = harness_of(target);
    let files = corpus(target);
    let seeds = files
        .iter()
        .filter(|(name, _)| name.starts_with("seed-"))
        .count();
    assert!(
        seeds >= 5,
        "{target}: only {seeds} seeds in tests/fuzz/corpus/{target}"
    );
    let failed: Vec<&str> = files
        .iter()
        .filter(|(_, data)| catch_unwind(AssertUnwindSafe(|| run(data))).is_err())
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(
        failed.is_empty(),
        "{target}: these corpus files panic: {failed:?}"
    );
}

#[test]
fn the_p8_corpus_runs_clean() {
    replay("p8");
}

#[test]
fn the_jws_corpus_runs_clean() {
    replay("jws");
}

#[test]
fn the_webhook_corpus_runs_clean() {
    replay("webhook");
}

#[test]
fn the_multipart_corpus_runs_clean() {
    replay("multipart");
}

/// The seeds of the real inputs mean something only if they get past the first checks: a good key is accepted,
/// a good notification is stored. Guards the harness and the seeds against quietly testing nothing.
#[test]
fn the_good_seeds_are_accepted() {
    let seed = |target: &str, name: &str| {
        corpus(target)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, data)| data)
            .unwrap_or_else(|| panic!("no {name} in tests/fuzz/corpus/{target}"))
    };
    let key = seed("p8", "seed-SubscriptionKey_ABCDE12345.p8");
    assert!(storedesk::domain::ApplePrivateKey::parse(&key).is_ok());

    let body = seed("webhook", "seed-signed-body");
    let parsed = storedesk::routes::apple::notifications::parse_body(&body[1..]).unwrap();
    let project = storedesk::store::Project {
        id: 1,
        slug: "demo".into(),
        name: "Demo".into(),
        bundle_id: harness::jws::BUNDLE_ID.into(),
        app_apple_id: Some(harness::jws::APP_APPLE_ID),
        environment: "Sandbox".into(),
        created_at: 0,
        updated_at: 0,
    };
    let (row, n) = storedesk::notifications::prepare(
        harness::pki::verifier(),
        &project,
        &parsed.signed_payload,
        storedesk::notifications::Source::Webhook,
    )
    .unwrap();
    assert!(
        n.transaction.is_some(),
        "the nested transaction was not verified"
    );
    assert!(row.index.is_some());
}

/// One fuzzer-like change to an input.
#[derive(Debug, Clone)]
enum Edit {
    Flip { at: usize, bit: u8 },
    Set { at: usize, byte: u8 },
    Insert { at: usize, bytes: Vec<u8> },
    Delete { at: usize, len: usize },
    Truncate { at: usize },
    Duplicate { at: usize, len: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Edit::Flip { at, bit }),
        (
            any::<usize>(),
            prop_oneof![
                any::<u8>(),
                Just(0u8),
                Just(0xff),
                Just(b'"'),
                Just(b'.'),
                Just(b'\n')
            ]
        )
            .prop_map(|(at, byte)| Edit::Set { at, byte }),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Edit::Delete { at, len }),
        any::<usize>().prop_map(|at| Edit::Truncate { at }),
        (any::<usize>(), 1usize..256).prop_map(|(at, len)| Edit::Duplicate { at, len }),
    ]
}

/// `data` with the edits applied; positions wrap around its length. The first byte, the harness's mode, is
/// edited like the rest.
fn mutate(mut data: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = data.len().max(1);
        match e {
            Edit::Flip { at, bit } => {
                if let Some(b) = data.get_mut(at % len) {
                    *b ^= 1 << bit;
                }
            }
            Edit::Set { at, byte } => {
                if let Some(b) = data.get_mut(at % len) {
                    *b = *byte;
                }
            }
            Edit::Insert { at, bytes } => {
                let at = at % (data.len() + 1);
                data.splice(at..at, bytes.iter().copied());
            }
            Edit::Delete { at, len: n } => {
                let at = at % len;
                let end = (at + n).min(data.len());
                if at < end {
                    data.drain(at..end);
                }
            }
            Edit::Truncate { at } => data.truncate(at % len),
            Edit::Duplicate { at, len: n } => {
                let at = at % len;
                let end = (at + n).min(data.len());
                if at < end {
                    let copy = data[at..end].to_vec();
                    data.splice(end..end, copy);
                }
            }
        }
    }
    data
}

fn mutated_seeds(target: &str) -> impl Strategy<Value = Vec<u8>> {
    let seeds: Vec<Vec<u8>> = corpus(target)
        .into_iter()
        .filter(|(name, _)| name.starts_with("seed-"))
        .map(|(_, data)| data)
        .collect();
    (
        proptest::sample::select(seeds),
        proptest::collection::vec(edit(), 1..6),
    )
        .prop_map(|(seed, edits)| mutate(seed, &edits))
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(2000))]
    #[test]
    fn mutated_p8_seeds(data in mutated_seeds("p8")) {
        harness::p8::run(&data);
    }
}

proptest! {
    #![proptest_config(config(400))]
    #[test]
    fn mutated_jws_seeds(data in mutated_seeds("jws")) {
        harness::jws::run(&data);
    }

    #[test]
    fn mutated_webhook_seeds(data in mutated_seeds("webhook")) {
        harness::webhook::run(&data);
    }
}

proptest! {
    #![proptest_config(config(300))]
    #[test]
    fn mutated_multipart_seeds(data in mutated_seeds("multipart")) {
        harness::multipart::run(&data);
    }
}
