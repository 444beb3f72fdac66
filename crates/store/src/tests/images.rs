//! The image store on disk: its 256 prefix folders (made once, completed in an old home) and
//! staged images committed under their final names, alone or in a batch.

/// The 256 prefix folders are made once, all of them, and making them again changes nothing;
/// a home from before them (some prefixes made as images came) gets the rest.
#[test]
fn the_image_store_prefix_folders_are_made_once_and_completed_in_an_old_home() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    let count = || std::fs::read_dir(&images).unwrap().count();
    crate::prepare_image_folders(dir.path()).unwrap();
    assert_eq!(count(), 256);
    assert!(images.join("00").is_dir() && images.join("ff").is_dir());
    crate::prepare_image_folders(dir.path()).unwrap();
    assert_eq!(count(), 256);

    let old = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(old.path().join("images/3a")).unwrap();
    std::fs::write(old.path().join("images/3a/kept.dcm"), b"x").unwrap();
    crate::prepare_image_folders(old.path()).unwrap();
    assert_eq!(
        std::fs::read_dir(old.path().join("images"))
            .unwrap()
            .count(),
        256
    );
    assert_eq!(
        std::fs::read(old.path().join("images/3a/kept.dcm")).unwrap(),
        b"x"
    );
}

/// A batch is committed under its final names, whole, with nothing left under a temporary
/// name — by the filesystem-wide sync for a batch, file by file for one image — and a prefix
/// folder removed by hand is made again.
#[test]
fn staged_images_are_committed_under_their_names_alone_or_in_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    crate::prepare_image_folders(dir.path()).unwrap();
    std::fs::remove_dir(dir.path().join("images/00")).unwrap();
    for n in [1usize, crate::SYNCFS_FROM, 40] {
        let files: Vec<(std::path::PathBuf, Vec<u8>)> = (0..n)
            .map(|i| {
                let bytes = format!("image {n} {i}").into_bytes();
                let mut sha = [0u8; 32];
                sha[..8].copy_from_slice(&((n * 1000 + i) as u64).to_le_bytes());
                // One of them in the removed folder.
                if i == 0 {
                    sha[0] = 0;
                }
                (crate::image_path(dir.path(), &sha), bytes)
            })
            .collect();
        let staged: Vec<crate::StagedImage> = files
            .iter()
            .map(|(path, bytes)| crate::stage_image(path, bytes).unwrap().unwrap())
            .collect();
        crate::commit_staged(&staged).unwrap();
        for s in &staged {
            assert!(!s.tmp().exists(), "{n}");
        }
        for (path, bytes) in &files {
            assert_eq!(
                &std::fs::read(path).unwrap(),
                bytes,
                "{n}: {}",
                path.display()
            );
        }
        // Taken names are not staged again.
        assert!(crate::stage_image(&files[0].0, b"other").unwrap().is_none());
    }
}
