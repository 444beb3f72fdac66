//! Link flags for the `countersign` binary.
//!
//! A process starts by applying its relocations: this binary, position-independent and
//! large, had about 68 000 of them (1.6 MiB of `.rela.dyn`), a good part of the 4 ms it took
//! to print `--version`. `-z pack-relative-relocs` stores the relative ones as a compact
//! bitmap (`DT_RELR`, glibc ≥ 2.36, binutils ≥ 2.38) that the loader applies in a tight loop.
//! It matters twice per image rendered from a compressed file: the decode worker is this same
//! executable, started again.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
