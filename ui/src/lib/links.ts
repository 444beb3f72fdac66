// Findings linked to images: a signed section version carries links (a length, an arrow, a key
// image) that its text refers to as `[fig N]`. These helpers read them for the editor's chips,
// the provenance panel and the viewer's annotation; the app judges them, never this code.

import type { ReportView, Section, Version } from "./api";

export type LinkKind = "length" | "arrow" | "key-image";

/** One link of a version, as the app projects it (coordinates in thousandths of a pixel). */
export interface ImageLink {
  fig: number;
  kind: LinkKind;
  study: string;
  series: string;
  /** SHA-256 of the image file. */
  image: string;
  /** From 0. */
  frame: number;
  points?: [number, number][];
  label?: string;
  /** For a length: the measurement.add entry it shows. */
  measurement?: string;
}

/** What to insert into a section (the app reads a length's points from the signed measurement). */
export type LinkTarget =
  | { kind: "measurement"; entry: string }
  | { kind: "arrow"; image: string; frame: number; tip: [number, number]; tail?: [number, number] }
  | { kind: "key-image"; image: string; frame: number };

/** A request to show a link in the viewer; `seq` makes a second click on the same link count. */
export interface Jump {
  link: ImageLink;
  seq: number;
}

const WORD: Record<LinkKind, string> = { length: "length", arrow: "arrow", "key-image": "key image" };

/** Where the writer's cursor is in a section's box: `at` characters into `text`. */
export interface Caret {
  section: string;
  text: string;
  at: number;
}

/** A box's cursor (`selectionEnd`, in UTF-16 units as the DOM counts) as the app counts
 *  positions: in characters (code points), so a position never splits one. */
export const caretOf = (text: string, utf16: number) => [...text.slice(0, utf16)].length;

/** `[fig 1]`: the marker the text carries. */
export const marker = (fig: number) => `[fig ${fig}]`;

/** The figure numbers of every `[fig N]` in `text`, in order (as the app reads them). */
export function markers(text: string): number[] {
  return [...text.matchAll(/\[fig (\d{1,4})\]/g)].map((m) => Number(m[1]));
}

/** What a chip reads: "[fig 1] 12.3 mm", "[fig 2] arrow", "[fig 3] key image". */
export function chipLabel(l: ImageLink): string {
  const label = l.label && l.label !== WORD[l.kind] ? l.label : WORD[l.kind];
  return `${marker(l.fig)} ${label}`;
}

/** The link's points in image pixels. */
export function pixels(l: ImageLink): [number, number][] {
  return (l.points ?? []).map(([x, y]) => [x / 1000, y / 1000]);
}

/** The links of the version `entry`, wherever it is in the report. */
export function linksOfEntry(report: ReportView, entry: string): ImageLink[] {
  for (const s of report.sections) {
    const v = s.versions.find((x) => x.entry === entry);
    if (v) return v.links ?? [];
  }
  return [];
}

/** The links of the version a section reads as now. */
export function currentLinks(s: Section): ImageLink[] {
  const v: Version | undefined = s.versions.find((x) => x.entry === s.current);
  return v?.links ?? [];
}

/** An arrow on the canvas: the shaft from `tail` (default: up and left of the tip) to `tip`,
 *  and the two barbs of its head, each `size` long. */
export function arrowShape(
  tip: [number, number],
  tail: [number, number] | null,
  size = 10,
): { tail: [number, number]; barbs: [[number, number], [number, number]] } {
  const from: [number, number] = tail ?? [tip[0] - 4 * size, tip[1] - 4 * size];
  const dx = tip[0] - from[0];
  const dy = tip[1] - from[1];
  const len = Math.hypot(dx, dy) || 1;
  const [ux, uy] = [dx / len, dy / len];
  const barb = (side: number): [number, number] => [
    tip[0] - size * ux + side * 0.6 * size * uy,
    tip[1] - size * uy - side * 0.6 * size * ux,
  ];
  return { tail: from, barbs: [barb(-1), barb(1)] };
}
