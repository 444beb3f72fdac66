// The DICOM linear VOI function (PS3.3 C.11.2.1.2.1), as the GPU shader computes it: the CPU
// fallback and the tests use this one.

export interface Window {
  center: number;
  width: number;
}

/** Output 0..255 for a modality value `x`. */
export function voi(x: number, w: Window): number {
  const c = w.center;
  const width = Math.max(w.width, 1);
  if (x <= c - 0.5 - (width - 1) / 2) return 0;
  if (x > c - 0.5 + (width - 1) / 2) return 255;
  return Math.round(((x - (c - 0.5)) / (width - 1) + 0.5) * 255);
}

/**
 * A lookup table from stored value to grey for one window: 65536 entries, indexed by the stored
 * value (signed values offset by 32768). Building it costs one pass; applying it one per pixel.
 */
export function greyTable(
  signed: boolean,
  slope: number,
  intercept: number,
  w: Window,
  invert: boolean,
): Uint8Array {
  const table = new Uint8Array(65536);
  for (let i = 0; i < 65536; i++) {
    const stored = signed ? i - 32768 : i;
    const g = voi(stored * slope + intercept, w);
    table[i] = invert ? 255 - g : g;
  }
  return table;
}

/** Presets on keys 1–5: centre / width in HU. */
export const PRESETS: { key: string; name: string; window: Window }[] = [
  { key: "1", name: "Soft tissue", window: { center: 40, width: 400 } },
  { key: "2", name: "Lung", window: { center: -600, width: 1500 } },
  { key: "3", name: "Liver", window: { center: 90, width: 150 } },
  { key: "4", name: "Bone", window: { center: 480, width: 2500 } },
  { key: "5", name: "Brain", window: { center: 40, width: 80 } },
];
