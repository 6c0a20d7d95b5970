// The field app in Debian's headless Chromium, offline for real: Playwright's
// context.setOffline cuts the page *and* its service worker, and a counting
// proxy in front of the server proves that an offline reload reached nothing.
// Run by `cargo test` (tests/api/browser.rs), which starts the servers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  launch, proxy, call, orderFor, watchProblems, loginOnPhone, openOrder, waiting,
  queuedPhotoHashes, token, outboxDump, phone, act, install, photograph,
} from "./lib.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => browser?.close());

test("the full install at a customer with no signal, sent exactly once when the signal returns", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const { order, name, customer, installer } = await orderFor(0);
  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = watchProblems(page);
  await loginOnPhone(page, server.url);
  assert.match(await page.textContent("#today"), new RegExp(name));
  // The queue's storage: asked to be persistent at login; a refusal is told.
  await page.waitForFunction(async () => (await self.Larmkoll.kv.get("storage-persisted")) !== undefined);
  const persisted = await page.evaluate(() => navigator.storage.persisted());
  assert.equal(await page.isVisible("#storage-note"), !persisted, "the note shows exactly when persistence was refused");

  // No signal from here: the page and its service worker.
  await context.setOffline(true);
  const reached = server.seen.length;
  await page.reload();
  await page.waitForSelector("#screen-visits:not([hidden])");
  assert.match(await page.textContent("#today"), new RegExp(name), "the visits come from the phone");
  await openOrder(page, name);
  assert.match(await page.textContent("#customer-card"), new RegExp(customer.customer_number));

  await act(page, "contact", async (form) => {
    await page.check(`${form} input[value=call]`);
    await page.fill(`${form} textarea[name=note]`, "Ringde 08:50, kunden är hemma");
  });
  await act(page, "receive_keys", async (form) => {
    await page.fill(`${form} textarea[name=key_numbers]`, "B-7001");
    await page.fill(`${form} input[name=count]`, "2");
    await page.fill(`${form} input[name=cabinet]`, "Skåp 3");
    await page.fill(`${form} input[name=hook]`, "12");
  });
  await install(page, "TX-1001", "WB-2001");
  await photograph(page, "responsibility_agreement", "portrait-orientation-6-gps.jpg");
  await photograph(page, "key_receipt", "nyckelkvittens-photo.jpg");
  assert.equal(await waiting(page), 5);
  assert.match(await page.textContent("#order-card"), /Installerad/, "the phone shows what it did");
  const hashes = await queuedPhotoHashes(page);
  assert.equal(Object.keys(hashes).length, 2);

  // Close the app and open it again, still without signal.
  await page.close();
  const again = await context.newPage();
  problems.push(...watchProblems(again));
  await again.goto(`${server.url}/`);
  await again.waitForSelector("#screen-visits:not([hidden])");
  assert.equal(await waiting(again), 5);
  assert.match(await again.textContent("#sync-text"), /5 väntar på att skickas/);
  assert.equal(server.seen.length, reached, `nothing reached the server offline: ${server.seen.slice(reached)}`);

  // The signal returns: everything is sent without a tap.
  await context.setOffline(false);
  await again.waitForSelector('#sync[data-waiting="0"]', { timeout: 30000 });
  assert.match(await again.textContent("#sync-text"), /Inget väntar/);
  assert.equal(await again.getAttribute("#sync", "data-failed"), "0", await outboxDump(again));

  const detail = (await call("GET", `/orders/${order.id}`, { token: installer })).body;
  assert.equal(detail.order.state, "installed");
  assert.deepEqual(detail.order.serials.toSorted(), ["TX-1001", "WB-2001"]);
  assert.equal(detail.history.filter((t) => t.to === "installed").length, 1);
  assert.equal(detail.history.filter((t) => t.to === "keys_received").length, 1);
  assert.equal(detail.contacts.filter((c) => c.note === "Ringde 08:50, kunden är hemma").length, 1);
  const keys = (await call("GET", `/customers/${customer.id}/keys`, { token: installer })).body;
  assert.deepEqual(keys.map((k) => [k.key_number, k.count, k.cabinet, k.hook]), [["B-7001", 2, "Skåp 3", "12"]]);
  const documents = (await call("GET", `/orders/${order.id}/documents`, { token: installer })).body;
  assert.equal(documents.length, 2);
  for (const d of documents) assert.equal(d.sha256, hashes[d.id], "the server holds exactly the shrunk photo");
  assert.deepEqual(documents.map((d) => d.kind).toSorted(), ["key_receipt", "responsibility_agreement"]);
  const big = documents.find((d) => d.kind === "key_receipt");
  assert.equal(Math.max(big.width, big.height), 2048, "the 3000 px photo was shrunk on the phone");
  const upright = documents.find((d) => d.kind === "responsibility_agreement");
  assert.ok(upright.height > upright.width, "orientation 6 came out upright");

  assert.deepEqual(server.errors, [], "no 5xx from the server");
  assert.deepEqual(problems, []);
});

