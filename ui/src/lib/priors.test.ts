import { describe, expect, it } from "vitest";
import type { ImageRef } from "./api";
import { alignOffset, farNote, nearestSlice, unsyncable } from "./priors";

const slice = (series: string, position: number | null, plane: string | null = "axial"): ImageRef => ({
  sha256: `${series}-${position}`, series, series_description: null, instance_number: null, frames: 1, plane, position,
});

// A prior of 5 mm slices from 0 to 40 mm, then a coronal series in the same study.
const prior = [
  ...[0, 5, 10, 15, 20, 25, 30, 35, 40].map((p) => slice("ax", p)),
  ...[-10, 0, 10].map((p) => slice("cor", p, "coronal")),
];
const at = (position: number | null, plane: string | null = "axial") => ({ position, plane, seq: 1 });

describe("a prior scrolled by position", () => {
  it("goes to the slice nearest in mm, not the same index", () => {
    expect(nearestSlice(prior, 0, at(17.9))).toBe(4); // 20 mm
    expect(nearestSlice(prior, 8, at(16.2))).toBe(3); // 15 mm
    // Beyond either end: the end slice.
    expect(nearestSlice(prior, 4, at(-80))).toBe(0);
    expect(nearestSlice(prior, 4, at(500))).toBe(8);
  });

  it("a tie goes to the lower index whichever side it was reached from", () => {
    expect(nearestSlice(prior, 0, at(12.5))).toBe(2);
    expect(nearestSlice(prior, 8, at(12.5))).toBe(2);
  });

  it("stays within the series on screen", () => {
    // On the coronal series: its own slices, never the axial one at 0 mm.
    expect(nearestSlice(prior, 10, at(9, "coronal"))).toBe(11);
    expect(nearestSlice(prior, 11, at(-6, "coronal"))).toBe(9);
  });

  it("does not follow across planes or without positions, and says why", () => {
    expect(nearestSlice(prior, 10, at(30))).toBe(10);
    expect(unsyncable(prior, 10, at(30))).toBe("axial beside coronal");
    expect(unsyncable(prior, 3, at(null))).toBe("the other image has no slice geometry");
    expect(unsyncable([slice("x", null)], 0, at(3))).toBe("this image has no slice geometry");
    // A Slice Location without a plane (indexed before positions were) is not compared.
    expect(unsyncable([slice("x", 3, null)], 0, at(3))).toBe("this image has no slice geometry");
    expect(nearestSlice([slice("x", 0, null), slice("x", 3, null)], 0, at(3))).toBe(0);
    expect(unsyncable(prior, 3, at(3, null))).toBe("the other image has no slice geometry");
    expect(unsyncable(prior, 3, at(30))).toBeNull();
  });

  it("re-aligned: follows with the offset the two slices had when aligned", () => {
    const offset = alignOffset(at(100), at(12)); // current at 100 mm shows the prior's 12 mm
    expect(offset).toBe(-88);
    expect(nearestSlice(prior, 0, at(110), offset)).toBe(4); // 22 mm → 20 mm
    expect(alignOffset(null, at(3))).toBe(0);
  });

  it("says so when the nearest slice is not the same anatomy (beyond the prior's reach)", () => {
    expect(farNote(prior, 8, at(41))).toBeNull(); // 1 mm from its last slice
    expect(farNote(prior, 8, at(48))).toBe("the nearest slice here is 8.0 mm away");
    expect(farNote(prior, 0, at(-3), 0)).toBeNull();
    expect(farNote(prior, 4, at(30), -10)).toBeNull(); // 20 mm with the offset: itself
  });
});
