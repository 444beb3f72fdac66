//! Arguments of the image commands (phantom, info, render), and of a window on the command line.

use super::*;

#[derive(Subcommand, Debug)]
pub(crate) enum ImageCommand {
    /// Write a synthetic CT head phantom series (no patient data) into a folder.
    Phantom {
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        #[arg(long, default_value_t = 32)]
        slices: u32,
        /// Rows and columns.
        #[arg(long, default_value_t = 256)]
        size: u16,
        /// Same seed, same UIDs and bytes.
        #[arg(long, default_value = "countersign phantom")]
        seed: String,
        /// Slice spacing in mm (slice k lies at k × this along z): two studies of one patient
        /// with different spacings scroll together by position, not by index.
        #[arg(long, default_value_t = 5.0, value_parser = parse_thickness)]
        thickness: f64,
    },
    /// What the file is: patient, study, series, geometry, pixel format, presets.
    Info { file: PathBuf },
    /// Render one frame to PNG.
    Render {
        file: PathBuf,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// 0-based frame number.
        #[arg(long, default_value_t = 0)]
        frame: u32,
        /// CENTER,WIDTH in modality units, or `minmax`; default: the header's first window.
        #[arg(long, value_parser = parse_window)]
        window: Option<WindowChoice>,
        /// Write a thumbnail no larger than N×N pixels.
        #[arg(long, value_name = "N")]
        thumbnail: Option<u32>,
    },
}

pub(crate) fn parse_window(s: &str) -> Result<WindowChoice, String> {
    if s == "minmax" {
        return Ok(WindowChoice::MinMax);
    }
    let (c, w) = s
        .split_once(',')
        .ok_or_else(|| format!("{s:?}: expected CENTER,WIDTH or minmax"))?;
    let number = |v: &str| v.trim().parse::<f64>().map_err(|e| format!("{v:?}: {e}"));
    let (center, width) = (number(c)?, number(w)?);
    if width < 1.0 {
        return Err(format!("window width {width} must be at least 1"));
    }
    Ok(WindowChoice::Explicit(Window { center, width }))
}

/// A phantom's slice spacing: 0.1 to 50 mm (finite, so that positions stay finite).
fn parse_thickness(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.1..=50.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} mm is not between 0.1 and 50 mm"))
    }
}
