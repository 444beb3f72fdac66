// The mock's archives, for the UI in a plain browser (see mock.ts, which answers every other
// command): `orthanc` answers; `legacy` (DIMSE) is down, its last worklist kept; `?noarchive`
// starts with none configured (the "Connect an archive" pane); the demo archive starts on ask.
import type { Author, PriorReport, ReportView, StudyRow } from "./api";

interface MockArchiveStudy { study: string; patient: string; patient_id: string; issuer?: string; date: string; modality: string; description: string; accession: string; instances: number; failAfter?: number }
const archiveStudies = (study: string, conflictStudy: string): Record<string, MockArchiveStudy[]> => ({
  orthanc: [
    { study: "2.25.7001", patient: "Phantom^Worklist", patient_id: "WORKLIST-0001", date: "20260301", modality: "CT", description: "CT chest follow-up", accession: "ACC7001", instances: 3 },
    { study: "2.25.7002", patient: "Phantom^Worklist", patient_id: "WORKLIST-0001", issuer: "HOSP-A", date: "20250911", modality: "MR", description: "MR brain", accession: "ACC7002", instances: 4 },
    { study: "2.25.7004", patient: "Phantom^Worklist", patient_id: "WORKLIST-0001", date: "20250301", modality: "CT", description: "CT chest", accession: "ACC7004", instances: 8 },
    // The archive drops the connection after the first instance: opened, then said to be cut short.
    { study: "2.25.7005", patient: "Phantom^Truncated", patient_id: "TRUNC-0001", date: "20240101", modality: "CT", description: "CT cut short", accession: "ACC7005", instances: 3, failAfter: 1 },
    { study: "2.25.7003", patient: "Phantom^Another", patient_id: "ANOTHER-0001", date: "20260215", modality: "US", description: "US abdomen", accession: "ACC7003", instances: 2 },
    { study, patient: "Phantom^Ramp", patient_id: "RAMP-0001", date: "20260101", modality: "CT", description: "Synthetic ramp", accession: "ACC1234", instances: 2 },
    { study: conflictStudy, patient: "Phantom^Conflict", patient_id: "CONFLICT-0001", date: "20260102", modality: "CT", description: "Signed off twice", accession: "ACC5678", instances: 2 },
  ],
  legacy: [
    { study: "2.25.7101", patient: "Phantom^Kept", patient_id: "KEPT-0001", date: "20260110", modality: "CR", description: "Chest X-ray", accession: "ACC7101", instances: 1 },
  ],
  demo: [
    { study: "2.25.7201", patient: "Phantom^Shepp-Logan", patient_id: "PHANTOM-0001", date: "20260220", modality: "CT", description: "CT head follow-up", accession: "DEMO20260220", instances: 24 },
  ],
});
/** When the down archive last answered (its kept list's time). */
export const LEGACY_ANSWERED_MS = Date.UTC(2026, 0, 12, 14, 2);
/** What the archives need of the mock home: its study list as it stands, its reports, and the
 *  studies of its own that an archive also lists. */
export interface MockHome {
  rows: () => StudyRow[];
  reports: ReportView[];
  rampStudy: string;
  conflictStudy: string;
}

/** Says that a command is not an archive's (the caller goes on with its own). */
export const NOT_PACS = Symbol("not an archive command");

/** The archives as the app's PACS commands see them: configured archives, the worklist, priors
 *  and their reports, retrieval and the demo archive. */
