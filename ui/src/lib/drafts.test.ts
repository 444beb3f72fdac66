import { describe, expect, it } from "vitest";
import { dropDraft, loadDraft, saveDraft } from "./drafts";

class Memory {
  items = new Map<string, string>();
  getItem = (k: string) => this.items.get(k) ?? null;
  setItem = (k: string, v: string) => void this.items.set(k, v);
  removeItem = (k: string) => void this.items.delete(k);
}

describe("drafts", () => {
  it("keeps unsigned text per report and section until it is signed", () => {
    const store = new Memory();
    saveDraft(store, "r1", "findings", "No nod", null);
    saveDraft(store, "r2", "findings", "other", null);
    expect(loadDraft(store, "r1", "findings")).toBe("No nod");
    // Text equal to the signed version is no draft.
    saveDraft(store, "r1", "findings", "Signed", "Signed");
    expect(loadDraft(store, "r1", "findings")).toBeNull();
    dropDraft(store, "r2", "findings");
    expect(store.items.size).toBe(0);
  });
});
