// A W3C WebDriver session on the real app (tauri-driver at WEBDRIVER_URL), spoken directly: a
// handful of requests need no client library. Shared by the end-to-end scripts.

const driver = process.env.WEBDRIVER_URL ?? "http://127.0.0.1:4444";
const ELEMENT = "element-6066-11e4-a52e-4f735466cecc";

export async function wd(method, path, body) {
  const res = await fetch(driver + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok || json.value?.error) throw new Error(`${method} ${path}: ${JSON.stringify(json.value)}`);
  return json.value;
}

/** Launches `app` (it finds its home in COUNTERSIGN_HOME, which tauri-driver passes on) and
 *  returns the session's helpers. */
export async function openSession(app) {
  const session = await wd("POST", "/session", {
    capabilities: { alwaysMatch: { "tauri:options": { application: app } } },
  });
  const s = `/session/${session.sessionId}`;
  // The W3C element key, or the legacy one some drivers still send.
  const ref = (e) => e[ELEMENT] ?? e.ELEMENT ?? Object.values(e)[0];
  const find = async (css) => ref(await wd("POST", `${s}/element`, { using: "css selector", value: css }));
  const findAll = async (css) =>
    (await wd("POST", `${s}/elements`, { using: "css selector", value: css })).map(ref);
  const run = (script, args = []) => wd("POST", `${s}/execute/sync`, { script, args });
  const click = async (element) => wd("POST", `${s}/element/${element}/click`, {});
  const type = async (element, text) => wd("POST", `${s}/element/${element}/value`, { text });
  // WebKitWebDriver takes a screenshot at the page's next presentation update. Without
  // accelerated compositing (the app's default on Linux) a page where nothing changes has none,
  // and the screenshot waited until something repainted: in the e2e, 30 s, until the app's idle
  // lock changed the page — the test then went on with the key locked (waiting on a screenshot
  // is no user input). So while a screenshot is taken the page repaints every animation frame:
  // one pixel in the bottom-right corner flips between black and #010101, and goes after.
  const screenshot = async () => {
    await run(`
      const px = document.createElement('div');
      px.id = 'webdriver-repaint';
      px.style.cssText = 'position:fixed;right:0;bottom:0;width:1px;height:1px;pointer-events:none;z-index:2147483647;background:#000';
      document.body.appendChild(px);
      let on = false;
      const flip = () => { if (!px.isConnected) return; on = !on; px.style.background = on ? '#010101' : '#000'; requestAnimationFrame(flip); };
      requestAnimationFrame(flip);`);
    try {
      return Buffer.from(await wd("GET", `${s}/screenshot`), "base64");
    } finally {
      await run(`document.getElementById('webdriver-repaint')?.remove();`).catch(() => {});
    }
  };
  const close = () => wd("DELETE", s).catch(() => {});
  return { s, find, findAll, run, click, type, screenshot, close };
}

/** Polls `probe` until it returns a truthy value (the UI is asynchronous; no fixed sleeps). */
export async function until(what, probe, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (last) return last;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

/** A check printed as ok/FAIL, counted for the exit status. */
export function checker() {
  let failures = 0;
  const check = (ok, what) => {
    console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
    if (!ok) failures++;
  };
  return { check, failures: () => failures };
}
