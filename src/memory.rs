//! How the process takes memory from the kernel: settings `main`, the bench and the
//! profiling examples apply before they start work.

/// Turns transparent huge pages off for this process (best effort: a kernel without the
/// setting leaves it as it was, and only speed depends on it).
///
/// Why: mimalloc (v3, our allocator) advises huge pages for its arenas, so the first touch of
/// a fresh part of one makes the kernel zero a whole 2 MiB page, however little of it a heap
/// then uses; each thread has its own heap. With 32 submitters in group commit, zeroing huge
/// pages was 20–39 % of all CPU samples (`perf`, `examples/group_profile`); a 1 M-event import
/// ran at 688 k instead of 611 k ev/s (medians of four alternated runs of
/// `examples/import_profile`). docs/performance.md has the figures.
pub fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        // Ignored on failure, as said above.
        let _ = rustix::thread::disable_transparent_huge_pages(true);
    }
}
