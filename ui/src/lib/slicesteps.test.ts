import { describe, expect, it } from "vitest";
import { SliceSteps } from "./slicesteps";

/** A viewport of `n` slices whose shows wait to be let through, and an animation frame run by hand. */
function viewport(n: number) {
  const state = { images: Array.from({ length: n }, (_, i) => i), index: 0 };
  const shown: [number, boolean][] = [];
  const arriving: (() => void)[] = [];
  const frames: (() => void)[] = [];
  const steps = new SliceSteps(
    () => state,
    (next, byUser) =>
      new Promise<void>((resolve) => {
        shown.push([next, byUser]);
        arriving.push(() => {
          state.index = next;
          resolve();
        });
      }),
    (go) => frames.push(go),
  );
  const frame = () => frames.splice(0).forEach((go) => go());
  const arrive = async () => {
    arriving.splice(0).forEach((go) => go());
    await new Promise((r) => setTimeout(r, 0));
  };
  const step = (to: number, by: "user" | "follow" = "user") => {
    steps.wantedBy = by;
    steps.wanted = to;
    steps.schedule();
  };
  return { state, shown, steps, frame, arrive, step, frames };
}

describe("SliceSteps", () => {
  it("shows only the slice asked for last before the next animation frame", async () => {
    const v = viewport(10);
    v.step(1);
    v.step(2);
    v.step(3);
    expect(v.frames.length).toBe(1);
    v.frame();
    expect(v.shown).toEqual([[3, true]]);
    await v.arrive();
    expect(v.state.index).toBe(3);
  });

  it("shows where the steps taken while a slice was on its way lead, once it has arrived", async () => {
    const v = viewport(10);
    v.step(1);
    v.frame();
    v.step(2);
    v.step(4);
    // Still on its way: nothing more is asked for until it arrives.
    expect(v.frames.length).toBe(0);
    await v.arrive();
    v.frame();
    expect(v.shown).toEqual([[1, true], [4, true]]);
  });

  it("says whether a slice is the user's move or a follow of the other viewport", async () => {
    const v = viewport(10);
    v.step(5, "follow");
    v.frame();
    expect(v.shown).toEqual([[5, false]]);
  });

  it("shows nothing when the slice wanted is the one on screen, or the study changed", async () => {
    const v = viewport(10);
    v.step(0);
    v.frame();
    v.step(3);
    v.state.images = [0, 1];
    v.frame();
    expect(v.shown).toEqual([]);
    expect(v.steps.scheduled).toBe(false);
  });
});