test("lie-fi: a connection that never answers is cut, the bar says so, Skicka nu tries afresh, and good signal sends the queue by itself", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const { order, name, installer } = await orderFor(6);
  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = watchProblems(page, /status of 40[19]|ERR_|Failed to fetch/);
  await loginOnPhone(page, server.url);
  await openOrder(page, name);

  // Signal that connects but carries nothing, for a minute.
  server.stall = true;
  const stalledAt = Date.now();
  await act(page, "contact", async (form) => {
    await page.check(`${form} input[value=no_answer]`);
    await page.fill(`${form} textarea[name=note]`, "Ingen öppnar, lie-fi");
  });
  assert.equal(await waiting(page), 1);
  await page.waitForSelector('#sync[data-stuck="true"]', { timeout: 30000 });
  assert.match(await page.textContent("#sync-text"), /Försöker skicka sedan \d\d:\d\d – ingen kontakt med servern/);

  // Skicka nu starts a fresh attempt at once, though one may be hanging.
  const before = server.stalled.filter((r) => r.startsWith("POST")).length;
  await page.click("#sync-now");
  const deadline = Date.now() + 5000;
  while (server.stalled.filter((r) => r.startsWith("POST")).length === before && Date.now() < deadline) {
    await page.waitForTimeout(100);
  }
  assert.ok(server.stalled.filter((r) => r.startsWith("POST")).length > before, "the tap sent the item again");
  const attempts = await page.evaluate(async () => (await self.Larmkoll.summary()).items[0].attempts);

  // Good signal again; the held connections are never reset. No tap.
  await page.waitForTimeout(Math.max(0, stalledAt + 60000 - Date.now()));
  server.stall = false;
  const goodAt = Date.now();
  await page.waitForSelector('#sync[data-waiting="0"]', { timeout: 30000 });
  assert.ok(Date.now() - goodAt < 30000, "sent within 30 s of good signal");
  assert.equal(await page.getAttribute("#sync", "data-stuck"), "false");
  assert.doesNotMatch(await page.textContent("#sync-text"), /Försöker skicka/);
  assert.ok(attempts >= 1, "the stalled sends counted as attempts");
  const detail = (await call("GET", `/orders/${order.id}`, { token: installer })).body;
  assert.equal(detail.contacts.filter((c) => c.note === "Ingen öppnar, lie-fi").length, 1, "stored once");
  assert.deepEqual(server.errors, [], "no 5xx from the server");
  assert.deepEqual(problems, []);
});

test("logging out sits behind Mer and says first what leaves the phone and what stays queued", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const { name } = await orderFor(7);
  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = watchProblems(page, /status of 40[19]|ERR_INTERNET_DISCONNECTED|Failed to fetch/);
  await loginOnPhone(page, server.url);
  assert.ok(await page.isHidden("#logout"), "no logout in the main navigation");

  await context.setOffline(true);
  await openOrder(page, name);
  await act(page, "contact", async (form) => {
    await page.check(`${form} input[value=no_answer]`);
  });
  await page.click("#menu-button");
  await page.click("#logout");
  await page.waitForSelector("#logout-confirm:not([hidden])");
  const text = await page.textContent("#logout-text");
  assert.match(text, /beställning(ar)? med kundernas uppgifter raderas från telefonen och kan inte hämtas igen förrän du har täckning\./);
  assert.match(text, /1 åtgärd som inte har skickats ligger kvar och skickas när du loggar in igen\./);
  await page.click("#logout-no");
  assert.ok(await page.isHidden("#menu"));
  assert.ok(await page.isVisible("#screen-order"), "still working");

  await page.click("#menu-button");
  await page.click("#logout");
  await page.click("#logout-yes");
  await page.waitForSelector("#screen-login:not([hidden])");
  const left = await page.evaluate(async () => ({
    queued: (await self.Larmkoll.outbox.all()).length,
    lists: await self.Larmkoll.kv.get("lists"),
  }));
  assert.equal(left.queued, 1, "the queue stays for the next login");
  assert.equal(left.lists, undefined, "the day's customers left the phone");
  assert.deepEqual(problems, []);
});

