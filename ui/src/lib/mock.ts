// A stand-in for the Rust side, for the UI in a plain browser (tests): a synthetic study whose
// images are ramps, one report, a second study whose report is in conflict (two sign-offs that
// disagree, and a write refused after them), and commands that behave like the app's — including
// `report_actions`, a small imitation of the rules that judges what the user may do. The user is
// an attending; `?as=resident` makes them a resident. Only `--mode mock` builds include it.
import { mockIPC } from "@tauri-apps/api/mocks";
import type { Allowed, Author, EntryStatus, ProvenanceItem, ReportActions, ReportView, Section, Signoff, StudyRow, Version } from "./api";
import { buildFrame, type FrameHeader } from "./frame";
import { aiDepartment } from "./mock-ai";
import { mockPacs, NOT_PACS } from "./mock-pacs";
import { fieldNames, placeholders, type MacroInfo, type MacroRef } from "./autotext";
import { marker, markers, type ImageLink, type LinkTarget } from "./links";

const attending: Author = { key: "a1".repeat(32), name: "Dr Mock Attending", role: "attending", ai_model: null };
const asResident = new URLSearchParams(globalThis.location?.search ?? "").get("as") === "resident";
/** `?keychain`: the key is kept in the OS keychain (no passphrase; unlocking reads the keychain). */
let inKeychain = new URLSearchParams(globalThis.location?.search ?? "").has("keychain");
/** `?fresh`: no identity yet (the first-run screen); `init_identity` creates one. */
let fresh = new URLSearchParams(globalThis.location?.search ?? "").has("fresh");
/** `?as=newcomer`: an identity that has not joined a department yet (it waits for an invitation). */
let joined = new URLSearchParams(globalThis.location?.search ?? "").get("as") !== "newcomer";
const me: Author = asResident ? { key: "c3".repeat(32), name: "Dr Mock Resident", role: "resident", ai_model: null } : attending;
const study = "2.25.1234";

/** The mock key's passphrase (the app's documented demo passphrase). */
export const MOCK_PASSPHRASE = "countersign-demo";
/** `?store=token`: the key is on a hardware token, opened with this PIN (`wrong_pin` otherwise). */
const onToken = new URLSearchParams(globalThis.location?.search ?? "").get("store") === "token";
export const MOCK_PIN = "246810";
const keyStore = () => ({
  key_store: inKeychain ? "keychain" : onToken ? "token" : "sealed",
  needs_passphrase: !inKeychain,
});
/** The mock home starts locked, as the app does for a home with a key; `unlock` opens it. */
let unlocked = false;
/** Refuses a signing while locked, as the app does (`locked`). */
function needKey() {
  if (!unlocked) throw { code: "locked", message: "the key is locked: unlock it to sign" };
}
function checkPassphrase(p: unknown) {
  if (onToken && p !== MOCK_PIN) throw { code: "wrong_pin", message: "wrong PIN for token 'mock' (serial 0001)" };
  if (!onToken && p !== MOCK_PASSPHRASE) throw { code: "wrong_passphrase", message: `wrong passphrase for key ${"a1".repeat(32)}` };
}
let seq = 1;
let clock = Date.UTC(2026, 0, 1, 9);
const id = () => (seq++).toString(16).padStart(64, "0");

function entry(kind: string, section?: string, author: Author = me, status: EntryStatus = { state: "verified" }): ProvenanceItem {
  clock += 60_000;
  return { entry: id(), kind, author, seq, time_ms: clock, parents: [], section, status };
}

const mockPeers: string[] = [];
const reportId = id();
const sections: Section[] = ["technique", "findings", "impression"].map((name) => ({
  name,
  title: name[0].toUpperCase() + name.slice(1),
  text: null,
  cosign_role: null,
  required: true,
  fields: name === "findings"
    ? [{ name: "largest-nodule", label: "Largest nodule", type: "number", unit: "mm", min: 0, max: 300, required: false, value: null, display: null }]
    : [],
  versions: [],
  current: null,
  signed_off_version: null,
  concurrent: false,
}));
const report: ReportView = {
  report: reportId,
  study,
  template: "ct-chest",
  template_title: "CT chest",
  images: ["ramp-0", "ramp-1"],
  status: "draft",
  created_by: me,
  created_ms: clock,
  sections,
  signoff: null,
  signoffs: [],
  refused_signoffs: [],
  resolutions: [],
  addenda: [],
  measurements: [],
  critical: [],
  followups: [],
  reads: [],
  ai: [],
  heads: [reportId],
  provenance: [{ ...entry("report.new"), entry: reportId }],
};

/** A horizontal ramp: stored value 16·x, windowed 2048/4096 to about x on screen. */
export const RAMP = { width: 256, height: 64, center: 2048, width_window: 4096 };

function rampFrame(sha256: string, frame: number): ArrayBuffer {
  const { width, height } = RAMP;
  const samples = new Uint16Array(width * height);
  // Each frame of the multi-frame image shifts the ramp, so frames are told apart on screen.
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) samples[y * width + x] = ((x + frame * 64) % 256) * 16;
  const header: FrameHeader = {
    width, height, format: "u16", slope: 1, intercept: 0,
    window_center: RAMP.center, window_width: RAMP.width_window, invert: false,
    frame, frames: sha256 === "ramp-1" ? 3 : 1, pixel_spacing: [0.5, 0.5], patient: "Phantom^Ramp",
    study_date: "20260101", modality: "CT", series_description: "Ramp", instance_number: 1, sha256,
  };
  const packet = buildFrame(header, new Uint8Array(samples.buffer));
  return packet.buffer.slice(packet.byteOffset, packet.byteOffset + packet.byteLength) as ArrayBuffer;
}

