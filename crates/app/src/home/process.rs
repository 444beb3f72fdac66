//! Set-up of the process, not of a home: what each shell (the desktop app and the CLI) calls
//! first thing, before any thread or file exists — files owner-only, no core dumps, no library
//! backtraces, no transparent huge pages. Apart from `home.rs` because each acts on the whole process and
//! every home it opens; the crate's root re-exports them.

/// Makes every file and folder this process creates from now on readable by its owner only
/// (umask 077): the ledger, its WAL, images, exports and keys hold PHI or secrets, and a
/// shared reading-room workstation has other local users. Process-wide, so the shells call
/// it first thing, before any thread or file exists.
pub fn owner_only_files() {
    #[cfg(unix)]
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
}

/// Keeps this process's memory out of core dumps: no core file (`RLIMIT_CORE` 0, soft and
/// hard, which `systemd-coredump` also honours) and not dumpable (`PR_SET_DUMPABLE` 0, which
/// also keeps other processes of the same user from attaching to it or reading its memory
/// through `/proc`). Why: the desktop, the CLI and the key agent hold the signing key, the
/// KEK, unwrapped data keys and report text in memory; a crash on a distribution that keeps
/// core dumps (`/var/lib/systemd/coredump`) would otherwise write all of it to a disk a thief
/// of the laptop reads. Both are inherited by threads; a program this one starts is dumpable
/// again once it `exec`s (the decode worker sets its own limits). Nothing to report when
/// refused (the shells call this before logging starts; the process then runs as before).
pub fn no_core_dumps() {
    #[cfg(unix)]
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_dumpable(false);
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

    /// Without it, a crash of a process holding the key could leave its memory in a core file.
    #[test]
    fn no_core_dumps_leaves_no_core_limit_and_the_process_not_dumpable() {
        super::no_core_dumps();
        let limits = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_CORE)
            .expect("getrlimit");
        assert_eq!(limits, (0, 0));
        assert!(!nix::sys::prctl::get_dumpable().expect("prctl"));
    }
}
