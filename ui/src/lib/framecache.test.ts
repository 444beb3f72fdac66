import { describe, expect, it } from "vitest";
import type { Frame } from "./frame";
import { FrameCache } from "./framecache";

const frame = (bytes: number): Frame => ({ header: {} as Frame["header"], pixels: new Uint8Array(bytes) });

describe("FrameCache", () => {
  it("keeps within its byte budget, dropping the least recently used", () => {
    const cache = new FrameCache(100);
    cache.set("a", frame(40));
    cache.set("b", frame(40));
    expect(cache.get("a")).toBeDefined(); // a is now the most recent
    cache.set("c", frame(40));
    expect(cache.bytes).toBeLessThanOrEqual(100);
    expect(cache.has("b")).toBe(false);
    expect(cache.has("a") && cache.has("c")).toBe(true);
  });
  it("never keeps a frame larger than the budget", () => {
    const cache = new FrameCache(100);
    cache.set("big", frame(101));
    expect(cache.has("big")).toBe(false);
    expect(cache.bytes).toBe(0);
  });
});