/** The conflict: Dr Mock Attending signed off what she wrote; Dr Bob Attending, offline, rewrote
 *  the impression and signed off his. Then a write on top of both, refused (finalised). */
const bob: Author = { key: "b2".repeat(32), name: "Dr Bob Attending", role: "attending", ai_model: null };
/** Bob rotated his key after writing his impression: one person, two keys. He wrote it under
 *  the name he had then (the app's view names it where the roster renamed him since). */
const bobRotatedMs = Date.UTC(2026, 0, 1, 12);
const bobOldKey: Author = {
  ...bob,
  person: { number: 1, keys: 2, current: "b3".repeat(32), retired_ms: bobRotatedMs, replaced_lost_key: false },
  name_then: "Dr Bob Smith",
};
const bobNewKey: Author = {
  ...bob,
  key: "b3".repeat(32),
  person: { number: 2, keys: 2, current: "b3".repeat(32), rotated_ms: bobRotatedMs, replaced_lost_key: false },
};
const conflictStudy = "2.25.5678";
export const CONFLICT = {
  mine: "Solitary 6 mm nodule in the right upper lobe; CT in 12 months.",
  theirs: "No significant abnormality.",
  refused: "Rewritten after sign-off.",
};
const conflict: ReportView = (() => {
  const create = entry("report.create", undefined, attending);
  const provenance: ProvenanceItem[] = [create];
  const version = (section: string, text: string, author: Author): Version => {
    const e = entry("section.write", section, author);
    provenance.push(e);
    return { entry: e.entry, author, time_ms: e.time_ms, text, fields: {}, status: e.status, cosigns: [] };
  };
  const technique = version("technique", "Low-dose CT, no contrast.", attending);
  const findings = version("findings", "A 6 mm solid nodule in the right upper lobe.", attending);
  const mine = version("impression", CONFLICT.mine, attending);
  const signoff = (author: Author, impression: Version): Signoff => {
    const e = entry("report.status", undefined, author);
    provenance.push(e);
    const sections = { technique: technique.entry, findings: findings.entry, impression: impression.entry };
    return { entry: e.entry, author, time_ms: e.time_ms, status: e.status, sections, in_force: true };
  };
  const first = signoff(attending, mine);
  const theirs = version("impression", CONFLICT.theirs, bobOldKey);
  const second = signoff(bobNewKey, theirs);
  provenance.push(entry("section.write", "impression", bobNewKey, {
    state: "refused", code: "finalised",
    reason: `the report was finalised by entry ${second.entry}; only addenda may follow`,
  }));
  const section = (name: string, versions: Version[], text: string | null): Section => ({
    name, title: name[0].toUpperCase() + name.slice(1), text, cosign_role: null, required: true, fields: [],
    versions, current: text === null ? null : versions[0].entry, signed_off_version: null, concurrent: false,
    conflicting_versions: text === null ? versions.map((v) => v.entry) : undefined,
  });
  return {
    report: create.entry, study: conflictStudy, template: "ct-chest", template_title: "CT chest",
    images: ["ramp-0", "ramp-1"], status: "conflict", created_by: attending, created_ms: create.time_ms,
    sections: [
      section("technique", [technique], technique.text),
      section("findings", [findings], findings.text),
      section("impression", [mine, theirs], null),
    ],
    signoff: null, signoffs: [first, second], refused_signoffs: [], resolutions: [], addenda: [], measurements: [], critical: [],
    followups: [], reads: [], ai: [], heads: [provenance.at(-1)!.entry], provenance,
    // Bob's node also showed two peers two histories of this report's log (evidence relayed).
    split_views: [{
      signer: bob,
      reason: `its checkpoint of log ${create.entry} at 1764000060000 ms does not descend from its checkpoint at 1764000000000 ms: head ${second.entry} is not in its history (evidence relayed by 12D3KooWmock)`,
    }],
  };
})();
/** A report created by a key revoked before it signed: authentic, kept, refused. */
const refusedStudy = "2.25.6666";
const refused: ReportView = (() => {
  const create = entry("report.create", undefined, bob, {
    state: "refused", code: "revoked",
    reason: "the author was revoked, and this entry is outside the frontier the revocation vouches for",
  });
  return {
    ...structuredClone(report), report: create.entry, study: refusedStudy, status: "refused", created_by: bob,
    created_ms: create.time_ms, sections: structuredClone(sections), heads: [create.entry], provenance: [create],
  };
})();
/** A report signed off whose sign-off no longer stands: the version it covers was frozen by its
 *  author's fork. Withdrawn, never a quiet draft. */
const withdrawnStudy = "2.25.7777";
const withdrawn: ReportView = (() => {
  const create = entry("report.create", undefined, attending);
  const fin = entry("report.status", undefined, attending, {
    state: "refused", code: "coverage_mismatch",
    reason: "final sign-off names a version for section impression that is not its current version",
  });
  return {
    ...structuredClone(report), report: create.entry, study: withdrawnStudy, status: "withdrawn", created_by: attending,
    created_ms: create.time_ms, sections: structuredClone(sections), heads: [fin.entry], provenance: [create, fin],
    refused_signoffs: [{ entry: fin.entry, author: attending, time_ms: fin.time_ms, status: fin.status, sections: {}, in_force: false }],
  };
})();
/** A report whose personal data a data-protection officer erased, after an attending moved it
 *  from the wrong patient's study: every entry's header and signature verify, the payloads are
 *  gone. */
