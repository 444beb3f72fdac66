// Desktop app performance in a real window (same harness as e2e.mjs): cold start to
// interactive, first image after choosing a study, window/level update time at 512² and 1760²,
// where the time of one frame goes (a profile: the command round trip, the app's decode, the
// transfer, the parse, the texture upload, the overlay), the scroll rate with the key held,
// frame latency while a 500-file import runs in another process, and resident memory with the
// frame caches full. BENCH_RENDER=cpu runs it all with the viewer's CPU path instead of WebGL2.
// usage: node tests/bench-app.mjs APP_BINARY   (tauri-driver at WEBDRIVER_URL, home seeded by
// scripts/bench-app.sh: study 1 a 500-slice 512² phantom, study 2 a 1760² CR; BENCH_CLI and
// BENCH_IMPORT name the CLI and a second 500-file series it imports during the latency run)
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";

const [app] = process.argv.slice(2);
const home = process.env.COUNTERSIGN_HOME;
const driver = process.env.WEBDRIVER_URL ?? "http://127.0.0.1:4444";
async function wd(method, path, body) {
  const res = await fetch(driver + path, {
    method, headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok || json.value?.error) throw new Error(`${method} ${path}: ${JSON.stringify(json.value)}`);
  return json.value;
}
const t0 = performance.now();
const session = await wd("POST", "/session", { capabilities: { alwaysMatch: { "tauri:options": { application: app } } } });
const s = `/session/${session.sessionId}`;
const launched = performance.now() - t0;
// The scroll runs and the cache fill are single scripts of tens of seconds on a slow build.
await wd("POST", `${s}/timeouts`, { script: 300000 });
const run = (script, args = []) => wd("POST", `${s}/execute/sync`, { script, args });
const runAsync = (script, args = []) => wd("POST", `${s}/execute/async`, { script, args });
async function until(probe, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe().catch(() => null);
    if (v) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("timed out");
}
const pct = (xs, p) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length ? v[Math.min(v.length - 1, Math.floor((p / 100) * v.length))] : NaN;
};
const median = (xs) => pct(xs, 50);
const f1 = (x) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(1) : "?");
const summary = [];
const goal = (what, value, target, met) => summary.push(`SUMMARY ${what}: ${value} (goal ${target}: ${met ? "met" : "NOT met"})`);

/** The app's decode timings logged since `from` bytes into its log (RUST_LOG at debug for the
 *  desktop: one `frame decoded` line per decode, with its milliseconds). */
function decodeLog(from) {
  const text = readFileSync(`${home}/logs/countersign.log`, "utf8").slice(from);
  return [...text.matchAll(/frame decoded.*?decode_ms=([\d.]+).*?bytes=(\d+)/g)].map((m) => ({ ms: Number(m[1]), bytes: Number(m[2]) }));
}
const logSize = () => readFileSync(`${home}/logs/countersign.log`, "utf8").length;
/** The app's time listing a study's images (`study images listed`, at debug level), each call. */
const listedLog = () => [...readFileSync(`${home}/logs/countersign.log`, "utf8").matchAll(/study images listed.*?ms=([\d.]+)/g)]
  .map((m) => Number(m[1]));

function rssMb(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;
}

