//! AFL++ target `p8` (persistent mode): see `storedesk_fuzz::harness::p8` and docs/fuzzing.md.
#[global_allocator]
static ALLOC: storedesk_fuzz::cap_alloc::CapAlloc = storedesk_fuzz::cap_alloc::CapAlloc::new();

fn main() {
    afl::fuzz!(|data: &[u8]| {
        storedesk_fuzz::harness::p8::run(data);
    });
}