const erasedStudy = "2.25.9999";
const dana: Author = { key: "d4".repeat(32), name: "Dana Protection", role: "data-protection", ai_model: null };
export const ERASED = { basis: "GDPR Art. 17(1)(b): consent withdrawn", moveReason: "filed under the wrong patient" };
const erased: ReportView = (() => {
  const create = entry("report.create", undefined, attending);
  // Which section is in the payload: gone with it.
  const write = entry("section.write", undefined, bob);
  const move = entry("report.move", undefined, attending);
  const erase = entry("payload.erase", undefined, dana);
  const gone: EntryStatus = { state: "erased" };
  const provenance = [create, write, move].map((e) => ({ ...e, status: gone }));
  provenance.push(erase);
  return {
    // As the app's view: the template went with report.create's payload, so no sections.
    ...structuredClone(report), report: create.entry, study: "", template: "", template_title: "", images: [], status: "erased",
    created_by: attending, created_ms: create.time_ms, sections: [], heads: [erase.entry], provenance,
    erasure: { entry: erase.entry, by: dana, time_ms: erase.time_ms, basis: ERASED.basis, scope: "patient" },
    moves: [{ entry: move.entry, by: attending, time_ms: move.time_ms, from: "2.25.4444", to: erasedStudy, reason: ERASED.moveReason }],
  };
})();
/** The AI department the oversight view reads (lib/mock-ai.ts): its reports open like any other. */
const department = aiDepartment([attending, bob], sections);
const reports = [report, conflict, refused, withdrawn, erased, ...department.reports];
/** What the oversight view asked `ai_stats` for, oldest first (the browser test reads it). */
export const aiStatsCalls: Record<string, unknown>[] = [];

/** Erases a report as the app does: every entry but the erasure keeps its header and
 *  signature (status erased), the content goes. */
function erase(r: ReportView, basis: string, scope: "report" | "patient" = "report"): string {
  allow(actionsFor(r).erase);
  const e = entry("payload.erase");
  for (const p of r.provenance) p.status = { state: "erased" };
  r.provenance.push(e);
  r.heads = [e.entry];
  r.erasure = { entry: e.entry, by: me, time_ms: e.time_ms, basis: basis.trim(), scope };
  r.restriction = undefined;
  r.status = "erased";
  r.images = [];
  r.addenda = r.addenda.map((a) => ({ ...a, text: null, status: { state: "erased" } }));
  r.measurements = [];
  r.followups = [];
  // As the app's view: the template went with report.create's payload, so no sections.
  r.sections = [];
  r.template = "";
  r.template_title = "";
  r.study = "";
  return e.entry;
}

/** Restricts (or lifts) a report as the app does: signed both ways; the content is withheld
 *  while restricted (the mock keeps it aside and puts it back). */
const withheld = new Map<string, Section[]>();
function restrict(r: ReportView, basis: string, on: boolean): string {
  allow(on ? actionsFor(r).restrict : actionsFor(r).lift);
  const e = entry("report.restrict");
  r.provenance.push(e);
  r.heads = [e.entry];
  const note = { entry: e.entry, by: me, time_ms: e.time_ms, basis: basis.trim(), restricted: on };
  r.restrictions = [...(r.restrictions ?? []), note];
  if (on) {
    r.restriction = note;
    withheld.set(r.report, structuredClone(r.sections));
    for (const x of r.sections) {
      x.text = null;
      for (const v of x.versions) v.text = null;
    }
  } else {
    r.restriction = undefined;
    const back = withheld.get(r.report);
    if (back) r.sections.splice(0, r.sections.length, ...back);
  }
  return e.entry;
}

const yes: Allowed = { allowed: true };
const no = (rule: string, reason: string): Allowed => ({ allowed: false, rule, reason });
/** The kinds a resident may not write (Role::may_write), judged before any report rule. */
const RESIDENT_MAY_NOT = ["section.cosign", "addendum.write", "report.resolve"];
const mayWrite = (kind: string): Allowed | null =>
  me.role === "resident" && RESIDENT_MAY_NOT.includes(kind) ? no("role_may_not_write", `role resident may not write ${kind}`) : null;

/** The built-in AutoText macros of the mock's ct-chest sections (as crates/report/templates/macros.toml). */
const MOCK_MACROS: MacroInfo[] = [
  {
    name: "normal-chest", title: "Normal CT chest", source: "built-in", hash: "1c".repeat(32),
    applies: [{ template: "ct-chest", section: "findings" }],
    text: "The lungs are clear. No pulmonary nodule, consolidation or effusion. The airways are patent. No mediastinal or hilar lymphadenopathy. Heart size normal; no pericardial effusion.",
    fields: [],
  },
  {
    name: "nodule", title: "Pulmonary nodule", source: "built-in", hash: "2d".repeat(32),
    applies: [{ template: "ct-chest", section: "findings" }],
    text: "A [size] mm solid nodule in the [lobe]. No other nodule. No lymphadenopathy.", fields: ["size", "lobe"],
  },
  {
    name: "nodule-impression", title: "Pulmonary nodule: follow-up", source: "built-in", hash: "3e".repeat(32),
    applies: [{ template: "ct-chest", section: "impression" }],
    text: "Solitary [size] mm pulmonary nodule in the [lobe]. Lung-RADS [category]; follow-up CT in [interval].",
    fields: ["size", "lobe", "category", "interval"],
  },
];

/** The app's field_unfilled rule, imitated: the first covered section whose text still holds a
 *  [field] of a macro its version names. */
