// Parsed frames held by the viewer, so that a slice fetched ahead of the scroll is drawn without
// another round trip when it is reached. Bounded in bytes (the pixels), least recently used out.
import type { Frame } from "./frame";

/** 64 MiB: 128 slices of a 512² CT ahead and behind. */
export const FRAME_CACHE_BYTES = 64 << 20;

export class FrameCache {
  private frames = new Map<string, Frame>();
  private used = 0;

  constructor(private readonly budget = FRAME_CACHE_BYTES) {}

  static key(sha256: string, frame: number): string {
    return `${sha256}:${frame}`;
  }

  get(key: string): Frame | undefined {
    const frame = this.frames.get(key);
    if (frame) {
      // Most recently used last: a Map iterates in insertion order.
      this.frames.delete(key);
      this.frames.set(key, frame);
    }
    return frame;
  }

  has(key: string): boolean {
    return this.frames.has(key);
  }

  set(key: string, frame: Frame) {
    const size = frame.pixels.byteLength;
    if (size > this.budget || this.frames.has(key)) return;
    for (const [old, f] of this.frames) {
      if (this.used + size <= this.budget) break;
      this.frames.delete(old);
      this.used -= f.pixels.byteLength;
    }
    this.frames.set(key, frame);
    this.used += size;
  }

  clear() {
    this.frames.clear();
    this.used = 0;
  }

  get bytes(): number {
    return this.used;
  }
}
