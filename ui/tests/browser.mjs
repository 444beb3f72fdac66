// The UI in Debian's headless Chromium against the mock build (`npm run build:mock`): the study
// list, a canvas pixel check of a synthetic ramp through both the WebGL2 and the CPU path,
// signing a section through to a verified provenance entry, buttons that follow what the app
// says the user may do (report_actions) — a refused sign-off with its rule's code, sign-off once
// allowed, an addendum after — and a report in conflict resolved by keeping one sign-off; the
// Worklist (sorted, filtered, a study retrieved with progress then viewed) and its archives pane.
//
// usage: node tests/browser.mjs   (CHROMIUM overrides /usr/bin/chromium)
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = fileURLToPath(new URL("../dist-mock/", import.meta.url));
const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };
const server = createServer(async (req, res) => {
  const path = normalize(new URL(req.url, "http://x").pathname).replace(/^\/+/, "") || "index.html";
  try {
    const body = await readFile(join(root, path));
    res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" });
    res.end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const base = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"],
});
let failures = 0;
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures++;
};

/** The mock home starts locked, as the app does for a home with a key: unlocks it. */
async function unlock(page) {
  await page.getByTestId("unlock-passphrase").fill("countersign-demo");
  await page.getByTestId("unlock-submit").click();
  await page.getByTestId("study-item").first().waitFor();
}

// DICOM linear VOI, as windowing.ts: the ramp's stored value 16·x through window 2048/4096.
const voi = (x, c, w) =>
  x <= c - 0.5 - (w - 1) / 2 ? 0 : x > c - 0.5 + (w - 1) / 2 ? 255 : Math.round(((x - (c - 0.5)) / (w - 1) + 0.5) * 255);

/** Reads canvas pixels in the page: `probe(ctx, canvas)` runs on a 2-D copy of the viewer canvas. */
const pixels = (page, probe) =>
  page.evaluate((source) => {
    const c = document.querySelector('[data-testid="viewer-canvas"]');
    const copy = document.createElement("canvas");
    copy.width = c.width;
    copy.height = c.height;
    const ctx = copy.getContext("2d");
    ctx.drawImage(c, 0, 0);
    return new Function("ctx", "c", source)(ctx, c);
  }, probe);

async function rampCheck(mode) {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `${mode}: page error ${e.message}`));
  await page.goto(base + (mode === "cpu" ? "?cpu" : ""));
  await unlock(page);
  // The image first: the viewer is made before any study is chosen, and the editor is built only
  // once the first chosen study's image is on screen (building it first held up the image).
  check(await page.evaluate(() => !!document.querySelector('[data-testid="viewer-canvas"]')),
    `${mode}: the viewer is there before a study is chosen`);
  await page.evaluate(() => {
    const seen = (window.__order = []);
    const note = () => {
      for (const id of ["slice-position", "report-editor"]) {
        if (!seen.includes(id) && document.querySelector(`[data-testid="${id}"]`)) seen.push(id);
      }
    };
    new MutationObserver(note).observe(document.body, { childList: true, subtree: true, attributes: true });
  });
  await page.getByTestId("study-item").first().click();
  const canvas = page.getByTestId("viewer-canvas");
  await page.getByTestId("slice-position").waitFor();
  await page.getByTestId("report-editor").waitFor();
  const order = await page.evaluate(() => window.__order.join(" then "));
  check(order === "slice-position then report-editor", `${mode}: the first study's image is on screen before its editor is built (${order})`);
  check((await canvas.getAttribute("data-render-mode")) === mode, `${mode}: canvas renders with ${mode}`);
  // The 256×64 ramp fitted in the canvas, aspect kept, centred: sample the middle row.
  const samples = await pixels(page, `
    const s = Math.min(c.width / 256, c.height / 64);
    const left = (c.width - 256 * s) / 2;
    const top = (c.height - 64 * s) / 2;
    const out = [];
    for (let x = 0; x < 256; x++) {
      const px = ctx.getImageData(Math.floor(left + (x + 0.5) * s), Math.floor(top + 32 * s), 1, 1).data;
      out.push([px[0], px[1], px[2]]);
    }
    return out;
  `);
  const close = samples.filter(([r, g, b], x) => r === g && g === b && Math.abs(r - voi(16 * x, 2048, 4096)) <= 1);
  check(close.length >= 250, `${mode}: ${close.length}/256 ramp samples within one grey level of the VOI function`);
  check(samples[255][0] > 240 && samples[0][0] < 10, `${mode}: ramp runs dark to light (${samples[0][0]}…${samples[255][0]})`);
  // Preset 5 (brain 80/40) saturates the ramp beyond 80: most of the row turns white.
  await page.keyboard.press("5");
  const white = await pixels(page, `
    return ctx.getImageData(Math.floor(c.width / 2), Math.floor(c.height / 2), 1, 1).data[0];
  `);
  check(white === 255, `${mode}: brain preset saturates the middle of the ramp (${white})`);
  // Zoomed images are smoothed (bilinear on stored values) unless N asks for square pixels:
  // across the ramp's first 8 texels (0…112, steps of 51 grey levels in this window), nearest
  // shows at most the 6 texel levels, smoothing the levels in between.
  const levels = () => pixels(page, `
    const s = Math.min(c.width / 256, c.height / 64);
    const left = (c.width - 256 * s) / 2, top = (c.height - 64 * s) / 2;
    const seen = new Set();
    for (let x = Math.ceil(left); x < left + 8 * s; x++) seen.add(ctx.getImageData(x, Math.floor(top + 32 * s), 1, 1).data[0]);
    return seen.size;
  `);
  const smoothed = await levels();
  await page.keyboard.press("n");
  const square = await levels();
  check(square <= 6 && smoothed > square + 2,
    `${mode}: zoomed pixels are smoothed (${smoothed} grey levels over 8 texels), N shows them square (${square})`);
  check((await page.getByTestId("overlay-zoom").textContent()).includes("nearest"), `${mode}: the overlay says nearest`);
  await page.keyboard.press("n");
  // The overlay tells the truth after every change, by key, wheel or drag: a radiologist reads
  // the window from it.
  const overlay = async (id) => (await page.getByTestId(id).textContent()).trim();
  check((await overlay("overlay-window")) === "W 80 L 40", `${mode}: the overlay reads the brain preset (${await overlay("overlay-window")})`);
  await page.keyboard.press("2");
  check((await overlay("overlay-window")) === "W 1500 L -600", `${mode}: then the lung preset (${await overlay("overlay-window")})`);
  await page.keyboard.press("i");
  check((await overlay("overlay-window")).endsWith("· inverted"), `${mode}: and says when inverted`);
  const fitted = await overlay("overlay-zoom");
  await page.keyboard.press("+");
  const zoomed = await overlay("overlay-zoom");
  check(zoomed !== fitted, `${mode}: a zoom key changes the zoom readout (${fitted} → ${zoomed})`);
  await page.keyboard.press("f");
  check((await overlay("overlay-zoom")) === fitted, `${mode}: F (fit) puts the readout back (${await overlay("overlay-zoom")})`);
  await canvas.hover();
  await page.mouse.wheel(0, 0);
  const box = await canvas.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 100, box.y + box.height / 2 + 50, { steps: 4 });
  await page.mouse.up();
  check((await overlay("overlay-window")) !== "W 1500 L -600 · inverted", `${mode}: a drag changes the window readout (${await overlay("overlay-window")})`);
  await page.close();
}

// The unlock screen: a home with a key opens locked; it says who signs, a wrong passphrase is
// refused in words, the right one opens the study list. Left idle, the key locks: signing then
// asks for the passphrase and signs once it is given.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `unlock: page error ${e.message}`));
  await page.goto(base);
  await page.getByTestId("unlock-screen").waitFor();
  check((await page.getByTestId("unlock-who").textContent()).includes("Dr Mock Attending"), "the unlock screen says who signs");
  check((await page.getByTestId("study-item").count()) === 0, "no study is listed while locked");
  await page.getByTestId("unlock-passphrase").fill("not the passphrase");
  await page.getByTestId("unlock-submit").click();
  await page.getByTestId("unlock-error").filter({ hasText: "wrong passphrase" }).waitFor();
  check(true, "a wrong passphrase is refused on the unlock screen");
  await page.screenshot({ path: "test-results/unlock.png" });
  await page.getByTestId("unlock-passphrase").fill("countersign-demo");
  await page.getByTestId("unlock-submit").click();
  await page.getByTestId("study-item").first().waitFor();
  check(true, "the right passphrase opens the study list");
  await page.getByTestId("study-item").first().click();
  await page.getByTestId("report-editor").waitFor();
  await page.evaluate(() => globalThis.__mockIdleLock());
  await page.getByTestId("section-findings").locator("textarea").fill("Signed after the idle lock.");
  await page.getByTestId("section-findings-sign").click();
  const prompt = page.getByTestId("passphrase-prompt");
  await prompt.waitFor();
  check((await page.getByTestId("passphrase-prompt-reason").textContent()).includes("locked"),
    "signing after the idle lock asks for the passphrase");
  await page.getByTestId("passphrase-prompt-input").fill("countersign-demo");
  await page.getByTestId("passphrase-prompt-submit").click();
  const written = page.getByTestId("provenance-panel").getByTestId("provenance-entry").filter({ hasText: "section.write" }).first();
  await written.waitFor();
  check(!(await prompt.isVisible()), "once unlocked the section is signed and the prompt goes");
  const what = (await written.getByTestId("entry-what").textContent()).trim();
  check(what === "wrote Findings", `the timeline says what happened in words (${what}), the kind beside it`);
  // Lock now: back to the unlock screen.
  await page.getByTestId("lock-now").click();
  await page.getByTestId("unlock-screen").waitFor();
  check(true, "Lock returns to the unlock screen");
  await page.close();
}

// A key on a hardware token: the unlock screen and the signing prompt ask for the token's PIN (the
// app says which store holds the key), a wrong PIN is refused in words, the right one opens.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `token unlock: page error ${e.message}`));
  await page.goto(`${base}?store=token`);
  await page.getByTestId("unlock-screen").waitFor();
  check((await page.getByTestId("unlock-secret-label").textContent()) === "PIN", "a token home's unlock screen asks for the PIN");
  check(await page.getByTestId("unlock-token").isVisible(), "it says the key is on a hardware token");
  await page.getByTestId("unlock-passphrase").fill("000000");
  await page.getByTestId("unlock-submit").click();
  await page.getByTestId("unlock-error").filter({ hasText: "wrong PIN" }).waitFor();
  check(true, "a wrong PIN is refused on the unlock screen");
  await page.getByTestId("unlock-passphrase").fill("246810");
  await page.getByTestId("unlock-submit").click();
  await page.getByTestId("study-item").first().click();
  await page.getByTestId("report-editor").waitFor();
  await page.evaluate(() => globalThis.__mockIdleLock());
  await page.getByTestId("section-findings").locator("textarea").fill("Signed with the token.");
  await page.getByTestId("section-findings-sign").click();
  await page.getByTestId("passphrase-prompt").waitFor();
  check((await page.getByTestId("passphrase-prompt-label").textContent()) === "PIN", "signing while locked asks for the token's PIN");
  await page.close();
}