function unfilledOf(r: ReportView): Allowed | null {
  for (const s of r.sections) {
    const v = s.versions.find((x) => x.entry === s.current);
    const used = MOCK_MACROS.filter((m) => (v?.macros ?? []).some((u) => u.name === m.name && u.hash === m.hash));
    const names = fieldNames(used);
    const left = [...new Set(placeholders(v?.text ?? "").map((p) => p.name).filter((n) => names.includes(n)))].map((n) => `[${n}]`);
    if (left.length) {
      const words = left.length === 1 ? `${left[0]} is` : `${left.slice(0, -1).join(", ")} and ${left.at(-1)} are`;
      return no("field_unfilled", `${s.title}: ${words} not filled`);
    }
  }
  return null;
}

/** What the user may do on `r`, judged roughly as the app's rules would (report_actions). */
function actionsFor(r: ReportView): ReportActions {
  const bySection = (sections: Section[], judge: (s: Section) => Allowed) =>
    Object.fromEntries(sections.map((s) => [s.name, judge(s)]));
  const written = r.sections.filter((s) => s.current);
  // Erasing and restricting: an attending or a data-protection officer (Role::may_write);
  // erasing or restricting again, or lifting nothing, is not offered (no rule refuses it).
  const protector = me.role === "attending" || me.role === "data-protection";
  const byRole = (kind: string) => protector ? yes : no("role_may_not_write", `role ${me.role} may not write ${kind}`);
  const protection = {
    erase: r.erasure ? { allowed: false, reason: "the report's personal data is already erased" } : byRole("payload.erase"),
    restrict: r.restriction ? { allowed: false, reason: "the report is already restricted" } : byRole("report.restrict"),
    lift: r.restriction ? byRole("report.restrict") : { allowed: false, reason: "the report is not restricted" },
  };
  if (r.status === "refused") {
    const refused = no("report_refused", "the report itself (its report.create) is refused");
    return {
      write: bySection(r.sections, () => refused), cosign: bySection(written, () => refused),
      preliminary: refused, finalize: refused, addendum: refused, resolve: {}, review: {},
      erase: refused, restrict: refused, lift: protection.lift, move: refused,
    };
  }
  if (r.erasure) {
    const gone = no("report_erased", "the report was erased: only erasure and restriction may follow it");
    return {
      write: bySection(r.sections, () => gone), cosign: bySection(written, () => gone),
      preliminary: gone, finalize: gone, addendum: gone, resolve: {}, review: {}, ...protection, move: gone,
    };
  }
  const inForce = r.signoffs.filter((s) => s.in_force);
  const final = [...r.signoffs].sort((a, b) => a.entry.localeCompare(b.entry))[0];
  const finalised = final ? no("finalised", `the report was finalised by entry ${final.entry}; only addenda may follow`) : null;
  const missing = r.sections.find((s) => s.required && !s.current);
  const unreviewed = r.ai.find((a) => !a.review);
  const finalize = final
    ? no("already_final", `the report is already final (entry ${final.entry})`)
    : me.role !== "attending"
      ? no("not_attending", `only an attending may finalise; the author is ${me.role}`)
      : missing
        ? no("section_missing", `section ${missing.name} has no text; it must be written before final sign-off`)
        : unreviewed
          ? no("unreviewed_ai", `AI result ${unreviewed.entry} has not been reviewed: unreviewed AI output cannot be signed off`)
          : unfilledOf(r) ?? yes;
  return {
    write: bySection(r.sections, () => finalised ?? yes),
    cosign: bySection(written, (s) =>
      mayWrite("section.cosign") ?? finalised ??
        (s.versions.find((v) => v.entry === s.current)?.author.key === me.key
          ? no("self_cosign", "an author cannot co-sign their own section version: it is not a second signature")
          : yes)),
    preliminary: final
      ? no("already_final", `the report is already final (entry ${final.entry})`)
      : r.status === "preliminary" ? { allowed: false, reason: "the report is already marked preliminary" } : unfilledOf(r) ?? yes,
    finalize,
    addendum: mayWrite("addendum.write") ?? (final ? yes : no("not_final", "an addendum needs a final report")),
    resolve: Object.fromEntries(inForce.map((s) => [s.entry,
      mayWrite("report.resolve") ??
        (inForce.length < 2
          ? no("no_conflict", "there is no conflict between sign-offs in this entry's past to resolve")
          : s.author.key === me.key
            ? no("self_resolve", "nobody keeps a sign-off they signed themselves: another attending must keep it")
            : yes)])),
    review: Object.fromEntries(r.ai.filter((a) => !a.review).map((a) => [a.entry, finalised ?? yes])),
    ...protection,
    // Moving a report filed under the wrong patient: an attending (Role::may_write).
    move: me.role === "attending" ? yes : no("role_may_not_write", `role ${me.role} may not write report.move`),
  };
}

/** Throws the app's refusal (code, rule, words) unless `judged` allows the action. */
function allow(judged: Allowed | undefined) {
  if (judged && !judged.allowed) {
    throw { code: "not_allowed", rule: judged.rule, message: `refused by rule ${judged.rule}: ${judged.reason}` };
  }
}

/** Signs the report off: every section's current version, as the app's sign-off covers them. */
function finalize(r: ReportView): string {
  allow(actionsFor(r).finalize);
  const e = entry("report.status");
  r.provenance.push(e);
  r.heads = [e.entry];
  const covered = Object.fromEntries(r.sections.filter((s) => s.current).map((s) => [s.name, s.current!]));
  const signoff: Signoff = { entry: e.entry, author: me, time_ms: e.time_ms, status: e.status, sections: covered, in_force: true };
  r.signoffs.push(signoff);
  r.signoff = signoff;
  r.status = "final";
  for (const s of r.sections) s.signed_off_version = s.current;
  return e.entry;
}

