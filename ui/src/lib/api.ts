// The app as the UI sees it: one typed function per Tauri command. Nothing else in the UI calls
// `invoke`, and nothing here knows how the app stores or syncs anything.
import { invoke } from "@tauri-apps/api/core";
import type { MacroInfo, MacroRef } from "./autotext";
export type { MacroInfo, MacroRef } from "./autotext";
import type { ImageLink, LinkTarget } from "./links";
import { fetchPacket } from "./frame";
import { FrameRefused, FrameSocket, SocketGone } from "./framesocket";
import type { AppErrorWire, Identity, Joined, Status } from "./api/session";
import { STUDY_PAGE } from "./api/studies";
import type { ImageRef, ImportSummary, StudyPage } from "./api/studies";
import type {
  DataProtectionActions, DataProtectionOutcome, ExportFormat, MoveTarget, PatientScope, ReportActions, ReportView,
  TemplateRef,
} from "./api/reports";
import type { AiStats, AiStatsFilter } from "./api/ai";
import type { SyncStatus, VerifyReport } from "./api/sync";
import type {
  ArchiveConfig, ArchiveLoginInput, ArchiveTest, DemoArchiveStatus, DemoArchiveSummary, PriorReport, Priors, Retrieval,
  RetrieveProgress, Worklist,
} from "./api/pacs";
export * from "./api/session";
export * from "./api/studies";
export * from "./api/reports";
export * from "./api/ai";
export * from "./api/sync";
export * from "./api/pacs";

/** Calls `onProgress` with each `retrieve-progress` event of `study` until the returned function
 *  is called: the app's events in the app; in the mock build, the window's events of that name. */
async function onRetrieveProgress(study: string, onProgress: (p: RetrieveProgress) => void): Promise<() => void> {
  if (import.meta.env.MODE === "mock" || !("__TAURI_INTERNALS__" in window)) {
    const handler = (e: Event) => {
      const p = (e as CustomEvent<RetrieveProgress>).detail;
      if (p.study === study) onProgress(p);
    };
    window.addEventListener("retrieve-progress", handler);
    return () => window.removeEventListener("retrieve-progress", handler);
  }
  const { listen } = await import("@tauri-apps/api/event");
  return listen<RetrieveProgress>("retrieve-progress", (e) => {
    if (e.payload.study === study) onProgress(e.payload);
  });
}

/** An error from a command, with its stable code (see ERROR_CODES in countersign-app) and, when
 *  a rule refused an entry, that rule's code. */
export class CommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly rule: string | null = null,
  ) {
    super(message);
  }
}

/** A profiler's hook (`make bench-app` sets it in the page to see which commands were in flight
 *  while the first image waited): told each command's name, when it was asked and when its
 *  answer was taken in. Unset, nothing is measured. */
type Trace = (cmd: string, asked: number, answered: number) => void;

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  const trace = (globalThis as { __countersignTrace?: Trace }).__countersignTrace;
  const asked = trace ? performance.now() : 0;
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    const wire = e as Partial<AppErrorWire>;
    if (wire && typeof wire === "object" && typeof wire.code === "string") {
      throw new CommandError(wire.code, wire.message ?? wire.code, typeof wire.rule === "string" ? wire.rule : null);
    }
    throw new CommandError("internal", String(e));
  } finally {
    trace?.(cmd, asked, performance.now());
  }
}

/** The app's frame socket, once asked for: null in the mock build, when the app has none, or
 *  with `?ipc` in the page's address (the bench compares the two transports). */
let frameSocket: Promise<FrameSocket | null> | null = null;
function socketForFrames(): Promise<FrameSocket | null> {
  if (!frameSocket) {
    const off = import.meta.env.MODE === "mock" || !("__TAURI_INTERNALS__" in window) ||
      new URLSearchParams(location.search).has("ipc");
    frameSocket = off ? Promise.resolve(null) : call<string | null>("frame_socket")
      .then((url) => (url ? new FrameSocket(url) : null), () => null);
  }
  return frameSocket;
}

/** How the last frame came: `socket` or `command` (the viewer shows it to the tests, which
 *  check the real window uses the socket). */
