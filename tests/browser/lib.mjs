// Shared by the browser tests: Debian's Chromium, a counting proxy in front of
// the server (so a test can assert that an "offline" reload reached nothing),
// the API as a test client sees it, and the field app's common steps.
import http from "node:http";
import path from "node:path";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

export const base = process.env.LARMKOLL_URL;
export const fixtures = process.env.LARMKOLL_FIXTURES;

export const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--disable-dev-shm-usage", "--lang=sv-SE",
];

export function launch() {
  assert.ok(base, "LARMKOLL_URL must name the server");
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
}

// A reverse proxy that counts what reaches the server. Each test gets its own,
// so its own origin: service workers and IndexedDB never leak between tests.
// `stall = true` makes it lie-fi: every new request is taken in and never
// answered, its connection never closed (as a dead cell keeps a socket); the
// requests held then stay held after `stall = false`.
export async function proxy(upstream = base) {
  const target = new URL(upstream);
  const seen = [];
  const stalled = [];
  const bytes = {}; // response body bytes per URL, as they travelled (compressed)
  const statuses = []; // "200 GET /path" per answer
  const errors = []; // every 5xx, with its body: a test asserts there are none
  const control = { stall: false };
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (control.stall) {
      stalled.push(`${req.method} ${req.url}`);
      req.resume(); // the body is read, as a network that carries bytes nowhere
      return;
    }
    const forward = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (answer) => {
        if (answer.statusCode >= 500) {
          const chunks = [];
          answer.on("data", (c) => chunks.push(c));
          answer.on("end", () => errors.push(`${answer.statusCode} ${req.method} ${req.url} ${Buffer.concat(chunks)}`));
        }
        statuses.push(`${answer.statusCode} ${req.method} ${req.url}`);
        res.writeHead(answer.statusCode, answer.headers);
        answer.on("data", (chunk) => { bytes[req.url] = (bytes[req.url] ?? 0) + chunk.length; });
        answer.pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    seen,
    stalled,
    bytes,
    statuses,
    errors,
    get stall() { return control.stall; },
    set stall(on) { control.stall = on; },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

export async function call(method, path, { token, body, headers = {}, upstream = base } = {}) {
  const res = await fetch(`${upstream}/api/v1${path}`, {
    method,
    headers: {
      Accept: "application/json",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body ? { "Content-Type": "application/json" } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, etag: res.headers.get("etag"), body: text ? JSON.parse(text) : null };
}

export async function token(username, upstream = base) {
  const res = await call("POST", "/auth/login", { body: { username, password: "demo" }, upstream });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.access_token;
}

// A date as the phones see it: they run in Swedish time (the test contexts set it).
export function localDate(offsetDays = 0) {
  return new Date(Date.now() + offsetDays * 86400000).toLocaleDateString("sv-SE", { timeZone: "Europe/Stockholm" });
}

// An install order for the nth Boo customer, granted by the assessor and, if
// asked, booked for today by the installer: what the phone finds in the morning.
export async function orderFor(n, { book = true, upstream = base } = {}) {
  const installer = await token("installator", upstream);
  const assessor = await token("handlaggare", upstream);
  const customers = await call("GET", "/customers?limit=50", { token: installer, upstream });
  // The nth customer without the service yet (a rerun against the same server moves on).
  let customer;
  let granted;
  for (const candidate of customers.body.items.slice(n)) {
    granted = await call("POST", `/customers/${candidate.id}/decisions`, {
      token: assessor, upstream, body: { service: "safety_alarm", valid_from: localDate(0) },
    });
    customer = candidate;
    if (granted.status !== 409) break;
  }
  assert.equal(granted?.status, 201, JSON.stringify(granted?.body));
  let order = granted.body.order;
  if (book) {
    const booked = await call("POST", `/orders/${order.id}/book`, {
      token: installer, upstream, headers: { "If-Match": `"${order.version}"` },
      body: { visit_date: localDate(0), visit_time: "09:30" },
    });
    assert.equal(booked.status, 200, JSON.stringify(booked.body));
    order = booked.body.order;
  }
  return { customer, order, name: `${customer.first_name} ${customer.last_name}`, installer, assessor };
}

export function watchProblems(page, allowed = /status of 40[19]/) {
  const problems = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" && !allowed.test(msg.text())) problems.push(msg.text());
  });
  page.on("pageerror", (err) => problems.push(String(err)));
  return problems;
}

// Log in as the installer on a fresh phone and choose a PIN; returns once the
// service worker controls the page and the day's data is on the phone.
export async function loginOnPhone(page, url, { username = "installator", pin = "2580" } = {}) {
  await page.goto(`${url}/`);
  await page.fill("#login input[name=username]", username);
  await page.fill("#login input[name=password]", "demo");
  await page.click("#login button[type=submit]");
  await page.waitForSelector("#screen-pin-setup:not([hidden])");
  await page.fill("#pin-setup input[name=pin]", pin);
  await page.fill("#pin-setup input[name=pin2]", pin);
  await page.click("#pin-setup button[type=submit]");
  await page.waitForSelector("#screen-visits:not([hidden])");
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 15000 });
  await page.waitForFunction(() => /Uppdaterad/.test(document.querySelector("#data-age").textContent), null, { timeout: 15000 });
}

