import { describe, expect, it } from "vitest";
import { buildFrame, type FrameHeader } from "./frame";
import { FrameRefused, FrameSocket, SocketGone, type SocketLike } from "./framesocket";

/** A packet of frame `frame` of image `sha256` (2×1 u16), tagged with `tag` in its first sample. */
const pkt = (sha256: string, frame: number, tag: number) =>
  buildFrame({ width: 2, height: 1, format: "u16", sha256, frame } as FrameHeader, new Uint8Array([tag, 0, 0, 0])).slice().buffer;
const tagOf = (bytes: Uint8Array) => bytes[bytes.length - 4];

/** A stand-in for the app's socket: records what is sent; the test answers by hand. */
class FakeSocket implements SocketLike {
  binaryType: BinaryType = "blob";
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  sent: string[] = [];
  closed = false;
  send(data: string) {
    this.sent.push(data);
  }
  close() {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.({} as CloseEvent);
  }
  open() {
    this.onopen?.({} as Event);
  }
  reply(data: ArrayBuffer | string) {
    this.onmessage?.({ data } as MessageEvent);
  }
}

const flush = () => new Promise((r) => setTimeout(r, 0));

function make(lanes = 2) {
  const sockets: FakeSocket[] = [];
  const fs = new FrameSocket("ws://127.0.0.1:1/frames/t", lanes, () => {
    const s = new FakeSocket();
    sockets.push(s);
    return s;
  });
  return { fs, sockets };
}

describe("FrameSocket", () => {
  it("asks on the lane with the fewest waiting and matches answers in the order asked", async () => {
    const { fs, sockets } = make(2);
    sockets.forEach((s) => s.open());
    const a = fs.get("aa", 0);
    const b = fs.get("bb", 1);
    const c = fs.get("cc", 2);
    await flush();
    expect(sockets[0].sent.map((x) => JSON.parse(x).sha256)).toEqual(["aa", "cc"]);
    expect(sockets[1].sent.map((x) => JSON.parse(x))).toEqual([{ sha256: "bb", frame: 1 }]);
    expect(sockets[0].binaryType).toBe("arraybuffer");
    sockets[0].reply(pkt("aa", 0, 1));
    sockets[1].reply(pkt("bb", 1, 2));
    sockets[0].reply(pkt("cc", 2, 3));
    expect(tagOf(await a)).toBe(1);
    expect(tagOf(await b)).toBe(2);
    expect(tagOf(await c)).toBe(3);
  });

  it("passes on the app's refusal with its code, and the socket stays in use", async () => {
    const { fs, sockets } = make(1);
    sockets[0].open();
    const a = fs.get("aa", 0);
    await flush();
    sockets[0].reply(JSON.stringify({ code: "not_found", message: "no such image" }));
    const e = await a.catch((x) => x);
    expect(e).toBeInstanceOf(FrameRefused);
    expect(e.code).toBe("not_found");
    expect(fs.usable).toBe(true);
  });

  it("a closed lane rejects what waits on every lane as gone, and nothing is asked again", async () => {
    const { fs, sockets } = make(2);
    sockets.forEach((s) => s.open());
    const a = fs.get("aa", 0);
    const b = fs.get("bb", 0);
    await flush();
    const settled = Promise.allSettled([a, b]);
    sockets[1].close();
    for (const r of await settled) {
      expect(r.status).toBe("rejected");
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(SocketGone);
    }
    expect(fs.usable).toBe(false);
    await expect(fs.get("cc", 0)).rejects.toBeInstanceOf(SocketGone);
    expect(sockets.every((s) => s.closed)).toBe(true);
  });

  it("a socket that never opens rejects as gone", async () => {
    const { fs, sockets } = make(1);
    const a = fs.get("aa", 0);
    sockets[0].onerror?.({} as Event);
    await expect(a).rejects.toBeInstanceOf(SocketGone);
    expect(sockets[0].sent).toEqual([]);
  });

  it("an answer nobody asked for, or one that is neither frame nor error, stops the socket", async () => {
    const { fs, sockets } = make(1);
    sockets[0].open();
    sockets[0].reply(pkt("aa", 0, 9));
    expect(fs.usable).toBe(false);
    const again = make(1);
    again.sockets[0].open();
    const a = again.fs.get("aa", 0);
    await flush();
    again.sockets[0].reply("not json");
    await expect(a).rejects.toBeInstanceOf(SocketGone);
    expect(again.fs.usable).toBe(false);
  });

  it("a packet of another image or frame than the one asked for is never taken for it", async () => {
    for (const [sha, frame] of [["bb", 0], ["aa", 1]] as const) {
      const { fs, sockets } = make(1);
      sockets[0].open();
      const a = fs.get("aa", 0);
      await flush();
      sockets[0].reply(pkt(sha, frame, 5));
      await expect(a).rejects.toBeInstanceOf(SocketGone);
      expect(fs.usable).toBe(false);
    }
  });
});