export let frameTransport: "socket" | "command" | null = null;

/** Asks the frame socket when it can be used (`null` otherwise: the caller asks the command).
 *  The app's refusal comes back as the command's would; a failure of the socket itself sends
 *  this frame, and every later one, through the command. */
async function overSocket(sha256: string, frame: number, fit?: [number, number]): Promise<Uint8Array | null> {
  const socket = await socketForFrames();
  if (!socket?.usable) return null;
  const trace = (globalThis as { __countersignTrace?: Trace }).__countersignTrace;
  const asked = trace ? performance.now() : 0;
  try {
    const packet = await socket.get(sha256, frame, fit);
    frameTransport = "socket";
    return packet;
  } catch (e) {
    if (e instanceof FrameRefused) throw new CommandError(e.code, e.message);
    if (!(e instanceof SocketGone)) throw e;
    return null;
  } finally {
    trace?.(fit ? "frame_preview (socket)" : "frame (socket)", asked, performance.now());
  }
}

/** A frame packet: over the frame socket when it can be used, else through the `frame` command
 *  (in parts). With `part0` in hand (a first look that was not reduced) only what is missing. */
async function framePacket(sha256: string, frame: number, part0?: Uint8Array): Promise<Uint8Array> {
  const packet = part0 ? null : await overSocket(sha256, frame);
  if (packet) return packet;
  let asked = false;
  const whole = await fetchPacket(async (part) => {
    asked = true;
    return new Uint8Array(await call<ArrayBuffer>("frame", { sha256, frame, part }));
  }, part0);
  // A whole packet already in hand (a first look that was not reduced) asks nothing more.
  if (asked) frameTransport = "command";
  return whole;
}