// First run: the key can be kept in the OS keychain instead of sealed under a passphrase. The
// passphrase fields go when the keychain is chosen, and the new identity opens with no
// passphrase asked; a sealed key's passphrase too short is refused in words.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `first run: page error ${e.message}`));
  await page.goto(base + "?fresh");
  await page.getByTestId("first-run").waitFor();
  await page.getByPlaceholder("Dr Ada Lovelace").fill("Dr First Run");
  await page.getByTestId("new-passphrase").fill("short");
  await page.getByTestId("new-passphrase-again").fill("short");
  await page.getByTestId("create-identity").click();
  await page.locator(".first-run .error", { hasText: "at least 8 characters" }).waitFor();
  check(true, "first run: a passphrase too short is refused in words");
  await page.getByTestId("key-store").selectOption("keychain");
  await page.getByTestId("keychain-note").waitFor();
  check((await page.getByTestId("new-passphrase").count()) === 0, "first run: the keychain asks for no passphrase");
  await page.screenshot({ path: "test-results/first-run-keychain.png" });
  await page.getByTestId("create-identity").click();
  await page.getByTestId("study-item").first().waitFor();
  check((await page.getByTestId("unlock-screen").count()) === 0, "first run: a keychain identity opens the study list");
  await page.close();
}

// A key in the OS keychain (the app says unlocking needs no passphrase): the unlock screen asks
// for none, and after the idle lock signing asks only to unlock, with no passphrase field.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `keychain: page error ${e.message}`));
  await page.goto(base + "?keychain");
  await page.getByTestId("unlock-screen").waitFor();
  await page.getByTestId("unlock-keychain").waitFor();
  check((await page.getByTestId("unlock-passphrase").count()) === 0, "a keychain home's unlock screen asks for no passphrase");
  await page.screenshot({ path: "test-results/unlock-keychain.png" });
  await page.getByTestId("unlock-submit").click();
  await page.getByTestId("study-item").first().waitFor();
  check(true, "unlocking from the keychain opens the study list");
  await page.getByTestId("study-item").first().click();
  await page.getByTestId("report-editor").waitFor();
  await page.evaluate(() => globalThis.__mockIdleLock());
  await page.getByTestId("section-findings").locator("textarea").fill("Signed from the keychain after the idle lock.");
  await page.getByTestId("section-findings-sign").click();
  await page.getByTestId("passphrase-prompt-keychain").waitFor();
  check((await page.getByTestId("passphrase-prompt-input").count()) === 0, "after the idle lock a keychain key is unlocked without a passphrase");
  await page.getByTestId("passphrase-prompt-submit").click();
  await page.getByTestId("provenance-panel").getByTestId("provenance-entry").filter({ hasText: "section.write" }).first().waitFor();
  check(!(await page.getByTestId("passphrase-prompt").isVisible()), "unlocked from the keychain, the section is signed");
  await page.close();
}

await rampCheck("webgl2");
await rampCheck("cpu");

// A study whose image cannot be drawn (the decoder refused its pixels) after one that drew: the
// error shows on a blank canvas, never over the previous study's image and its patient.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `undecodable: page error ${e.message}`));
  await page.goto(base);
  await unlock(page);
  await page.getByTestId("study-item").first().click();
  await page.getByTestId("slice-position").waitFor();
  await page.getByTestId("study-item").filter({ hasText: "Pixels refused" }).click();
  await page.locator(".message.error", { hasText: "segment at word 0 is empty" }).waitFor();
  const lit = await pixels(page, `
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    for (let i = 0; i < d.length; i += 4 * 101) if (d[i] > 0) lit++;
    return lit;
  `);
  check(lit === 0, `undecodable: the canvas is blank under the error (${lit} lit samples)`);
  const stale = await page.locator(".corner", { hasText: "Phantom^Ramp" }).count();
  check(stale === 0 && (await page.getByTestId("slice-position").count()) === 0,
    "undecodable: no patient name or position left from the previous study");
  await page.close();
}

// A multi-frame image: arrows step frames, Space runs cine until pressed again.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(base);
  await unlock(page);
  await page.getByTestId("study-item").first().click();
  const position = page.getByTestId("slice-position");
  await position.waitFor();
  // The viewer opens the middle image (2 of 2), the multi-frame one.
  await position.filter({ hasText: "frame 1/3" }).waitFor();
  await page.keyboard.press("ArrowRight");
  await position.filter({ hasText: "frame 2/3" }).waitFor();
  check(true, "→ steps to the next frame");
  await page.keyboard.press(" ");
  await position.filter({ hasText: "frame 1/3" }).waitFor();
  await position.filter({ hasText: "frame 2/3" }).waitFor();
  await page.keyboard.press(" ");
  check(true, "Space plays the frames as cine");
  await page.keyboard.press("ArrowUp");
  await position.filter({ hasText: /^Image 1\/2/ }).waitFor();
  check(true, "↑ goes to the previous image of the series");
  await page.close();
}

// Sign a section; the provenance panel shows it verified.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(base);
  await unlock(page);
  await page.getByTestId("study-item").first().click();
  await page.getByTestId("report-editor").waitFor();
  // The app refuses sign-off of a draft with required sections unwritten: no button, and the
  // reason with its rule's code.
  const refusedSignoff = page.getByTestId("finalize-refused");
  await refusedSignoff.waitFor();
  check(!(await page.getByTestId("finalize").isVisible()), "no sign-off button while the app refuses sign-off");
  check(
    (await refusedSignoff.getByTestId("error-rule").textContent())?.trim() === "section_missing" &&
      (await refusedSignoff.textContent()).includes("must be written before final sign-off"),
    "the refused sign-off shows its rule's code and why",
  );
  const findings = page.getByTestId("section-findings").locator("textarea");
  await findings.fill("One small nodule.");
  // A structured field: a wrong value is refused in words, a right one signed with the text.
  const nodule = page.getByTestId("field-findings-largest-nodule").locator("input");
  await nodule.fill("4 mm");
  await page.getByTestId("section-findings-sign").click();
  await page.getByTestId("editor-error").filter({ hasText: "is not a decimal number" }).waitFor();
  check(true, "a field value of the wrong type is refused in words");
  check(
    (await page.getByTestId("editor-error").getByTestId("error-rule").textContent())?.trim() === "field_value",
    "the refusal shows the rule's code",
  );
  await nodule.fill("4.5");
  await page.getByTestId("section-findings-sign").click();
  const entries = page.getByTestId("provenance-panel").getByTestId("provenance-entry");
  await entries.filter({ hasText: "section.write" }).first().waitFor();
  check((await entries.filter({ hasText: "section.write" }).count()) === 1, "signed section appears in provenance");
  await page.getByTestId("section-findings-sign").and(page.locator(":disabled")).waitFor();
  check(
    (await nodule.inputValue()) === "4.5" && (await page.getByTestId("section-findings-sign").isDisabled()),
    "the signed field value stays and there is nothing new to sign",
  );
  check(
    (await entries.filter({ hasText: "section.write" }).first().getAttribute("data-status")) === "verified",
    "the new entry is verified",
  );
  await page.getByRole("button", { name: "Verify now" }).click();
  await page.getByTestId("verify-status").filter({ hasText: /^verified/ }).waitFor();
  check(true, "verify-status says verified");
  await page.screenshot({ path: "test-results/browser.png" });
  await page.keyboard.press("?");
  check(await page.getByTestId("cheat-sheet").isVisible(), "? opens the keyboard cheat sheet");
  await page.close();
}

// Unsigned text lives in the home, not in the webview: typed text comes back after leaving the
// report, nothing is left in localStorage, and a draft an earlier build left there is moved in.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `drafts: page error ${e.message}`));
  await page.goto(base);
  await unlock(page);
  await page.getByTestId("study-item").first().waitFor();
  const rid = await page.evaluate(async () => (await window.__TAURI_INTERNALS__.invoke("studies", { after: null, limit: 100 })).studies[0].reports[0].report);
  await page.evaluate((id) => localStorage.setItem(`countersign:draft:${id}:impression`, "Typed before the update."), rid);
  await page.getByTestId("study-item").first().click();
  const impression = page.getByTestId("section-impression").locator("textarea");
  await page.waitForFunction(
    () => document.querySelector('[data-testid="section-impression"] textarea')?.value === "Typed before the update.",
  );
  check(true, "a draft an earlier build kept in the webview is shown");
  await page.getByTestId("section-findings").locator("textarea").fill("Half typed.");
  await page.getByTestId("study-item").nth(1).click();
  await page.getByTestId("study-item").first().click();
  await page.waitForFunction(
    () => document.querySelector('[data-testid="section-findings"] textarea')?.value === "Half typed.",
  );
  check((await impression.inputValue()) === "Typed before the update.", "typed text comes back from the home after leaving the report");
  // The same report read again (its study chosen again; in the app, the study list refreshed
  // after a new report, or a sync): what is typed and the selection in it stay as they are. The
  // e2e's AutoText expansion, its [size] selected, was once wiped by such a reload.
  await page.evaluate(() => {
    const t = document.querySelector('[data-testid="section-findings"] textarea');
    t.focus();
    t.setSelectionRange(5, 10);
  });
  // Every call the page makes to the app is noted, so that the check waits for the reload and
  // whatever it sets off (the drafts read again) to have finished, not for a time.
  await page.evaluate(() => {
    const inner = window.__TAURI_INTERNALS__.invoke;
    window.__calls = [];
    window.__TAURI_INTERNALS__.invoke = (cmd, args, opts) => {
      const p = inner(cmd, args, opts);
      window.__calls.push([cmd, p]);
      return p;
    };
  });
  await page.getByTestId("study-item").first().click();
  await page.waitForFunction(() => window.__calls.some(([cmd]) => cmd === "report_show"));
  await page.evaluate(async () => {
    let seen = -1;
    while (seen !== window.__calls.length) {
      seen = window.__calls.length;
      await Promise.allSettled(window.__calls.map(([, p]) => p));
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    }
  });
  const typing = await page.evaluate(() => {
    const t = document.querySelector('[data-testid="section-findings"] textarea');
    return [t.value, t.selectionStart, t.selectionEnd];
  });
  check(JSON.stringify(typing) === JSON.stringify(["Half typed.", 5, 10]), `a reload of the same report keeps the text and the selection typed (${JSON.stringify(typing)})`);
  const left = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("countersign:draft")));
  check(left.length === 0, `no draft is left in the webview's storage (${left.join(", ")})`);
  const kept = await page.evaluate(async (id) => await window.__TAURI_INTERNALS__.invoke("drafts", { report: id }), rid);
  check(kept.findings === "Half typed." && kept.impression === "Typed before the update.", "the home keeps both drafts");
  await page.close();
}

