import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { activityTeller, TELL_EVERY_MS } from "./activity";

describe("telling the app of the user's input", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("tells the first input at once and the next ones at most every interval", () => {
    const told: number[] = [];
    const { input } = activityTeller(() => told.push(Date.now()));
    const t0 = Date.now();
    input();
    expect(told).toEqual([t0]);
    vi.advanceTimersByTime(1000);
    input();
    vi.advanceTimersByTime(1000);
    input();
    // Within the interval: not yet, and only one tell waiting.
    expect(told).toHaveLength(1);
    vi.advanceTimersByTime(TELL_EVERY_MS);
    expect(told).toEqual([t0, t0 + TELL_EVERY_MS]);
  });

  // The e2e's lock (2026-12-01): the passphrase typed was told, a click 1.4 s later dropped, so
  // the app counted its idle time from before the user's last input.
  it("never drops the last input of a burst: it is told when the interval ends", () => {
    const told: [number, number][] = [];
    const { input } = activityTeller((ago) => told.push([Date.now(), ago]));
    const t0 = Date.now();
    input();
    vi.advanceTimersByTime(1400);
    input();
    vi.advanceTimersByTime(60_000);
    // Told when the interval ends, saying the input was 3.6 s before: the app counts its idle
    // time from the input, not from the tell.
    expect(told).toEqual([[t0, 0], [t0 + TELL_EVERY_MS, TELL_EVERY_MS - 1400]]);
  });

  it("tells input after a quiet interval at once, and stop cancels a pending tell", () => {
    const told: number[] = [];
    const { input, stop } = activityTeller(() => told.push(Date.now()));
    input();
    vi.advanceTimersByTime(TELL_EVERY_MS + 1);
    input();
    expect(told).toHaveLength(2);
    vi.advanceTimersByTime(10);
    input();
    stop();
    vi.advanceTimersByTime(60_000);
    expect(told).toHaveLength(2);
  });
});