/** Keeps one sign-off of a report in conflict, as the app's rules would. */
function resolve(r: ReportView, keep: string, note: string): string {
  const force = r.signoffs.filter((s) => s.in_force);
  allow(mayWrite("report.resolve") ?? undefined);
  if (force.length < 2) throw { code: "not_allowed", rule: "no_conflict", message: "refused by rule no_conflict: the report has no conflict to resolve" };
  const kept = force.find((s) => s.entry === keep);
  if (!kept) throw { code: "not_allowed", rule: "not_a_conflicting_final", message: `refused by rule not_a_conflicting_final: ${keep} is not a sign-off in conflict` };
  if (kept.author.key === me.key) throw { code: "not_allowed", rule: "self_resolve", message: "refused by rule self_resolve: nobody keeps their own sign-off" };
  const e = entry("report.resolve");
  r.provenance.push(e);
  r.heads = [e.entry];
  for (const s of r.signoffs) s.in_force = s.entry === keep;
  r.resolutions.push({ entry: e.entry, author: me, time_ms: e.time_ms, keep, note, status: e.status });
  r.signoff = kept;
  r.status = "final";
  for (const s of r.sections) {
    const v = s.versions.find((x) => x.entry === kept.sections[s.name]);
    s.current = v?.entry ?? null;
    s.signed_off_version = v?.entry ?? null;
    s.text = v?.text ?? null;
    s.conflicting_versions = undefined;
  }
  return e.entry;
}

/** A report as the study list shows it. */
const line = (id: string, on: string, status: ReportView["status"]) => ({
  report: id, study: on, template: "ct-chest", status, created_ms: 0, last_change_ms: 0, entries: 1, cursor: `0-${id}`,
});

/** Reports moved to another patient's study (report_move), oldest first. */
const moved: { report: string; from: string; to: string }[] = [];
/** Patient IDs erased (patient_erase): their studies' images are gone, so are their rows. */
const erasedPatients = new Set<string>();
/** The mock's Patient ID of a study's patient (the app reads the images' own). */
const patientIdOf = (row: StudyRow) => `${(row.patient ?? "anon").split("^").at(-1)!.toUpperCase()}-0001`;

/** The study list as it stands: moves marked where the report was and listed where it went. */
const rows = (): StudyRow[] => {
  const all = baseRows().filter((r) => !erasedPatients.has(patientIdOf(r)));
  for (const m of moved) {
    const r = find(m.report);
    for (const row of all) {
      if (row.study === m.from) {
        row.reports = row.reports.map((x) => (x.report === m.report ? { ...x, moved_to: m.to } : x));
      }
      if (row.study === m.to) row.reports = [...row.reports, line(m.report, m.to, r.status)];
    }
  }
  return all;
};

/** The reports about a patient's studies now (not those moved away from them). */
const reportsOfPatient = (pid: string) =>
  rows().filter((r) => patientIdOf(r) === pid).flatMap((r) => r.reports.filter((x) => !x.moved_to).map((x) => x.report));

const baseRows = (): StudyRow[] => [
  {
    study, patient: "Phantom^Ramp", date: "20260101", modality: "CT", description: "Synthetic ramp",
    instances: 2, reports: [line(reportId, study, report.status)],
  },
  {
    study: conflictStudy, patient: "Phantom^Conflict", date: "20260102", modality: "CT", description: "Signed off twice",
    instances: 2, reports: [line(conflict.report, conflictStudy, conflict.status)],
  },
  {
    study: refusedStudy, patient: "Phantom^Refused", date: "20260103", modality: "CT", description: "Created by a revoked key",
    instances: 2, reports: [line(refused.report, refusedStudy, refused.status)],
  },
  {
    study: withdrawnStudy, patient: "Phantom^Withdrawn", date: "20260104", modality: "CT", description: "Sign-off withdrawn",
    instances: 2, reports: [line(withdrawn.report, withdrawnStudy, withdrawn.status)],
  },
  {
    study: erasedStudy, patient: "Phantom^Erased", date: "20260106", modality: "CT", description: "Erased on request",
    instances: 0, reports: [line(erased.report, erasedStudy, erased.status)],
  },
  {
    study: "2.25.4444", patient: "Phantom^Wrong", date: "20260107", modality: "CT", description: "Report moved away",
    instances: 2, reports: [{ ...line(erased.report, "2.25.4444", erased.status), moved_to: erasedStudy }],
  },
  {
    study: undecodableStudy, patient: "Hostile^Undecodable", date: "20260105", modality: "OT", description: "Pixels refused",
    instances: 1, reports: [],
  },
  ...department.rows(),
  ...pacs.retrievedRows,
];

/** The archives (lib/mock-pacs.ts): the worklist, priors, retrieval and the demo archive. */
const pacs = mockPacs({ rows: () => rows(), reports, rampStudy: study, conflictStudy });

/** A study whose one image the decode worker refused (as a segmented-LUT bomb is). */
const undecodableStudy = "2.25.8888";

/** Unsigned text the mock "home" keeps, by report then section (the app keeps it in SQLite). */
export const mockDrafts: Record<string, Record<string, string>> = {};

// --- Findings linked to images: `report_link` as the app does it, on the draft report.
interface LinkArgs { report: string; section: string; target: LinkTarget; text: string | null; at?: number | null }

/** The app's placement of a marker (crates/app/src/links.rs `placed`), for the mock. */
function placed(text: string, at: number | null, m: string): string {
  if (at === null) return `${text.trimEnd()} ${m}`.trim();
  const chars = [...text];
  if (at > chars.length) throw { code: "invalid_input", message: `position ${at} is past the end of the section's text` };
  const before = chars.slice(0, at).join("");
  const after = chars.slice(at).join("");
  const pre = before && !/\s$/.test(before) ? " " : "";
  const post = after && !/^[\s.,;:)!?]/.test(after) ? " " : "";
  return `${before}${pre}${m}${post}${after}`;
}