// Buttons follow the actions: once every required section is written the app allows sign-off and
// the button appears; after it, only an addendum is offered.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `actions: page error ${e.message}`));
  await page.goto(base);
  await unlock(page);
  await page.getByTestId("study-item").first().click();
  await page.getByTestId("finalize-refused").waitFor();
  check((await page.getByTestId("addenda").count()) === 0, "no addendum offered before sign-off");
  for (const [name, text] of [["technique", "Low-dose CT."], ["findings", "No nodule."], ["impression", "Normal chest."]]) {
    await page.getByTestId(`section-${name}`).locator("textarea").fill(text);
    await page.getByTestId(`section-${name}-sign`).click();
    await page.getByTestId(`section-${name}-sign`).and(page.locator(":disabled")).waitFor();
  }
  const finalize = page.getByTestId("finalize");
  await finalize.waitFor();
  check(!(await page.getByTestId("finalize-refused").isVisible()), "once the app allows sign-off the button shows, the refusal goes");
  check((await page.getByTestId("section-findings-cosign").count()) === 0, "no co-sign offered on one's own sections");
  // Signing a final asks for the passphrase again, although the key is unlocked: the app
  // answers reauth_required and the prompt asks; a wrong passphrase is refused in the prompt.
  await finalize.click();
  const prompt = page.getByTestId("passphrase-prompt");
  await prompt.waitFor();
  check((await prompt.textContent()).includes("Sign off as final") &&
    (await page.getByTestId("passphrase-prompt-who").textContent()).includes("Dr Mock Attending"),
    "sign-off asks for the passphrase again and says who signs");
  await page.getByTestId("passphrase-prompt-input").fill("not the passphrase");
  await page.getByTestId("passphrase-prompt-submit").click();
  await page.getByTestId("passphrase-prompt-error").filter({ hasText: "wrong passphrase" }).waitFor();
  check((await page.getByTestId("report-state").textContent()).trim() !== "final", "a wrong passphrase signs nothing off");
  await page.getByTestId("passphrase-prompt-input").fill("countersign-demo");
  await page.getByTestId("passphrase-prompt-submit").click();
  await page.getByTestId("report-state").filter({ hasText: /^final$/ }).waitFor();
  check(!(await prompt.isVisible()), "with the passphrase the report is signed off and the prompt goes");
  await page.getByTestId("addendum-sign").waitFor();
  check(
    !(await finalize.isVisible()) && (await page.getByTestId("section-findings-sign").count()) === 0 &&
      (await page.getByTestId("section-findings").locator("textarea").isDisabled()),
    "after sign-off nothing is offered to sign but an addendum",
  );
  await page.getByTestId("addendum-text").fill("Compared with prior: unchanged.");
  await page.getByTestId("addendum-sign").click();
  await page.getByTestId("report-state").filter({ hasText: /^amended$/ }).waitFor();
  check((await page.getByTestId("addenda").textContent()).includes("Compared with prior: unchanged."), "the addendum is signed");
  await page.close();
}

// A report signed off twice by sign-offs that disagree: a red banner with both sign-offs and both
// impressions side by side; the write refused after them shows as refused with its rule; keeping
// one sign-off makes the report final and the other superseded.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `conflict: page error ${e.message}`));
  await page.goto(base);
  await unlock(page);
  await page.getByTestId("study-item").filter({ hasText: "Signed off twice" }).click();
  const banner = page.getByTestId("conflict-banner");
  await banner.waitFor();
  check((await banner.textContent()).includes("Two sign-offs disagree"), "a report in conflict shows the banner");
  check((await page.getByTestId("report-state").textContent()).trim() === "conflict", "the report's state reads conflict");
  const sides = banner.getByTestId("conflict-signoff");
  check(
    (await sides.count()) === 2 && (await sides.nth(0).textContent()).includes("Dr Mock Attending") &&
      (await sides.nth(1).textContent()).includes("Dr Bob Attending"),
    "both sign-offs in force are listed with their authors",
  );
  const impressions = banner.getByTestId("conflict-impression");
  check(
    (await impressions.count()) === 2 &&
      (await impressions.nth(0).textContent()).includes("Solitary 6 mm nodule") &&
      (await impressions.nth(1).textContent()).includes("No significant abnormality."),
    "the impression each sign-off covers is shown side by side",
  );
  const boxes = await Promise.all([0, 1].map((i) => impressions.nth(i).boundingBox()));
  check(boxes[0] && boxes[1] && Math.abs(boxes[0].y - boxes[1].y) < 2 && boxes[1].x > boxes[0].x, "the two versions sit side by side");
  check((await banner.getByTestId("conflict-findings").count()) === 0, "a section both sign-offs agree on is not in the banner");
  check(!(await page.getByTestId("finalize").isVisible()), "no sign-off button while the report is in conflict");
  const refused = page.getByTestId("provenance-panel").getByTestId("provenance-entry").and(page.locator('[data-status="refused"]'));
  check((await refused.count()) === 1, "the refused write is in the provenance as refused");
  check(
    (await refused.getByTestId("entry-status").textContent()).trim() === "refused" &&
      (await refused.getByTestId("refusal-rule").textContent()).trim() === "finalised",
    "a refused entry shows its rule's code, not verified",
  );
  check(
    (await page.getByTestId("signoff-standing").filter({ hasText: "in conflict" }).count()) === 2,
    "both sign-offs are marked in conflict in the provenance",
  );
  const split = page.getByTestId("provenance-panel").getByTestId("split-view");
  check(
    (await split.count()) === 1 && (await split.textContent()).includes("Split view by") &&
      (await split.textContent()).includes("does not descend"),
    "the provenance names the key a split view was proven against, with why",
  );
  // Bob rotated his key between his impression and his sign-off: the provenance shows one
  // person, naming which of his keys signed each, as the app's view gives it.
  const keys = page.getByTestId("provenance-panel").getByTestId("author-key");
  const keyTexts = await keys.allTextContents();
  check(
    keyTexts.some((t) => t.includes("key 2 of 2, rotated on 2026-01-01")) &&
      keyTexts.some((t) => t.includes("key 1 of 2, replaced on 2026-01-01")),
    `the provenance shows a rotated key as "Dr Bob Attending (key 2 of 2, rotated on …)": ${keyTexts}`,
  );
  // Renamed since he wrote his impression: the name he signed it under is shown beside.
  const then = await page.getByTestId("provenance-panel").getByTestId("author-name-then").allTextContents();
  check(
    then.length > 0 && then.every((t) => t.includes("signed as Dr Bob Smith")),
    `the provenance names the name an entry was signed under, where the roster renamed its author since: ${then}`,
  );
  const bobsEntries = page.getByTestId("provenance-panel").getByTestId("provenance-entry").filter({ hasText: "Dr Bob Attending" });
  check((await bobsEntries.count()) >= 3, "both of Bob's keys' entries name him, one person");
  check(
    (await sides.nth(0).getByTestId("keep-signoff").count()) === 0 && (await sides.nth(1).getByTestId("keep-signoff").count()) === 1,
    "the app lets this attending keep the other attending's sign-off, not her own",
  );
  check(
    (await sides.nth(0).getByTestId("keep-refused").getByTestId("error-rule").textContent()).trim() === "self_resolve",
    "her own sign-off says why not, with the rule's code",
  );
  await page.screenshot({ path: "test-results/conflict.png" });
  await page.getByTestId("resolve-note").fill("Dr Bob's reading stands: the nodule was a vessel on review.");
  await sides.nth(1).getByTestId("keep-signoff").click();
  await page.getByTestId("report-state").filter({ hasText: /^final$/ }).waitFor();
  check(!(await banner.isVisible()), "keeping a sign-off settles the conflict: the banner goes");
  check((await page.getByTestId("keep-signoff").count()) === 0, "nothing is left to keep once the conflict is settled");
  check(
    (await page.getByTestId("section-impression").locator("textarea").inputValue()) === "No significant abnormality.",
    "the report reads as the sign-off kept",
  );
  const superseded = page.getByTestId("signoff-standing").filter({ hasText: "superseded" });
  check((await superseded.count()) === 1, "the other sign-off shows as superseded");
  check(
    (await page.getByTestId("resolution").textContent()).includes("Dr Bob's reading stands: the nodule was a vessel on review."),
    "the resolution and its note are in the provenance",
  );
  await page.screenshot({ path: "test-results/conflict-resolved.png" });
  await page.close();
}

// A report whose only sign-off no longer stands: a banner says it is withdrawn, names the
// sign-off and the rule refusing it, and the state reads withdrawn — never a quiet draft.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `withdrawn: page error ${e.message}`));
  await page.goto(base);
  await unlock(page);
  await page.getByTestId("study-item").filter({ hasText: "Sign-off withdrawn" }).click();
  const banner = page.getByTestId("withdrawn-banner");
  await banner.waitFor();
  check((await page.getByTestId("report-state").textContent()).trim() === "withdrawn", "the report's state reads withdrawn");
  check(
    (await banner.textContent()).includes("no sign-off stands") &&
      (await banner.getByTestId("withdrawn-signoff").locator("code").textContent()).trim() === "coverage_mismatch",
    "the banner names the refused sign-off and its rule",
  );
  await page.screenshot({ path: "test-results/withdrawn.png" });
  await page.close();
}

// A resident (same data, another identity): the app refuses the resident keeping a sign-off, so
// the banner offers no Keep button and says why, with the rule's code; sections may be written,
// and sign-off is not offered (not_attending is not work left on the report, so no line for it).
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `resident: page error ${e.message}`));
  await page.goto(base + "?as=resident");
  await unlock(page);
  await page.getByTestId("study-item").filter({ hasText: "Signed off twice" }).click();
  const banner = page.getByTestId("conflict-banner");
  await banner.waitFor();
  const why = banner.getByTestId("resolve-refused");
  await why.waitFor();
  check(
    (await banner.getByTestId("keep-signoff").count()) === 0 && (await page.getByTestId("resolve-note").count()) === 0,
    "a resident is offered no Keep button in a conflict",
  );
  check((await why.getByTestId("error-rule").textContent()).trim() === "role_may_not_write", "the banner says why, with the rule's code");
  check((await page.getByTestId("addenda").count()) === 0, "no addendum offered to a resident");
  await page.getByTestId("study-item").first().click();
  await page.getByTestId("section-findings-sign").waitFor();
  check(
    !(await page.getByTestId("finalize").isVisible()) && (await page.getByTestId("finalize-refused").count()) === 0,
    "a resident is offered sections to write but no sign-off",
  );
  await page.close();
}

