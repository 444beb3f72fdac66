// What the report editor offers, from the app's own answer to "what may this user do on this
// report now" (report_actions). Pure, and it decides nothing: an action is offered only where the
// app said yes. A refusal is shown only where its rule names work still to do on the report —
// something the user can act on; the others (already final, not this user's role) the report's
// state and the absent button already say.
import type { Allowed, ReportActions } from "./api";
import type { Shown } from "./errors";

/** Rules refusing sign-off because of something still to do on the report. */
export const WORK_LEFT: ReadonlySet<string> = new Set([
  "section_missing",
  "field_missing",
  "cosign_missing",
  "countersign_missing",
  "unreviewed_ai",
  "coverage_mismatch",
  // An AutoText [field] still unfilled: named in the refusal ("Findings: [size] is not filled").
  "field_unfilled",
]);

export interface Offer {
  /** Sections that take a new signed version: their editor is open. */
  write: ReadonlySet<string>;
  /** Sections whose current version this user may co-sign. */
  cosign: ReadonlySet<string>;
  preliminary: boolean;
  finalize: boolean;
  /** Why sign-off is refused, when the refusing rule names work left on the report. */
  finalizeRefused: Shown | null;
  addendum: boolean;
  /** Sign-offs in force this user may keep (in a conflict). */
  resolve: ReadonlySet<string>;
  /** Why no sign-off may be kept, when there are some and none may be. */
  resolveRefused: Shown | null;
  /** When some sign-offs may be kept and others not: why not, per sign-off (one's own). */
  keepRefused: ReadonlyMap<string, Shown>;
  /** AI results this user may accept, edit or reject. */
  review: ReadonlySet<string>;
  /** Erasing the report's personal data (GDPR Art. 17). */
  erase: boolean;
  /** Restricting its processing (GDPR Art. 18), and lifting a restriction in force. */
  restrict: boolean;
  lift: boolean;
  /** Moving the report to another patient's study (filed under the wrong patient). */
  move: boolean;
}

/** Offers nothing: before the app has answered, or when asking failed. */
export const NOTHING: Offer = {
  write: new Set(),
  cosign: new Set(),
  preliminary: false,
  finalize: false,
  finalizeRefused: null,
  addendum: false,
  resolve: new Set(),
  resolveRefused: null,
  keepRefused: new Map(),
  review: new Set(),
  erase: false,
  restrict: false,
  lift: false,
  move: false,
};

/** A refusal as the editor shows it: the rule's code apart from the words, as for errors. */
export const refusalOf = (a: Allowed): Shown | null =>
  a.allowed ? null : { code: null, rule: a.rule ?? null, text: a.reason ?? "not allowed now" };

const allowedKeys = (m: Record<string, Allowed>) =>
  new Set(Object.entries(m).filter(([, a]) => a.allowed).map(([k]) => k));

/** What to offer, from what the app says this user may do (null: it has not said). */
export function offerOf(actions: ReportActions | null): Offer {
  if (!actions) return NOTHING;
  const resolve = allowedKeys(actions.resolve);
  const firstRefusedResolve = Object.values(actions.resolve).find((a) => !a.allowed);
  return {
    write: allowedKeys(actions.write),
    cosign: allowedKeys(actions.cosign),
    preliminary: actions.preliminary.allowed,
    finalize: actions.finalize.allowed,
    finalizeRefused: WORK_LEFT.has(actions.finalize.rule ?? "") ? refusalOf(actions.finalize) : null,
    addendum: actions.addendum.allowed,
    resolve,
    resolveRefused: resolve.size === 0 && firstRefusedResolve ? refusalOf(firstRefusedResolve) : null,
    keepRefused: new Map(
      resolve.size === 0
        ? []
        : Object.entries(actions.resolve).flatMap(([k, a]) => {
            const shown = refusalOf(a);
            return shown ? [[k, shown] as [string, Shown]] : [];
          }),
    ),
    review: allowedKeys(actions.review),
    erase: actions.erase.allowed,
    restrict: actions.restrict.allowed,
    lift: actions.lift.allowed,
    move: actions.move.allowed,
  };
}
