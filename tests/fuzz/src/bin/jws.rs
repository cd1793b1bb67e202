//! AFL++ target `jws` (persistent mode): see `storedesk_fuzz::harness::jws` and docs/fuzzing.md.
#[global_allocator]
static ALLOC: storedesk_fuzz::cap_alloc::CapAlloc = storedesk_fuzz::cap_alloc::CapAlloc::new();

fn main() {
    afl::fuzz!(|data: &[u8]| {
        storedesk_fuzz::harness::jws::run(data);
    });
}
