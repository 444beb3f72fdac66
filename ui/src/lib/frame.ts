// Frame packets from the `frame` command: u32 LE header length, a JSON header (padded so the
// pixels start 8-aligned), then the pixels (u16 / i16 little-endian samples, or RGB bytes). See
// countersign_app::FrameHeader. A large packet is fetched in parts (`fetchPacket`).

export interface FrameHeader {
  width: number;
  height: number;
  format: "u16" | "i16" | "rgb8";
  slope: number;
  intercept: number;
  window_center: number;
  window_width: number;
  invert: boolean;
  frame: number;
  frames: number;
  pixel_spacing: [number, number] | null;
  patient: string | null;
  study_date: string | null;
  modality: string | null;
  series_description: string | null;
  instance_number: number | null;
  sha256: string;
  /** A reduced first look (`frame_preview`): each side shrunk by this factor, every pixel the
   *  mean of its block of the full frame. `width` and `height` stay the full frame's, so that
   *  placing, measuring and linking are in full-resolution pixels; the pixels are
   *  ⌈width/reduced⌉ × ⌈height/reduced⌉ (`storedSize`). Absent on a full frame. */
  reduced?: number;
}

/** The most a preview may reduce by (countersign_app::PREVIEW_MAX_FACTOR). */
export const MAX_REDUCTION = 64;

/** The size of the pixels a header describes: the full frame's, or a preview's. */
export function storedSize(header: FrameHeader): [number, number] {
  const f = header.reduced ?? 1;
  return [Math.ceil(header.width / f), Math.ceil(header.height / f)];
}

export interface Frame {
  header: FrameHeader;
  /** Uint16Array / Int16Array of stored values, or RGB bytes. */
  pixels: Uint16Array | Int16Array | Uint8Array;
}

/** The header of a packet and where its pixels start and end, checked against what is there. */
function readHeader(bytes: Uint8Array): { header: FrameHeader; start: number; need: number } {
  if (bytes.length < 4) throw new Error("frame packet is cut short");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(0, true);
  if (4 + headerLength > bytes.length) throw new Error("frame header runs past the packet");
  const header = JSON.parse(
    new TextDecoder().decode(bytes.subarray(4, 4 + headerLength)),
  ) as FrameHeader;
  const f = header.reduced;
  if (f !== undefined && !(Number.isInteger(f) && f >= 2 && f <= MAX_REDUCTION)) {
    throw new Error(`frame header: reduced by ${f}`);
  }
  const [w, h] = storedSize(header);
  const pixelCount = w * h;
  const need = header.format === "rgb8" ? pixelCount * 3 : pixelCount * 2;
  return { header, start: 4 + headerLength, need };
}

/** The header of a packet, or of its first part (its pixels not checked). */
export function peekHeader(bytes: Uint8Array): FrameHeader {
  return readHeader(bytes).header;
}

/** Parses a packet, checking every length against the bytes present. */
export function parseFrame(bytes: Uint8Array): Frame {
  const { header, start, need } = readHeader(bytes);
  if (bytes.length - start < need) {
    throw new Error(`frame holds ${bytes.length - start} pixel bytes, ${need} expected`);
  }
  // Typed 16-bit views need an even byte offset: the app's packets have one (their pixels
  // start 8-aligned) and are read in place; any other is copied into an aligned buffer.
  const inPlace = (bytes.byteOffset + start) % 2 === 0;
  const raw = inPlace ? bytes.subarray(start, start + need) : bytes.slice(start, start + need);
  const [w, h] = storedSize(header);
  const pixelCount = w * h;
  const pixels =
    header.format === "rgb8"
      ? raw
      : header.format === "i16"
        ? new Int16Array(raw.buffer, raw.byteOffset, pixelCount)
        : new Uint16Array(raw.buffer, raw.byteOffset, pixelCount);
  return { header, pixels };
}

/** The size of a part of a packet (countersign_app::FRAME_PART_BYTES). */
export const FRAME_PART_BYTES = 1 << 20;

/** The most part requests of one frame in flight at once. */
export const PARTS_IN_FLIGHT = 4;

/**
 * Fetches a whole packet with `get(part)`, which answers part `part` of it: the first part (or
 * `part0`, when the caller has it), then (when the packet is longer) the others, several at
 * once, into one buffer, so that their transfers through WebKitGTK's IPC overlap. An answer
 * holding the whole packet at once (the mock app) is taken as it is.
 */
export async function fetchPacket(
  get: (part: number) => Promise<Uint8Array>,
  part0?: Uint8Array,
): Promise<Uint8Array> {
  // Part 0 may be in hand already: `frame_preview` answers it for a frame it does not reduce.
  const first = part0 ?? (await get(0));
  const { start, need } = readHeader(first);
  const total = start + need;
  if (first.length >= total) return first;
  if (first.length !== FRAME_PART_BYTES) {
    throw new Error(`frame part 0 holds ${first.length} bytes, ${FRAME_PART_BYTES} expected`);
  }
  const out = new Uint8Array(total);
  out.set(first, 0);
  const parts = Math.ceil(total / FRAME_PART_BYTES);
  // At most PARTS_IN_FLIGHT requests at once, whatever the frame's size (its header is the
  // sender's word): enough for their transfers to overlap, never a thousand at once.
  let next = 1;
  const lane = async () => {
    while (next < parts) {
      const k = next++;
      const at = k * FRAME_PART_BYTES;
      const bytes = await get(k);
      if (bytes.length !== Math.min(FRAME_PART_BYTES, total - at)) {
        throw new Error(`frame part ${k} holds ${bytes.length} bytes`);
      }
      out.set(bytes, at);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARTS_IN_FLIGHT, parts - 1) }, lane));
  return out;
}

/** Builds a packet (the mock IPC and tests use it; the app builds them in Rust). */
export function buildFrame(header: FrameHeader, pixels: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + json.length + pixels.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  out.set(pixels, 4 + json.length);
  return out;
}