test("a cold first visit downloads each file of the shell once, compressed, under 40 KB", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  await page.goto(`${server.url}/`);
  await page.waitForSelector("#screen-login:not([hidden])");
  // The worker installed its cache of the shell and controls the page.
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 15000 });
  await page.waitForFunction(async () => (await caches.keys()).some((k) => k.startsWith("larmkoll-shell-")));
  // Downloads: answers with a body (a 304 revalidation carries none).
  const shell = server.statuses
    .filter((r) => r.startsWith("200 GET ") && !r.startsWith("200 GET /api/"))
    .map((r) => r.slice(8));
  const twice = shell.filter((url, i) => shell.indexOf(url) !== i);
  assert.deepEqual(twice, [], `downloaded more than once: ${twice.join(", ")} (${server.statuses.join("; ")})`);
  for (const file of ["/", "/sw.js", "/manifest.webmanifest"]) assert.ok(shell.includes(file), `${file} was fetched`);
  for (const script of ["/app.js", "/store.js", "/outbox.js", "/lifecycle.js", "/app.css"]) {
    assert.ok(shell.some((u) => u.startsWith(`${script}?v=`)), `${script} was fetched`);
  }
  const total = shell.reduce((n, url) => n + (server.bytes[url] ?? 0), 0);
  console.log(`a cold first visit: ${shell.length} files, ${(total / 1024).toFixed(1)} KB on the wire`);
  assert.ok(total <= 40 * 1024, `the shell took ${total} bytes on the wire`);
});

test("a lost answer: the server stored the install, the phone never heard; the resend makes no duplicate", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const { order, name, installer } = await orderFor(1);
  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = watchProblems(page, /status of 40[19]|ERR_FAILED|ERR_CONNECTION_RESET/);
  await loginOnPhone(page, server.url);

  let dropped = 0;
  const replayed = [];
  await context.route("**/api/v1/orders/*/install", async (route) => {
    if (dropped === 0) {
      dropped++;
      await route.fetch(); // the server handles it…
      await route.abort("connectionreset"); // …and the answer is lost on the way
    } else {
      const res = await route.fetch();
      replayed.push(res.headers()["idempotent-replayed"]);
      await route.fulfill({ response: res });
    }
  });
  await openOrder(page, name);
  await install(page, "TX-1002", "WB-2002");
  await page.waitForSelector('#sync[data-waiting="0"]', { timeout: 30000 });
  assert.equal(dropped, 1);
  assert.deepEqual(replayed, ["true"], "the resend was answered from the stored answer");
  const detail = (await call("GET", `/orders/${order.id}`, { token: installer })).body;
  assert.equal(detail.order.state, "installed");
  assert.equal(detail.history.filter((t) => t.to === "installed").length, 1);
  assert.equal(await page.getAttribute("#sync", "data-failed"), "0");
  assert.deepEqual(server.errors, [], "no 5xx from the server");
  assert.deepEqual(problems, []);
});

test("the order is cancelled while the phone is offline: the queued install lands in the failed list with the server's words", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const { order, name, installer, assessor } = await orderFor(2);
  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  // The stale If-Match (412) and the refusal (409) are the expected answers here.
  const problems = watchProblems(page, /status of 4(01|09|12)/);
  await loginOnPhone(page, server.url);
  await context.setOffline(true);
  await openOrder(page, name);
  await install(page, "TX-1003", "WB-2003");
  assert.equal(await waiting(page), 1);

  const current = await call("GET", `/orders/${order.id}`, { token: assessor });
  const cancelled = await call("POST", `/orders/${order.id}/cancel`, {
    token: assessor, headers: { "If-Match": current.etag }, body: { reason: "Beslutet återkallat" },
  });
  assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));

  await context.setOffline(false);
  await page.waitForSelector('#sync[data-failed="1"]', { timeout: 30000 });
  assert.equal(await waiting(page), 0);
  await page.click('#nav a[href="#/outbox"]');
  await page.waitForSelector("#screen-outbox:not([hidden])");
  const failed = await page.textContent("#failed");
  assert.match(failed, /Installerat TX-1003, WB-2003/);
  assert.match(failed, /makulerad/i, `the server's reason is shown: ${failed}`);
  const detail = (await call("GET", `/orders/${order.id}`, { token: installer })).body;
  assert.equal(detail.order.state, "cancelled");
  assert.equal(detail.order.serials.length, 0);
  assert.deepEqual(server.errors, [], "no 5xx from the server");
  assert.deepEqual(problems, []);

  // The installer reads it and drops the item, confirming.
  await page.click("#failed button:has-text('Ta bort')");
  await page.click("#failed button:has-text('Bekräfta')");
  await page.waitForSelector('#sync[data-failed="0"]');
});