// A report whose creation was refused (a revoked key) says so, and offers nothing to sign.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(base);
  await unlock(page);
  await page.getByTestId("study-item").filter({ hasText: "Created by a revoked key" }).click();
  const banner = page.getByTestId("refused-banner");
  await banner.waitFor();
  const text = await banner.textContent();
  check(text.includes("This report is refused") && text.includes("revoked"), "a refused report says so, with the rule");
  check(
    !(await page.getByTestId("finalize").isVisible()) && (await page.getByTestId("section-findings").locator("textarea").isDisabled()),
    "a refused report offers nothing to sign",
  );
  const create = page.getByTestId("provenance-entry").first();
  check((await create.getAttribute("data-status")) === "refused", "its creation shows as refused in the provenance");
  await page.close();
}

// A report erased on request (after a wrong-patient move): a banner names who erased it, when
// and why; every entry stays in the provenance with its author, its signature verified and the
// erasure named; nothing is offered to write. The wrong patient's study shows only a marker.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `erased: page error ${e.message}`));
  await page.goto(base);
  await unlock(page);
  await page.getByTestId("study-item").filter({ hasText: "Erased on request" }).click();
  const banner = page.getByTestId("erased-banner");
  await banner.waitFor();
  const said = await banner.textContent();
  check(
    said.includes("Erased on 2026-01-01 by Dana Protection (data-protection) — GDPR Art. 17(1)(b): consent withdrawn.") &&
      said.includes("destroyed on every peer") && said.includes("every signature, still verify"),
    `the erased report's banner says who, when, why and what is kept: ${said.replace(/\s+/g, " ").trim().slice(0, 120)}`,
  );
  check((await page.getByTestId("report-state").textContent()).trim() === "erased", "the report's state reads erased");
  check(
    (await page.getByTestId("move-line").textContent()).includes("Moved from study 2.25.4444 to study 2.25.9999") &&
      (await page.getByTestId("move-line").textContent()).includes("filed under the wrong patient"),
    "the move is named with both studies and its reason",
  );
  const items = page.getByTestId("provenance-panel").getByTestId("provenance-entry");
  const rows = await items.evaluateAll((els) => els.map((li) => ({
    status: li.dataset.status,
    what: li.querySelector('[data-testid="entry-what"]').textContent,
    words: li.querySelector('[data-testid="entry-status"]').textContent.trim(),
    who: li.querySelector(".chip")?.textContent.replace(/\s+/g, " ").trim() ?? "",
  })));
  const gone = rows.filter((r) => r.status === "erased");
  check(
    gone.length === 3 && gone.every((r) => r.words.startsWith("signature verified · erased on 2026-01-01 by Dana Protection (GDPR Art. 17")),
    `every erased entry reads "signature verified · erased on DATE by NAME (basis)": ${gone.map((r) => r.words).join(" | ")}`,
  );
  check(
    gone.some((r) => r.who.includes("Dr Bob Attending") && r.what === "wrote a section") &&
      gone.some((r) => r.who.includes("Dr Mock Attending") && r.what === "created the report"),
    "erased entries keep their author, role and what kind of entry they were",
  );
  const erasure = rows.find((r) => r.what === "erased the patient's personal data");
  check(erasure?.status === "verified" && erasure.who.includes("Dana Protection"), "the erasure itself is verified, signed by the DPO");
  check(
    (await page.getByTestId("report-editor").locator("textarea").count()) === 0 &&
      (await page.getByTestId("report-editor").locator("h2").first().textContent()) === "Erased report" &&
      !(await page.getByTestId("finalize").isVisible()) && (await page.getByTestId("erase").count()) === 0 &&
      (await page.getByTestId("addenda").count()) === 0,
    "an erased report offers no editing, no addendum, and no second erasure",
  );
  await page.screenshot({ path: "test-results/erased.png" });
  await page.getByTestId("study-item").filter({ hasText: "Report moved away" }).click();
  await page.getByTestId("report-editor").filter({ hasText: "No report yet" }).waitFor();
  check(
    (await page.getByTestId("moved-marker").textContent()).includes("moved to study 2.25.9999"),
    "the wrong patient's study lists the report only as moved, and does not open it",
  );
  await page.close();
}

// Restrict, lift, then erase the open report through the editor: the basis is typed in a
// dialog; erasing warns that it cannot be undone and asks for the passphrase again.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `erase: page error ${e.message}`));
  await page.goto(base);
  await unlock(page);
  await page.getByTestId("study-item").first().click();
  await page.getByTestId("section-findings").locator("textarea").fill("Marker text to be erased.");
  await page.getByTestId("section-findings-sign").click();
  await page.getByTestId("section-findings-sign").and(page.locator(":disabled")).waitFor();
  check((await page.getByTestId("lift").count()) === 0, "nothing to lift before a restriction");
  await page.getByTestId("restrict").click();
  const dialog = page.getByTestId("protect-dialog");
  check(await page.getByTestId("protect-confirm").isDisabled(), "restricting waits for the legal basis");
  await page.getByTestId("protect-basis").fill("GDPR Art. 18(1)(a)");
  await page.getByTestId("protect-confirm").click();
  await page.getByTestId("restricted-banner").waitFor();
  check(
    (await page.getByTestId("section-findings-withheld").count()) === 1 && (await page.getByTestId("restrict").count()) === 0,
    "restricted: the content is withheld and restricting is not offered again",
  );
  await page.getByTestId("lift").click();
  await page.getByTestId("protect-basis").fill("accuracy verified");
  await page.getByTestId("protect-confirm").click();
  await page.getByTestId("restricted-banner").waitFor({ state: "detached" });
  check(
    (await page.getByTestId("section-findings").locator("textarea").inputValue()) === "Marker text to be erased.",
    "lifted: the content shows again",
  );
  // The panel shows the findings' entries since the findings were typed in: the whole report's.
  await page.getByTestId("provenance-panel").getByRole("button", { name: "whole report" }).click();
  const words = await page.getByTestId("provenance-panel").getByTestId("entry-what").allTextContents();
  check(words.includes("restricted the report's processing") && words.includes("lifted the restriction"),
    "the provenance names the restriction and its lifting");
  await page.getByTestId("erase").click();
  check((await page.getByTestId("erase-warning").textContent()).includes("cannot be undone"), "erasing warns it cannot be undone");
  check(await page.getByTestId("protect-confirm").isDisabled(), "erasing waits for the legal basis");
  await page.getByTestId("protect-basis").fill("GDPR Art. 17(1)(b)");
  await page.getByTestId("protect-confirm").click();
  const prompt = page.getByTestId("passphrase-prompt");
  await prompt.waitFor();
  check((await prompt.textContent()).includes("Erase for good"), "erasing asks for the passphrase again");
  await page.getByTestId("passphrase-prompt-input").fill("not the passphrase");
  await page.getByTestId("passphrase-prompt-submit").click();
  await page.getByTestId("passphrase-prompt-error").filter({ hasText: "wrong passphrase" }).waitFor();
  check((await page.getByTestId("erased-banner").count()) === 0, "a wrong passphrase erases nothing");
  await page.getByTestId("passphrase-prompt-input").fill("countersign-demo");
  await page.getByTestId("passphrase-prompt-submit").click();
  await page.getByTestId("erased-banner").waitFor();
  check((await page.getByTestId("erased-banner-who").textContent()).includes("by Dr Mock Attending (attending) — GDPR Art. 17(1)(b)."),
    "the banner names who erased it and why");
  const statuses = await page.getByTestId("provenance-panel").getByTestId("provenance-entry").evaluateAll((els) =>
    els.map((li) => li.dataset.status));
  check(statuses.at(-1) === "verified" && statuses.slice(0, -1).every((x) => x === "erased"),
    `every earlier entry is erased, the erasure verified: ${statuses.join(",")}`);
  check(!(await page.content()).includes("Marker text to be erased."), "the erased text is nowhere on the page");
  await page.close();
}

// Erasing a whole patient from the study list: offered beside the selected study where the app
// says this user may erase; the dialog names the Patient ID and what it covers (the app's count),
// waits for the legal basis, and asks for the passphrase again. After it, the open report reads
// erased by whom and why, and the patient's study is gone from the list.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `erase patient: page error ${e.message}`));
  await page.goto(base);
  await unlock(page);
  await page.getByTestId("study-item").filter({ hasText: "Synthetic ramp" }).click();
  await page.getByTestId("section-findings").waitFor();
  await page.getByTestId("erase-patient").click();
  const dialog = page.getByTestId("erase-patient-dialog");
  await dialog.getByTestId("erase-patient-counts").waitFor();
  check((await dialog.getByTestId("erase-patient-id").textContent()) === "RAMP-0001", "the dialog names the Patient ID");
  check((await dialog.getByTestId("erase-patient-counts").textContent()) === "1 report in 1 study",
    `the dialog says what the app will erase: ${await dialog.getByTestId("erase-patient-counts").textContent()}`);
  check((await dialog.textContent()).includes("cannot be undone"), "erasing a patient warns it cannot be undone");
  check(await page.getByTestId("erase-patient-confirm").isDisabled(), "erasing a patient waits for the legal basis");
  await page.getByTestId("erase-patient-basis").fill("   ");
  check(await page.getByTestId("erase-patient-confirm").isDisabled(), "a blank basis is no basis");
  await page.getByTestId("erase-patient-basis").fill("GDPR Art. 17(1)(b): consent withdrawn");
  await page.screenshot({ path: "test-results/erase-patient.png" });
  await page.getByTestId("erase-patient-confirm").click();
  const prompt = page.getByTestId("passphrase-prompt");
  await prompt.waitFor();
  check((await prompt.textContent()).includes("Erase the patient for good"), "erasing a patient asks for the passphrase again");
  await page.getByTestId("passphrase-prompt-input").fill("countersign-demo");
  await page.getByTestId("passphrase-prompt-submit").click();
  await dialog.waitFor({ state: "detached" });
  await page.getByTestId("erased-banner").waitFor();
  const banner = await page.getByTestId("erased-banner").textContent();
  check(banner.includes("by Dr Mock Attending (attending) — GDPR Art. 17(1)(b): consent withdrawn.") &&
    banner.includes("Every report of this patient was erased."), "the open report reads erased, by whom, why, the whole patient");
  check((await page.getByTestId("study-item").filter({ hasText: "Synthetic ramp" }).count()) === 0,
    "the erased patient's study is gone from the list");
  check((await page.getByTestId("erase-patient").count()) === 0, "no erasure offered for a study no longer listed");
  await page.close();
}

