import { describe, expect, it } from "vitest";
import { lengthMm } from "./measure";

describe("length", () => {
  it("uses row spacing along y and column spacing along x", () => {
    const m = lengthMm([0, 0], [3, 4], [2, 1]); // x: 3 px × 1 mm, y: 4 px × 2 mm
    expect(m.calibrated).toBe(true);
    expect(m.value).toBeCloseTo(Math.hypot(3, 8));
    expect(m.label).toBe("8.5 mm");
  });

  it("says uncalibrated when there is no pixel spacing", () => {
    const m = lengthMm([0, 0], [3, 4], null);
    expect(m).toEqual({ value: 5, calibrated: false, label: "5.0 px (uncalibrated)" });
  });
});
