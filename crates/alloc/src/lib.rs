//! `rampart-alloc`: the server binary's global allocator, mimalloc, and the one setting it
//! needs. Depends on nothing of ours; only the `rampart` binary uses it.
//!
//! Why mimalloc: with glibc's malloc, allocation and freeing were about a quarter of the CPU of
//! a chat completion under load (`bench/RESULTS.md`). Why a setting: mimalloc keeps freed pages
//! committed for a while (`purge_delay`, 10 ms) and only returns them when the thread next
//! calls the allocator, so an idle server kept ~20 MiB of freed start-up memory (idle RSS 49
//! MiB instead of 29); returning pages at once (`purge_delay` 0) costs no measurable
//! throughput (same bench). The other setting, committing arena memory as it is used
//! (`arena_eager_commit` 0), must be in effect before the first allocation, so it is a
//! compile-time default (`.cargo/config.toml`).
//!
//! This is the workspace's only `unsafe` (FFI): a call into mimalloc's documented option API.

/// The allocator to install with `#[global_allocator]`.
pub use mimalloc::MiMalloc as Allocator;

/// mimalloc's `mi_option_purge_delay` (`mimalloc.h`, v2: the 16th option, formerly
/// `mi_option_reset_delay`); the Rust bindings do not name it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Applies the settings; call once, first thing in `main`.
pub fn tune() {
    // SAFETY: `mi_option_set` takes an option index and a value and only stores the value in
    // mimalloc's option table (no pointers); 15 is `mi_option_purge_delay` in the bundled v2
    // headers, checked by the test below through `mi_option_get`.
    #[expect(unsafe_code, reason = "the one FFI call to mimalloc's option API (SAFETY above)")]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn purge_delay_is_the_option_set() {
        // SAFETY: reads an option's value by index.
        #[expect(unsafe_code, reason = "reads mimalloc's option table to check the index")]
        let before = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(before, 10, "mimalloc v2's default purge delay: the index names purge_delay");
        super::tune();
        #[expect(unsafe_code, reason = "reads mimalloc's option table to check the index")]
        let after = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(after, 0);
    }
}