test("a wrong password is told in Swedish and the app asks for nothing else", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  await page.goto(`${server.url}/`);
  assert.equal(await page.getAttribute("html", "lang"), "sv");
  await page.fill("#login input[name=username]", "installator");
  await page.fill("#login input[name=password]", "fel-lösenord");
  await page.click("#login button[type=submit]");
  await page.waitForSelector("#login-error:not([hidden])");
  assert.match(await page.textContent("#login-error"), /Fel användarnamn eller lösenord/);
  assert.ok(await page.isHidden("#nav"));
  assert.ok(await token("installator"));
});

test("the login expires while offline: the queue survives, the PIN unlocks, the sync completes", async (t) => {
  // This server's access tokens live one minute (tests/api/browser.rs).
  const upstream = process.env.LARMKOLL_SHORT_TOKEN_URL;
  assert.ok(upstream, "LARMKOLL_SHORT_TOKEN_URL must name the short-token server");
  const server = await proxy(upstream);
  t.after(() => server.close());
  const { order, name } = await orderFor(3, { upstream });
  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = watchProblems(page);
  await loginOnPhone(page, server.url);
  const loggedInAt = Date.now();
  const expired = await page.evaluate(async () => (await self.Larmkoll.kv.get("session")).access_token);

  await context.setOffline(true);
  await openOrder(page, name);
  await act(page, "contact", async (form) => {
    await page.check(`${form} input[value=no_answer]`);
    await page.fill(`${form} textarea[name=note]`, "Ingen öppnar, ringer igen");
  });
  assert.equal(await waiting(page), 1);

  // Past the token's minute and the server's leeway: the server refuses it now.
  await page.waitForTimeout(Math.max(0, loggedInAt + 67000 - Date.now()));
  const me = await call("GET", "/auth/me", { token: expired, upstream });
  assert.equal(me.status, 401, "the access token really expired");

  await page.reload();
  await page.waitForSelector("#screen-lock:not([hidden])");
  await page.fill("#unlock input[name=pin]", "0000");
  await page.click("#unlock button[type=submit]");
  await page.waitForSelector("#unlock-error:not([hidden])");
  assert.match(await page.textContent("#unlock-error"), /Fel PIN-kod\. 4 försök kvar/);
  await page.fill("#unlock input[name=pin]", "2580");
  await page.click("#unlock button[type=submit]");
  // Back where the installer was: the order, from the phone's own copy.
  await page.waitForSelector("#screen-order:not([hidden])");
  assert.equal(await waiting(page), 1, "the queue survived the expiry and the lock");

  await context.setOffline(false);
  await page.waitForSelector('#sync[data-waiting="0"]', { timeout: 30000 });
  assert.equal(await page.getAttribute("#sync", "data-failed"), "0", await outboxDump(page));
  assert.ok(server.seen.includes("POST /api/v1/auth/refresh"), "the phone renewed its login by itself");
  const detail = (await call("GET", `/orders/${order.id}`, { token: await token("installator", upstream), upstream })).body;
  assert.equal(detail.contacts.filter((c) => c.note === "Ingen öppnar, ringer igen").length, 1);
  assert.deepEqual(server.errors, [], "no 5xx from the server");
  assert.deepEqual(problems, []);
});

