// The field app's shell in Debian's headless Chromium: log in, see the
// customers one's groups serve, search, no CSP violation, fits 360 px.
// Run by `cargo test` (tests/api/browser.rs), which starts the server and
// passes its address in LARMKOLL_URL.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const base = process.env.LARMKOLL_URL;
// playwright-core gives each launch its own fresh profile, so nothing leaks between runs.
let browser;

before(async () => {
  assert.ok(base, "LARMKOLL_URL must name the server");
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--disable-dev-shm-usage",
    ],
  });
});

after(async () => browser?.close());

test("an installer logs in on a phone-sized screen and finds a customer", async () => {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: "sv-SE" });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (msg) => {
    // The wrong password's 401 is expected; anything else (a CSP refusal, a script error) is not.
    if (msg.type() === "error" && !/status of 401/.test(msg.text())) problems.push(msg.text());
  });
  page.on("pageerror", (err) => problems.push(String(err)));

  await page.goto(base + "/");
  assert.equal(await page.getAttribute("html", "lang"), "sv");
  await page.fill("input[name=username]", "installator");
  await page.fill("input[name=password]", "fel-lösenord");
  await page.click("button[type=submit]");
  await page.waitForSelector("#login-error:not([hidden])");
  assert.match(await page.textContent("#login-error"), /Fel användarnamn eller lösenord/);

  await page.fill("input[name=password]", "demo");
  await page.click("button[type=submit]");
  await page.waitForSelector("#customers li");
  assert.equal(await page.textContent("#who"), "Ivar Installatör");
  // The installer's alarm team serves the 20 Boo customers.
  assert.equal(await page.locator("#customers li").count(), 20);
  const first = await page.textContent("#customers li");
  assert.doesNotMatch(first, /\d{8}-?\d{4}/, "no personnummer on the list");

  await page.fill("input[name=q]", "Åke");
  await page.click("#search button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("#customers li").length < 20);
  for (const text of await page.locator("#customers li strong").allTextContents()) {
    assert.match(text, /^Åke /);
  }

  const overflow = await page.evaluate(() => document.scrollingElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a 360px phone`);
  const targets = await page.evaluate(() =>
    [...document.querySelectorAll("button, input")].filter((el) => el.offsetParent).map((el) => el.getBoundingClientRect().height));
  assert.ok(targets.every((h) => h >= 44), `touch targets under 44px: ${targets}`);
  assert.deepEqual(problems, [], "console errors (a CSP violation shows here)");
  await context.close();
});