// The app refuses a patient's erasure (here: a report of theirs whose creation is refused): the
// dialog stays, with the refusal in words and the rule's code, and nothing is erased.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `erase refused: page error ${e.message}`));
  await page.goto(base);
  await unlock(page);
  await page.getByTestId("study-item").filter({ hasText: "Created by a revoked key" }).click();
  await page.getByTestId("refused-banner").waitFor();
  await page.getByTestId("erase-patient").click();
  await page.getByTestId("erase-patient-basis").fill("GDPR Art. 17(1)(b)");
  await page.getByTestId("erase-patient-confirm").click();
  await page.getByTestId("passphrase-prompt-input").fill("countersign-demo");
  await page.getByTestId("passphrase-prompt-submit").click();
  const error = page.getByTestId("erase-patient-error");
  await error.waitFor();
  check((await error.getByTestId("error-rule").textContent()).trim() === "report_refused" &&
    (await error.textContent()).includes("the report itself (its report.create) is refused"),
    `the refusal is shown in words with its rule: ${(await error.textContent()).trim()}`);
  await page.screenshot({ path: "test-results/erase-patient-refused.png" });
  check((await page.getByTestId("erased-banner").count()) === 0, "nothing erased");
  await page.close();
}

// A report filed under the wrong patient: the attending picks the right patient's study among the
// other patients' (Patient ID, name, date, modality), gives a reason, and the report moves: it is
// shown under the right study with the move in its provenance, the wrong study shows a marker.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `move: page error ${e.message}`));
  await page.goto(base);
  await unlock(page);
  await page.getByTestId("study-item").filter({ hasText: "Synthetic ramp" }).click();
  await page.getByTestId("move-report").click();
  const dialog = page.getByTestId("move-dialog");
  const target = dialog.getByTestId("move-target").filter({ hasText: "WITHDRAWN-0001" });
  await target.waitFor();
  const listed = await dialog.getByTestId("move-target").allTextContents();
  check(listed.length > 1 && listed.every((t) => !t.includes("RAMP-0001")) &&
    (await target.textContent()).includes("Phantom^Withdrawn") && (await target.textContent()).includes("20260104 · CT"),
    `the other patients' studies are listed with ID, name, date and modality (${listed.length})`);
  check(await page.getByTestId("move-confirm").isDisabled(), "moving waits for a study and a reason");
  await target.locator("input").check();
  check(await page.getByTestId("move-confirm").isDisabled(), "moving waits for a reason");
  await page.getByTestId("move-reason").fill("registered under the wrong patient");
  await page.screenshot({ path: "test-results/move-report.png" });
  await page.getByTestId("move-confirm").click();
  await dialog.waitFor({ state: "detached" });
  const move = page.getByTestId("move-line");
  await move.waitFor();
  check((await move.textContent()).includes("Moved from study 2.25.1234 to study") &&
    (await move.textContent()).includes("registered under the wrong patient"), "the report names its move and the reason");
  const what = await page.getByTestId("provenance-panel").getByTestId("entry-what").allTextContents();
  check(what.some((w) => w.startsWith("moved the report from study 2.25.1234 to study")),
    `the provenance says the move in words: ${what.at(-1)}`);
  const active = page.locator('[data-testid="study-item"].active');
  check((await active.textContent()).includes("Sign-off withdrawn"), "the right patient's study is selected, showing the report");
  const ramp = page.getByTestId("study-item").filter({ hasText: "Synthetic ramp" });
  check((await ramp.getByTestId("moved-marker").textContent()).includes("a report moved to study"),
    "the wrong patient's study shows only the moved marker");
  await page.close();
}

// A resident is offered neither a patient's erasure nor a move (the app's answers say no).
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(base + "?as=resident");
  await unlock(page);
  await page.getByTestId("study-item").first().click();
  await page.getByTestId("section-findings-sign").waitFor();
  check((await page.getByTestId("erase-patient").count()) === 0 && (await page.getByTestId("move-report").count()) === 0,
    "a resident is offered no patient erasure and no move");
  await page.close();
}

// Add a peer at another site from the sidebar: an address without a peer id is refused in words.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(base);
  await unlock(page);
  // What sync holds against a peer, and what it set aside, are shown, not only logged.
  await page.getByTestId("sync-cut-off").filter({ hasText: "cut off: Dr Mallory" }).waitFor();
  await page.getByTestId("sync-quarantined").filter({ hasText: "2 entries quarantined" }).waitFor();
  await page.getByTestId("peer-add-toggle").click();
  await page.getByTestId("peer-add-input").fill("/ip4/10.0.0.5/tcp/4001");
  await page.getByTestId("peer-add-form").getByRole("button", { name: "Add" }).click();
  await page.getByTestId("peer-add-error").filter({ hasText: "append /p2p/" }).waitFor();
  check(true, "a peer address without /p2p/<id> is refused in words");
  await page.getByTestId("peer-add-input").fill("/ip4/10.0.0.5/tcp/4001/p2p/12D3KooWMockRemote");
  await page.getByTestId("peer-add-form").getByRole("button", { name: "Add" }).click();
  await page.getByTestId("peer-added").filter({ hasText: "added peer 12D3KooWMock" }).waitFor();
  check(!(await page.getByTestId("peer-add-error").isVisible()), "a full peer address is taken and dialled");
  await page.close();
}

// A newcomer's identity that has not joined: the app shows the key to send an admin and asks
// for an invitation; anything else is refused in words, an invitation joins and opens the app.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `newcomer: page error ${e.message}`));
  await page.goto(base + "?as=newcomer");
  await page.getByTestId("join-card").waitFor();
  check((await page.getByTestId("study-item").count()) === 0, "a home that has not joined shows no studies");
  check((await page.getByTestId("my-key").inputValue()).length === 64, "the join card shows the key to send an admin");
  await page.getByTestId("invitation").fill("join me, I am the department");
  await page.getByTestId("join").click();
  await page.locator(".first-run .error").filter({ hasText: "countersign-invite:" }).waitFor();
  check(true, "text that is not an invitation is refused in words");
  await page.getByTestId("invitation").fill("countersign-invite:AQ-mock");
  await page.getByTestId("join").click();
  // Joined, the app asks for the passphrase before anything else, as for any home with a key.
  await page.getByTestId("unlock-screen").waitFor();
  await unlock(page);
  await page.getByTestId("study-item").first().waitFor();
  check(!(await page.getByTestId("join-card").isVisible()), "an invitation joins and opens the app");
  await page.close();
}

// The AI oversight view (issue 17) on the mock's AI department: reachable from the sidebar
// and by O; per model version the app's counts and rates; a count opens the proposals behind
// it, and one of those opens its report at that entry; the filters go to the app (ai_stats);
// entries that do not verify are flagged, never hidden; charts drawn.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `oversight: page error ${e.message}`));
  await page.goto(base);
  await unlock(page);
  await page.keyboard.press("o");
  await page.getByTestId("ai-oversight").waitFor();
  check(true, "O opens the AI oversight view");
  await page.keyboard.press("o");
  await page.getByTestId("ai-oversight").waitFor({ state: "detached" });
  await page.getByTestId("open-oversight").click();
  const v2 = page.locator('[data-testid="oversight-version"][data-model="soft-tissue-stats"][data-version="2.0.0"]');
  await v2.waitFor();
  // What the app answered, as the page got it: the figures shown are its figures.
  const truth = await page.evaluate(async () => {
    const { invoke } = window.__TAURI_INTERNALS__;
    return invoke("ai_stats", { model: null, since: null, modality: null });
  });
  const m2 = truth.models.find((m) => m.model === "soft-tissue-stats" && m.version === "2.0.0");
  const text = async (l) => (await l.textContent()).trim();
  check(await text(v2.getByTestId("acceptance-rate")) === `${(m2.acceptance_rate * 100).toFixed(1)}%`,
    `soft-tissue-stats 2.0.0: acceptance ${await text(v2.getByTestId("acceptance-rate"))}, as the app's ${m2.acceptance_rate}`);
  check(await text(v2.getByTestId("count-proposals")) === String(m2.proposals),
    `soft-tissue-stats 2.0.0: ${m2.proposals} proposals shown`);
  check(await text(v2.getByTestId("rate-rejected")) === `${(m2.rejection_rate * 100).toFixed(1)}%`,
    `its rejection rate is the app's (${await text(v2.getByTestId("rate-rejected"))})`);
  check(await page.getByTestId("oversight-version").count() === truth.models.length,
    `every model version listed (${truth.models.length})`);
  // Drift between the two versions, side by side; the monthly chart, one line per version;
  // the stacked bar of outcomes.
  const drift = await text(page.getByTestId("drift").first());
  check(drift.includes("1.0.0") && drift.includes("2.0.0") && /[+−]\d+\.\d points/.test(drift), `drift shown: ${drift.replace(/\s+/g, " ")}`);
  const dots = await page.getByTestId("month-point").count();
  const months = truth.models.reduce((n, m) => n + m.months.filter((x) => x.acceptance_rate !== null).length, 0);
  check(dots === months && months > 0, `the monthly chart has a point per month with reviews (${dots} of ${months})`);
  const outcomes = ["accepted", "edited", "rejected", "unreviewed"].filter((o) => m2[o] > 0);
  const segments = await v2.getByTestId("outcome-bar").locator("rect").evaluateAll((rs) => rs.map((r) => r.dataset.outcome));
  check(segments.join(",") === outcomes.join(",") && outcomes.length >= 3,
    `the outcome bar stacks the outcomes with any proposals (${segments.join(", ")})`);
  // Excluded entries are flagged with their reason.
  const excluded = page.getByTestId("excluded-entry");
  check(await excluded.count() === truth.excluded.length && truth.excluded.length === 2,
    `${truth.excluded.length} excluded entries listed with their reasons`);
  check((await text(page.getByTestId("oversight-excluded-banner"))).includes("not verify"), "and flagged at the top");
  check((await text(excluded.first())).includes("does not verify"), `reason shown: ${(await text(excluded.first())).replace(/\s+/g, " ")}`);

  // A count clicks through to the proposals behind it, and one of those to its report.
  await v2.getByTestId("count-accepted").click();
  const rows = page.getByTestId("proposal-list").getByTestId("proposal-row");
  await rows.first().waitFor();
  check(await rows.count() === m2.accepted, `the accepted count lists ${await rows.count()} proposals (${m2.accepted})`);
  const entry = await rows.first().getAttribute("data-entry");
  const reportId = await rows.first().getAttribute("data-report");
  check(m2.accepted_results.includes(entry) && truth.reports[entry] === reportId, "each listed proposal is one the app counted, with its report");
  await page.getByTestId("proposal-list").locator("td.small").first().filter({ hasText: /\d/ }).waitFor();
  check(true, "with when it was signed, read from its report");
  await rows.first().click();
  const focused = page.locator('[data-testid="provenance-entry"][data-focused="true"]');
  await focused.waitFor();
  check(await focused.getAttribute("data-entry") === entry, "clicking it opens its report at that entry in the provenance panel");
  check((await text(focused)).includes("ai.result"), "the entry pointed out is the AI result");
  check(await page.getByTestId("ai-oversight").count() === 0, "the oversight view gives way to the report");
  await page.screenshot({ path: "test-results/oversight-report.png" });

  // Filters go to the app: each change asks ai_stats again with it.
  await page.getByTestId("open-oversight").click();
  await v2.waitFor();
  await page.getByTestId("oversight-model").selectOption("soft-tissue-stats");
  await page.waitForFunction(() => window.__mockAiStatsCalls.at(-1)?.model === "soft-tissue-stats");
  await page.getByTestId("oversight-since").fill("2026-01-01");
  await page.getByTestId("oversight-since").press("Enter");
  await page.waitForFunction(() => window.__mockAiStatsCalls.at(-1)?.since === "2026-01-01");
  await page.getByTestId("oversight-modality").selectOption("CT");
  await page.waitForFunction(() => window.__mockAiStatsCalls.at(-1)?.modality === "CT");
  check(true, `the filters are sent to ai_stats: ${JSON.stringify(await page.evaluate(() => window.__mockAiStatsCalls.at(-1)))}`);
  const filtered = await page.evaluate(() => window.__TAURI_INTERNALS__.invoke("ai_stats", { model: "soft-tissue-stats", since: "2026-01-01", modality: "CT" }));
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="oversight-version"]').length === n, filtered.models.length);
  const proposals = await page.getByTestId("count-proposals").allTextContents();
  check(proposals.join(",") === filtered.models.map((m) => m.proposals).join(",") && filtered.models.every((m) => m.model === "soft-tissue-stats") &&
    await page.locator('[data-testid="oversight-version"][data-version="1.0.0"]').count() === 0,
    `the view shows the filtered figures (${proposals.join(",")} proposals of ${filtered.models.map((m) => m.version).join(", ")})`);
  await page.screenshot({ path: "test-results/oversight-filtered.png", fullPage: true });
  await page.getByTestId("oversight-model").selectOption({ index: 0 });
  // A date that is not one: the app's refusal in words, then no date filter again.
  await page.getByTestId("oversight-since").fill("01/12/2026");
  await page.getByTestId("oversight-since").press("Enter");
  await page.locator('[data-testid="ai-oversight"] .error').filter({ hasText: "YYYY-MM-DD" }).waitFor();
  check(true, "a since that is not a YYYY-MM-DD date is refused by the app, in words");
  await page.getByTestId("oversight-since").fill("");
  await page.getByTestId("oversight-since").press("Enter");
  await page.getByTestId("oversight-modality").selectOption({ index: 0 });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="oversight-version"]').length === 3);
  await page.screenshot({ path: "test-results/oversight.png", fullPage: true });
  await page.close();
}

