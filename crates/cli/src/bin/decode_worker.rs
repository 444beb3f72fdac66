//! `countersign-decode-worker`: the decode worker alone (see `countersign_app::sandbox`).
//!
//! The CLI and the desktop can serve as their own decode worker, but each starts a worker per
//! batch of files and, for `image render` of a compressed file, per image — and a process as
//! large as the CLI takes about 3 ms to load and relocate. This program holds the decoders and
//! the confinement only, so it starts in a fraction of that; the sandbox starts it when it is
//! installed beside the program that needs a worker, and that program itself otherwise.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    countersign_app::sandbox::serve_if_worker();
    eprintln!(
        "countersign-decode-worker is started by countersign and the desktop app, with {}",
        countersign_app::sandbox::WORKER_ARG
    );
    std::process::exit(2);
}
