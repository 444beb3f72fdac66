import { describe, expect, it } from "vitest";
import type { ImageRef } from "./api";
import { buildFrame, type FrameHeader } from "./frame";
import { FrameCache } from "./framecache";
import { FrameSupply, type FrameSource, type Where } from "./framesupply";

const header = (sha256: string, over: Partial<FrameHeader> = {}): FrameHeader => ({
  width: 4, height: 2, format: "u16", slope: 1, intercept: 0, window_center: 40, window_width: 400,
  invert: false, frame: 0, frames: 1, pixel_spacing: null, patient: null, study_date: null, modality: "CT",
  series_description: null, instance_number: 1, sha256, ...over,
});
const full = (sha: string) => buildFrame(header(sha), new Uint8Array(16));
const reduced = (sha: string) => buildFrame(header(sha, { reduced: 2 }), new Uint8Array(4));

/** A fake app: answers every request when told to (`settle`), and counts what was asked. */
function app(preview: (sha: string) => Uint8Array = full) {
  const asked: string[] = [];
  const part0s: (Uint8Array | undefined)[] = [];
  const waiting: (() => void)[] = [];
  const later = <T>(value: T) => new Promise<T>((resolve) => waiting.push(() => resolve(value)));
  const source: FrameSource = {
    frame: (sha, frame, part0) => {
      asked.push(`frame ${sha}:${frame}`);
      part0s.push(part0);
      return later(full(sha));
    },
    framePreview: (sha, frame, width, height) => {
      asked.push(`preview ${sha}:${frame} ${width}x${height}`);
      return later(preview(sha));
    },
  };
  const settle = async () => {
    while (waiting.length) {
      waiting.splice(0).forEach((go) => go());
      await new Promise((r) => setTimeout(r, 0));
    }
  };
  return { source, asked, part0s, settle };
}

const images = (n: number) => Array.from({ length: n }, (_, i) => ({ sha256: `s${i}` }) as ImageRef);

describe("FrameSupply", () => {
  it("asks the app once for a frame wanted twice while on its way, then serves it held", async () => {
    const { source, asked, settle } = app();
    const supply = new FrameSupply(source, () => ({ images: [], index: 0, direction: 1, bytes: 0 }), () => ({ width: 0, height: 0 }));
    const a = supply.fetchFrame("x", 0);
    const b = supply.fetchFrame("x", 0);
    await settle();
    expect((await a) === (await b)).toBe(true);
    expect(await supply.fetchFrame("x", 0)).toBe(await a);
    expect(asked).toEqual(["frame x:0"]);
    expect(supply.cache.has(FrameCache.key("x", 0))).toBe(true);
  });

  it("shows a reduced first look of the frame about to be shown, then the full frame", async () => {
    const { source, asked, part0s, settle } = app(reduced);
    const supply = new FrameSupply(source, () => ({ images: [], index: 0, direction: 1, bytes: 0 }), () => ({ width: 8, height: 6 }));
    const previews: (number | undefined)[] = [];
    const shown = supply.fetchFrame("x", 0, (p) => previews.push(p.header.reduced));
    await settle();
    expect(previews).toEqual([2]);
    expect((await shown).header.reduced).toBeUndefined();
    expect(asked).toEqual(["preview x:0 8x6", "frame x:0"]);
    expect(part0s).toEqual([undefined]);
  });

  it("passes a preview that is the full frame's first part on to the frame request", async () => {
    const { source, part0s, settle } = app();
    const supply = new FrameSupply(source, () => ({ images: [], index: 0, direction: 1, bytes: 0 }), () => ({ width: 8, height: 6 }));
    const previews: unknown[] = [];
    const shown = supply.fetchFrame("x", 0, (p) => previews.push(p));
    await settle();
    await shown;
    expect(previews).toEqual([]);
    expect(part0s[0]).toBeInstanceOf(Uint8Array);
  });

  it("asks for no preview before the canvas has a size, nor for a frame fetched ahead", async () => {
    const { source, asked, settle } = app(reduced);
    const supply = new FrameSupply(source, () => ({ images: [], index: 0, direction: 1, bytes: 0 }), () => ({ width: 0, height: 0 }));
    void supply.fetchFrame("x", 0, () => undefined);
    await settle();
    expect(asked).toEqual(["frame x:0"]);
  });

  it("tops up the slices ahead in the scroll direction as each arrives, for the study on screen only", async () => {
    const { source, asked, settle } = app();
    const where: Where = { images: images(6), index: 1, direction: 1, bytes: 16 };
    const supply = new FrameSupply(source, () => where, () => ({ width: 0, height: 0 }));
    supply.prefetch();
    expect(asked).toEqual(["frame s2:0", "frame s3:0", "frame s4:0"]);
    await settle();
    expect(asked).toEqual(["frame s2:0", "frame s3:0", "frame s4:0", "frame s5:0"]);

    const other = app();
    const moved: Where = { images: images(6), index: 4, direction: -1, bytes: 16 };
    const back = new FrameSupply(other.source, () => moved, () => ({ width: 0, height: 0 }));
    back.prefetch();
    expect(other.asked).toEqual(["frame s3:0", "frame s2:0", "frame s1:0"]);
    // The reader left for another study: what arrives for the old one asks for nothing more.
    moved.images = images(2);
    await other.settle();
    expect(other.asked).toEqual(["frame s3:0", "frame s2:0", "frame s1:0"]);
  });
});