function linkInsert({ report: id, section, target, text, at }: LinkArgs) {
  const r = find(id);
  allow(actionsFor(r).write[section]);
  const s = r.sections.find((x) => x.name === section);
  if (!s) throw { code: "not_allowed", rule: "unknown_section", message: `refused by rule unknown_section: no section ${section}` };
  const current = s.versions.find((v) => v.entry === s.current);
  const base = text ?? mockDrafts[id]?.[section] ?? s.text ?? "";
  const kept = (current?.links ?? []).filter((l) => markers(base).includes(l.fig));
  const fig = Math.max(0, ...kept.map((l) => l.fig), ...markers(base)) + 1;
  let link: ImageLink;
  if (target.kind === "measurement") {
    const m = r.measurements.find((x) => x.entry === target.entry);
    if (!m) throw { code: "not_found", message: `not found: measurement ${target.entry}` };
    link = { fig, kind: "length", study: r.study, series: "1", image: m.image, frame: m.frame, points: [m.from, m.to],
      label: `${(m.length / 1000).toFixed(1)} px (uncalibrated)`, measurement: m.entry };
  } else if (target.kind === "arrow") {
    link = { fig, kind: "arrow", study: r.study, series: "1", image: target.image, frame: target.frame,
      points: [target.tip, ...(target.tail ? [target.tail] : [])].map(([x, y]) => [Math.round(x * 1000), Math.round(y * 1000)]), label: "arrow" };
  } else {
    link = { fig, kind: "key-image", study: r.study, series: "1", image: target.image, frame: target.frame, label: "key image" };
  }
  if (!r.images.includes(link.image)) {
    throw { code: "not_allowed", rule: "link_image_not_bound", message: `refused by rule link_image_not_bound: link fig ${fig} names image ${link.image}, which is not one of the report's bound images` };
  }
  const e = entry("section.write", section);
  const words = placed(base, at ?? null, marker(fig));
  const fields = current?.fields ?? {};
  s.text = words;
  s.current = e.entry;
  s.versions.push({ entry: e.entry, author: me, time_ms: e.time_ms, text: words, fields, status: { state: "verified" }, cosigns: [], links: [...kept, link] });
  r.provenance.push(e);
  r.heads = [e.entry];
  delete mockDrafts[id]?.[section];
  return { entry: e.entry, link };
}

function find(id: string): ReportView {
  const r = reports.find((x) => x.report === id);
  if (!r) throw { code: "not_found", message: `report ${id} not found` };
  return r;
}

/** Commands that sign (or judge a signature in memory): refused while the key is locked. */
const SIGNING = new Set([
  "report_actions", "report_new", "sign_section", "cosign_section", "report_resolve", "mark_preliminary",
  "add_addendum", "measure_length", "mark_viewed", "review_ai", "report_restrict", "report_move",
  "report_link",
]);

