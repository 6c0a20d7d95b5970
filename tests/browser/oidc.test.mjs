// Sign-in through the municipality's login service in Debian's headless
// Chromium, against a real OpenID provider on loopback (tests/oidc, started by
// tests/api/browser.rs with a server configured for it, whose access tokens
// live one minute): the desk's login and logout, a refusal in Swedish, and the
// field app's login on a phone followed by an offline PIN unlock once the
// token has expired.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { launch, call, token } from "./lib.mjs";

const upstream = process.env.LARMKOLL_OIDC_URL;
const issuer = process.env.LARMKOLL_OIDC_ISSUER;
const skip = upstream ? false : "LARMKOLL_OIDC_URL is not set (no OpenID provider installed)";

const phone = { viewport: { width: 360, height: 740 }, locale: "sv-SE", timezoneId: "Europe/Stockholm" };
const desk = { viewport: { width: 1366, height: 768 }, locale: "sv-SE", timezoneId: "Europe/Stockholm" };

let browser;
before(async () => { if (!skip) browser = await launch(); });
after(async () => browser?.close());

// Console errors and uncaught exceptions on Larmkoll's pages (the test
// provider's own pages load a web font and a favicon they cannot have here).
function watchProblems(page, allowed) {
  const problems = [];
  page.on("console", (msg) => {
    const ours = (msg.location()?.url ?? page.url()).startsWith(upstream);
    if (msg.type() === "error" && ours && !allowed.test(msg.text())) problems.push(msg.text());
  });
  page.on("pageerror", (err) => page.url().startsWith(upstream) && problems.push(String(err)));
  return problems;
}

// A user the admin provisioned ahead, who signs in at the provider as `externalId`.
async function provisioned(username, role, externalId) {
  const admin = await token("admin", upstream);
  const res = await call("POST", "/users", {
    token: admin, upstream,
    body: { username, display_name: `Test ${role}`, role, external_id: externalId },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

// At the provider's login page: the account and the assurance level (LoA3 is the default).
async function atProvider(page, account) {
  await page.waitForURL((url) => url.href.startsWith(issuer));
  await page.fill("input[name=login]", account);
  await page.click("button[type=submit]");
}

test("the desk: the admin adds a person ahead, who signs in and out through the login service; an unknown person is told why", { skip }, async (t) => {
  const context = await browser.newContext(desk);
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = watchProblems(page, /status of 40[1389]/);

  // The admin (a password account) adds the coordinator with their identity at the provider.
  await page.goto(`${upstream}/desk/`);
  await page.fill("#login input[name=username]", "admin");
  await page.fill("#login input[name=password]", "demo");
  await page.click("#login button[type=submit]");
  await page.click('#views button[data-view="users"]');
  await page.waitForSelector('body[data-ready="users"]');
  await page.fill("#new-user input[name=username]", "sso.koordinator");
  await page.fill("#new-user input[name=display_name]", "Test coordinator");
  await page.selectOption("#new-user select[name=role]", "coordinator");
  await page.fill("#new-user input[name=external_id]", "sso-koord");
  await page.click("#new-user button[type=submit]");
  const row = page.locator("#user-rows tr", { hasText: "sso.koordinator" });
  await row.waitFor();
  assert.match(await row.textContent(), /Koordinator.*Kommunens inloggning \(sso-koord\).*Aktiv/);
  await page.click("#logout");
  await page.waitForSelector("#login:not([hidden])");

  await page.waitForSelector("#provider-login:not([hidden])");
  assert.equal((await page.textContent("#provider-button")).trim(), "Logga in med kommunens inloggning");
  await page.click("#provider-button");
  await atProvider(page, "sso-koord");
  await page.waitForSelector("#views:not([hidden])");
  assert.match(await page.textContent("#who"), /Test coordinator/);
  assert.doesNotMatch(page.url(), /oidc=/, "the ticket left the address bar");
  const session = await page.evaluate(() => sessionStorage.getItem("access_token"));
  assert.equal((await call("GET", "/auth/me", { token: session, upstream })).body.username, "sso.koordinator");

  // Logout ends the session here and at the provider.
  await page.click("#logout");
  await page.waitForURL((url) => url.href.startsWith(`${issuer}/session/end`));
  assert.equal((await call("GET", "/auth/me", { token: session, upstream })).status, 401);
  // The provider asks, then sends the browser back to the desk's login.
  await page.click("button[name=logout][value=yes]");
  await page.waitForURL(`${upstream}/desk/index.html`);
  await page.waitForSelector("#provider-login:not([hidden])");

  // Someone the municipality never added: the provider asks who it is again.

  await page.click("#provider-button");
  await atProvider(page, "okand-person");
  await page.waitForSelector("#login-error:not([hidden])");
  assert.match(await page.textContent("#login-error"), /Du finns inte som användare i Larmkoll/);
  assert.ok(await page.isHidden("#views"));
  assert.deepEqual(problems, []);
});

test("the field app: login through the service, then offline the PIN unlocks", { skip }, async (t) => {
  await provisioned("sso.installator", "installer", "sso-inst");
  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = watchProblems(page, /status of 40[1389]|ERR_INTERNET_DISCONNECTED|ERR_FAILED|Failed to fetch/);

  await page.goto(`${upstream}/`);
  await page.waitForSelector("#provider-login:not([hidden])");
  await page.click("#provider-button");
  await atProvider(page, "sso-inst");
  await page.waitForSelector("#screen-pin-setup:not([hidden])");
  const loggedInAt = Date.now();
  await page.fill("#pin-setup input[name=pin]", "4711");
  await page.fill("#pin-setup input[name=pin2]", "4711");
  await page.click("#pin-setup button[type=submit]");
  await page.waitForSelector("#screen-visits:not([hidden])");
  assert.match(await page.textContent("#who"), /Test installer/);
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 15000 });
  const issued = await page.evaluate(async () => (await self.Larmkoll.kv.get("session")).access_token);

  // No signal, and the access token has run out (this server's last a minute).
  await context.setOffline(true);
  await page.waitForTimeout(Math.max(0, loggedInAt + 67000 - Date.now()));
  assert.equal((await call("GET", "/auth/me", { token: issued, upstream })).status, 401, "the token really expired");
  await page.reload();
  await page.waitForSelector("#screen-lock:not([hidden])");
  const reachable = await page.evaluate(() => fetch("/healthz").then(() => true, () => false));
  assert.equal(reachable, false, "the phone really is offline");
  await page.fill("#unlock input[name=pin]", "4711");
  await page.click("#unlock button[type=submit]");
  await page.waitForSelector("#screen-visits:not([hidden])");
  assert.match(await page.textContent("#who"), /Test installer/);

  // Back in coverage, the session renews by itself with Larmkoll's own refresh token.
  await context.setOffline(false);
  const renewed = await page.evaluate(async () => (await self.Larmkoll.accessToken()));
  assert.notEqual(renewed, issued);
  assert.equal((await call("GET", "/auth/me", { token: renewed, upstream })).body.username, "sso.installator");
  assert.deepEqual(problems, []);
});
