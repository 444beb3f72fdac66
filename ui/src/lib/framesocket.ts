// Frames over the app's frame socket (src-tauri/src/frame_socket/): a WebSocket on loopback
// whose address and one-run token the app gives the window (`frame_socket`). A frame arrives
// there as one message, where a command's answer crosses WebKitGTK in small pieces (about four
// times the CPU on both sides). Several connections ("lanes"), each answering in the order
// asked, so that the app decodes on both cores. Any failure of the transport itself rejects
// with `SocketGone` and the socket is not used again: the caller asks the `frame` command. So
// does an answer that is out of step — a packet whose header names another image or frame than
// the one asked for is never taken for it.
import { peekHeader } from "./frame";

/** Connections opened: one per request the viewer keeps in flight (framecache IN_FLIGHT). */
export const LANES = 3;

/** The app's refusal of a request (`{code, message}`), as a command's error would be. */
export class FrameRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The socket cannot be used (refused, closed, broken): ask the command instead. */
export class SocketGone extends Error {}

/** What the client needs of a WebSocket (the browser's, or a test's stand-in). */
export interface SocketLike {
  binaryType: BinaryType;
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: string): void;
  close(): void;
}

interface Waiting {
  sha256: string;
  frame: number;
  resolve: (bytes: Uint8Array) => void;
  reject: (e: Error) => void;
}

/** Whether `bytes` is a packet (or a first look) of frame `frame` of image `sha256`. */
function isOf(bytes: Uint8Array, sha256: string, frame: number): boolean {
  try {
    const header = peekHeader(bytes);
    return header.sha256 === sha256 && header.frame === frame;
  } catch {
    return false;
  }
}

class Lane {
  readonly waiting: Waiting[] = [];
  private readonly open: Promise<void>;

  constructor(
    private readonly socket: SocketLike,
    private readonly gone: () => void,
  ) {
    socket.binaryType = "arraybuffer";
    this.open = new Promise((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new SocketGone("frame socket: could not connect"));
      socket.onclose = () => reject(new SocketGone("frame socket: closed"));
    });
    // Unhandled until someone asks: a lane that never opens is found out by its first request.
    this.open.catch(() => undefined);
    socket.onmessage = (ev) => this.answer(ev.data);
    const fail = () => {
      this.gone();
      for (const w of this.waiting.splice(0)) w.reject(new SocketGone("frame socket: closed"));
    };
    this.open.then(() => {
      socket.onerror = fail;
      socket.onclose = fail;
    }, fail);
  }

  /** Sends the request once the connection is open; the answer (or the lane's failure, which
   *  rejects everything waiting) settles the promise. */
  ask(sha256: string, frame: number, fit?: [number, number]): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      this.waiting.push({ sha256, frame, resolve, reject });
      this.open.then(() => {
        try {
          this.socket.send(JSON.stringify(fit ? { sha256, frame, fit } : { sha256, frame }));
        } catch {
          this.socket.close();
        }
      }, () => undefined);
    });
  }

  private answer(data: unknown) {
    const w = this.waiting.shift();
    const outOfStep = (why: string) => {
      w?.reject(new SocketGone(`frame socket: ${why}`));
      this.gone();
      this.socket.close();
    };
    if (!w) return outOfStep("an answer nobody asked for");
    if (data instanceof ArrayBuffer) {
      const bytes = new Uint8Array(data);
      if (!isOf(bytes, w.sha256, w.frame)) return outOfStep("an answer for another frame");
      w.resolve(bytes);
      return;
    }
    let wire: { code?: unknown; message?: unknown } | null = null;
    try {
      wire = typeof data === "string" ? JSON.parse(data) : null;
    } catch {
      wire = null;
    }
    if (wire && typeof wire.code === "string") {
      w.reject(new FrameRefused(wire.code, typeof wire.message === "string" ? wire.message : wire.code));
    } else outOfStep("an answer that is neither a frame nor an error");
  }

  close() {
    this.socket.close();
  }
}

export class FrameSocket {
  private readonly lanes: Lane[];
  private dead = false;

  constructor(url: string, lanes = LANES, connect: (url: string) => SocketLike = (u) => new WebSocket(u)) {
    this.lanes = Array.from({ length: Math.max(1, lanes) }, () => new Lane(connect(url), () => this.die()));
  }

  /** Whether the socket may still be asked (false once any lane failed). */
  get usable(): boolean {
    return !this.dead;
  }

  /** Frame `frame` of image `sha256`: its packet, as the `frame` command answers it; with
   *  `fit` (a viewport's size), a first look: reduced when `frame_preview` would reduce it,
   *  else the whole packet. */
  get(sha256: string, frame: number, fit?: [number, number]): Promise<Uint8Array> {
    if (this.dead) return Promise.reject(new SocketGone("frame socket: not in use"));
    // The lane with the fewest requests waiting.
    const lane = this.lanes.reduce((a, b) => (b.waiting.length < a.waiting.length ? b : a));
    return lane.ask(sha256, frame, fit);
  }

  private die() {
    if (this.dead) return;
    this.dead = true;
    for (const lane of this.lanes) lane.close();
  }
}
