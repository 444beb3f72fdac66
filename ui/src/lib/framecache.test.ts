import { describe, expect, it } from "vitest";
import type { Frame } from "./frame";
import { FrameCache, planAhead } from "./framecache";

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

describe("planAhead", () => {
  const images = Array.from({ length: 500 }, (_, i) => ({ sha256: `s${i}` }));
  const key = (i: number) => FrameCache.key(`s${i}`, 0);

  it("asks for the nearest slices not held in the scroll direction, a few at a time", () => {
    const held = new Set([key(11)]);
    const plan = planAhead(images, 10, 1, (k) => held.has(k), new Set([key(12)]), 1000, { inFlight: 3 });
    expect(plan).toEqual([key(13), key(14)]);
    expect(planAhead(images, 10, -1, () => false, new Set(), 1000, { inFlight: 3 })).toEqual([key(9), key(8), key(7)]);
    // At the end of the series there is nothing more to ask for.
    expect(planAhead(images, 499, 1, () => false, new Set(), 1000)).toEqual([]);
  });

  // Seeded pseudo-random cases (mulberry32): whatever is held or pending, the slices ahead up
  // to the farthest one asked for never take more than the byte budget, nor the requests in
  // flight more than their bound.
  it("never plans past its byte budget or its bound on requests in flight", () => {
    let seed = 20;
    const rand = (n: number) => {
      seed = (seed + 0x6d2b79f5) >>> 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    let planned = 0;
    for (let trial = 0; trial < 2000; trial++) {
      const from = rand(500);
      const direction = rand(2) === 0 ? 1 : -1;
      const frameBytes = 1 + rand(8 << 20);
      const budget = rand(64 << 20);
      const inFlight = 1 + rand(6);
      const held = new Set<string>();
      const pending = new Set<string>();
      const pendingWanted = rand(inFlight);
      for (let k = 1; k <= 60; k++) {
        const r = rand(6);
        if (r === 0) held.add(key(from + direction * k));
        else if (r === 1 && pending.size < pendingWanted) pending.add(key(from + direction * k));
      }
      const plan = planAhead(images, from, direction, (k) => held.has(k), pending, frameBytes, { budget, inFlight });
      planned += plan.length;
      expect(plan.length + pending.size).toBeLessThanOrEqual(Math.max(inFlight, pending.size));
      const farthest = Math.max(0, ...plan.map((k) => Math.abs(Number(k.slice(1, k.indexOf(":"))) - from)));
      expect(farthest * frameBytes).toBeLessThanOrEqual(budget);
      for (const k of plan) expect(held.has(k) || pending.has(k)).toBe(false);
    }
    // The cases exercise the planner: most ask for something.
    expect(planned).toBeGreaterThan(1000);
  });
});
