// A newcomer's first run in the real app (Xvfb + tauri-driver): create an identity, send the key
// to an admin, join with the invitation the admin signs, unlock, and see the department's report
// on the study arrive by sync from the peer the invitation names. The home was given the study's
// images beforehand (as a PACS would deliver them) and nothing else.
//
// usage: node tests/e2e-join.mjs APP_BINARY SCREENSHOT.png, with E2E_CLI, E2E_DEPT_HOME (an
// admin's home), E2E_DEPT_ADDR (a node of the department, serving) and E2E_PASSPHRASE.
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";

import { checker, openSession, until } from "./wd.mjs";

const [app, shot] = process.argv.slice(2);
const { check, failures } = checker();
const { find, run, click, type, screenshot, close } = await openSession(app);
const cli = (...args) =>
  execFileSync(process.env.E2E_CLI, ["--home", process.env.E2E_DEPT_HOME, "--json", ...args], { encoding: "utf8" });
const rowState = `const s = document.querySelector('[data-testid="study-item"] .state'); return s ? s.textContent.trim() : null;`;

try {
  // A fresh home: the first-run screen. The newcomer creates an identity without founding a
  // network, its key sealed under a passphrase typed twice.
  await until("the first-run screen", () => find('[data-testid="first-run"]'));
  await type(await find('input[placeholder="Dr Ada Lovelace"]'), "Dr Nia Newcomer");
  await type(await find('[data-testid="new-passphrase"]'), process.env.E2E_PASSPHRASE);
  await type(await find('[data-testid="new-passphrase-again"]'), process.env.E2E_PASSPHRASE);
  await run(`document.querySelector('[data-testid="new-passphrase"]').form.requestSubmit()`);

  // Not joined: the join card, with the key to send an admin; no studies, no network.
  const key = await until("the join card's key", () =>
    run(`const k = document.querySelector('[data-testid="my-key"]'); return k && k.value.length === 64 ? k.value : null;`));
  check(!(await run(`return !!document.querySelector('[data-testid="study-item"]')`)),
    "an identity that has not joined is shown no studies");

  // The admin adds the key and signs an invitation naming the department's node.
  cli("roster", "add", "--key", key, "--name", "Dr Nia Newcomer", "--role", "attending");
  const { invitation } = JSON.parse(cli("roster", "invite", "--key", key, "--peer", process.env.E2E_DEPT_ADDR));
  check(invitation.startsWith("countersign-invite:"), `the admin signed an invitation (${invitation.length} characters)`);
  await type(await find('[data-testid="invitation"]'), invitation);
  await click(await find('[data-testid="join"]'));

  // Joined, the app shows the study (the key is still unlocked from creating the identity; if
  // it locked meanwhile, the unlock screen asks first); the department's report on it arrives by
  // sync from the invitation's peer (the row's state leaves "no report").
  const next = await until("the studies or the unlock screen", () =>
    run(`return document.querySelector('[data-testid="unlock-passphrase"]') ? "unlock"
      : document.querySelector('[data-testid="study-item"]') ? "studies" : null;`));
  if (next === "unlock") {
    await type(await find('[data-testid="unlock-passphrase"]'), process.env.E2E_PASSPHRASE);
    await click(await find('[data-testid="unlock-submit"]'));
  }
  check(!(await run(`return !!document.querySelector('[data-testid="join-card"]')`)), "the invitation joined: the join card is gone");
  const before = await until("the study the PACS delivered", () => run(rowState));
  const state = await until("the department's report on the study, by sync", async () => {
    const now = await run(rowState);
    return now && now !== "no report" ? now : null;
  }, 90000);
  check(true, `joined by invitation: the study went from "${before}" to the department's "${state}" report`);
  await writeFile(shot, await screenshot());
} catch (e) {
  check(false, e.message);
  await writeFile(shot, await screenshot()).catch(() => {});
} finally {
  await close();
}
if (failures()) {
  console.error(`${failures()} first-run join check(s) failed`);
  process.exit(1);
}
console.log("all first-run join checks passed");
