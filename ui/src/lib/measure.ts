// Length between two image points: millimetres when the image has a Pixel Spacing, otherwise
// pixels, marked uncalibrated so nobody reads them as millimetres.

export function lengthMm(
  a: [number, number],
  b: [number, number],
  spacing: [number, number] | null,
): { value: number; calibrated: boolean; label: string } {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  if (spacing) {
    // Pixel Spacing is row spacing (between rows, so along y), then column spacing (along x).
    const [row, column] = spacing;
    const value = Math.hypot(dx * column, dy * row);
    return { value, calibrated: true, label: `${value.toFixed(1)} mm` };
  }
  const value = Math.hypot(dx, dy);
  return { value, calibrated: false, label: `${value.toFixed(1)} px (uncalibrated)` };
}
