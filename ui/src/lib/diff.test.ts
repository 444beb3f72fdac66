import { describe, expect, it } from "vitest";
import { diffWords } from "./diff";

describe("word diff", () => {
  it("marks what an edit added and removed", () => {
    const pieces = diffWords("Normal left ventricle.", "Normal left and right ventricle.");
    expect(pieces.filter((p) => p.kind === "added").map((p) => p.text).join("")).toBe("and right ");
    expect(pieces.filter((p) => p.kind === "removed")).toEqual([]);
    expect(pieces.map((p) => (p.kind === "removed" ? "" : p.text)).join("")).toBe(
      "Normal left and right ventricle.",
    );
  });

  it("reconstructs both texts", () => {
    const a = "No effusion. Small nodule right upper lobe.";
    const b = "No pleural effusion. Nodule right lower lobe, 4 mm.";
    const pieces = diffWords(a, b);
    expect(pieces.filter((p) => p.kind !== "added").map((p) => p.text).join("")).toBe(a);
    expect(pieces.filter((p) => p.kind !== "removed").map((p) => p.text).join("")).toBe(b);
  });
});
