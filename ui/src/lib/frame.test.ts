import { describe, expect, it } from "vitest";
import { buildFrame, fetchPacket, FRAME_PART_BYTES, PARTS_IN_FLIGHT, parseFrame, peekHeader, storedSize, type FrameHeader } from "./frame";

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

  it("reads 16-bit samples in place when they start aligned, copying only when they do not", () => {
    const samples = new Uint16Array([1, 2, 3, 4, 5, 65535]);
    for (const description of ["x", "xy"]) {
      const packet = buildFrame(header({ format: "u16", series_description: description }), new Uint8Array(samples.buffer));
      const frame = parseFrame(packet);
      expect(Array.from(frame.pixels)).toEqual(Array.from(samples));
      const start = packet.length - samples.byteLength;
      expect(frame.pixels.buffer === packet.buffer).toBe(start % 2 === 0);
    }
  });
});

describe("a reduced preview", () => {
  it("keeps the full frame's size in its header and holds ⌈w/f⌉ × ⌈h/f⌉ pixels", () => {
    // A 5×3 frame reduced by 2: 3×2 samples.
    const h = header({ format: "u16", width: 5, height: 3, reduced: 2 });
    expect(storedSize(h)).toEqual([3, 2]);
    const frame = parseFrame(buildFrame(h, new Uint8Array(new Uint16Array([1, 2, 3, 4, 5, 6]).buffer)));
    expect([frame.header.width, frame.header.height]).toEqual([5, 3]);
    expect(Array.from(frame.pixels)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(storedSize(header())).toEqual([3, 2]);
  });

  it("refuses a preview whose pixels fall short, or a reduction the app never makes", () => {
    const short = buildFrame(header({ format: "u16", width: 5, height: 3, reduced: 2 }), new Uint8Array(10));
    expect(() => parseFrame(short)).toThrow(/pixel bytes/);
    for (const reduced of [0, 1, 1.5, 65]) {
      expect(() => parseFrame(buildFrame(header({ reduced }), new Uint8Array(12)))).toThrow(/reduced/);
    }
  });

  it("tells a preview from the first part of a full packet by its header alone", async () => {
    const big = buildFrame(header({ format: "u16", width: 1024, height: 1280 }), new Uint8Array(1024 * 1280 * 2));
    const part0 = big.slice(0, FRAME_PART_BYTES);
    expect(peekHeader(part0).reduced).toBeUndefined();
    // Handed to fetchPacket as part 0, it is not asked for again.
    const asked: number[] = [];
    const joined = await fetchPacket(async (part) => {
      asked.push(part);
      return big.slice(part * FRAME_PART_BYTES, (part + 1) * FRAME_PART_BYTES);
    }, part0);
    expect(joined.length).toBe(big.length);
    expect(asked.sort()).toEqual([1, 2]);
  });
});

describe("fetching a packet in parts", () => {
  // A packet of 2.5 parts (a 1024×1280 u16 frame and its header), answered part by part.
  const big = buildFrame(header({ format: "u16", width: 1024, height: 1280 }), new Uint8Array(1024 * 1280 * 2).map((_, i) => i * 7));
  const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
  const parts = (packet: Uint8Array, asked: number[]) => async (part: number) => {
    asked.push(part);
    const from = part * FRAME_PART_BYTES;
    if (from >= packet.length) throw new Error("past the end");
    return packet.slice(from, from + FRAME_PART_BYTES);
  };

  it("joins the parts into the packet, asking for each once", async () => {
    const asked: number[] = [];
    const joined = await fetchPacket(parts(big, asked));
    expect(same(joined, big)).toBe(true);
    expect(asked.sort()).toEqual([0, 1, 2]);
    expect(parseFrame(joined).header.width).toBe(1024);
  });

  it("takes a small packet, or a whole one, from the first answer", async () => {
    const small = buildFrame(header(), new Uint8Array(12));
    const asked: number[] = [];
    expect(same(await fetchPacket(parts(small, asked)), small)).toBe(true);
    expect(await fetchPacket(async () => big)).toBe(big);
    expect(asked).toEqual([0]);
  });

  // Review finding (2026-12-01): every part of a frame was asked for at once, a thousand for a
  // 1 GiB frame whose header says so. At most PARTS_IN_FLIGHT are in flight.
  it("keeps at most PARTS_IN_FLIGHT part requests in flight, each part asked once", async () => {
    const huge = buildFrame(header({ format: "u16", width: 4096, height: 4096 }), new Uint8Array(4096 * 4096 * 2));
    let inFlight = 0;
    let most = 0;
    const asked: number[] = [];
    const joined = await fetchPacket(async (part) => {
      asked.push(part);
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 0));
      inFlight--;
      const from = part * FRAME_PART_BYTES;
      return huge.slice(from, from + FRAME_PART_BYTES);
    });
    expect(joined.length).toBe(huge.length);
    expect(most).toBe(PARTS_IN_FLIGHT);
    expect(new Set(asked).size).toBe(asked.length);
    expect(asked.length).toBe(Math.ceil(huge.length / FRAME_PART_BYTES));
  });

  it("refuses parts of the wrong length", async () => {
    await expect(fetchPacket(async (part) => (part === 0 ? big.slice(0, FRAME_PART_BYTES) : new Uint8Array(5)))).rejects.toThrow(/part/);
    await expect(fetchPacket(async () => big.slice(0, 1000))).rejects.toThrow(/part 0 holds/);
  });
});