// AutoText: a macro's name then Tab expands it in place with its first [field] selected; Tab and
// Shift+Tab move between the fields (and past the last one, the focus moves on as usual); Ctrl+K
// opens the palette of the section's macros, filtered as typed, Enter inserts; sign-off is refused
// naming the unfilled field (the app's rule, shown as the app words it) until it is filled.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `autotext: page error ${e.message}`));
  await page.goto(base);
  await unlock(page);
  await page.getByTestId("study-item").first().click();
  await page.getByTestId("report-editor").waitFor();
  const selected = (id) => page.evaluate((id) => {
    const t = document.querySelector(`[data-testid="${id}"]`);
    return document.activeElement === t ? t.value.slice(t.selectionStart, t.selectionEnd) : null;
  }, id);
  const findings = page.getByTestId("section-findings-text");
  await findings.click();
  await page.keyboard.type("nodule");
  await page.keyboard.press("Tab");
  await page.waitForFunction(() => document.querySelector('[data-testid="section-findings-text"]').value.startsWith("A [size] mm solid nodule"));
  check((await selected("section-findings-text")) === "[size]", "a macro's name then Tab expands it, its first field selected");
  await page.keyboard.press("Tab");
  check((await selected("section-findings-text")) === "[lobe]", "Tab selects the next field");
  await page.keyboard.press("Shift+Tab");
  check((await selected("section-findings-text")) === "[size]", "Shift+Tab the previous one");
  await page.keyboard.type("12");
  await page.keyboard.press("Tab");
  check((await selected("section-findings-text")) === "[lobe]", "typing replaces the field; Tab goes on to the next");
  await page.getByTestId("section-findings-sign").click();
  await page.getByTestId("section-findings-sign").and(page.locator(":disabled")).waitFor();
  // A section without macros: Tab moves the focus on, as everywhere.
  const technique = page.getByTestId("section-technique-text");
  await technique.fill("Low-dose CT.");
  await technique.press("Tab");
  check(await page.evaluate(() => document.activeElement?.getAttribute("data-testid") !== "section-technique-text"),
    "with no field to go to, Tab moves the focus as usual");
  await page.getByTestId("section-technique-sign").click();
  await page.getByTestId("section-technique-sign").and(page.locator(":disabled")).waitFor();
  // The palette lists only the impression's macros, filters as typed, Enter inserts.
  const impression = page.getByTestId("section-impression-text");
  await impression.click();
  await page.keyboard.press("Control+k");
  const palette = page.getByTestId("macro-palette");
  await palette.waitFor();
  const offered = await page.getByTestId("macro-option").evaluateAll((xs) => xs.map((x) => x.dataset.name));
  check(offered.join(",") === "nodule-impression", `Ctrl+K lists the section's macros (${offered.join(",")})`);
  await page.screenshot({ path: "test-results/autotext-palette.png" });
  await page.keyboard.type("zzz");
  await page.getByTestId("macro-none").waitFor();
  check(true, "the palette filters as typed");
  await page.getByTestId("macro-filter").fill("follow");
  await page.keyboard.press("Enter");
  await palette.waitFor({ state: "detached" });
  check((await selected("section-impression-text")) === "[size]", "Enter inserts the macro, its first field selected");
  for (const v of ["12", "right upper lobe", "3", "6 months"]) {
    await page.keyboard.type(v);
    await page.keyboard.press("Tab");
  }
  check((await impression.inputValue()) === "Solitary 12 mm pulmonary nodule in the right upper lobe. Lung-RADS 3; follow-up CT in 6 months.",
    "every field filled by typing and Tab");
  await page.getByTestId("section-impression-sign").click();
  await page.getByTestId("section-impression-sign").and(page.locator(":disabled")).waitFor();
  // Sign-off is refused, naming the section and the field left.
  const refused = page.getByTestId("finalize-refused");
  await refused.filter({ hasText: "Findings: [lobe] is not filled" }).waitFor();
  check((await refused.getByTestId("error-rule").textContent()).trim() === "field_unfilled",
    "sign-off is refused naming the unfilled field, with the rule's code");
  check((await page.getByTestId("provenance-panel").getByTestId("entry-macros").allTextContents()).some((t) => t.includes("nodule")),
    "the provenance names the macro a text came from");
  await page.screenshot({ path: "test-results/autotext-refused.png" });
  await findings.click();
  await page.evaluate(() => document.querySelector('[data-testid="section-findings-text"]').setSelectionRange(0, 0));
  await page.keyboard.press("Tab");
  check((await selected("section-findings-text")) === "[lobe]", "Tab from the start finds the field left");
  await page.keyboard.type("right upper lobe");
  await page.getByTestId("section-findings-sign").click();
  await page.getByTestId("finalize").waitFor();
  check(!(await refused.isVisible()), "filled: the app allows sign-off");
  await page.keyboard.press("?");
  check((await page.getByTestId("cheat-sheet").textContent()).includes("Ctrl + K"), "the cheat sheet lists the AutoText keys");
  await page.close();
}

// A macro's text kept as a draft in the home (which keeps text only): back on the report, the
// editor finds the macro the draft was built from, so Tab still reaches its field and the write
// names it (the field left then still blocks sign-off).
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `autotext draft: page error ${e.message}`));
  await page.goto(base);
  await unlock(page);
  await page.getByTestId("study-item").first().click();
  const findings = page.getByTestId("section-findings-text");
  await findings.click();
  await page.keyboard.type("nodule");
  await page.keyboard.press("Tab");
  await page.keyboard.type("7");
  await page.getByTestId("study-item").nth(1).click();
  await page.getByTestId("study-item").first().click();
  await page.waitForFunction(() => document.querySelector('[data-testid="section-findings-text"]')?.value.startsWith("A 7 mm solid nodule in the [lobe]"));
  await findings.click();
  await page.waitForFunction(() => document.querySelector('[data-testid="section-findings-text"]')?.dataset.macros === "loaded");
  await page.evaluate(() => document.querySelector('[data-testid="section-findings-text"]').setSelectionRange(0, 0));
  await page.keyboard.press("Tab");
  const sel = await page.evaluate(() => { const t = document.activeElement; return t.value.slice(t.selectionStart, t.selectionEnd); });
  check(sel === "[lobe]", `a draft built from a macro: Tab still finds its field (${sel})`);
  await page.getByTestId("section-findings-sign").click();
  await page.getByTestId("provenance-panel").getByTestId("entry-macros").filter({ hasText: "nodule" }).waitFor();
  check(true, "a draft built from a macro is signed naming the macro");
  await page.close();
}

