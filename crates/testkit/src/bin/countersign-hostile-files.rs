//! Writes the hostile input files of `countersign_testkit::hostile` into a folder, for tests
//! outside Rust (the desktop end-to-end test imports them through the app).
//!
//! usage: countersign-hostile-files DIR

fn main() -> std::process::ExitCode {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: countersign-hostile-files DIR");
        return std::process::ExitCode::from(2);
    };
    match countersign_testkit::hostile::write_folder(std::path::Path::new(&dir)) {
        Ok(files) => {
            for f in files {
                println!("{}\t{}", f.name, f.what);
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("writing hostile files: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