try {
  // BENCH_RENDER=cpu: the viewer's CPU path (a 2-D canvas windowed through a table) in place of
  // WebGL2, to compare the two on this display.
  if (process.env.BENCH_RENDER === "cpu") {
    await until(() => run(`return !!document.querySelector('[data-testid="unlock-passphrase"]')`));
    await run(`location.search = '?cpu'`);
    await until(() => run(`return location.search === '?cpu' && !!document.querySelector('[data-testid="unlock-passphrase"]')`));
  }
  // The home's key is sealed: the app opens on its unlock screen. Cold start is the time to that
  // screen; the unlock (one Argon2id derivation) is timed apart.
  await until(() => run(`return !!document.querySelector('[data-testid="unlock-passphrase"]')`));
  const coldStart = performance.now() - t0;
  const unlockStarted = performance.now();
  await run(`
    const field = document.querySelector('[data-testid="unlock-passphrase"]');
    field.value = arguments[0];
    field.dispatchEvent(new Event('input', { bubbles: true }));
    setTimeout(() => document.querySelector('[data-testid="unlock-submit"]').click(), 0);
  `, [process.env.E2E_PASSPHRASE ?? "countersign-demo"]);
  await until(() => run(`return document.querySelectorAll('[data-testid="study-item"]').length >= 2`));
  const unlocked = performance.now() - unlockStarted;
  console.log(`unlock to the study list: ${unlocked.toFixed(0)} ms`);

  // First image: from the click to the frame drawn, timed inside the page.
  const firstImage = async (index) =>
    runAsync(`
      const done = arguments[arguments.length - 1];
      const items = [...document.querySelectorAll('[data-testid="study-item"]')];
      const series = items.find((i) => i.textContent.includes('500 images'));
      const item = ${index} === 0 ? series : items.find((i) => i !== series);
      const loaded = () => document.querySelector('[data-testid="slice-position"]')?.dataset.sha ?? '';
      const before = loaded();
      const t = performance.now();
      // Where the page's own thread was busy meanwhile (gaps over 8 ms between message ticks),
      // and each command the page asked of the app (from asked to its answer taken in).
      const gaps = [];
      let last = t, ticking = true;
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        const n = performance.now();
        if (n - last > 8) gaps.push([Math.round(last - t), Math.round(n - last)]);
        last = n;
        if (ticking) ch.port2.postMessage(0);
      };
      ch.port2.postMessage(0);
      const calls = [];
      window.__countersignTrace = (cmd, asked, answered) => calls.push(cmd + ' ' + Math.round(asked - t) + '-' + Math.round(answered - t));
      item.click();
      const reduced = () => !!document.querySelector('[data-testid="overlay-reduced"]');
      const poll = () => {
        if (loaded() && loaded() !== before) {
          const shown = performance.now() - t;
          const preview = reduced();
          requestAnimationFrame(() => {
            const first = { ms: performance.now() - t, shown, preview };
            // A reduced preview first (the overlay says so): then until the full frame replaces it.
            const full = () => {
              if (reduced()) return setTimeout(full, 1);
              const d = document.querySelector('[data-testid="viewer-canvas"]').dataset;
              const at = (k) => Math.round(Number(d[k]) - t);
              ticking = false;
              window.__countersignTrace = undefined;
              const timeline = { viewerMade: at('madeAt'), makeMs: Number(d.makeMs), listAsked: at('loadAt'), listHere: at('listAt'),
                frameHere: at('fetchedAt'), busy: gaps, commands: calls };
              requestAnimationFrame(() => done({ ...first, timeline, full: performance.now() - t, images: Number(d.imagesMs),
                previewAt: preview ? Number(d.previewMs) : null, wait: Number(d.waitMs), draw: Number(d.drawMs) }));
            };
            full();
          });
        } else setTimeout(poll, 1);
      };
      poll();
    `);
  const firstLine = (what, r) => console.log(`first image ${what}: ${f1(r.ms)} ms to the next animation frame` +
    `${r.preview ? ` (a reduced preview, drawn ${f1(r.previewAt)} ms after the list; the full frame on screen at ${f1(r.full)} ms)` : ""}; ` +
    `${f1(r.shown)} ms to the overlay, of which the image list ${f1(r.images)} ms (the app's own part: ${f1(listedLog().pop())} ms), ` +
    `waiting for the full frame ${f1(r.wait)} ms, upload + draw ${f1(r.draw)} ms\n  timeline (ms after the click): ${JSON.stringify(r.timeline)}`);
  // Window/level: synthetic drags, each move re-rendered and finished on the GPU.
  const wlFrame = () =>
    run(`
      const c = document.querySelector('[data-testid="viewer-canvas"]');
      const gl = c.getContext('webgl2');
      const r = c.getBoundingClientRect();
      const ev = (type, dx) => c.dispatchEvent(new PointerEvent(type, { bubbles: true, pointerId: 1, button: 0,
        clientX: r.left + r.width / 2 + dx, clientY: r.top + r.height / 2 + dx / 2 }));
      ev('pointerdown', 0);
      const n = 200;
      const t = performance.now();
      for (let i = 1; i <= n; i++) { ev('pointermove', i % 100); gl && gl.finish(); }
      const ms = (performance.now() - t) / n;
      ev('pointerup', 0);
      return { ms, size: c.width + 'x' + c.height, mode: c.dataset.renderMode };
    `);
  const logBeforeCt = logSize();
  const ctFirst = await firstImage(0);
  const ct = ctFirst.ms;
  firstLine("512² CT", ctFirst);
  const ctWl = await wlFrame();
  const logBeforeCr = logSize();
  const crFirst = await firstImage(1);
  const cr = crFirst.ms;
  firstLine("1760² CR", crFirst);
  const crDecode = decodeLog(logBeforeCr).find((d) => d.bytes > 4_000_000);
  const crWl = await wlFrame();
  // The same study chosen again, the viewer already made (the app's frame cache may hold it).
  firstLine("512² CT chosen again", await firstImage(0));
  const ctDecodeFirst = decodeLog(logBeforeCt)[0];

  // The images of both studies, in scroll order, from the app itself.
  const shas = await runAsync(`
    const done = arguments[arguments.length - 1];
    const inv = window.__TAURI_INTERNALS__.invoke;
    (async () => {
      const page = await inv('studies', { after: null, limit: 10 });
      const out = {};
      for (const row of page.studies) {
        const images = await inv('study_images', { study: row.study });
        out[images.length > 1 ? 'ct' : 'cr'] = images.map((i) => i.sha256);
      }
      return out;
    })().then(done, (e) => done({ error: String(e) }));
  `);
  if (shas.error) throw new Error(shas.error);

  // Profile of one frame, stage by stage, on slices nobody has asked for yet (0..19): the bare
  // command round trip (`activity`, no payload), the frame command on a slice not yet decoded
  // (decode + transfer), the same slice again (from the app's cache: transfer only), the parse
  // and the texture upload (a scratch WebGL2 context, finished on the GPU). WebKit's clock ticks
  // in whole milliseconds here, so each stage is timed over a run of 20 and divided.
  const profileScript = `
    const done = arguments[arguments.length - 1];
    const [ctShas, crSha] = arguments;
    const inv = window.__TAURI_INTERNALS__.invoke;
    const gl = document.createElement('canvas').getContext('webgl2');
    const tex = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    const parse = (buf) => {
      const bytes = new Uint8Array(buf);
      const n = new DataView(buf).getUint32(0, true);
      const h = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n)));
      const px = bytes.slice(4 + n, 4 + n + h.width * h.height * 2);
      return { h, px: new Uint16Array(px.buffer) };
    };
    const upload = ({ h, px }) => {
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.R16UI, h.width, h.height, 0, gl.RED_INTEGER, gl.UNSIGNED_SHORT, px);
      gl.finish();
    };
    // Mean milliseconds of f over the items, run one after another.
    const each = async (items, f) => {
      const t = performance.now();
      const out = [];
      for (const x of items) out.push(await f(x));
      return [(performance.now() - t) / items.length, out];
    };
    (async () => {
      const r = {};
      const twenty = Array.from({ length: 20 }, (_, i) => i);
      [r.noop] = await each(twenty, () => inv('activity'));
      [r.cold] = await each(ctShas, (sha) => inv('frame', { sha256: sha, frame: 0 }));
      let bufs;
      [r.warm, bufs] = await each(ctShas, (sha) => inv('frame', { sha256: sha, frame: 0 }));
      r.bytes = bufs[0].byteLength;
      let parsed;
      [r.parse, parsed] = await each(bufs, parse);
      [r.upload] = await each(parsed, upload);
      // Several at once: the same cached frames, 4 requests in flight.
      const t = performance.now();
      for (let i = 0; i < ctShas.length; i += 4) {
        await Promise.all(ctShas.slice(i, i + 4).map((sha) => inv('frame', { sha256: sha, frame: 0 })));
      }
      r.warm4 = (performance.now() - t) / ctShas.length;
      const five = [0, 1, 2, 3, 4];
      [r.crWarm, bufs] = await each(five, () => inv('frame', { sha256: crSha, frame: 0 }));
      r.crBytes = bufs[0].byteLength;
      [r.crParse, parsed] = await each(bufs, parse);
      [r.crUpload] = await each(parsed, upload);
      // The same packet in parts of 1 MiB (when the app serves parts): one after another, and
      // all at once (as the viewer asks for them).
      const PART = 1 << 20;
      const first = await inv('frame', { sha256: crSha, frame: 0, part: 0 });
      if (first.byteLength === PART) {
        const parts = Array.from({ length: Math.ceil(r.crBytes / PART) }, (_, i) => i);
        [r.crPartsSerial] = await each(five, () => each(parts, (part) => inv('frame', { sha256: crSha, frame: 0, part })));
        [r.crPartsParallel] = await each(five, () => Promise.all(parts.map((part) => inv('frame', { sha256: crSha, frame: 0, part }))));
        r.parts = parts.length;
      }
      return r;
    })().then(done, (e) => done({ error: String(e) }));
  `;
  const logBeforeProfile = logSize();
  const prof = await runAsync(profileScript, [shas.ct.slice(0, 20), shas.cr[0]]);
  if (prof.error) throw new Error(prof.error);
  const decodes = decodeLog(logBeforeProfile).filter((d) => d.bytes < 4_000_000).map((d) => d.ms);
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const kib = (b) => `${(b / 1024).toFixed(0)} KiB`;
  console.log(`profile, one 512² frame (${kib(prof.bytes)}), means over 20 slices:`);
  console.log(`  command round trip with no payload (activity):    ${f1(prof.noop)} ms`);
  console.log(`  frame command, slice not yet decoded:             ${f1(prof.cold)} ms`);
  console.log(`    of which the app's decode (its log):            ${decodes.length ? f1(mean(decodes)) : "?"} ms`);
  console.log(`  frame command, slice in the app's cache:          ${f1(prof.warm)} ms (transfer ≈ this − round trip)`);
  console.log(`  the same, 4 requests in flight, per frame:        ${f1(prof.warm4)} ms`);
  console.log(`  parse (header + copy of the samples):             ${f1(prof.parse)} ms`);
  console.log(`  texture upload, finished on the GPU:              ${f1(prof.upload)} ms`);
  console.log(`profile, the 1760² CR (${kib(prof.crBytes)}): decode ${crDecode ? f1(crDecode.ms) : "?"} ms (first open), ` +
    `cached frame command ${f1(prof.crWarm)} ms, parse ${f1(prof.crParse)} ms, upload ${f1(prof.crUpload)} ms`);
  if (prof.parts) {
    console.log(`  the CR's packet in ${prof.parts} parts of 1 MiB: ${f1(prof.crPartsSerial)} ms one after another, ` +
      `${f1(prof.crPartsParallel)} ms all at once`);
  }
  if (ctDecodeFirst) console.log(`  (first 512² image's decode in the app: ${f1(ctDecodeFirst.ms)} ms)`);

  // The two ways a frame reaches the page, side by side on the same 20 slices already in the
  // app's cache (no decode): the `frame` command (a custom-scheme answer, which WebKitGTK
  // passes to the web process in small pieces) and the app's frame socket (one WebSocket
  // message; what the viewer uses). Wall time per frame, one request after another, and the
  // CPU the app and WebKit's processes spend per frame (from /proc, over 200 frames each).
  const appPid = execFileSync("pgrep", ["-n", "-f", app]).toString().trim();
  const family = [appPid, ...execFileSync("pgrep", ["-P", appPid]).toString().trim().split("\n")];
  const cpuMs = () => Object.fromEntries(family.map((p) => {
    const st = readFileSync(`/proc/${p}/stat`, "utf8");
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    return [/\((.*)\)/.exec(st)[1], (Number(f[11]) + Number(f[12])) * (1000 / 100)];
  }));
  const transferScript = `
    const done = arguments[arguments.length - 1];
    const [shas, n, how] = arguments;
    const inv = window.__TAURI_INTERNALS__.invoke;
    (async () => {
      let get;
      if (how === 'socket') {
        const url = await inv('frame_socket');
        if (!url) return { error: 'the app has no frame socket' };
        const ws = new WebSocket(url);
        ws.binaryType = 'arraybuffer';
        await new Promise((ok, no) => { ws.onopen = ok; ws.onerror = () => no(new Error('frame socket refused')); });
        get = (sha) => new Promise((ok) => { ws.onmessage = (m) => ok(m.data); ws.send(JSON.stringify({ sha256: sha, frame: 0 })); });
      } else get = (sha) => inv('frame', { sha256: sha, frame: 0 });
      const t = performance.now();
      let bytes = 0;
      for (let i = 0; i < n; i++) bytes = (await get(shas[i % shas.length])).byteLength;
      return { ms: (performance.now() - t) / n, bytes };
    })().then(done, (e) => done({ error: String(e) }));
  `;
  const transports = {};
  for (const how of ["command", "socket", "command", "socket"]) {
    const before = cpuMs();
    const r = await runAsync(transferScript, [shas.ct.slice(0, 20), 200, how]);
    if (r.error) throw new Error(r.error);
    const after = cpuMs();
    const per = Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] - before[k]) / 200]));
    (transports[how] ??= []).push({ ...r, per });
  }
  for (const [how, runs] of Object.entries(transports)) {
    const procs = Object.keys(runs[0].per).map((k) => `${k} ${runs.map((x) => f1(x.per[k])).join(" / ")}`).join(", ");
    console.log(`  a cached 512² frame by the ${how === "socket" ? "frame socket (the viewer's way)" : "frame command"}: ` +
      `${runs.map((x) => f1(x.ms)).join(" / ")} ms each; CPU ms per frame: ${procs}`);
  }

  // Frame latency while another process imports a 500-file series into the same home: the page
  // asks for frames one after another for a fixed time (slices 20.. not yet decoded, so most
  // requests decode), over the frame socket as the viewer does, stamping each request; the
  // requests made while the import ran count.
  const latencyScript = `
    const done = arguments[arguments.length - 1];
    const [shas, ms] = arguments;
    const inv = window.__TAURI_INTERNALS__.invoke;
    (async () => {
      const ws = new WebSocket(await inv('frame_socket'));
      ws.binaryType = 'arraybuffer';
      await new Promise((ok, no) => { ws.onopen = ok; ws.onerror = () => no(new Error('frame socket refused')); });
      const get = (sha) => new Promise((ok, no) => {
        ws.onmessage = (m) => (typeof m.data === 'string' ? no(new Error(m.data)) : ok(m.data));
        ws.send(JSON.stringify({ sha256: sha, frame: 0 }));
      });
      const out = [];
      const end = performance.now() + ms;
      for (let i = 0; performance.now() < end; i++) {
        const at = Date.now(), t = performance.now();
        await get(shas[i % shas.length]);
        out.push([at, performance.now() - t, i < shas.length]);
      }
      ws.close();
      return out;
    })().then(done, (e) => done({ error: String(e) }));
  `;
  let importLatency = null;
  if (process.env.BENCH_CLI && process.env.BENCH_IMPORT) {
    const timesP = runAsync(latencyScript, [shas.ct.slice(20, 250), 8000]);
    // Let the page's loop start before the import does.
    await new Promise((r) => setTimeout(r, 300));
    const importStarted = Date.now();
    const child = spawn(process.env.BENCH_CLI, ["--home", home, "import", process.env.BENCH_IMPORT], { stdio: ["ignore", "ignore", "inherit"] });
    const code = await new Promise((resolve) => child.on("exit", (c) => resolve(c)));
    const importEnded = Date.now();
    const all = await timesP;
    if (all.error) throw new Error(all.error);
    const during = all.filter(([at, ms]) => at + ms >= importStarted && at <= importEnded);
    const times = during.map(([, ms]) => ms);
    const decoded = during.filter(([, , first]) => first).length;
    importLatency = { code, n: times.length, p50: pct(times, 50), p99: pct(times, 99), max: Math.max(...times) };
    console.log(`frame latency during a 500-file import in another process (${((importEnded - importStarted) / 1000).toFixed(1)} s, exit ${code}): ` +
      `${times.length} frames asked one after another (${decoded} decoded on the ask, the rest from the cache), p50 ${f1(importLatency.p50)} ms, ` +
      `p99 ${f1(importLatency.p99)} ms, max ${f1(importLatency.max)} ms`);
    if (during.length < 10) console.log("  (too few requests fell inside the import to give a p99: the import outran the loop)");
  }

  // Scrolling with the key held: ArrowDown steps are issued as fast as the viewer accepts them
  // (the next key the moment the overlay names the new slice, i.e. its frame uploaded, drawn and
  // the overlay re-rendered), from the middle slice down, counting the slices drawn; the rate is
  // taken over the last 200 (sustained, after the first steps that fill the pipeline).
  const scrollScript = `
    const done = arguments[arguments.length - 1];
    const [target, keyName, stop] = arguments;
    const pos = document.querySelector('[data-testid="slice-position"]');
    const canvas = document.querySelector('[data-testid="viewer-canvas"]');
    const stamps = [];
    const waits = [];
    const draws = [];
    let last = pos.textContent;
    // What reaches the screen: the slice named at each animation frame.
    const seen = [];
    let watching = true;
    const watch = () => { seen.push(pos.textContent); if (watching) requestAnimationFrame(watch); };
    requestAnimationFrame(watch);
    const t = performance.now();
    const key = () => window.dispatchEvent(new KeyboardEvent('keydown', { key: keyName }));
    const observer = new MutationObserver(() => {
      const now = pos.textContent;
      if (now === last) return;
      last = now;
      stamps.push(performance.now());
      waits.push(Number(canvas.dataset.waitMs ?? NaN));
      draws.push(Number(canvas.dataset.drawMs ?? NaN));
      if (stamps.length >= target || performance.now() - t > 120000 || new RegExp(stop).test(now)) {
        observer.disconnect();
        watching = false;
        done({ stamps, waits, draws, t, frames: seen.length, shown: new Set(seen).size });
      } else key();
    });
    observer.observe(pos, { subtree: true, characterData: true, childList: true });
    key();
  `;
  // The page's animation frames a second with nothing to do: what the display gives at most.
  const idleFps = await runAsync(`
    const done = arguments[arguments.length - 1];
    let frames = 0;
    const t = performance.now();
    const tick = () => { frames++; if (performance.now() - t < 2000) requestAnimationFrame(tick); else done(frames / (performance.now() - t) * 1000); };
    requestAnimationFrame(tick);
  `);
  console.log(`animation frames with nothing to draw: ${f1(idleFps)} a second`);
  const scroll = await runAsync(scrollScript, [240, "ArrowDown", "Image 500/"]);
  const n = scroll.stamps.length;
  const window200 = Math.min(200, n - 1);
  const sustained = (window200 / (scroll.stamps[n - 1] - scroll.stamps[n - 1 - window200])) * 1000;
  const shownRate = (scroll.shown / (scroll.stamps[n - 1] - scroll.t)) * 1000;
  const perSlice = (scroll.stamps[n - 1] - scroll.t) / n;
  const waits = scroll.waits.filter(Number.isFinite), draws = scroll.draws.filter(Number.isFinite);
  console.log(`scrolled ${n} slices with the key held (steps as fast as the viewer accepts them): ` +
    `${f1(perSlice)} ms per slice overall, ${f1(sustained)} slices/s over the last ${window200}; per slice, median ` +
    `${f1(median(waits))} ms waiting for the frame, ${f1(median(draws))} ms upload + draw; on screen: ` +
    `${scroll.shown} distinct slices in ${scroll.frames} animation frames (${f1(shownRate)} slices/s shown)`);

  // A key repeat at a fixed 100 Hz for 3 s: what reaches the screen (distinct slices seen at each
  // animation frame) and how many steps the viewer skipped to keep up.
  const repeatScript = `
    const done = arguments[arguments.length - 1];
    const pos = document.querySelector('[data-testid="slice-position"]');
    const seen = [];
    let running = true;
    const watch = () => { seen.push(pos.textContent); if (running) requestAnimationFrame(watch); };
    requestAnimationFrame(watch);
    let keys = 0;
    const t = performance.now();
    const timer = setInterval(() => {
      keys++;
      window.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowUp' }));
    }, 10);
    setTimeout(() => {
      clearInterval(timer);
      running = false;
      const ms = performance.now() - t;
      done({ keys, ms, frames: seen.length, distinct: new Set(seen).size, last: pos.textContent });
    }, 3000);
  `;
  const repeat = await runAsync(repeatScript);
  const shownPerS = (repeat.distinct / repeat.ms) * 1000;
  console.log(`key repeat at 100 Hz for ${(repeat.ms / 1000).toFixed(1)} s: ${repeat.keys} keys, ${repeat.frames} animation frames, ` +
    `${repeat.distinct} distinct slices on screen (${f1(shownPerS)} slices/s shown; ended on "${repeat.last}")`);

  // Fill the caches: every slice of the series shown once, up to the first, then the resident
  // memory.
  await runAsync(scrollScript, [1000, "ArrowUp", "Image 1/"]);
  // The same held key over slices the viewer already holds (the last ones seen, up to its
  // 64 MiB): no transfer at all, so what is left is the upload, the draw and the page's frame.
  const held = await runAsync(scrollScript, [100, "ArrowDown", "Image 500/"]);
  const heldShown = (held.shown / (held.stamps[held.stamps.length - 1] - held.t)) * 1000;
  console.log(`scrolled ${held.stamps.length} slices the viewer already held: ${held.shown} distinct slices in ${held.frames} ` +
    `animation frames (${f1(heldShown)} slices/s shown)`);
  // The page's own frame rate, 60 animation frames each: with nothing changed; with only the
  // viewer's canvas drawn again (its current texture, no upload); with only a line of text
  // changed (an element of the bench's own, no WebGL). Each any change costs shows the price
  // of a frame that shows something new, whatever the viewer does.
  const pageFps = await runAsync(`
    const done = arguments[arguments.length - 1];
    const canvas = document.querySelector('[data-testid="viewer-canvas"]');
    // The viewer's own context: WebGL2, or on the CPU path a 2-D one (the canvas drawn over itself).
    const gl = canvas.dataset.renderMode === 'webgl2' ? canvas.getContext('webgl2') : null;
    const ctx = gl ? null : canvas.getContext('2d');
    const text = document.body.appendChild(document.createElement('div'));
    text.style.cssText = 'position: fixed; top: 0; left: 0; color: #fff';
    const rate = (body) => new Promise((resolve) => {
      let n = 0;
      const t = performance.now();
      const f = () => { body(n++); if (n < 60) requestAnimationFrame(f); else resolve(60 / (performance.now() - t) * 1000); };
      requestAnimationFrame(f);
    });
    (async () => {
      const nothing = await rate(() => {});
      const draw = await rate(() => (gl ? gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4) : ctx.drawImage(canvas, 0, 0)));
      const words = await rate((n) => { text.textContent = 'frame ' + n; });
      text.remove();
      return { nothing, draw, words };
    })().then(done);
  `);
  console.log(`the page's animation frames a second: nothing changed ${f1(pageFps.nothing)}, only the canvas drawn again ` +
    `${f1(pageFps.draw)}, only a line of text changed ${f1(pageFps.words)}`);
  const pid = execFileSync("pgrep", ["-n", "-f", app]).toString().trim();
  const rss = rssMb(pid);
  let webRss = null;
  try {
    const children = execFileSync("pgrep", ["-P", pid]).toString().trim().split("\n");
    webRss = children.map((c) => {
      const name = readFileSync(`/proc/${c}/comm`, "utf8").trim();
      return `${name} ${rssMb(c).toFixed(0)} MB`;
    }).join(", ");
  } catch {
    // No child processes: WebKit runs its web process under another parent on this build.
  }
  console.log(`cold start to the unlock screen: ${coldStart.toFixed(0)} ms (of which starting WebKitWebDriver and the app, until the WebDriver session exists: ${launched.toFixed(0)} ms)`);
  console.log(`first image after choosing a study: 512² CT ${ct.toFixed(0)} ms, 1760² CR ${cr.toFixed(0)} ms (goal < 100 ms)`);
  console.log(`window/level update, rendered and finished: 512² ${ctWl.ms.toFixed(2)} ms (${(1000 / ctWl.ms).toFixed(0)} fps), 1760² ${crWl.ms.toFixed(2)} ms (${(1000 / crWl.ms).toFixed(0)} fps) on ${ctWl.mode}, canvas ${ctWl.size}`);
  console.log(`resident memory with every slice of the series seen (caches full): app ${rss.toFixed(0)} MB${webRss ? `; its children: ${webRss}` : ""}`);
  // The goal counts slices that reach the screen (a new slice at each animation frame), not
  // draws into the canvas between two frames, which nobody sees.
  goal(`scroll rate with the key held, ${n} slices, slices on screen (${f1(sustained)} drawn/s over the last ${window200}; ` +
    `the display gave ${f1(idleFps)} animation frames/s idle)`, `${f1(shownRate)} slices/s`, "≥ 60 slices/s", shownRate >= 60);
  goal(`key repeat at 100 Hz for 3 s, slices on screen (${repeat.keys} keys)`, `${f1(shownPerS)} slices/s`, "≥ 60 slices/s", shownPerS >= 60);
  goal("first image 512²", `${ct.toFixed(0)} ms`, "< 100 ms", ct < 100);
  goal(`first image 1760²${crFirst.preview ? ` (a reduced preview, said so in the overlay; full resolution at ${crFirst.full.toFixed(0)} ms)` : ""}`,
    `${cr.toFixed(0)} ms`, "< 100 ms", cr < 100);
  if (importLatency) {
    goal("frame latency during a 500-file import, p50 / p99", `${f1(importLatency.p50)} / ${f1(importLatency.p99)} ms`,
      "p99 < 100 ms, never behind the import", importLatency.p99 < 100);
  }
  summary.push(`SUMMARY resident memory with the caches full: app ${rss.toFixed(0)} MB (app frame cache budget ${process.env.COUNTERSIGN_FRAME_CACHE_MB ?? 256} MiB)`);
  summary.push(`SUMMARY scroll over slices the viewer already holds, slices on screen: ${f1(heldShown)} slices/s (no transfer: the page's own frame rate while drawing)`);
  for (const line of summary) console.log(line);
} finally {
  await wd("DELETE", s).catch(() => {});
}