// Findings linked to images: a length measured on frame 2 of the multi-frame image, inserted
// into Findings (its text gets "[fig 1]", a chip appears), then the viewer moved away; clicking
// the chip shows that image and frame again with the line drawn, and the overlay says which. An
// arrow (A, a click) and a key image (K) are inserted the same way; a link clicked in the
// provenance panel shows its own annotation.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `links: page error ${e.message}`));
  await page.goto(base);
  await unlock(page);
  await page.getByTestId("study-item").first().click();
  const position = page.getByTestId("slice-position");
  await position.filter({ hasText: "frame 1/3" }).waitFor();
  await page.keyboard.press("ArrowRight");
  await position.filter({ hasText: "frame 2/3" }).waitFor();
  const canvas = page.getByTestId("viewer-canvas");
  const box = await canvas.boundingBox();
  const at = (fx, fy) => [box.x + box.width * fx, box.y + box.height * fy];
  await page.keyboard.press("l");
  const drawLength = async () => {
    await page.mouse.move(...at(0.4, 0.5));
    await page.mouse.down();
    await page.mouse.move(...at(0.6, 0.5), { steps: 4 });
    await page.mouse.up();
    await page.getByTestId("sign-measurement").waitFor();
  };
  // A length drawn, then another frame shown: dropped, never signed against the frame on
  // screen (a prior's follow can move this viewport without the reader touching it).
  await drawLength();
  await page.keyboard.press("ArrowLeft");
  await position.filter({ hasText: "frame 1/3" }).waitFor();
  check((await page.getByTestId("sign-measurement").count()) === 0, "a length not yet signed is dropped when another frame is shown");
  await page.keyboard.press("ArrowRight");
  await position.filter({ hasText: "frame 2/3" }).waitFor();
  await drawLength();
  await page.getByTestId("sign-measurement").click();
  await page.getByTestId("insert-measurement").first().waitFor();
  const findings = page.getByTestId("section-findings").locator("textarea");
  await findings.fill("A small nodule.");
  await page.getByTestId("insert-measurement").first().click();
  const chip = page.getByTestId("section-findings-links").getByTestId("link-chip");
  await chip.first().waitFor();
  check((await findings.inputValue()) === "A small nodule. [fig 1]", `the marker is appended to the typed text (${await findings.inputValue()})`);
  check((await chip.first().textContent()).startsWith("[fig 1] ") && (await chip.first().getAttribute("data-kind")) === "length",
    `the section shows the link as a chip (${await chip.first().textContent()})`);
  // Away to the other image: no annotation there.
  await page.keyboard.press("l");
  await page.keyboard.press("ArrowUp");
  await position.filter({ hasText: /^Image 1\/2/ }).waitFor();
  check((await page.getByTestId("link-annotation").count()) === 0, "no annotation on another image");
  await chip.first().click();
  await position.filter({ hasText: "Image 2/2 · frame 2/3" }).waitFor();
  const annotation = page.getByTestId("link-annotation");
  await annotation.waitFor();
  check((await annotation.getAttribute("data-kind")) === "length" && (await annotation.locator("line").count()) === 1,
    "clicking the chip shows image 2, frame 2, with the measured line drawn");
  check((await page.getByTestId("link-overlay").textContent()).includes("[fig 1]") &&
    (await page.getByTestId("link-overlay").textContent()).includes("frame 2"),
    `the overlay says which link and frame it shows (${await page.getByTestId("link-overlay").textContent()})`);
  // An arrow: A, a click, insert; a key image: K, insert. Both into Findings (the focused
  // section); the arrow where the writer left the cursor (after "nodule"), the key image at the
  // end (the report reloaded after the arrow, so no cursor is known in its new text).
  await findings.click();
  await page.keyboard.press("Home");
  for (let i = 0; i < "A small nodule".length; i++) await page.keyboard.press("ArrowRight");
  await findings.evaluate((el) => el.blur());
  await page.keyboard.press("a");
  await page.getByTestId("overlay-zoom").filter({ hasText: "arrow tool" }).waitFor();
  // Pressed at the tip, dragged down and to the left: the tail starts there.
  await page.mouse.move(...at(0.5, 0.4));
  await page.mouse.down();
  await page.mouse.move(...at(0.35, 0.7), { steps: 5 });
  await page.mouse.up();
  await page.getByTestId("insert-arrow").click();
  await chip.nth(1).waitFor();
  check((await position.textContent()).includes("Image 2/2 · frame 2/3"), "inserting keeps the viewer on its frame");
  await page.keyboard.press("a");
  await page.keyboard.press("k");
  await page.getByTestId("insert-key-image").click();
  await chip.nth(2).waitFor();
  check((await chip.allTextContents()).join(" | ") === `${await chip.first().textContent()} | [fig 2] arrow | [fig 3] key image`,
    `arrow and key image are linked too (${(await chip.allTextContents()).join(" | ")})`);
  check((await findings.inputValue()) === "A small nodule [fig 2]. [fig 1] [fig 3]",
    `each marker is in the text, the arrow's where the cursor was (${await findings.inputValue()})`);
  // From the provenance panel: the newest findings version's links.
  await page.keyboard.press("ArrowUp");
  await position.filter({ hasText: /^Image 1\/2/ }).waitFor();
  const fromProvenance = page.getByTestId("provenance-panel").getByTestId("provenance-link");
  await fromProvenance.filter({ hasText: "[fig 2] arrow" }).last().click();
  await position.filter({ hasText: "Image 2/2 · frame 2/3" }).waitFor();
  await annotation.and(page.locator('[data-kind="arrow"]')).waitFor();
  check((await annotation.locator("line").count()) === 3, "a link clicked in the provenance panel shows its arrow");
  const shaft = await annotation.locator("line").first().evaluate((l) => ["x1", "y1", "x2", "y2"].map((a) => Number(l.getAttribute(a))));
  check(shaft[0] < shaft[2] && shaft[1] > shaft[3], `its tail where it was dragged to, below and left of the tip (${shaft.map(Math.round).join(",")})`);
  await fromProvenance.filter({ hasText: "[fig 3] key image" }).last().click();
  await annotation.and(page.locator('[data-kind="key-image"]')).waitFor();
  check((await annotation.locator("rect").count()) === 1 && (await position.textContent()).includes("frame 2/3"),
    "and a key image shows framed, on the frame it was inserted from");
  await page.screenshot({ path: "test-results/links.png" });
  await page.close();
}

