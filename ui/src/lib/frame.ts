// Frame packets from the `frame` command: u32 LE header length, a JSON header, then the pixels
// (u16 / i16 little-endian samples, or RGB bytes). See countersign_app::FrameHeader.

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
}

export interface Frame {
  header: FrameHeader;
  /** Uint16Array / Int16Array of stored values, or RGB bytes. */
  pixels: Uint16Array | Int16Array | Uint8Array;
}

/** Parses a packet, checking every length against the bytes present. */
export function parseFrame(bytes: Uint8Array): Frame {
  if (bytes.length < 4) throw new Error("frame packet is cut short");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(0, true);
  if (4 + headerLength > bytes.length) throw new Error("frame header runs past the packet");
  const header = JSON.parse(
    new TextDecoder().decode(bytes.subarray(4, 4 + headerLength)),
  ) as FrameHeader;
  const start = 4 + headerLength;
  const pixelCount = header.width * header.height;
  const need = header.format === "rgb8" ? pixelCount * 3 : pixelCount * 2;
  if (bytes.length - start < need) {
    throw new Error(`frame holds ${bytes.length - start} pixel bytes, ${need} expected`);
  }
  // Copy into an aligned buffer: typed 16-bit views need an even byte offset.
  const raw = bytes.slice(start, start + need);
  const pixels =
    header.format === "rgb8"
      ? raw
      : header.format === "i16"
        ? new Int16Array(raw.buffer, 0, pixelCount)
        : new Uint16Array(raw.buffer, 0, pixelCount);
  return { header, pixels };
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
