import { describe, expect, it } from "vitest";
import { greyTable, PRESETS, voi } from "./windowing";

describe("DICOM linear VOI", () => {
  it("maps the window's ends and centre as PS3.3 C.11.2.1.2.1 does", () => {
    const w = { center: 40, width: 400 };
    expect(voi(-160.5, w)).toBe(0); // c - 0.5 - (w-1)/2 = -160
    expect(voi(-1000, w)).toBe(0);
    expect(voi(240, w)).toBe(255);
    expect(voi(39.5, w)).toBe(128); // centre - 0.5 → 0.5 → 127.5 → rounds up
  });

  it("builds a table that agrees with voi for signed stored values and rescale", () => {
    const w = { center: 40, width: 400 };
    const t = greyTable(true, 1, -1024, w, false);
    for (const stored of [-2000, 0, 900, 1064, 1300, 4000]) {
      expect(t[stored + 32768]).toBe(voi(stored - 1024, w));
    }
    const inverted = greyTable(false, 1, 0, w, true);
    expect(inverted[0]).toBe(255 - voi(0, w));
  });

  it("has the five presets on keys 1 to 5", () => {
    expect(PRESETS.map((p) => p.key)).toEqual(["1", "2", "3", "4", "5"]);
    expect(PRESETS[1].window).toEqual({ center: -600, width: 1500 });
  });
});
