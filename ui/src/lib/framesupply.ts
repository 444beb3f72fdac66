// Where a viewport's frames come from: the cache, a request already on its way, or the app; and
// the slices ahead of the scroll asked for before they are reached. Plain TypeScript (no Svelte
// state): the viewport tells it where it is and how large its canvas is, so it is tested here
// with a fake app instead of through the canvas.
import type { ImageRef } from "./api";
import { parseFrame, peekHeader, type Frame } from "./frame";
import { FrameCache, planAhead } from "./framecache";

/** The two commands frames are read with (`api.frame`, `api.framePreview`). */
export interface FrameSource {
  frame(sha256: string, frame: number, part0?: Uint8Array): Promise<Uint8Array>;
  framePreview(sha256: string, frame: number, width: number, height: number): Promise<Uint8Array>;
}

/** Where the viewport is: its study's images, the slice on screen, which way the reader scrolls,
 *  and the bytes of the frame on screen (what a slice ahead is reckoned to take). */
export interface Where {
  images: ImageRef[];
  index: number;
  direction: 1 | -1;
  bytes: number;
}

export class FrameSupply {
  // Slices ahead of the scroll are fetched and parsed before they are reached (and kept, within
  // a byte budget, with those just seen), so reaching one only uploads its texture: several
  // requests at once (the app decodes on both cores), within a byte budget ahead (planAhead).
  readonly cache = new FrameCache();

  /** Frames being fetched: the slice reached while its prefetch is under way waits for that
   *  one request rather than sending a second (the app would decode it twice). */
  private readonly pending = new Map<string, Promise<Frame>>();

  constructor(
    private readonly api: FrameSource,
    private readonly where: () => Where,
    private readonly canvas: () => { width: number; height: number },
  ) {}

  /** The frame `sha`/`frame`, from the cache, the request already on its way, or the app.
   *  With `onPreview` (the frame about to be shown, not one fetched ahead), a frame larger than
   *  the viewport comes reduced first (`frame_preview`): `onPreview` gets it to show while the
   *  full frame follows. Only full frames are cached. */
  fetchFrame(sha: string, frame: number, onPreview: ((preview: Frame) => void) | null = null): Promise<Frame> {
    const { api, cache, pending } = this;
    const canvas = this.canvas();
    const key = FrameCache.key(sha, frame);
    const cached = cache.get(key);
    if (cached) return Promise.resolve(cached);
    let request = pending.get(key);
    if (!request) {
      request = (async () => {
        let part0: Uint8Array | undefined;
        if (onPreview && canvas.width > 0 && canvas.height > 0) {
          const first = await api.framePreview(sha, frame, canvas.width, canvas.height);
          // Reduced, or else the full packet's first part (the rest follows as usual).
          if (peekHeader(first).reduced) onPreview(parseFrame(first));
          else part0 = first;
        }
        const parsed = parseFrame(await api.frame(sha, frame, part0));
        cache.set(key, parsed);
        return parsed;
      })().finally(() => pending.delete(key));
      pending.set(key, request);
    }
    return request;
  }

  /** Tops up the requests ahead of the slice on screen; each arrival tops them up again. */
  prefetch() {
    const { images, index, direction, bytes } = this.where();
    const study = images;
    const plan = planAhead(images, index, direction, (k) => this.cache.has(k), new Set(this.pending.keys()), bytes);
    for (const key of plan) {
      // An image the app refuses is shown with its error when reached; nothing to do here.
      void this.fetchFrame(key.slice(0, key.indexOf(":")), 0).then(
        () => study === this.where().images && this.prefetch(),
        () => undefined,
      );
    }
  }
}
