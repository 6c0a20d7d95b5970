// Every screen of the field app at 360×740: axe-core finds no violations,
// a screenshot is written to tests/browser/screenshots/ for a person to look
// at, Chromium reports the app installable, and the whole shell stays well
// under 150 KB compressed.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, proxy, orderFor, loginOnPhone, openOrder, bigTargets } from "./lib.mjs";

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const shots = path.join(path.dirname(new URL(import.meta.url).pathname), "screenshots");

test("every screen: accessible, photographed at 360×740, installable, and small", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const { name } = await orderFor(4);
  fs.mkdirSync(shots, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "larmkoll-chromium-"));
  // A persistent profile, which installability needs; CSP bypassed only so
  // the test can inject axe-core (the other tests run with the real CSP).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
    viewport: { width: 360, height: 740 },
    locale: "sv-SE",
    timezoneId: "Europe/Stockholm",
    bypassCSP: true,
  });
  t.after(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());
  const violations = [];
  async function check(screen) {
    await page.screenshot({ path: path.join(shots, `${screen}.png`), fullPage: false });
    if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ content: axeSource });
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
    for (const v of result.violations) {
      violations.push(`${screen}: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    }
    // Every visible tap target at least 44×44 px (gloves, one hand).
    try {
      await bigTargets(page, "body");
    } catch (e) {
      violations.push(`${screen}: ${e.message.split("\n")[0]}`);
    }
  }

  await page.goto(`${server.url}/`);
  await page.waitForSelector("#screen-login:not([hidden])");
  await check("1-inloggning");
  await page.fill("#login input[name=username]", "installator");
  await page.fill("#login input[name=password]", "demo");
  await page.click("#login button[type=submit]");
  await page.waitForSelector("#screen-pin-setup:not([hidden])");
  await check("2-valj-pin");
  await page.fill("#pin-setup input[name=pin]", "2580");
  await page.fill("#pin-setup input[name=pin2]", "2580");
  await page.click("#pin-setup button[type=submit]");
  await page.waitForSelector("#screen-visits:not([hidden])");
  await page.waitForFunction(() => /Uppdaterad/.test(document.querySelector("#data-age").textContent));
  await check("3-besok");
  await openOrder(page, name);
  await check("4-order");
  for (const [event, screen] of [["contact", "5-kontakt"], ["receive_keys", "6-nycklar"], ["install", "7-installation"], ["photos", "8-foto"], ["decline", "9-avboj"]]) {
    await page.click(`#order-actions button[data-event="${event}"]`);
    await page.waitForSelector(`form.action[data-event="${event}"]:not([hidden])`);
    await check(screen);
  }
  await page.click('#nav a[href="#/outbox"]');
  await page.waitForSelector("#screen-outbox:not([hidden])");
  await check("10-att-skicka");
  await page.click('#nav a[href="#/inbox"]');
  await page.waitForSelector("#screen-inbox:not([hidden])");
  await page.waitForSelector("#messages li");
  await check("11-meddelanden");
  await page.click("#menu-button");
  await page.click("#menu-keys");
  await page.waitForSelector("#screen-keys:not([hidden])");
  await page.fill("#key-search input[name=q]", name.split(" ")[1]);
  await page.click("#key-search button[type=submit]");
  await page.waitForSelector("#key-results li");
  await check("13-hitta-nyckel");

  // The lock screen: a session whose token has run out, on a phone without signal.
  await page.evaluate(async () => {
    const s = await self.Larmkoll.kv.get("session");
    await self.Larmkoll.kv.set("session", { ...s, access_expires: 0 });
  });
  await context.setOffline(true);
  await page.reload();
  await page.waitForSelector("#screen-lock:not([hidden])");
  await check("12-las-upp");
  await context.setOffline(false);

  assert.deepEqual(violations, [], violations.join("\n"));

  const cdp = await context.newCDPSession(page);
  const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
  assert.deepEqual(installabilityErrors, [], JSON.stringify(installabilityErrors));
  const manifest = await cdp.send("Page.getAppManifest");
  assert.deepEqual(manifest.errors, []);

  // What a phone downloads for the shell, compressed as it would travel.
  const sw = await (await fetch(`${server.url}/sw.js`)).text();
  const build = sw.match(/const BUILD = "([0-9a-f]+)"/)[1];
  const shell = ["/", "/sw.js", ...[...sw.matchAll(/versioned\("([^"]+)"\)/g)].map((m) => `${m[1]}?v=${build}`),
    "/manifest.webmanifest", "/icon.svg", "/icon-192.png", "/icon-512.png"];
  let compressed = 0;
  for (const url of new Set(shell)) {
    const res = await fetch(`${server.url}${url}`);
    assert.equal(res.status, 200, url);
    compressed += zlib.gzipSync(Buffer.from(await res.arrayBuffer()), { level: 9 }).length;
  }
  console.log(`the shell: ${(compressed / 1024).toFixed(1)} KB gzip`);
  assert.ok(compressed < 150 * 1024, `the shell is ${compressed} bytes compressed`);

  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
});
