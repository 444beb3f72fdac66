// No console window on Windows release builds; Linux is unaffected.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// Image buffers are allocated and freed per frame; mimalloc reuses the pages (see the CLI).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Started again by itself to decode an untrusted image in a confined worker process.
    countersign_app::sandbox::serve_if_worker();
    // Before WebKit or any thread starts (the environment is read once, by WebKit).
    countersign_desktop::choose_webkit_compositing();
    // Before anything is created: every file and folder is the owner's alone.
    countersign_app::owner_only_files();
    // Nor is any of the memory holding the key and report text, through a core dump.
    countersign_app::no_core_dumps();
    countersign_app::no_library_backtraces();
    countersign_app::no_huge_pages();
    countersign_desktop::run();
}
