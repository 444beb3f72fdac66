import { describe, expect, it } from "vitest";
import { buildFrame, parseFrame, type FrameHeader } from "./frame";

const header = (over: Partial<FrameHeader> = {}): FrameHeader => ({
  width: 3, height: 2, format: "i16", slope: 1, intercept: -1024, window_center: 40,
  window_width: 400, invert: false, frame: 0, frames: 1, pixel_spacing: null, patient: null,
  study_date: null, modality: "CT", series_description: null, instance_number: 1, sha256: "ab",
  ...over,
});

describe("frame packets", () => {
  it("round-trips signed samples at an odd header length", () => {
    const samples = new Int16Array([-1000, 0, 1, 2, 3, 32767]);
    const packet = buildFrame(header({ series_description: "x" }), new Uint8Array(samples.buffer));
    const frame = parseFrame(packet);
    expect(frame.header.format).toBe("i16");
    expect(Array.from(frame.pixels)).toEqual(Array.from(samples));
  });

  it("reads RGB bytes", () => {
    const rgb = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
    const frame = parseFrame(buildFrame(header({ format: "rgb8" }), rgb));
    expect(Array.from(frame.pixels)).toEqual(Array.from(rgb));
  });

  it("refuses packets shorter than they claim", () => {
    const full = buildFrame(header(), new Uint8Array(12));
    expect(() => parseFrame(full.subarray(0, full.length - 1))).toThrow(/pixel bytes/);
    expect(() => parseFrame(full.subarray(0, 10))).toThrow(/header runs past/);
    expect(() => parseFrame(new Uint8Array(2))).toThrow(/cut short/);
  });
});