test("the order's steps, their words and where they lead come from the server's lifecycle, also offline", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const { order, name, installer } = await orderFor(5);
  const context = await browser.newContext(phone);
  t.after(() => context.close());
  // The served lifecycle with words of its own and without the install's
  // `decline`: what the phone shows can only have come from it.
  await context.route("**/api/v1/lifecycle", async (route) => {
    const res = await route.fetch();
    const lifecycle = await res.json();
    const install = lifecycle.kinds.find((k) => k.kind === "install");
    install.events.find((e) => e.event === "receive_keys").label = "Hämta nycklarna hos kunden";
    install.states.find((s) => s.state === "installed").label = "Installerad enligt servern";
    install.transitions = install.transitions.filter((tr) => tr.event !== "decline");
    await route.fulfill({ response: res, json: lifecycle });
  });
  const page = await context.newPage();
  const problems = watchProblems(page);
  await loginOnPhone(page, server.url);
  assert.ok(server.seen.includes("GET /api/v1/lifecycle"), "the phone fetched the lifecycle");
  await openOrder(page, name);
  const steps = () => page.$$eval("#order-actions button", (bs) => bs.map((b) => [b.dataset.event, b.textContent]));
  assert.deepEqual(await steps(), [
    ["contact", "Logga kontakt"],
    ["photos", "Fotografera dokument"],
    ["book", "Boka besök"],
    ["receive_keys", "Hämta nycklarna hos kunden"],
    ["install", "Installera"],
  ]);

  // No signal, the app opened again on the order: the phone's stored copy
  // gives the same steps, and a queued install moves the order where the
  // lifecycle says, in its words.
  await context.setOffline(true);
  await page.reload();
  await page.waitForSelector("#screen-order:not([hidden])");
  assert.equal(await page.textContent('#order-actions button[data-event="receive_keys"]'), "Hämta nycklarna hos kunden");
  await install(page, "TX-1005", "WB-2005");
  assert.match(await page.textContent("#order-card"), /Installerad enligt servern/);
  assert.deepEqual((await steps()).map(([event]) => event), ["contact", "photos"], "no step left for the installer");

  // The worker's pass for Background Sync fails while the install still
  // waits, so that the browser tries again; once it is sent, it succeeds.
  const [worker] = context.serviceWorkers();
  assert.ok(worker, "a service worker runs");
  const pass = () => worker.evaluate(() => self.Larmkoll.flushOrThrow().then(() => "complete", (e) => `rejected: ${e.message}`));
  assert.match(await pass(), /^rejected/);
  await context.setOffline(false);
  await page.waitForSelector('#sync[data-waiting="0"]', { timeout: 30000 });
  assert.equal(await pass(), "complete");
  const detail = (await call("GET", `/orders/${order.id}`, { token: installer })).body;
  assert.equal(detail.order.state, "installed");
  assert.deepEqual(server.errors, [], "no 5xx from the server");
  assert.deepEqual(problems, []);
});

test("the installer notes what an order waits for: a note is required, and the order carries it", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const { order, name, installer } = await orderFor(8);
  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = watchProblems(page);
  await loginOnPhone(page, server.url);
  await openOrder(page, name);

  await page.click('#order-actions button[data-event="contact"]');
  const form = 'form.action[data-event="contact"]';
  await page.waitForSelector(`${form}:not([hidden])`);
  await page.check(`${form} input[value=waiting]`);
  await page.click(`${form} button[type=submit]`);
  await page.waitForSelector("#action-done:not([hidden])");
  assert.equal((await page.textContent("#action-done")).trim(), "Skriv vad ordern väntar på.");
  assert.equal(await waiting(page), 0, "nothing queued without a note");
  assert.ok(await page.isVisible(form), "the form stays open to be completed");

  const why = "Kunden är bortrest till fredag";
  await page.fill(`${form} textarea[name=note]`, why);
  await page.click(`${form} button[type=submit]`);
  await page.waitForFunction(() => document.querySelector("#action-done")?.textContent.includes("Sparat på telefonen"));
  await page.waitForSelector('#sync[data-waiting="0"]', { timeout: 30000 });
  const detail = (await call("GET", `/orders/${order.id}`, { token: installer })).body;
  assert.equal(detail.order.waiting_reason, why);
  assert.equal(detail.order.version, order.version, "no new version");
  assert.equal(detail.contacts.filter((c) => c.kind === "waiting").length, 1, "sent once");
  assert.deepEqual(server.errors, [], "no 5xx from the server");
  assert.deepEqual(problems, []);
});