export function mockPacs(home: MockHome) {
  const studies = archiveStudies(home.rampStudy, home.conflictStudy);
  const { rows, reports } = home;
  const mockArchives: { name: string; protocol: "dicomweb" | "dimse"; url?: string; address?: string; calling_aet?: string; move_port?: number; timeout_s: number; store_back: boolean }[] =
    new URLSearchParams(globalThis.location?.search ?? "").has("noarchive") ? [] : [
      { name: "orthanc", protocol: "dicomweb", url: "http://pacs.example:8042/dicom-web", timeout_s: 30, store_back: false },
      { name: "legacy", protocol: "dimse", address: "ARCHIVE@10.1.2.3:104", calling_aet: "COUNTERSIGN", timeout_s: 30, store_back: false },
    ];
  let demoRunning = false;
  /** Studies retrieved from an archive: local now, on the study list. */
    const retrievedRows: StudyRow[] = [];

  function mockWorklist() {
    const local = new Map(rows().map((r) => [r.study, r]));
    const out: { rows: unknown[]; archives: unknown[] } = { rows: [], archives: [] };
    for (const a of mockArchives) {
      const down = a.name === "legacy" || (a.name === "demo" && !demoRunning);
      out.archives.push(down
        ? { archive: a.name, state: "kept", answered_ms: LEGACY_ANSWERED_MS, error: { code: "pacs_unreachable", message: `archive ${a.name} is unreachable: connection refused` } }
        : { archive: a.name, state: "answered" });
      for (const s of studies[a.name] ?? []) {
        const here = local.get(s.study);
        const state = here?.reports.filter((r) => !r.moved_to).at(-1)?.status ?? "none";
        out.rows.push({
          archive: a.name, study: s.study, patient: s.patient, patient_id: s.patient_id, date: s.date, modalities: [s.modality],
          description: s.description, accession: s.accession, instances: s.instances, local_instances: here ? s.instances : 0,
          report: state, ...(down ? { archive_answered_ms: LEGACY_ANSWERED_MS } : {}),
        });
      }
    }
    return out;
  }

  /** The patient's other studies on the mock archives (the down one says so), as `priors` answers. */
  function mockPriors(uid: string) {
    const all = Object.entries(studies).flatMap(([archive, list]) => list.map((s) => ({ archive, ...s })));
    const me = all.find((s) => s.study === uid);
    const local = new Map(rows().map((r) => [r.study, r]));
    const priors = all
      .filter((s) => me && s.patient_id === me.patient_id && s.study !== uid && mockArchives.some((a) => a.name === s.archive))
      .map((s) => ({
        study: s.study, patient_id: s.patient_id, date: s.date, modality: s.modality, description: s.description,
        local: local.has(s.study), local_instances: local.get(s.study)?.instances ?? 0, archive: s.archive,
        issuer: s.issuer ?? null,
        report: local.get(s.study)?.reports.filter((r) => !r.moved_to).at(-1)?.status ?? "none",
      }))
      .sort((a, b) => b.date.localeCompare(a.date));
    const archives = mockArchives.map((a) => a.name === "legacy"
      ? { archive: a.name, state: "unreachable", error: { code: "pacs_unreachable", message: `archive ${a.name} is unreachable: connection refused` } }
      : { archive: a.name, state: "answered" });
    return { priors, archives };
  }

  /** Slice spacing (mm) of the mock's retrieved studies: the current CT chest's 10 mm slices, its
   *  prior's 3 mm, so that scrolling them together by position is not by index. */
  const spacingOf: Record<string, number> = { "2.25.7001": 10, "2.25.7004": 3 };

  // --- A prior's report, as the app finds it: this home's own report on the study (the furthest
  // read), else the archive's SR (the worklist patient's prior MR, 2.25.7002) or PDF (its prior
  // CT, 2.25.7004),
  // else none; the down `legacy` archive is named in its error.
  const RANK: Record<string, number> = { conflict: 6, amended: 5, final: 4, preliminary: 3, withdrawn: 2, draft: 1 };

  function mockPriorReport(uid: string, archive: string | null): PriorReport {
    const own = reports.filter((r) => r.study === uid).sort((x, y) => (RANK[x.status] ?? 0) - (RANK[y.status] ?? 0));
    const r = own.at(-1);
    if (r) {
      const signed = (v: { author: Author; time_ms: number }) => ({ author: v.author, time_ms: v.time_ms });
      return {
        study: uid, source: "ledger", report: r.report, status: r.status, template: r.template, template_title: r.template_title,
        created_by: r.created_by, created_ms: r.created_ms,
        sections: r.sections.map((sec) => {
          const v = sec.versions.find((x) => x.entry === sec.current);
          return { name: sec.name, title: sec.title, text: sec.text, written: v ? signed(v) : null, cosigned: (v?.cosigns ?? []).map(signed) };
        }),
        signoff: r.signoff ? signed(r.signoff) : null,
        addenda: r.addenda.map((x) => ({ author: x.author, time_ms: x.time_ms, text: x.text })),
        unreadable: false, locked: false, restricted: false, other_reports: own.length - 1,
      };
    }
    if (archive === "legacy") throw { code: "pacs_unreachable", message: "archive legacy: cannot reach it: connection refused" };
    if (archive !== null && archive !== "orthanc") return { study: uid, source: "none" };
    if (uid === "2.25.7002") {
      const line = (depth: number, value_type: string, concept: string, value = "") => ({ depth, value_type, concept, value });
      return {
        study: uid, source: "archive-sr", archive: "orthanc", series: "2.25.7002.9", instance: "2.25.7002.9.1",
        sop_class: "1.2.840.10008.5.1.4.1.1.88.33", title: "Diagnostic Imaging Report", measurement: false, date: "20250911", time: "101500",
        completion: "COMPLETE", verification: "VERIFIED", preliminary: "FINAL", authors: ["Dr Outside Reader"],
        verifiers: [{ name: "Dr Outside Reader", organization: "Other Hospital Radiology", datetime: "20250911101500" }],
        manufacturer: "Other PACS",
        lines: [
          line(1, "CONTAINER", "Findings"),
          line(2, "TEXT", "Finding", "No intracranial haemorrhage. Ventricles normal in size."),
          line(1, "CONTAINER", "Impressions"),
          line(2, "TEXT", "Impression", "Normal MR brain."),
        ],
        others: 1,
      };
    }
    if (uid === "2.25.7004") {
      return {
        study: uid, source: "archive-pdf", archive: "orthanc", series: "2.25.7004.9", instance: "2.25.7004.9.1",
        title: "CT chest report", date: "20250301", time: "090000", path: "/mock/home/prior-reports/2.25.7004.9.1.pdf",
        bytes: 48213, others: 0,
      };
    }
    return { study: uid, source: "none" };
  }

  /** Instances of a study retrieved from an archive stored so far (its image list grows with it). */
  const storedOf = new Map<string, number>();

  /** A retrieval as the app does it: each instance stored as it arrives, with `retrieve-progress`
   *  events (`first-image` once the first is stored: the study is local from then on). */
  async function mockRetrieve(archive: string, uid: string) {
    const s = (studies[archive] ?? []).find((x) => x.study === uid);
    if (!mockArchives.some((a) => a.name === archive)) throw { code: "not_found", message: `archive ${archive} (see \`pacs list\`) not found` };
    if (archive === "legacy") throw { code: "pacs_unreachable", message: `archive ${archive}: connection refused` };
    if (!s) throw { code: "not_found", message: `study ${uid} on archive ${archive} not found` };
    const each = 512 * 512 * 2 + 1200;
    const tell = (phase: string, n: number) =>
      window.dispatchEvent(new CustomEvent("retrieve-progress", { detail: { study: uid, phase, instances: n, bytes: n * each, total: s.instances, stored: n } }));
    // Slow enough for a test (and a person) to see the bar move and the viewer's list grow.
    for (let n = 1; n <= s.instances; n++) {
      await new Promise((r) => setTimeout(r, 400));
      if (s.failAfter !== undefined && n > s.failAfter) {
        throw { code: "pacs_unreachable", message: `archive ${archive} is unreachable: the connection was reset after ${s.failAfter} of ${s.instances} instances` };
      }
      storedOf.set(uid, n);
      let row = retrievedRows.find((r) => r.study === uid);
      if (!row) {
        row = { study: uid, patient: s.patient, date: s.date, modality: s.modality, description: s.description, instances: 0, reports: [] };
        retrievedRows.push(row);
      }
      row.instances = n;
      tell(n === 1 ? "first-image" : "retrieving", n);
    }
    tell("done", s.instances);
    return { archive, study: uid, instances: s.instances, bytes: s.instances * each, duplicates: 0, refused: [], undecodable: [] };
  }

  /** The images of a study retrieved so far, as `study_images` lists them; `null` if none is. */
  function storedImages(study: string) {
    if (!storedOf.has(study)) return null;
    return Array.from({ length: storedOf.get(study) ?? 0 }, (_, i) => ({
      sha256: `${study}-${i}`, series: "1", series_description: "Ramp", instance_number: i + 1, frames: 1,
      plane: "axial", position: i * (spacingOf[study] ?? 5),
    }));
  }

  /** Answers an archive command as the app does, or [`NOT_PACS`]. */
  function command(cmd: string, a: Record<string, string>, args: unknown): unknown {
    switch (cmd) {
      case "pacs_list":
        return mockArchives;
      case "pacs_add": {
        if (!/^[A-Za-z0-9._-]{1,64}$/.test(a.name ?? "")) throw { code: "invalid_input", message: `${JSON.stringify(a.name)} is not an archive name (1 to 64 letters, digits, '-', '_' or '.')` };
        if (!!a.dicomweb === !!a.dimse) throw { code: "invalid_input", message: "give either a DICOMweb URL or a DIMSE address AET@HOST:PORT" };
        if (mockArchives.some((x) => x.name === a.name)) throw { code: "invalid_input", message: `an archive named ${a.name} is already configured (pacs remove ${a.name} first)` };
        const login = (args as { login?: { user?: string; password?: string; token?: string; allowCleartext?: boolean } | null }).login ?? null;
        if (login && !a.dicomweb) throw { code: "invalid_input", message: "credentials are for a DICOMweb archive (a DIMSE archive knows this home by its AE title)" };
        if (login && (!!login.user !== !!login.password || !!login.user === !!login.token)) throw { code: "invalid_input", message: "give a user and a password, or a token" };
        // As the app: the secret is never part of what is listed.
        const clear = login?.allowCleartext ? { allow_cleartext: true } : {};
        const auth = login?.user ? { auth: { kind: "basic" as const, user: login.user, ...clear } }
          : login?.token ? { auth: { kind: "bearer" as const, ...clear } } : {};
        const added = a.dicomweb
          ? { name: a.name, protocol: "dicomweb" as const, url: a.dicomweb, timeout_s: 30, store_back: !!a.storeBack, ...auth }
          : { name: a.name, protocol: "dimse" as const, address: a.dimse, calling_aet: a.callingAet || "COUNTERSIGN",
              ...(a.movePort ? { move_port: Number(a.movePort) } : {}), timeout_s: 30, store_back: !!a.storeBack };
        mockArchives.push(added);
        return added;
      }
      case "pacs_remove": {
        const i = mockArchives.findIndex((x) => x.name === a.name);
        if (i < 0) throw { code: "not_found", message: `archive ${a.name} (see \`pacs list\`) not found` };
        mockArchives.splice(i, 1);
        return null;
      }
      case "pacs_test":
        if (a.name === "legacy") throw { code: "pacs_unreachable", message: "archive legacy: connection refused" };
        return { archive: a.name, protocol: "dicomweb", rtt_ms: 3.2 };
      case "worklist":
        return mockWorklist();
      case "retrieve":
        return mockRetrieve(a.archive, a.study);
      case "priors":
        return mockPriors(a.study);
      case "open_prior_pdf":
        (window as unknown as { openedPdfs?: string[] }).openedPdfs = [...((window as unknown as { openedPdfs?: string[] }).openedPdfs ?? []), String(a.instance)];
        return null;
      case "prior_report":
        return mockPriorReport(a.study, a.archive ?? null);
      case "deliveries":
        return [];
      case "demo_archive_status":
        return { available: true, running: demoRunning ? { archive: "demo", url: "http://127.0.0.1:41234/dicom-web", studies: ["2.25.7201"], instances: 24, seconds: 1.2 } : null };
      case "demo_archive_start":
        demoRunning = true;
        if (!mockArchives.some((x) => x.name === "demo")) {
          mockArchives.push({ name: "demo", protocol: "dicomweb", url: "http://127.0.0.1:41234/dicom-web", timeout_s: 30, store_back: false });
        }
        return { archive: "demo", url: "http://127.0.0.1:41234/dicom-web", studies: ["2.25.7201"], instances: 24, seconds: 1.2 };
      case "demo_archive_stop":
        demoRunning = false;
        return null;
      default:
        return NOT_PACS;
    }
  }

  return { retrievedRows, storedImages, command };
}
