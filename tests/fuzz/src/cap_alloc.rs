//! "No unbounded allocation", made a crash AFL records: the fuzz binaries' global allocator passes every call to
//! the system allocator but aborts the process when one allocation asks for more than [`MAX_ONE`] or when the
//! bytes live at once would pass [`MAX_LIVE`].
//!
//! Why these caps: the largest input any target accepts is 256 KiB (the key upload's body limit; the webhook's is
//! 64 KiB, a `.p8` 8 KiB) and AFL's inputs are at most 1 MiB. Parsing such an input honestly costs a small multiple
//! of its size, so an allocation of 16 MiB can only come from a length taken from the input and believed, and
//! 64 MiB live leaves room for the runtime, the verifier and its chain cache (a few MiB) and nothing for a
//! parser that grows without bound. afl-fuzz's own memory limit (`-m`, in tests/fuzz/run.sh) is the backstop for
//! memory the allocator does not see.
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The largest single allocation allowed.
pub const MAX_ONE: usize = 16 * 1024 * 1024;
/// The most bytes allowed live at once.
pub const MAX_LIVE: usize = 64 * 1024 * 1024;

pub struct CapAlloc {
    live: AtomicUsize,
}

impl CapAlloc {
    pub const fn new() -> Self {
        CapAlloc {
            live: AtomicUsize::new(0),
        }
    }

    fn admit(&self, size: usize) {
        if size > MAX_ONE {
            refuse("one allocation", size);
        }
        let live = self.live.fetch_add(size, Ordering::Relaxed) + size;
        if live > MAX_LIVE {
            refuse("live bytes", live);
        }
    }

    fn release(&self, size: usize) {
        self.live.fetch_sub(size, Ordering::Relaxed);
    }
}

impl Default for CapAlloc {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes one line to stderr without allocating (stderr is unbuffered; integer formatting does not allocate)
/// and aborts, which AFL records as a crash.
#[cold]
fn refuse(what: &str, bytes: usize) -> ! {
    let _ = writeln!(
        std::io::stderr(),
        "cap_alloc: {what} of {bytes} bytes is over the cap (one {MAX_ONE}, live {MAX_LIVE})"
    );
    std::process::abort()
}

// SAFETY: every call is passed unchanged to `System`, which upholds GlobalAlloc's contract; the counting around
// it touches no memory of the caller's.
unsafe impl GlobalAlloc for CapAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.admit(layout.size());
        let p = System.alloc(layout);
        if p.is_null() {
            self.release(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.admit(layout.size());
        let p = System.alloc_zeroed(layout);
        if p.is_null() {
            self.release(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        self.release(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old {
            self.admit(new_size - old);
            if new_size > MAX_ONE {
                refuse("one allocation", new_size);
            }
        }
        let p = System.realloc(ptr, layout, new_size);
        if p.is_null() {
            if new_size > old {
                self.release(new_size - old);
            }
        } else if new_size < old {
            self.release(old - new_size);
        }
        p
    }
}
