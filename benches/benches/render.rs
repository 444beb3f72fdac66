//! In-process decode + present throughput (megapixels/s) per transfer syntax on corpus files,
//! and the physical floor for a large uncompressed image: reading the file plus one lookup-table
//! pass over its pixels.

use std::path::PathBuf;
use std::time::Instant;

/// The allocator the CLI and the desktop app use: measured as shipped.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use countersign_benches::quantile;
use countersign_imaging::{from_bytes, WindowChoice};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const FILES: &[(&str, &str)] = &[
    ("explicit_le_ct_512", "693_UNCI.dcm"),
    ("explicit_le_cr_1760_mono1", "RG3_UNCI.dcm"),
    ("explicit_be_mr", "MR_small_bigendian.dcm"),
    ("deflated", "image_dfl.dcm"),
    ("rle_mr", "MR_small_RLE.dcm"),
    ("jpeg_baseline_ybr", "examples_ybr_color.dcm"),
    ("jpeg_lossless", "JPEG-LL.dcm"),
    ("jpeg2000_lossless_cr_1760", "RG3_J2KR.dcm"),
    ("jpeg2000_lossy_ct", "693_J2KI.dcm"),
];

fn corpus(name: &str) -> PathBuf {
    countersign_testkit::corpus(name)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_present");
    group.sample_size(20);
    let mut summary = Vec::new();
    for (label, file) in FILES {
        let bytes = std::fs::read(corpus(file)).expect("corpus file");
        let probe = from_bytes(&bytes).expect("opens");
        let pixels = u64::from(probe.info.rows) * u64::from(probe.info.columns);
        group.throughput(Throughput::Elements(pixels));
        let run = || {
            let image = from_bytes(&bytes).expect("opens");
            image.render(0, WindowChoice::Default).expect("renders")
        };
        group.bench_function(*label, |b| b.iter(run));
        let mut secs: Vec<f64> = (0..15)
            .map(|_| {
                let t = Instant::now();
                run();
                t.elapsed().as_secs_f64()
            })
            .collect();
        let median = quantile(&mut secs, 0.5);
        summary.push(format!("{label} {:.0} MP/s", pixels as f64 / median / 1e6));
    }
    group.finish();

    // The floor for a large uncompressed image: read the file, one LUT pass over its pixels.
    let path = corpus("RG3_UNCI.dcm");
    let floor = || {
        let bytes = std::fs::read(&path).expect("file");
        let lut = vec![0u8; 1 << 16];
        let start = bytes.len() - 1760 * 1760 * 2;
        bytes[start..]
            .chunks_exact(2)
            .map(|c| lut[u16::from_le_bytes([c[0], c[1]]) as usize])
            .collect::<Vec<u8>>()
    };
    let full = || {
        let bytes = std::fs::read(&path).expect("file");
        from_bytes(&bytes)
            .expect("opens")
            .render(0, WindowChoice::Default)
            .expect("renders")
    };
    let time = |f: &dyn Fn()| {
        let mut s: Vec<f64> = (0..25)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect();
        quantile(&mut s, 0.5) * 1e3
    };
    let (floor_ms, full_ms) = (time(&|| drop(floor())), time(&|| drop(full())));
    println!("SUMMARY decode+present: {}", summary.join(", "));
    println!(
        "SUMMARY CR 1760² read+decode+present {full_ms:.2} ms vs floor (read + one LUT pass) {floor_ms:.2} ms = {:.2}x ({})",
        full_ms / floor_ms,
        countersign_benches::goal("<= 2x the floor", full_ms / floor_ms <= 2.0)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
