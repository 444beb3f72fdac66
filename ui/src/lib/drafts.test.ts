import { describe, expect, it, vi } from "vitest";
import { DraftSaver, loadDrafts, type DraftApi } from "./drafts";

/** A stand-in for the app's drafts, as the home keeps them. */
class Home implements DraftApi {
  kept = new Map<string, Record<string, string>>();
  saves = 0;
  async drafts(report: string) {
    return { ...(this.kept.get(report) ?? {}) };
  }
  async saveDraft(report: string, section: string, text: string | null) {
    this.saves++;
    const r = this.kept.get(report) ?? {};
    if (text === null) delete r[section];
    else r[section] = text;
    this.kept.set(report, r);
    return null;
  }
}

class Legacy {
  items = new Map<string, string>();
  get length() {
    return this.items.size;
  }
  key = (i: number) => [...this.items.keys()][i] ?? null;
  getItem = (k: string) => this.items.get(k) ?? null;
  removeItem = (k: string) => void this.items.delete(k);
}

describe("drafts", () => {
  it("keeps unsigned text per report and section in the home, and drops text equal to the signed", async () => {
    vi.useFakeTimers();
    const home = new Home();
    const saver = new DraftSaver(home, 400);
    saver.typed("r1", "findings", "No", null);
    saver.typed("r1", "findings", "No nod", null);
    saver.typed("r2", "findings", "other", null);
    await vi.advanceTimersByTimeAsync(400);
    // Typing fast saves once per section, the last text typed.
    expect(home.saves).toBe(2);
    expect(await loadDrafts(home, "r1")).toEqual({ findings: "No nod" });
    saver.typed("r1", "findings", "Signed", "Signed");
    await saver.flush();
    expect(await loadDrafts(home, "r1")).toEqual({});
    vi.useRealTimers();
  });

  it("moves drafts an earlier build left in the webview's storage into the home, once", async () => {
    const home = new Home();
    home.kept.set("r1", { impression: "Kept in the home." });
    const legacy = new Legacy();
    legacy.items.set("countersign:draft:r1:findings", "Typed before the update.");
    legacy.items.set("countersign:draft:r1:impression", "Older than the home's.");
    legacy.items.set("countersign:draft:r2:findings", "Another report's.");
    const drafts = await loadDrafts(home, "r1", legacy);
    expect(drafts).toEqual({ findings: "Typed before the update.", impression: "Kept in the home." });
    expect([...legacy.items.keys()]).toEqual(["countersign:draft:r2:findings"]);
    expect(home.kept.get("r1")).toEqual(drafts);
  });
});
