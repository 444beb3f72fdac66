// AutoText in the editor: expanding a macro typed by name (then Tab), inserting one from the
// palette (Ctrl+K), and moving between the unfilled `[fields]` of a section (Tab / Shift+Tab).
// Pure text operations on (text, selection); which macros a section may use comes from the app
// (`section_macros`), and whether a section is filled enough to sign is the app's rule
// (`field_unfilled`, judged in crates/report): this module only finds placeholders to jump to.
//
// The placeholder grammar is the app's (crates/report/src/macros): `[name]`, the name 1 to 32
// lowercase ASCII letters, digits and dashes, starting with a letter.

export interface MacroTarget {
  template: string;
  section: string;
}

/** A macro as the app lists it (`countersign_app::MacroInfo`). */
export interface MacroInfo {
  name: string;
  title: string;
  source: "built-in" | "published";
  /** The content hash a section version names the macro by. */
  hash: string;
  applies: MacroTarget[];
  text: string;
  fields: string[];
}

/** How a section version names a macro its text was built from. */
export interface MacroRef {
  name: string;
  hash: string;
}

export interface Span {
  start: number;
  end: number;
}

export interface Placeholder extends Span {
  name: string;
}

const MAX_FIELD_NAME = 32;
const FIELD = /\[([a-z][a-z0-9-]*)\]/g;

/** Every well-formed `[field]` in `text`, in order (string offsets, UTF-16 as the textarea's). */
export function placeholders(text: string): Placeholder[] {
  const out: Placeholder[] = [];
  for (const m of text.matchAll(FIELD)) {
    if (m[1].length > MAX_FIELD_NAME) continue;
    out.push({ name: m[1], start: m.index!, end: m.index! + m[0].length });
  }
  return out;
}

/** Whether a keydown is Tab or Shift+Tab. WebKitGTK (the desktop's webview) reports Shift+Tab
 *  (GDK's ISO_Left_Tab) with key "Unidentified", so its code and key code are asked too. */
export function isTab(e: Pick<KeyboardEvent, "key" | "code" | "keyCode">): boolean {
  return e.key === "Tab" || (e.key === "Unidentified" && (e.code === "Tab" || e.keyCode === 9));
}

/** The field names of `macros`, each once. */
export function fieldNames(macros: MacroInfo[]): string[] {
  return [...new Set(macros.flatMap((m) => m.fields))];
}

/** The next placeholder of `names` at or after `from` (a selection on a placeholder counts as
 *  being at its end, so Tab moves on from it); `null` when none is left after it. */
export function nextField(text: string, selection: Span, names: string[]): Placeholder | null {
  return placeholders(text).find((p) => names.includes(p.name) && p.start >= selection.end && !(p.start === selection.start && p.end === selection.end)) ?? null;
}

/** The previous placeholder of `names` ending at or before the selection's start. */
export function previousField(text: string, selection: Span, names: string[]): Placeholder | null {
  return placeholders(text).filter((p) => names.includes(p.name) && p.end <= selection.start).at(-1) ?? null;
}

/** The word (lowercase letters, digits, dashes) that ends at `caret`. */
export function wordBefore(text: string, caret: number): Span & { word: string } {
  let start = caret;
  while (start > 0 && /[a-z0-9-]/.test(text[start - 1])) start--;
  return { start, end: caret, word: text.slice(start, caret) };
}

/** The text after putting `macro`'s text in place of `span`, with the selection on its first
 *  field (typing replaces it) or the caret after the inserted text. */
export function insertMacro(text: string, span: Span, macro: MacroInfo): { text: string; selection: Span } {
  const next = text.slice(0, span.start) + macro.text + text.slice(span.end);
  const inserted = { start: span.start, end: span.start + macro.text.length };
  const first = placeholders(next).find((p) => p.start >= inserted.start && p.end <= inserted.end && macro.fields.includes(p.name));
  return { text: next, selection: first ? { start: first.start, end: first.end } : { start: inserted.end, end: inserted.end } };
}

/** Expands the macro whose name was just typed before the caret, if one of `macros` has it. */
export function expandTyped(text: string, caret: number, macros: MacroInfo[]): { text: string; selection: Span; macro: MacroInfo } | null {
  const w = wordBefore(text, caret);
  const macro = w.word ? macros.find((m) => m.name === w.word) : undefined;
  if (!macro) return null;
  return { ...insertMacro(text, w, macro), macro };
}

/** `refs` with `macro` added once (by name and hash). */
export function withMacro(refs: MacroRef[], macro: MacroInfo): MacroRef[] {
  return refs.some((r) => r.name === macro.name && r.hash === macro.hash) ? refs : [...refs, { name: macro.name, hash: macro.hash }];
}

/** Whether `text` still reads as built from `macro`: its literal parts in order, each field
 *  either still `[field]` or filled (at least one character). How the editor finds the macros of
 *  a draft kept in the home (a draft keeps text only), so that a field left unfilled there still
 *  blocks sign-off once signed. Linear: each part is looked for once, after the one before. */
export function builtFrom(text: string, macro: MacroInfo): boolean {
  const parts: string[] = [];
  let from = 0;
  for (const p of placeholders(macro.text)) {
    parts.push(macro.text.slice(from, p.start));
    from = p.end;
  }
  parts.push(macro.text.slice(from));
  let at = 0;
  for (const [i, part] of parts.entries()) {
    if (i > 0) at += 1;
    if (!part) continue;
    const found = text.indexOf(part, at);
    if (found < 0 || (i > 0 && found < at)) return false;
    at = found + part.length;
  }
  return true;
}

/** `refs` with every macro of `macros` the text reads as built from added. */
export function withFound(refs: MacroRef[], text: string, macros: MacroInfo[]): MacroRef[] {
  return macros.filter((m) => builtFrom(text, m)).reduce(withMacro, refs);
}

/** The palette's list: macros whose name or title contains every word of `query`. */
export function filterMacros(macros: MacroInfo[], query: string): MacroInfo[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return macros.filter((m) => words.every((w) => m.name.includes(w) || m.title.toLowerCase().includes(w)));
}
