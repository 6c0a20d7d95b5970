// Every view of the desk, for every role that works at one, at 1366×768:
// axe-core finds no violations, no view shows an error, and a screenshot of
// each is written to tests/browser/screenshots/ (desk-<user>-<view>.png) for
// a person to look at. The forms that open inside a view (a new message, a
// thread) are checked open too.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { base, launch } from "./lib.mjs";

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const shots = path.join(path.dirname(new URL(import.meta.url).pathname), "screenshots");

let browser;
before(async () => { browser = await launch(); });
after(async () => browser?.close());

test("every desk view of every desk role: accessible, without an error, photographed at 1366×768", async () => {
  fs.mkdirSync(shots, { recursive: true });
  // CSP bypassed only so the test can inject axe-core (the other tests run with the real CSP).
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "sv-SE", bypassCSP: true });
  const page = await context.newPage();
  const violations = [];
  const seen = [];
  async function check(name) {
    await page.screenshot({ path: path.join(shots, `desk-${name}.png`), fullPage: false });
    await page.addScriptTag({ content: axeSource });
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
    for (const v of result.violations) {
      violations.push(`${name}: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    }
    seen.push(name);
  }

  await page.goto(`${base}/desk/`);
  await page.waitForSelector("#login:not([hidden])");
  await check("inloggning");
  for (const username of ["koordinator", "handlaggare", "installator", "hemtjanst", "avgift", "larmcentral", "admin"]) {
    await page.evaluate(() => sessionStorage.clear());
    await page.goto(`${base}/desk/`);
    await page.reload();
    await page.fill("#login input[name=username]", username);
    await page.fill("#login input[name=password]", "demo");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#views button");
    const views = await page.$$eval("#views button", (bs) => bs.map((b) => b.dataset.view));
    for (const view of views.filter((v) => v !== "pickup")) {
      await page.evaluate(() => { delete document.body.dataset.ready; });
      await page.click(`#views button[data-view="${view}"]`);
      await page.waitForSelector(`body[data-ready="${view}"]`);
      const error = await page.$eval("#status", (s) => (s.classList.contains("error") ? s.textContent : ""));
      assert.equal(error, "", `${username} × ${view}: the view shows no error`);
      await check(`${username}-${view}`);
      if (view === "messages" && username === "koordinator") {
        await page.click("#compose-open");
        await page.waitForSelector("#compose:not([hidden]) select[name=to] option");
        await check(`${username}-nytt-meddelande`);
        await page.click("#compose-cancel");
        const open = page.locator("#message-list li button", { hasText: "Visa tråden" }).first();
        if (await open.count()) {
          await open.click();
          await page.waitForSelector("#thread:not([hidden])");
          await check(`${username}-trad`);
        }
      }
    }
  }
  await page.goto(`${base}/desk/hamtlista.html`);
  await page.waitForSelector("body[data-ready=pickup]");
  await check("admin-hamtlista");
  assert.ok(seen.length >= 20, `views checked: ${seen.join(", ")}`);
  assert.deepEqual(violations, [], "axe-core violations");
  await context.close();
});
