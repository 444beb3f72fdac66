import { describe, expect, it } from "vitest";
import { builtFrom, expandTyped, fieldNames, isTab, withFound, filterMacros, insertMacro, nextField, placeholders, previousField, withMacro, wordBefore, type MacroInfo } from "./autotext";

const nodule: MacroInfo = {
  name: "nodule", title: "Pulmonary nodule", source: "built-in", hash: "ab".repeat(32),
  applies: [{ template: "ct-chest", section: "findings" }],
  text: "A [size] mm solid nodule in the [lobe].", fields: ["size", "lobe"],
};
const normal: MacroInfo = { ...nodule, name: "normal-chest", title: "Normal CT chest", hash: "cd".repeat(32), text: "The lungs are clear.", fields: [] };

describe("placeholders", () => {
  it("follows the app's grammar", () => {
    expect(placeholders("[size] [Size] [] [1a] [a b] [[lobe]] [x-1]").map((p) => p.name)).toEqual(["size", "lobe", "x-1"]);
    expect(placeholders(`[${"a".repeat(33)}]`)).toEqual([]);
    expect(placeholders("é [size]")[0]).toEqual({ name: "size", start: 2, end: 8 });
  });
});

describe("Tab between fields", () => {
  const text = "A [size] mm nodule [sic] in the [lobe].";
  const names = fieldNames([nodule]);
  it("moves to the next field of the macros only, skipping a literal [sic]", () => {
    const first = nextField(text, { start: 0, end: 0 }, names)!;
    expect(text.slice(first.start, first.end)).toBe("[size]");
    const second = nextField(text, first, names)!;
    expect(text.slice(second.start, second.end)).toBe("[lobe]");
    expect(nextField(text, second, names)).toBeNull();
  });
  it("moves back with Shift+Tab", () => {
    const end = { start: text.length, end: text.length };
    const last = previousField(text, end, names)!;
    expect(text.slice(last.start, last.end)).toBe("[lobe]");
    const before = previousField(text, last, names)!;
    expect(text.slice(before.start, before.end)).toBe("[size]");
    expect(previousField(text, before, names)).toBeNull();
  });
  it("finds nothing once filled", () => {
    expect(nextField("A 12 mm nodule in the right lobe.", { start: 0, end: 0 }, names)).toBeNull();
  });
});

describe("expansion", () => {
  it("replaces the typed name and selects the first field", () => {
    const typed = "Findings: nodule";
    const out = expandTyped(typed, typed.length, [normal, nodule])!;
    expect(out.macro.name).toBe("nodule");
    expect(out.text).toBe("Findings: A [size] mm solid nodule in the [lobe].");
    expect(out.text.slice(out.selection.start, out.selection.end)).toBe("[size]");
  });
  it("puts the caret after a macro without fields", () => {
    const out = expandTyped("normal-chest", 12, [normal])!;
    expect(out.text).toBe("The lungs are clear.");
    expect(out.selection).toEqual({ start: 20, end: 20 });
  });
  it("expands nothing for an unknown word", () => {
    expect(expandTyped("nodules", 7, [nodule])).toBeNull();
    expect(expandTyped("", 0, [nodule])).toBeNull();
    expect(wordBefore("a b-c", 5)).toEqual({ start: 2, end: 5, word: "b-c" });
  });
  it("inserts at a selection from the palette", () => {
    const out = insertMacro("Before. After.", { start: 8, end: 8 }, nodule);
    expect(out.text).toBe("Before. A [size] mm solid nodule in the [lobe].After.");
    expect(out.selection).toEqual({ start: 10, end: 16 });
  });
  it("names each macro once and filters the palette", () => {
    expect(withMacro(withMacro([], nodule), nodule)).toEqual([{ name: "nodule", hash: nodule.hash }]);
    expect(filterMacros([normal, nodule], "pulm").map((m) => m.name)).toEqual(["nodule"]);
    expect(filterMacros([normal, nodule], "").length).toBe(2);
  });
});

describe("isTab", () => {
  it("knows Tab, and Shift+Tab as WebKitGTK reports it", () => {
    expect(isTab({ key: "Tab", code: "Tab", keyCode: 9 })).toBe(true);
    expect(isTab({ key: "Unidentified", code: "Tab", keyCode: 0 })).toBe(true);
    expect(isTab({ key: "Unidentified", code: "", keyCode: 9 })).toBe(true);
    expect(isTab({ key: "Unidentified", code: "", keyCode: 0 })).toBe(false);
    expect(isTab({ key: "k", code: "KeyK", keyCode: 75 })).toBe(false);
  });
});

describe("builtFrom", () => {
  it("finds the macro a kept draft was built from, filled or not", () => {
    expect(builtFrom("Findings: A [size] mm solid nodule in the [lobe].", nodule)).toBe(true);
    expect(builtFrom("A 12 mm solid nodule in the right upper lobe. Also emphysema.", nodule)).toBe(true);
    expect(builtFrom("A 12 mm calcified nodule in the [lobe].", nodule)).toBe(false);
    expect(builtFrom("in the [lobe]. A [size] mm solid nodule", nodule)).toBe(false);
    expect(builtFrom("The lungs are clear.", normal)).toBe(true);
    expect(withFound([], "A [size] mm solid nodule in the [lobe].", [normal, nodule])).toEqual([{ name: "nodule", hash: nodule.hash }]);
  });
});