test("a message answered on the phone without signal reaches everyone in the thread once the signal returns", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const coordinator = await token("koordinator");
  const installer = await token("installator");
  const me = (await call("GET", "/auth/me", { token: installer })).body;
  const subject = `Nyckel saknas ${Date.now()}`;
  const asked = await call("POST", "/messages", {
    token: coordinator,
    body: { to: { users: [me.id] }, copy: { roles: ["coordinator"] }, subject, body: "Har du nyckeln till kunden med dig?" },
    headers: { "Idempotency-Key": `falt-${Date.now()}` },
  });
  assert.equal(asked.status, 201, JSON.stringify(asked.body));
  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = watchProblems(page);
  await loginOnPhone(page, server.url);
  await page.goto(`${server.url}/#/inbox`);
  const item = page.locator("#messages li", { hasText: subject });
  await item.waitFor();
  assert.match(await item.textContent(), /Från Kalle Koordinator/);

  await context.setOffline(true);
  await item.locator("summary", { hasText: "Svara" }).click();
  await item.locator("textarea").fill("Ja, den ligger i bilen.");
  await item.locator("button[type=submit]").click();
  await page.waitForFunction(() => /så snart det finns täckning/.test(document.querySelector("#inbox-note").textContent));
  await page.waitForSelector('#sync[data-waiting="1"]'); // the answer waits on the phone
  assert.equal(await item.locator("textarea").count(), 1);
  await context.setOffline(false);
  await page.waitForSelector('#sync[data-waiting="0"]', { timeout: 30000 });

  const thread = (await call("GET", `/messages/threads/${asked.body.id}`, { token: coordinator })).body;
  assert.equal(thread.posts.length, 2, "answered once");
  assert.equal(thread.posts[1].sender.name, "Ivar Installatör");
  assert.equal(thread.posts[1].body, "Ja, den ligger i bilen.");
  assert.deepEqual(thread.posts[1].to.map((p) => p.name), ["Kalle Koordinator"]);
  assert.deepEqual(thread.posts[1].copy.map((p) => p.name), ["Alla koordinatorer"]);
  assert.deepEqual(server.errors, [], "no 5xx from the server");
  assert.deepEqual(problems, []);
});

test("a photo sent over a 50 kB/s uplink shows its progress on the bar and arrives once", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const { order, name, installer } = await orderFor(15);
  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = watchProblems(page);
  await loginOnPhone(page, server.url);
  await openOrder(page, name);

  // A slow uplink for the page, which sends while the app is on screen (a
  // proxy cannot slow the sender: the sockets' buffers take a photo at once).
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 40, downloadThroughput: -1, uploadThroughput: 50_000 });
  await page.evaluate(() => {
    window.progressSeen = [];
    const bar = document.querySelector("#sync-progress");
    new MutationObserver(() => {
      if (!bar.hidden && bar.max > 1) window.progressSeen.push([bar.value, bar.max]);
    }).observe(bar, { attributes: true });
  });
  const started = Date.now();
  await photograph(page, "key_receipt", "nyckelkvittens-photo.jpg");
  await page.waitForSelector('#sync[data-waiting="0"]', { timeout: 60000 });
  const seconds = (Date.now() - started) / 1000;
  const seen = await page.evaluate(() => window.progressSeen);
  const size = seen[0]?.[1] ?? 0;
  const steps = new Set(seen.map(([v]) => v));
  console.log(`upload at 50 kB/s: ${size} bytes in ${seconds.toFixed(1)} s, the bar at ${steps.size} values`);
  assert.ok(seconds > size / 50_000 * 0.8, `the upload took the slow uplink's time (${seconds} s for ${size} bytes)`);
  assert.ok(steps.size >= 5, `the bar moved in steps while the photo went: ${[...steps].slice(0, 20).join(", ")}`);
  assert.ok(seen.some(([v, max]) => v > 0 && v < max), "a part-way value was shown");

  // Arrived once: one document on the order, one 201 for it through the proxy.
  const documents = (await call("GET", `/orders/${order.id}/documents`, { token: installer })).body;
  assert.equal(documents.length, 1, JSON.stringify(documents));
  assert.equal(server.statuses.filter((s) => /^201 PUT \/api\/v1\/documents\//.test(s)).length, 1, server.statuses.join("\n"));
  assert.deepEqual(server.errors, [], "no 5xx from the server");
  assert.deepEqual(problems, []);
});