export async function openOrder(page, name) {
  await page.click(`#screen-visits a.row:has-text("${name}")`);
  await page.waitForSelector("#screen-order:not([hidden])");
}

export async function waiting(page) {
  return Number(await page.getAttribute("#sync", "data-waiting"));
}

// SHA-256 of every photo waiting in the outbox, by document id.
export function queuedPhotoHashes(page) {
  return page.evaluate(async () => {
    const out = {};
    for (const item of await self.Larmkoll.outbox.all()) {
      if (!(item.body instanceof Blob)) continue;
      const digest = await crypto.subtle.digest("SHA-256", await item.body.arrayBuffer());
      out[item.id] = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    }
    return out;
  });
}

// What is left in the outbox, for an assertion's message.
export function outboxDump(page) {
  return page.evaluate(async () =>
    JSON.stringify((await self.Larmkoll.outbox.all()).map((i) => [i.label, i.status, i.error?.message])));
}

// A phone: 360×740, Swedish, in Swedish time.
export const phone = { viewport: { width: 360, height: 740 }, locale: "sv-SE", timezoneId: "Europe/Stockholm" };
const photo = (name) => path.join(fixtures, name);

// Opens an order's step or record, fills its form and saves it on the phone.
export async function act(page, event, fill) {
  await page.click(`#order-actions button[data-event="${event}"]`);
  const form = `form.action[data-event="${event}"]`;
  await page.waitForSelector(`${form}:not([hidden])`);
  await fill(form);
  await page.click(`${form} button[type=submit]`);
  await page.waitForSelector("#action-done:not([hidden])");
}

export async function install(page, ...serials) {
  await act(page, "install", async (form) => {
    const inputs = page.locator(`${form} input[name=serial]`);
    assert.equal(await inputs.count(), serials.length, "an alarm: unit and button");
    for (const [i, serial] of serials.entries()) await inputs.nth(i).fill(serial);
  });
}

export async function photograph(page, kind, file) {
  await act(page, "photos", async (form) => {
    await page.selectOption(`${form} select[name=kind]`, kind);
    await page.setInputFiles(`${form} input[name=pages]`, photo(file));
    await page.waitForSelector("#pages li");
  });
}

// What a person reads on the order screen must never show a code's holes.
export async function noHoles(page) {
  const text = await page.textContent("#screen-order");
  assert.doesNotMatch(text, /\bnull\b|\bundefined\b|NaN|\[object /, `the order screen prints a hole: ${text}`);
}

// Every visible tap target on the screen at least 44 px high and wide.
export async function bigTargets(page, screen) {
  const small = await page.$$eval(
    `${screen} a, ${screen} button, ${screen} select, ${screen} textarea, ${screen} label.choice, ` +
      `${screen} input:not([type=radio]):not([type=checkbox]):not(.visually-hidden)`,
    (nodes) => nodes
      .filter((n) => n.getClientRects().length && getComputedStyle(n).visibility !== "hidden")
      .map((n) => [n.outerHTML.slice(0, 80), n.getBoundingClientRect()])
      .filter(([, r]) => r.height < 44 || r.width < 44)
      .map(([html, r]) => `${Math.round(r.width)}×${Math.round(r.height)} ${html}`),
  );
  assert.deepEqual(small, [], `tap targets under 44 px: ${small.join("; ")}`);
}
