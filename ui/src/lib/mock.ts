// A stand-in for the Rust side, for the UI in a plain browser (tests): a synthetic study whose
// images are ramps, one report, and commands that behave like the app's. Only `--mode mock`
// builds include it.
import { mockIPC } from "@tauri-apps/api/mocks";
import type { ProvenanceItem, ReportView, Section, StudyRow } from "./api";
import { buildFrame, type FrameHeader } from "./frame";

const me = { key: "a1".repeat(32), name: "Dr Mock Attending", role: "attending", ai_model: null };
const study = "2.25.1234";
let seq = 1;
let clock = Date.UTC(2026, 0, 1, 9);
const id = () => (seq++).toString(16).padStart(64, "0");

function entry(kind: string, section?: string): ProvenanceItem {
  clock += 60_000;
  return { entry: id(), kind, author: me, seq, time_ms: clock, parents: [], section, status: { state: "verified" } };
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
  signed_off_version: null,
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

const row = (): StudyRow => ({
  study, patient: "Phantom^Ramp", date: "20260101", modality: "CT", description: "Synthetic ramp",
  instances: 2, reports: [{ report: reportId, study, template: "ct-chest", status: report.status }],
});

export function installMocks() {
  mockIPC((cmd, args) => {
    const a = (args ?? {}) as Record<string, string>;
    const fields = ((args ?? {}) as { fields?: Record<string, string> }).fields ?? {};
    switch (cmd) {
      case "status":
        return { home: "/mock/home", identity: { ...me, network: "f".repeat(64), admin: true } };
      case "studies":
        return [row()];
      case "study_images":
        return ["ramp-0", "ramp-1"].map((sha256, i) => ({
          sha256, series: "1", series_description: "Ramp", instance_number: i + 1, frames: i === 1 ? 3 : 1,
        }));
      case "frame":
        return rampFrame(a.sha256, Number(a.frame ?? 0));
      case "templates":
        return [{ name: "ct-chest", title: "CT chest", source: "built-in", sections: 3 }];
      case "report_show":
        return structuredClone(report);
      case "sign_section": {
        const s = sections.find((x) => x.name === a.section);
        if (!s) throw { code: "not_allowed", message: `refused: no section ${a.section}` };
        const e = entry("section.write", s.name);
        for (const f of s.fields) {
          const v = fields[f.name];
          if (v !== undefined && f.type === "number" && !/^-?\d+(\.\d+)?$/.test(v)) {
            throw { code: "not_allowed", message: `refused: field ${f.name} of section ${s.name}: ${JSON.stringify(v)} is not a decimal number` };
          }
          f.value = v ?? null;
          f.display = v === undefined ? null : f.unit ? `${v} ${f.unit}` : v;
        }
        s.text = a.text;
        s.versions.push({ entry: e.entry, author: me, time_ms: e.time_ms, text: a.text, fields, status: { state: "verified" }, cosigns: [] });
        report.provenance.push(e);
        report.heads = [e.entry];
        report.status = "draft";
        return e.entry;
      }
      case "measure_length": {
        const e = entry("measurement.add");
        report.provenance.push(e);
        report.heads = [e.entry];
        return e.entry;
      }
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
        return { peers: ["12D3KooWMockPeer"], last_sync_ms: Date.UTC(2026, 0, 1, 9, 30), received: 0, listen: ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWMock"] };
      case "verify":
        return { ok: true, entries: report.provenance.length, forks: 0, split_views: 0, problems: [], seconds: 0.0012 };
      default:
        throw { code: "invalid_input", message: `the mock has no command ${cmd}` };
    }
  });
}
