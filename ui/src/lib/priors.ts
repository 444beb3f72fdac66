// A prior study beside the current one: the two viewports scroll together by where the slice
// lies (the position of its centre along the patient axis its plane is named by, in mm, from
// the app: one axis for a tilted series and an untilted one), not by its index — two CTs
// of one patient seldom start at the same table position or have the same number of slices.

import type { ImageRef } from "./api";

/** Where the slice on screen in one viewport lies, told to the other when the user scrolls. */
export interface SliceAt {
  /** mm along the plane's patient axis; null when the image has no position. */
  position: number | null;
  plane: string | null;
  /** Bumped on each step, so that the same position told twice is followed twice. */
  seq: number;
}

/** The window shared by linked viewports, with who set it last (so a viewport ignores its own). */
export interface SharedWindow {
  center: number;
  width: number;
  from: string;
}

/** Why a viewport cannot follow `to` within its series around `at`, or null when it can. */
export function unsyncable(images: ImageRef[], at: number, to: SliceAt): string | null {
  const here = images[at];
  if (!here) return "no image";
  // Without a plane the position is a Slice Location (an image indexed before positions were,
  // or a file without a trustworthy orientation): its origin and sign are the vendor's, not
  // comparable with a position along a patient axis.
  if (to.position === null || !to.plane) return "the other image has no slice geometry";
  if (here.position === null || !here.plane) return "this image has no slice geometry";
  if (to.plane !== here.plane) return `${to.plane} beside ${here.plane}`;
  if (to.plane === "oblique") return "oblique planes are not compared";
  return null;
}

/** Says so when the slice `images[at]` is far from `to` (+ `offset`): further than one and a
 *  half of its series' slice spacings (or 10 mm for a single slice) — the other study does not
 *  reach that far, or has not arrived yet, and its end slice is not the same anatomy. */
export function farNote(images: ImageRef[], at: number, to: SliceAt, offset = 0): string | null {
  const here = images[at];
  if (!here || here.position === null || to.position === null) return null;
  const positions = images
    .filter((i) => i.series === here.series && i.position !== null)
    .map((i) => i.position as number)
    .sort((a, b) => a - b);
  const gaps = positions.slice(1).map((p, i) => p - positions[i]).filter((g) => g > 0).sort((a, b) => a - b);
  const spacing = gaps.length ? gaps[Math.floor(gaps.length / 2)] : 10 / 1.5;
  const distance = Math.abs(here.position - (to.position + offset));
  return distance > 1.5 * spacing ? `the nearest slice here is ${distance.toFixed(1)} mm away` : null;
}

/**
 * The index of the image in the series of `images[at]` whose position is nearest `to` (+ `offset`
 * mm), or `at` itself when it cannot follow (see `unsyncable`). Ties go to the lower index, so
 * the answer does not depend on the direction the user scrolled from.
 */
export function nearestSlice(images: ImageRef[], at: number, to: SliceAt, offset = 0): number {
  if (unsyncable(images, at, to) !== null) return at;
  const series = images[at].series;
  const target = (to.position as number) + offset;
  let best = at;
  let bestDistance = Infinity;
  images.forEach((image, i) => {
    if (image.series !== series || image.position === null || image.plane !== to.plane) return;
    const distance = Math.abs(image.position - target);
    if (distance < bestDistance) {
      best = i;
      bestDistance = distance;
    }
  });
  return best;
}

/** The offset that makes `a` follow `b` as they are now (re-aligning two studies that do not
 *  share a frame of reference): position of `b` minus position of `a`, 0 when either has none. */
export function alignOffset(a: SliceAt | null, b: SliceAt | null): number {
  if (a?.position == null || b?.position == null) return 0;
  return b.position - a.position;
}
