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

/** How far ahead of the scroll the viewer fetches: at most this many slices... */
export const AHEAD_SLICES = 48;
/** ...and at most this many bytes of frames ahead (held or on their way): half the cache, so
 *  the slices just seen behind the scroll stay too. 32 MiB is 64 slices of a 512² CT, five of
 *  a 1760² CR. */
export const AHEAD_BYTES = FRAME_CACHE_BYTES / 2;
/** Requests in flight at once: the app decodes on two reader handles (one per core), and a
 *  third is on its way back while those two decode. */
export const IN_FLIGHT = 3;

/**
 * Which frames to ask for next, ahead of slice `from` in `direction` (±1): the first slices not
 * held (`held`) and not already asked for (`pending`), nearest first, so that
 *
 * - no more than `inFlight` requests are out at once (those `pending` count), and
 * - every slice ahead up to the last one asked for fits in `budget` bytes, each counted at
 *   `frameBytes` (the size of the frame on screen: a series' slices share their size) — slices
 *   already held count too, since they hold cache bytes the fetch must not push out.
 *
 * Pure: the viewer calls it after every step and every arrival.
 */
export function planAhead(
  images: readonly { sha256: string }[],
  from: number,
  direction: 1 | -1,
  held: (key: string) => boolean,
  pending: ReadonlySet<string>,
  frameBytes: number,
  { budget = AHEAD_BYTES, slices = AHEAD_SLICES, inFlight = IN_FLIGHT } = {},
): string[] {
  const out: string[] = [];
  const perFrame = Math.max(1, frameBytes);
  let bytes = 0;
  for (let k = 1; k <= slices && pending.size + out.length < inFlight; k++) {
    const image = images[from + direction * k];
    if (!image) break;
    bytes += perFrame;
    if (bytes > budget) break;
    const key = FrameCache.key(image.sha256, 0);
    if (!held(key) && !pending.has(key)) out.push(key);
  }
  return out;
}
