import { describe, expect, it } from "vitest";
import { arrowShape, chipLabel, currentLinks, linksOfEntry, markers, pixels, type ImageLink } from "./links";
import type { ReportView, Section } from "./api";

const length: ImageLink = {
  fig: 1, kind: "length", study: "1.2", series: "1.2.3", image: "ab".repeat(32), frame: 2,
  points: [[10_500, 20_000], [40_000, 20_000]], label: "12.3 mm", measurement: "m".repeat(64),
};
const key: ImageLink = { fig: 2, kind: "key-image", study: "1.2", series: "1.2.3", image: "cd".repeat(32), frame: 0, label: "key image" };

describe("links", () => {
  it("reads markers as the app does: [fig N] and nothing else", () => {
    expect(markers("Nodule [fig 1], see [fig 12] and [fig 1].")).toEqual([1, 12, 1]);
    expect(markers("[fig] [fig x] [Fig 1] [fig 1")).toEqual([]);
  });

  it("labels a chip by its marker and what it shows", () => {
    expect(chipLabel(length)).toBe("[fig 1] 12.3 mm");
    expect(chipLabel(key)).toBe("[fig 2] key image");
    expect(chipLabel({ ...key, kind: "arrow", label: undefined })).toBe("[fig 2] arrow");
  });

  it("turns thousandths of a pixel into pixels", () => {
    expect(pixels(length)).toEqual([[10.5, 20], [40, 20]]);
    expect(pixels(key)).toEqual([]);
  });

  it("finds a version's links by its entry, and the current version's", () => {
    const section = {
      name: "findings", current: "v2",
      versions: [{ entry: "v1", links: [key] }, { entry: "v2", links: [length] }],
    } as unknown as Section;
    const report = { sections: [section] } as unknown as ReportView;
    expect(linksOfEntry(report, "v1")).toEqual([key]);
    expect(linksOfEntry(report, "nope")).toEqual([]);
    expect(currentLinks(section)).toEqual([length]);
  });

  it("draws an arrow's head at its tip, pointing along the shaft", () => {
    const { tail, barbs } = arrowShape([100, 100], [100, 0], 10);
    expect(tail).toEqual([100, 0]);
    // Pointing down: both barbs are 10 px above the tip, either side of the shaft.
    for (const b of barbs) expect(b[1]).toBeCloseTo(90);
    expect(barbs[0][0]).toBeCloseTo(94);
    expect(barbs[1][0]).toBeCloseTo(106);
    // Without a tail, it comes from the upper left.
    expect(arrowShape([50, 50], null, 10).tail).toEqual([10, 10]);
  });
});