export function installMocks() {
  // The browser test's stand-in for the idle time passing: the key locks.
  (globalThis as { __mockIdleLock?: () => void }).__mockIdleLock = () => {
    unlocked = false;
  };
  (globalThis as { __mockAiStatsCalls?: unknown[] }).__mockAiStatsCalls = aiStatsCalls;
  mockIPC((cmd, args) => {
    const a = (args ?? {}) as Record<string, string>;
    const fields = ((args ?? {}) as { fields?: Record<string, string> }).fields ?? {};
    if (SIGNING.has(cmd)) needKey();
    switch (cmd) {
      case "status":
        return {
          home: "/mock/home",
          identity: fresh ? null : { ...me, role: me.role!, network: joined ? "f".repeat(64) : null, admin: !asResident, joined, ...keyStore() },
          locked: !unlocked, unsealed: false, demo_passphrase: MOCK_PASSPHRASE,
        };
      case "join":
        // As the app: the text must be an invitation (signature and key checks are the app's).
        if (!a.invitation?.trim().startsWith("countersign-invite:")) {
          throw { code: "invitation_malformed", message: "not a valid invitation: an invitation starts with countersign-invite:" };
        }
        joined = true;
        return { network: "f".repeat(64), founder: attending.key, invited_by: attending.key, expires_ms: Date.now() + 86_400_000, peers: [] };
      case "unlock":
        // As the app: a sealed key needs its passphrase; a key in the keychain none.
        if (!inKeychain) checkPassphrase(a.passphrase);
        unlocked = true;
        return { ...me, role: me.role!, network: "f".repeat(64), admin: !asResident, joined: true, ...keyStore() };
      case "init_identity":
        // As the app: a sealed key needs a new passphrase of 8 characters or more; a key in the
        // keychain takes none. The new identity's key is open.
        if (a.store === "keychain") {
          if (a.passphrase) throw { code: "invalid_input", message: "a key kept in the OS keychain takes no passphrase" };
          inKeychain = true;
        } else if ((a.passphrase ?? "").length < 8) {
          throw { code: "invalid_input", message: "a passphrase needs at least 8 characters" };
        }
        fresh = false;
        unlocked = true;
        return { ...me, name: a.name, role: a.role, network: "f".repeat(64), admin: !!a.admin, joined: true, ...keyStore() };
      case "lock":
        unlocked = false;
        return null;
      case "activity":
        return null;
      case "studies": {
        // Paged like the app: `after` is the index the page starts at.
        const all = rows();
        const start = Number(a.after ?? 0);
        const end = start + Number(a.limit ?? 100);
        return { studies: all.slice(start, end), next: end < all.length ? String(end) : null };
      }
      case "study_images":
        // An erased report's images are deleted with it.
        if (a.study === erasedStudy) return [];
        if (a.study === undecodableStudy) {
          return [{ sha256: "undecodable-0", series: "1", series_description: "Bomb", instance_number: 1, frames: 1, plane: null, position: null }];
        }
        {
          const retrieved = pacs.storedImages(a.study);
          if (retrieved) return retrieved;
        }
        return ["ramp-0", "ramp-1"].map((sha256, i) => ({
          sha256, series: "1", series_description: "Ramp", instance_number: i + 1, frames: i === 1 ? 3 : 1,
          plane: "axial", position: i * 5,
        }));
      case "frame":
      case "frame_preview":
        // The mock's frames are small: a preview is the frame itself, as the app answers.
        if (a.sha256 === "undecodable-0") {
          throw { code: "bad_image", message: "attribute Palette Color Lookup Table is missing or invalid: segment at word 0 is empty" };
        }
        return rampFrame(a.sha256, Number(a.frame ?? 0));
      case "templates":
        return [{ name: "ct-chest", title: "CT chest", source: "built-in", sections: 3 }];
      case "section_macros": {
        const r = find(a.report);
        return MOCK_MACROS.filter((m) => m.applies.some((t) => t.template === r.template && t.section === a.section));
      }
      case "report_show":
        return structuredClone(find(a.report));
      case "report_actions":
        return actionsFor(find(a.report));
      case "report_resolve":
        return resolve(find(a.report), a.keep, a.note ?? "");
      case "finalize_report":
        // Re-authentication for sign-off: the passphrase every time, checked before signing.
        // A key in the keychain is read from it again (nothing to type).
        if (!inKeychain) {
          if (!a.passphrase) throw { code: "reauth_required", message: "signing a report off as final asks for your passphrase again" };
          checkPassphrase(a.passphrase);
        }
        unlocked = true;
        return finalize(find(a.report));
      case "add_addendum": {
        const r = find(a.report);
        allow(actionsFor(r).addendum);
        const e = entry("addendum.write");
        r.provenance.push(e);
        r.heads = [e.entry];
        r.addenda.push({ entry: e.entry, author: me, time_ms: e.time_ms, text: a.text, status: e.status });
        r.status = "amended";
        return e.entry;
      }
      case "report_erase":
        // Irreversible: asked again, as a final sign-off is (a key in the keychain is read again).
        if (!inKeychain) {
          if (!a.passphrase) throw { code: "reauth_required", message: "erasing a report's personal data asks for your passphrase again" };
          checkPassphrase(a.passphrase);
        }
        if (!String(a.basis ?? "").trim()) throw { code: "not_allowed", rule: "payload_invalid", message: "payload.erase payload is not valid: the legal basis is empty" };
        unlocked = true;
        return { reports: [a.report], entries: [erase(find(a.report), a.basis)] };
      case "data_protection_actions": {
        const may = me.role === "attending" || me.role === "data-protection"
          ? yes : no("role_may_not_write", `a member with the role ${me.role} may not write payload.erase`);
        return { erase_patient: may, restrict_patient: may };
      }
      case "patient_scope": {
        const row = rows().find((r) => r.study === a.study);
        if (!row) throw { code: "not_found", message: "not found: a Patient ID for that study (is it imported here?)" };
        const pid = patientIdOf(row);
        const studies = rows().filter((r) => patientIdOf(r) === pid).map((r) => r.study);
        const ids = reportsOfPatient(pid);
        return { patient_id: pid, issuer: null, other_issuers: [], patient: row.patient, studies, reports: ids, erased: ids.filter((x) => find(x).erasure).length };
      }
      case "patient_erase": {
        // As report_erase: asked again; judged for every report before anything is erased.
        if (!inKeychain) {
          if (!a.passphrase) throw { code: "reauth_required", message: "erasing a patient's personal data asks for your passphrase again" };
          checkPassphrase(a.passphrase);
        }
        unlocked = true;
        if (!String(a.basis ?? "").trim()) throw { code: "not_allowed", rule: "payload_invalid", message: "payload.erase payload is not valid: the legal basis is empty" };
        // As the app: every study of the patient held here goes, a report about it or not.
        const studies = rows().filter((r) => patientIdOf(r) === a.patientId).map((r) => r.study);
        if (!studies.length) throw { code: "not_found", message: "not found: a study of that patient" };
        // As the app: exactly the studies the dialog showed, or nothing.
        if (a.studies && [...a.studies].sort().join() !== [...studies].sort().join()) {
          throw { code: "invalid_input", message: "the patient's studies here changed since they were shown: nothing was signed or destroyed" };
        }
        const ids = reportsOfPatient(a.patientId);
        const todo = ids.map(find).filter((r) => !r.erasure);
        for (const r of todo) allow(actionsFor(r).erase);
        const entries = todo.map((r) => erase(r, a.basis, "patient"));
        erasedPatients.add(a.patientId);
        return { reports: todo.map((r) => r.report), entries, studies };
      }
      case "move_targets": {
        const r = find(a.report);
        const here = rows().find((x) => x.study === r.study);
        return rows()
          .filter((x) => x.instances > 0 && x.study !== r.study && (!here || patientIdOf(x) !== patientIdOf(here)))
          .map((x) => ({ study: x.study, patient_id: patientIdOf(x), patient: x.patient, date: x.date, modality: x.modality,
            description: x.description, instances: x.instances }));
      }
      case "report_move": {
        const r = find(a.report);
        allow(actionsFor(r).move);
        const to = rows().find((x) => x.study === a.study);
        if (!to || patientIdOf(to) !== a.patientId) {
          throw { code: "wrong_patient", message: `study ${a.study} is not the study of the patient named: its images carry another Patient ID; nothing was signed` };
        }
        const e = entry("report.move");
        r.provenance.push(e);
        r.heads = [e.entry];
        r.moves = [...(r.moves ?? []), { entry: e.entry, by: me, time_ms: e.time_ms, from: r.study, to: a.study, reason: a.reason }];
        moved.push({ report: r.report, from: r.study, to: a.study });
        r.study = a.study;
        return e.entry;
      }
      case "report_restrict": {
        const on = (args as { restricted?: boolean }).restricted === true;
        return { reports: [a.report], entries: [restrict(find(a.report), a.basis ?? "", on)] };
      }
      case "drafts":
        return { ...(mockDrafts[a.report] ?? {}) };
      case "draft_save": {
        const kept = (mockDrafts[a.report] ??= {});
        if (a.text === null || a.text === undefined) delete kept[a.section];
        else kept[a.section] = a.text;
        return null;
      }
      case "sign_section": {
        // Only the draft report takes new versions here; the others are judged first and refused.
        allow(actionsFor(find(a.report)).write[a.section]);
        const s = sections.find((x) => x.name === a.section);
        if (!s) throw { code: "not_allowed", rule: "unknown_section", message: `refused by rule unknown_section: template ct-chest has no section ${JSON.stringify(a.section)}` };
        const e = entry("section.write", s.name);
        for (const f of s.fields) {
          const v = fields[f.name];
          if (v !== undefined && f.type === "number" && !/^-?\d+(\.\d+)?$/.test(v)) {
            throw {
              code: "not_allowed", rule: "field_value",
              message: `refused by rule field_value: field ${f.name} of section ${s.name}: ${JSON.stringify(v)} is not a decimal number`,
            };
          }
          f.value = v ?? null;
          f.display = v === undefined ? null : f.unit ? `${v} ${f.unit}` : v;
        }
        const macros = ((args ?? {}) as { macros?: MacroRef[] }).macros ?? [];
        // As the app's rules: a write names only macros that apply to its section.
        for (const u of macros) {
          const m = MOCK_MACROS.find((x) => x.name === u.name && x.hash === u.hash);
          if (!m) throw { code: "not_allowed", rule: "unknown_macro", message: `refused by rule unknown_macro: macro ${u.name} is neither built in nor published to the roster` };
          if (!m.applies.some((t) => t.section === s.name)) throw { code: "not_allowed", rule: "macro_not_applicable", message: `refused by rule macro_not_applicable: macro ${u.name} does not apply to section ${s.name} of template ct-chest` };
        }
        if (macros.length) e.macros = macros;
        // As the app: the links the new text still refers to stay with it.
        const previous = s.versions.find((v) => v.entry === s.current)?.links ?? [];
        const links = previous.filter((l) => markers(a.text ?? "").includes(l.fig));
        s.text = a.text;
        s.current = e.entry;
        s.versions.push({ entry: e.entry, author: me, time_ms: e.time_ms, text: a.text, fields, status: { state: "verified" }, cosigns: [], macros, links });
        report.provenance.push(e);
        report.heads = [e.entry];
        report.status = "draft";
        // Signed: the app drops the section's draft.
        delete mockDrafts[a.report]?.[a.section];
        return e.entry;
      }
      case "measure_length": {
        const e = entry("measurement.add");
        report.provenance.push(e);
        report.heads = [e.entry];
        // Listed as the app lists it (the mock's ramp has no Pixel Spacing: uncalibrated).
        const m = args as { image: string; frame: number; from: [number, number]; to: [number, number] };
        const milli = (p: [number, number]): [number, number] => [Math.round(p[0] * 1000), Math.round(p[1] * 1000)];
        report.measurements.push({
          entry: e.entry, author: me, time_ms: e.time_ms, image: m.image, frame: m.frame, from: milli(m.from), to: milli(m.to),
          length: Math.round(Math.hypot(m.to[0] - m.from[0], m.to[1] - m.from[1]) * 1000), unit: "mpx", status: e.status,
        });
        return e.entry;
      }
      case "report_link":
        return linkInsert(args as unknown as LinkArgs);
      case "mark_viewed":
        return null;
      case "sync_add_peer": {
        const addr = String(a.addr ?? "").trim();
        if (!/\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/.test(addr)) {
          throw { code: "invalid_input", message: `${addr} does not name a peer: append /p2p/<peer id>` };
        }
        mockPeers.push(addr);
        return [...mockPeers];
      }
      case "sync_status":
        return {
          peers: ["12D3KooWMockPeer"],
          last_sync_ms: Date.UTC(2026, 0, 1, 9, 30),
          received: 0,
          listen: ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWMock"],
          cut_off: [
            {
              peer: "12D3KooWMockMallory",
              name: "Dr Mallory",
              cut_off: { reason: "it sent an entry that does not verify", since_ms: Date.UTC(2026, 0, 1, 9, 0), until_ms: Date.UTC(2026, 0, 1, 9, 1), strikes: 1, active: true },
            },
          ],
          quarantined: 2,
        };
      case "ai_stats":
        aiStatsCalls.push({ model: a.model ?? null, since: a.since ?? null, modality: a.modality ?? null });
        return department.stats({ model: a.model ?? null, since: a.since ?? null, modality: a.modality ?? null });
      case "verify":
        return { ok: true, entries: (reports.find((x) => x.report === a.report) ?? report).provenance.length, forks: 0, split_views: 0, rolled_back: 0, problems: [], seconds: 0.0012 };
      default: {
        const answer = pacs.command(cmd, a, args);
        if (answer === NOT_PACS) throw { code: "invalid_input", message: `the mock has no command ${cmd}` };
        return answer;
      }
    }
  });
}
