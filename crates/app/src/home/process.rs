//! Set-up of the process, not of a home: what each shell (the desktop app and the CLI) calls
//! first thing, before any thread or file exists — files owner-only, no library backtraces, no
//! transparent huge pages. Apart from `home.rs` because each acts on the whole process and
//! every home it opens; the crate's root re-exports them.

/// Makes every file and folder this process creates from now on readable by its owner only
/// (umask 077): the ledger, its WAL, images, exports and keys hold PHI or secrets, and a
/// shared reading-room workstation has other local users. Process-wide, so the shells call
/// it first thing, before any thread or file exists.
pub fn owner_only_files() {
    #[cfg(unix)]
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
}

/// Turns off backtraces captured by libraries for their errors (`RUST_LIB_BACKTRACE=0`)
/// unless the environment asks for them itself; a panic's backtrace still follows
/// `RUST_BACKTRACE`. Why: dicom-rs's errors capture a backtrace whenever `RUST_BACKTRACE=1`
/// is set, and it raises one at the normal end of every data set it reads, so with that
/// variable set (common on a developer's or a CI machine) every image read walked the stack:
/// 1.6 % of a 500-instance retrieval's CPU, all of it on the storing thread (`perf`). No error
/// of this application shows a library's backtrace. Process-wide: the shells call it first
/// thing, before any thread exists (the environment is not to be changed once there are).
pub fn no_library_backtraces() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
}

/// Turns off transparent huge pages for this process (`PR_SET_THP_DISABLE`): memory is then
/// faulted in and zeroed 4 KiB at a time, as it is touched, not 2 MiB at a time. Why: the
/// allocator asks for huge pages for its arenas (`madvise`), so a retrieval's half-megabyte
/// instance buffers each cost the kernel zeroing a whole 2 MiB page (about 20 per 500-slice
/// retrieval, a tenth of its samples, on the thread draining the archive's socket), and a
/// serving sync node's resident memory held the unused rest of its huge pages. Measured
/// against the build before, alternating run by run: a 500-slice DICOMweb retrieval 11 %
/// faster with `MIMALLOC_ALLOW_THP=0` (which makes the same call), 4 % with this call built in,
/// in a noisier hour (medians of 16 runs each, by hand), a 1 000 000-report serving node's peak RSS
/// 209–221 MiB against 237–253, the first full sync's and verify's rates unchanged
/// (`benches/sync_scale.rs`; README, issue 13). Process-wide, and inherited by the processes
/// this one starts (the decode worker, the demo's Orthanc): the shells call it first thing.
pub fn no_huge_pages() {
    // A kernel without the call refuses it, and memory is then as before; nothing to report
    // (the shells call this before logging starts).
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_thp_disable(true);
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// Without it, the allocator's arenas are faulted in 2 MiB at a time (see the function).
    #[test]
    fn no_huge_pages_turns_transparent_huge_pages_off_for_the_process() {
        super::no_huge_pages();
        assert!(nix::sys::prctl::get_thp_disable().expect("prctl"));
    }
}