// The Worklist beside the local studies: rows from the mock's two archives (one down, its list
// kept and said to be), sorted by a header, filtered, and a study not yet here retrieved with its
// progress, then shown in the viewer; with no archive, "Connect an archive" instead of a table.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `worklist: page error ${e.message}`));
  await page.goto(base);
  await unlock(page);
  await page.keyboard.press("w");
  const rows = page.getByTestId("worklist-row");
  await rows.first().waitFor();
  check((await rows.count()) === 8, `W opens the worklist with every archive's studies (${await rows.count()})`);
  const unreachable = page.getByTestId("archive-unreachable");
  check((await unreachable.count()) === 1 && (await unreachable.getAttribute("data-archive")) === "legacy" &&
    /legacy is unreachable: its list as of (\d{4}-\d\d-\d\d )?\d\d:\d\d/.test(await unreachable.textContent()) &&
    (await unreachable.textContent()).includes("pacs_unreachable"),
    `the down archive is said to be unreachable, with its code and its list's time (${await unreachable.textContent()})`);
  check((await rows.filter({ hasText: "Chest X-ray" }).count()) === 1, "its kept rows are still listed");
  const dates = async () => (await rows.locator("td:nth-child(2)").allTextContents());
  const byDate = await dates();
  check(byDate.join() === [...byDate].sort().reverse().join(), `newest first (${byDate.join()})`);
  await page.getByTestId("sort-patient").click();
  const patients = await rows.locator("td.patient").allTextContents();
  check(patients.join() === [...patients].sort().join() && patients[0].startsWith("Phantom, Another"),
    `a click on Patient sorts by patient (${patients.join()})`);
  await page.getByTestId("sort-patient").click();
  const back = await rows.locator("td.patient").allTextContents();
  check(back.join() === [...patients].reverse().join(), "a second click turns it around");
  const state = page.locator('[data-testid="worklist-row"][data-study="2.25.5678"] [data-testid="worklist-report"]');
  check((await state.textContent()) === "conflict", "a study's report state is this department's (conflict)");
  await page.getByTestId("worklist-modality").selectOption("MR");
  check((await rows.count()) === 1 && (await rows.first().textContent()).includes("MR brain"), "filtered by modality");
  await page.getByTestId("worklist-modality").selectOption("");
  await page.getByTestId("worklist-filter").fill("follow-up");
  check((await rows.count()) === 1, "filtered by text");
  await page.getByTestId("worklist-filter").fill("");
  await page.getByTestId("worklist-since").fill("2026-02-01");
  check((await rows.count()) === 2, `filtered by date (${await rows.count()})`);
  await page.getByTestId("worklist-since").fill("");
  // Not yet here (0/3): retrieved with a progress bar, and opened in the viewer as soon as its
  // first instance is stored (first-image), its image list growing as the rest is stored.
  const wanted = page.locator('[data-testid="worklist-row"][data-study="2.25.7001"]');
  check((await wanted.getByTestId("worklist-instances").textContent()) === "0/3", "instances local/total");
  await wanted.click();
  await page.getByTestId("retrieve-progress").waitFor();
  check(true, "the retrieval shows its progress");
  const position = page.getByTestId("slice-position");
  await position.waitFor();
  const atOpen = await position.textContent();
  check(/Image 1\/[12]\b/.test(atOpen), `the study opens on its first stored image, before the rest has arrived (${atOpen})`);
  check((await page.getByTestId("worklist").count()) === 0, "then the study opens in the viewer");
  await position.filter({ hasText: /Image 1\/3\b/ }).waitFor();
  check(true, "its image list grows to the whole study as the rest is stored, the image shown kept");
  check((await page.locator('[data-testid="study-item"][data-study="2.25.7001"]').getAttribute("class")).includes("active"),
    "and it is now a local study, selected");
  await page.getByTestId("open-worklist").click();
  await wanted.getByTestId("worklist-instances").filter({ hasText: "3/3" }).waitFor();
  check(true, "the worklist shows it here now (3/3)");
  // Already here: opens at once, without a retrieval.
  await page.locator('[data-testid="worklist-row"][data-study="2.25.1234"]').click();
  await page.getByTestId("slice-position").waitFor();
  check((await page.getByTestId("retrieve-progress").count()) === 0, "a local study opens at once");
  // The down archive's study: the error in words, with its code.
  await page.keyboard.press("w");
  await page.locator('[data-testid="worklist-row"][data-study="2.25.7101"]').click();
  const error = page.getByTestId("retrieve-error");
  await error.waitFor();
  check((await error.textContent()).includes("pacs_unreachable"), `a failed retrieval says why (${await error.textContent()})`);
  // Cut short after the study opened: the viewer says not all of it arrived, and why.
  await page.locator('[data-testid="worklist-row"][data-study="2.25.7005"]').click();
  const cut = page.getByTestId("retrieve-failed");
  await cut.waitFor();
  check((await cut.textContent()).includes("Not all of this study arrived") && (await cut.textContent()).includes("connection was reset") &&
    (await page.getByTestId("slice-position").textContent()).includes("Image 1/1"),
    `a retrieval cut short after the study opened is said in the viewer (${(await cut.textContent()).trim()})`);
  await page.getByTestId("open-worklist").click();
  // The archives pane: a test's round trip and a down archive's error.
  await page.getByTestId("open-archives").click();
  await page.locator('[data-testid="archive"][data-archive="orthanc"] [data-testid="archive-test"]').click();
  await page.getByTestId("archive-rtt").waitFor();
  check((await page.getByTestId("archive-rtt").textContent()).includes("3.2 ms"), "Test shows the round trip");
  await page.locator('[data-testid="archive"][data-archive="legacy"] [data-testid="archive-test"]').click();
  await page.getByTestId("archive-test-error").waitFor();
  check((await page.getByTestId("archive-test-error").textContent()).includes("pacs_unreachable"), "or the error, with its code");
  await page.screenshot({ path: "test-results/worklist.png" });
  await page.close();
}
// A prior beside the current study (issue 15): the patient's other studies listed newest first
// (the down archive said to be), one not yet here retrieved and opened beside the current one;
// scrolling the current one moves the prior to the slice nearest by position (3 mm slices beside
// 10 mm ones: not the same index), the window linked (and not, once unlinked), and Re-align
// keeping the offset between two slices the reader says match.
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `priors: page error ${e.message}`));
  await page.goto(base);
  await unlock(page);
  // The binding badge: the ramp study's report binds its images (a tick); a study with no
  // report has no badge at all (nothing to match, so no reassuring tick).
  await page.locator('[data-testid="study-item"][data-study="2.25.1234"]').click();
  await page.locator('[data-testid="hash-badge"][data-binding="ok"]').waitFor();
  check((await page.getByTestId("hash-badge").textContent()).includes("image matches report"), "an image the report binds is said to be");
  await page.keyboard.press("w");
  await page.locator('[data-testid="worklist-row"][data-study="2.25.7001"]').click();
  const current = page.locator('.viewport:not(.prior) [data-testid="slice-position"]');
  await current.filter({ hasText: /Image 1\/3\b/ }).waitFor();
  check((await page.getByTestId("hash-badge").count()) === 0, "a study with no report: no binding badge");
  await page.getByTestId("open-priors").click();
  const rows = page.getByTestId("prior-row");
  await rows.first().waitFor();
  const listed = await rows.evaluateAll((r) => r.map((x) => x.dataset.study));
  check(listed.join() === "2.25.7002,2.25.7004", `the patient's other studies, newest first (${listed.join()})`);
  check((await page.getByTestId("priors-unreachable").textContent()).includes("legacy"), "an archive that did not answer is said to");
  const issuers = await page.getByTestId("prior-issuer").allTextContents();
  check(issuers.length === 1 && issuers[0].includes("HOSP-A"), `a prior's Issuer of Patient ID is shown where the archive gave one (${issuers})`);
  await page.locator('[data-testid="prior-row"][data-study="2.25.7004"]').click();
  const pane = page.getByTestId("prior-pane");
  await pane.waitFor();
  check((await pane.getByTestId("viewport-label").textContent()).includes("20250301"), "the prior opens beside the current study, labelled");
  const prior = pane.getByTestId("slice-position");
  await prior.filter({ hasText: /Image \d+\/8\b/ }).waitFor();
  const at = async (l) => ({ index: Number(await l.getAttribute("data-index")), position: Number(await l.getAttribute("data-position")) });
  /** Waits until the prior shows the slice at `mm`, and says what it shows. */
  const priorAt = async (mm) => {
    await pane.locator(`[data-testid="slice-position"][data-position="${mm}"]`).waitFor({ timeout: 5000 }).catch(() => {});
    return at(prior);
  };
  check((await at(current)).position === 0 && (await priorAt(0)).index === 0, "it starts at the current slice's position");
  await page.keyboard.press("ArrowDown");
  const one = await priorAt(9);
  check((await at(current)).position === 10 && one.index === 3 && one.position === 9,
    `current at 10 mm: the prior shows its nearest slice, 9 mm (index ${one.index}, ${one.position} mm), not index 1`);
  await page.keyboard.press("ArrowDown");
  const two = await priorAt(21);
  check(two.index === 7 && two.position === 21, `current at 20 mm: the prior at 21 mm (${two.position})`);
  // The window, linked: a preset in the current viewport is the prior's too.
  const win = (l) => l.getByTestId("overlay-window").textContent();
  const currentPane = page.locator(".viewport:not(.prior)");
  await page.keyboard.press("2");
  await pane.getByTestId("overlay-window").filter({ hasText: await win(currentPane) }).waitFor({ timeout: 5000 }).catch(() => {});
  check((await win(pane)) === (await win(currentPane)), `W/L linked: the prior takes the current window (${await win(pane)})`);
  await page.getByTestId("link-window").uncheck();
  await currentPane.getByTestId("viewer-canvas").click({ position: { x: 20, y: 20 } });
  await page.keyboard.press("3");
  await currentPane.getByTestId("overlay-window").filter({ hasNotText: await win(pane) }).waitFor({ timeout: 5000 }).catch(() => {});
  check((await win(pane)) !== (await win(currentPane)), `unlinked: it keeps its own (${await win(pane)} beside ${await win(currentPane)})`);
  // The keys follow the viewport clicked: the prior scrolled on its own, then re-aligned there.
  await pane.getByTestId("viewer-canvas").click({ position: { x: 20, y: 20 } });
  await page.keyboard.press("ArrowUp");
  await page.keyboard.press("ArrowUp");
  const moved = await priorAt(15);
  check(moved.position === 15, `keys scroll the viewport clicked: the prior at 15 mm (${moved.position})`);
  await page.getByTestId("realign").click();
  // The current study followed the prior back (15 mm: its 10 mm slice, the nearer of a tie):
  // Re-align takes the two slices on screen now, 15 − 10 mm.
  check((await page.getByTestId("offset").textContent()).includes("5.0") && !(await page.getByTestId("offset").textContent()).includes("-"),
    `Re-align keeps the offset between the slices on screen (${await page.getByTestId("offset").textContent()})`);
  await currentPane.getByTestId("viewer-canvas").click({ position: { x: 20, y: 20 } });
  await page.keyboard.press("ArrowUp");
  const realigned = await priorAt(6);
  check(realigned.position === 6, `then current at 0 mm shows the prior at 5 mm's nearest, 6 mm (${realigned.position})`);
  // Its report: the archive's PDF, saved in the home, opened by its instance (never a path);
  // the MR prior's is the archive's SR, read as text.
  await page.getByTestId("prior-report-pdf").waitFor();
  await page.getByTestId("open-prior-pdf").click();
  await page.waitForFunction(() => (window.openedPdfs ?? []).length === 1);
  check((await page.evaluate(() => window.openedPdfs.join())) === "2.25.7004.9.1", "the prior's PDF report opens by its SOP Instance UID");
  await page.screenshot({ path: "test-results/priors.png" });
  await page.getByTestId("open-priors").click();
  await page.locator('[data-testid="prior-row"][data-study="2.25.7002"]').click();
  await page.locator('[data-testid="prior-report"][data-source="archive-sr"]').waitFor();
  const lines = await page.getByTestId("prior-report-line").allTextContents();
  check(lines.length === 2 && lines[0].includes("No intracranial haemorrhage") && lines[1].includes("Normal MR brain"),
    `the MR prior's report is the archive's SR, its text in order (${lines.join(" | ")})`);
  check((await page.getByTestId("prior-report").textContent()).includes("Dr Outside Reader"), "with who wrote it");
  check((await page.getByTestId("prior-report-others").textContent()).includes("1 other report"), "and the other reports the archive holds on it");
  await page.screenshot({ path: "test-results/priors-sr.png" });
  await page.getByTestId("close-prior").click();
  check((await page.getByTestId("prior-pane").count()) === 0 && (await page.locator("aside.provenance").count()) === 1,
    "Close prior: one viewport again, the provenance panel back");
  await page.close();
}
{
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => check(false, `no archive: page error ${e.message}`));
  await page.goto(base + "?noarchive");
  await unlock(page);
  await page.getByTestId("open-worklist").click();
  await page.getByTestId("connect-archive").waitFor();
  check((await page.getByTestId("worklist-row").count()) === 0, "no archive: \"Connect an archive\", not an empty table");
  await page.getByTestId("archive-name").fill("pacs");
  await page.getByTestId("archive-url").fill("http://pacs.example:8042/dicom-web");
  await page.getByTestId("archive-add").click();
  await page.locator('[data-testid="archive"][data-archive="pacs"]').waitFor();
  check(true, "an archive added is listed");
  await page.getByTestId("archive-name").fill("bad name");
  await page.getByTestId("archive-url").fill("http://x");
  await page.getByTestId("archive-add").click();
  await page.getByTestId("archives-error").waitFor();
  check((await page.getByTestId("archives-error").textContent()).includes("invalid_input"), "a bad one is refused with its code");
  // A DIMSE archive reached by C-MOVE: its port passes the field's own check (the pattern
  // was once read by Svelte as an expression, "[0-9]5", and the browser refused every port).
  await page.getByTestId("archive-protocol").selectOption("dimse");
  await page.getByTestId("archive-name").fill("legacy2");
  await page.getByTestId("archive-address").fill("ARCHIVE@10.1.2.3:104");
  await page.getByTestId("archive-move-port").fill("4104");
  check(await page.getByTestId("archive-move-port").evaluate((i) => i.checkValidity()), "a C-MOVE port of four digits is a valid entry");
  await page.getByTestId("archive-add").click();
  await page.locator('[data-testid="archive"][data-archive="legacy2"]').waitFor();
  check(true, "a DIMSE archive with a C-MOVE port is added");
  await page.locator('[data-testid="archive"][data-archive="legacy2"] [data-testid="archive-remove"]').click();
  await page.getByTestId("archive-protocol").selectOption("dicomweb");
  await page.locator('[data-testid="archive"][data-archive="pacs"] [data-testid="archive-remove"]').click();
  await page.getByTestId("demo-archive-start").click();
  await page.getByTestId("demo-archive-running").waitFor();
  await page.getByTestId("worklist-row").first().waitFor();
  check((await page.getByTestId("worklist-row").first().textContent()).includes("Shepp"), "the demo archive's studies are on the worklist");
  await page.screenshot({ path: "test-results/archives.png" });
  await page.close();
}

await browser.close();
server.close();
if (failures) {
  console.error(`${failures} browser check(s) failed`);
  process.exit(1);
}
console.log("all browser checks passed");