export const api = {
  status: () => call<Status>("status"),
  /** Opens the key with its passphrase for this session (until the idle lock). */
  /** Opens the key: with the passphrase, or `null` for a key in the OS keychain. */
  unlock: (passphrase: string | null) => call<Identity>("unlock", { passphrase }),
  /** Tells the app the user did something (input, `agoMs` before now), for its idle lock. */
  activity: (agoMs = 0) => call<null>("activity", { agoMs: Math.max(0, Math.round(agoMs)) }),
  /** Wipes the key from memory now. */
  lock: () => call<null>("lock"),
  /** `store`: `sealed` (under `passphrase`) or `keychain` (the OS keychain; no passphrase). */
  initIdentity: (name: string, role: string, admin: boolean, network: string | undefined, store: "sealed" | "keychain",
    passphrase: string | null) =>
    call<Identity>("init_identity", { name, role, admin, network: network ?? null, store, passphrase }),
  openDemo: (passphrase: string) => call<{ report: string; study: string }>("open_demo", { passphrase }),
  /** Joins the department an admin's invitation names (made for this home's key). */
  join: (invitation: string) => call<Joined>("join", { invitation }),
  /** A page of the study list: the first, or the one starting at `after` (a page's `next`). */
  studies: (after: string | null = null, limit: number = STUDY_PAGE) => call<StudyPage>("studies", { after, limit }),
  /** The app opens its own dialog and imports what the user picked (null: cancelled). */
  importPick: (directory: boolean) => call<ImportSummary | null>("import_pick", { directory }),
  /** Imports what the window's drop event named, kept by the app (null: nothing waiting). */
  importDropped: () => call<ImportSummary | null>("import_dropped"),
  studyImages: (study: string) => call<ImageRef[]>("study_images", { study }),
  /** A frame packet: raw bytes (see frame.ts), never a JSON array: over the app's frame socket
   *  (one message), else through the `frame` command in parts. */
  frame: (sha256: string, frame: number, part0?: Uint8Array) => framePacket(sha256, frame, part0),
  /** A first look for a viewport of `width × height`: a reduced packet (its header says
   *  `reduced`) for a frame larger than the viewport, else the frame's packet — whole over the
   *  frame socket, its part 0 through the `frame_preview` command (`frame` takes it as `part0`). */
  framePreview: async (sha256: string, frame: number, width: number, height: number) => {
    const packet = await overSocket(sha256, frame, [width, height]);
    if (packet) return packet;
    const first = new Uint8Array(await call<ArrayBuffer>("frame_preview", { sha256, frame, width, height }));
    frameTransport = "command";
    return first;
  },
  templates: () => call<TemplateRef[]>("templates"),
  reportShow: (report: string) => call<ReportView>("report_show", { report }),
  /** What this user may do on the report now: ask again whenever the report is (re)loaded. */
  reportActions: (report: string) => call<ReportActions>("report_actions", { report }),
  reportNew: (study: string, template: string) => call<string>("report_new", { study, template }),
  /** Unsigned text kept in the home for a report's sections. */
  drafts: (report: string) => call<Record<string, string>>("drafts", { report }),
  /** Keeps a section's unsigned text (`null` drops it). */
  saveDraft: (report: string, section: string, text: string | null) =>
    call<null>("draft_save", { report, section, text }),
  signSection: (report: string, section: string, text: string, fields: Record<string, string> = {}, macros: MacroRef[] = []) =>
    call<string>("sign_section", { report, section, text, fields, macros }),
  /** The AutoText macros that apply to a section of the report (palette, name expansion). */
  sectionMacros: (report: string, section: string) => call<MacroInfo[]>("section_macros", { report, section }),
  cosignSection: (report: string, section: string) =>
    call<string>("cosign_section", { report, section }),
  /** Signing off asks for the passphrase again: without one the app answers `reauth_required`. */
  finalize: (report: string, passphrase: string | null) => call<string>("finalize_report", { report, passphrase }),
  /** Settles a conflict: keeps the sign-off `keep`; the others stay in the record, superseded. */
  resolve: (report: string, keep: string, note: string) => call<string>("report_resolve", { report, keep, note }),
  preliminary: (report: string) => call<string>("mark_preliminary", { report }),
  addendum: (report: string, text: string) => call<string>("add_addendum", { report, text }),
  /** Signs a length; the app computes it from the image's own Pixel Spacing. */
  measureLength: (report: string, image: string, frame: number, from: [number, number], to: [number, number]) =>
    call<string>("measure_length", { report, image, frame, from, to }),
  /** Inserts a link into a section: signs a new version whose text (`text`, else the draft,
   *  else the signed text) ends with the link's `[fig N]` marker. */
  /** Inserts a link's `[fig N]` into `text` (the draft when null) `at` that many characters
   *  (appended when null). */
  linkInsert: (report: string, section: string, target: LinkTarget, text: string | null = null, at: number | null = null) =>
    call<{ entry: string; link: ImageLink }>("report_link", { report, section, target, text, at }),
  /** A read receipt; `null` when one was signed recently (receipts are batched). */
  markViewed: (report: string, sections: string[]) =>
    call<string | null>("mark_viewed", { report, sections }),
  reviewAi: (report: string, result: string, decision: "accept" | "edit" | "reject", text?: string, comment?: string) =>
    call<string>("review_ai", { report, result, decision, text: text ?? null, comment: comment ?? null }),
  /** Writes the report as pdf, fhir (R4 Bundle), sr (DICOM) or bundle (audit archive) through a
   *  save dialog the app opens itself (the webview names no path); null when the user cancels. */
  exportReport: (report: string, format: ExportFormat) =>
    call<{ path: string; bytes: number } | null>("export_report", { report, format }),
  /** Erases the report's personal data on the legal `basis`; cannot be undone, so the app asks
   *  for the passphrase again (`reauth_required` without one), as for a final sign-off. */
  erase: (report: string, basis: string, passphrase: string | null) =>
    call<DataProtectionOutcome>("report_erase", { report, basis, passphrase }),
  /** Restricts the report's processing (`restricted` true) or lifts the restriction. */
  restrict: (report: string, basis: string, restricted: boolean) =>
    call<DataProtectionOutcome>("report_restrict", { report, basis, restricted }),
  /** Whether this user may erase or restrict a whole patient's data. */
  dataProtectionActions: () => call<DataProtectionActions>("data_protection_actions"),
  /** What erasing the patient of `study` would cover: Patient ID, studies, reports. */
  patientScope: (study: string) => call<PatientScope>("patient_scope", { study }),
  /** Erases every report of the patient (ID and issuer, "" for none recorded: exactly the scope shown,
   * its `studies`, or nothing if they changed meanwhile); asks for the passphrase again, as `erase` does. */
  erasePatient: (patientId: string, issuer: string, studies: string[], basis: string, passphrase: string | null) =>
    call<DataProtectionOutcome>("patient_erase", { patientId, issuer, studies, basis, passphrase }),
  /** The other patients' studies `report` may be moved to. */
  moveTargets: (report: string) => call<MoveTarget[]>("move_targets", { report }),
  /** Moves the report to `study` of the patient `patientId`, for `reason`. */
  moveReport: (report: string, patientId: string, study: string, reason: string) =>
    call<string>("report_move", { report, patientId, study, reason }),
  syncStatus: () => call<SyncStatus>("sync_status"),
  /** Remembers a peer (a multiaddr ending in /p2p/<id>) and dials it; the peers remembered. */
  syncAddPeer: (addr: string) => call<string[]>("sync_add_peer", { addr }),
  verify: (report: string | null) => call<VerifyReport>("verify", { report }),
  /** The AI reviewer's figures per model and version (what `ai stats --json` gives). */
  aiStats: (filter: AiStatsFilter) =>
    call<AiStats>("ai_stats", { model: filter.model || null, since: filter.since || null, modality: filter.modality || null }),
  /** The archives this home knows. */
  pacsList: () => call<ArchiveConfig[]>("pacs_list"),
  /** Adds an archive: a DICOMweb URL, or a DIMSE AET@HOST:PORT with the AE title to call as. */
  /** Adds an archive; with `storeBack`, signed-off reports (and addenda) are sent there. */
  /** With `login` (DICOMweb), the credentials are sealed by the app and sent with every request. */
  pacsAdd: (name: string, endpoint: { dicomweb: string } | { dimse: string; callingAet: string | null; movePort?: number | null }, storeBack = false,
    login: ArchiveLoginInput | null = null) =>
    call<ArchiveConfig>("pacs_add", { name, dicomweb: null, dimse: null, callingAet: null, movePort: null, ...endpoint, storeBack, login }),
  pacsRemove: (name: string) => call<null>("pacs_remove", { name }),
  /** Whether the archive answers, with the round trip. */
  pacsTest: (name: string) => call<ArchiveTest>("pacs_test", { name }),
  /** The worklist of every archive (or one): rows, and how each archive answered. */
  worklist: (archive: string | null = null) => call<Worklist>("worklist", { archive, modality: null, since: null }),
  /** Retrieves a study into the image store; `onProgress` hears its progress until it ends. */
  /** The other studies of `study`'s patient, newest first, here and on every archive. */
  priors: (study: string) => call<Priors>("priors", { study }),
  retrieve: async (archive: string, study: string, patientId: string | null, onProgress: (p: RetrieveProgress) => void) => {
    const stop = await onRetrieveProgress(study, onProgress);
    try {
      return await call<Retrieval>("retrieve", { archive, study, patientId });
    } finally {
      stop();
    }
  },
  /** Follows the retrievals of `study` (whoever started them) until the returned function is called. */
  onRetrieveProgress,
  /** The report of a prior `study`: this home's own, else the archive's SR or PDF (`archive`,
   *  else every configured one), else none. */
  priorReport: (study: string, archive: string | null = null, patientId: string | null = null) =>
    call<PriorReport>("prior_report", { study, archive, patientId }),
  /** Opens a prior's PDF report (saved by `priorReport`, named by its SOP Instance UID) in the
   *  system's PDF viewer. */
  openPriorPdf: (instance: string) => call<null>("open_prior_pdf", { instance }),
  demoArchiveStatus: () => call<DemoArchiveStatus>("demo_archive_status"),
  /** Starts a local Orthanc seeded with phantom studies, added as the archive `demo`. */
  demoArchiveStart: () => call<DemoArchiveSummary>("demo_archive_start"),
  demoArchiveStop: () => call<null>("demo_archive_stop"),
};
