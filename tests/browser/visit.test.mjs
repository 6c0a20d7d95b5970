// The installer's visit on the phone, step by step, each checked through the
// API: after a send the screens show what the server has; an incorrect order
// goes back to the assessor; an uninstall says its end date and what to fetch;
// a waiting action is changed or removed before it is sent. At 360×740, with
// the signal cut for real (context.setOffline cuts the service worker too).
// Run by `cargo test` (tests/api/browser.rs), which starts the server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  launch, proxy, call, orderFor, watchProblems, loginOnPhone, openOrder, waiting, token,
  outboxDump, phone, act, install, photograph, noHoles, bigTargets, localDate,
} from "./lib.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => browser?.close());

async function labels(installer) {
  const lifecycle = (await call("GET", "/lifecycle", { token: installer })).body;
  return (kind, state) => lifecycle.kinds.find((k) => k.kind === kind).states.find((s) => s.state === state).label;
}

// Nothing the page loads comes from anywhere but the app's own origin.
function ownOriginOnly(page, origin) {
  const outside = [];
  page.on("request", (req) => {
    const url = new URL(req.url());
    if (!["blob:", "data:"].includes(url.protocol) && url.origin !== origin) outside.push(req.url());
  });
  return outside;
}

test("one truth on screen: after the send the card shows the server's documents, equipment and keys; an open form survives the redraw", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const { order, name, customer, installer } = await orderFor(9);
  // Someone called the customer yesterday: the contact log says so.
  const called = await call("POST", `/orders/${order.id}/contacts`, {
    token: installer, body: { kind: "no_answer", note: "Ringde, inget svar" },
  });
  assert.equal(called.status, 201, JSON.stringify(called.body));
  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = watchProblems(page, /status of 40[19]|ERR_INTERNET_DISCONNECTED|Failed to fetch/);
  const outside = ownOriginOnly(page, server.url);
  await loginOnPhone(page, server.url);
  // Only true statements: nothing was sent from this phone yet.
  await page.waitForFunction(() => document.querySelector("#sync-text").textContent !== "");
  assert.match(await page.textContent("#sync-text"), /Inget väntar · inget skickat ännu/);
  await openOrder(page, name);
  await noHoles(page);
  assert.match(await page.textContent("#order-card"), /Besök.*kl\. 09:30/s);
  const log = await page.textContent("#order-card");
  assert.match(log, /Kontakter/);
  assert.match(log, /\d{4}-\d\d-\d\d \d\d:\d\d · Inget svar/, "the contact's time and kind in Swedish");
  assert.match(log, /Ringde, inget svar/);
  // The map link: the address to OpenStreetMap, nothing loaded from outside.
  const card = (await call("GET", `/customers/${customer.id}`, { token: installer })).body;
  const address = `${card.address.street}, ${card.address.postal_code} ${card.address.city}`;
  assert.equal(await page.getAttribute("#customer-card a.map", "href"),
    `https://www.openstreetmap.org/search?query=${encodeURIComponent(address)}`);
  await bigTargets(page, "#screen-order");

  // At the door, no signal: keys, the install and a photographed paper.
  await context.setOffline(true);
  await act(page, "receive_keys", async (form) => {
    await page.fill(`${form} textarea[name=key_numbers]`, "B-7009");
    await page.fill(`${form} input[name=cabinet]`, "3");
    await page.fill(`${form} input[name=hook]`, "12");
  });
  await install(page, "TX-1009", "WB-2009");
  await photograph(page, "responsibility_agreement", "portrait-orientation-6-gps.jpg");
  assert.equal(await waiting(page), 3);
  assert.equal(await page.getAttribute("#order-pending", "data-waiting"), "3", "the card and the bar agree");
  assert.match(await page.textContent("#order-pending"), /^3 åtgärder väntar på att skickas/);
  const before = await page.textContent("#customer-card");
  assert.match(before, /Dokument\s*Inga/, "nothing sent yet, and the card does not pretend");

  // A form open with a half-typed note when the signal returns and the queue goes.
  await page.click('#order-actions button[data-event="contact"]');
  const contact = 'form.action[data-event="contact"]';
  await page.waitForSelector(`${contact}:not([hidden])`);
  await page.check(`${contact} input[value=call]`);
  await page.fill(`${contact} textarea[name=note]`, "Pratade med dottern om");
  await context.setOffline(false);
  await page.waitForSelector('#sync[data-waiting="0"]', { timeout: 30000 });
  assert.equal(await page.getAttribute("#sync", "data-failed"), "0", await outboxDump(page));
  assert.match(await page.textContent("#sync-text"), /senast skickat \d{4}-\d\d-\d\d \d\d:\d\d/);

  // What the server has now…
  const documents = (await call("GET", `/customers/${customer.id}/documents`, { token: installer })).body;
  assert.equal(documents.length, 1);
  const items = (await call("GET", `/equipment/items?customer_id=${customer.id}`, { token: installer })).body;
  assert.deepEqual(items.map((i) => i.serial).toSorted(), ["TX-1009", "WB-2009"]);
  const keys = (await call("GET", `/customers/${customer.id}/keys`, { token: installer })).body;
  assert.deepEqual(keys.map((k) => [k.key_number, k.cabinet, k.hook]), [["B-7009", "3", "12"]]);
  // …is what the card shows, the document with its thumbnail.
  await page.waitForSelector(`#customer-card li[data-document="${documents[0].id}"] img`, { timeout: 15000 });
  await page.waitForFunction((id) => {
    const img = document.querySelector(`#customer-card li[data-document="${id}"] img`);
    return img?.complete && img.naturalWidth > 0;
  }, documents[0].id);
  const after = await page.textContent("#customer-card");
  assert.doesNotMatch(after, /Dokument\s*Inga/);
  assert.doesNotMatch(after, /Utrustning hos kunden\s*Ingen/);
  for (const serial of ["TX-1009", "WB-2009"]) assert.match(after, new RegExp(serial));
  assert.match(after, /B-7009 \(1 st\) · i skåpet · Skåp 3, krok 12/);
  assert.match(after, /Ansvarsavtal · underskrivet/);
  assert.ok(await page.isHidden("#order-pending"), "nothing waits for this order");
  assert.match(await page.textContent("#sync-text"), /Inget väntar/);
  const state = (await call("GET", `/orders/${order.id}`, { token: installer })).body.order.state;
  assert.equal(state, "installed");
  assert.match(await page.textContent("#order-card"), new RegExp(`Läge\\s*${(await labels(installer))("install", state)}`));

  // The redraw left the open form and what was typed.
  assert.ok(await page.isVisible(contact), "the form stays open through the redraw");
  assert.equal(await page.inputValue(`${contact} textarea[name=note]`), "Pratade med dottern om");
  assert.ok(await page.isChecked(`${contact} input[value=call]`));
  await page.fill(`${contact} textarea[name=note]`, "Pratade med dottern om nyckeln");
  await page.click(`${contact} button[type=submit]`);
  await page.waitForSelector('#sync[data-waiting="0"]', { timeout: 30000 });
  await page.waitForFunction(() => /Pratade med kunden\s*Pratade med dottern om nyckeln/.test(document.querySelector("#order-card").textContent)
    && !/väntar på att skickas/.test(document.querySelector("#order-card .log").textContent));
  const contacts = (await call("GET", `/orders/${order.id}`, { token: installer })).body.contacts;
  assert.equal(contacts.filter((c) => c.kind === "call" && c.note === "Pratade med dottern om nyckeln").length, 1);
  await noHoles(page);
  await bigTargets(page, "#screen-order");
  assert.deepEqual(outside, [], "nothing loaded from outside the app");
  assert.deepEqual(server.errors, [], "no 5xx from the server");
  assert.deepEqual(problems, []);
});

test("an incorrect order goes back to the assessor with a reason, queued offline like any step", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const { order, name, installer, assessor } = await orderFor(10, { book: false });
  const label = await labels(installer);
  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = watchProblems(page, /status of 40[19]|ERR_INTERNET_DISCONNECTED|Failed to fetch/);
  await loginOnPhone(page, server.url);
  assert.match(await page.textContent("#to-book"), new RegExp(name));
  await openOrder(page, name);
  const button = '#order-actions button[data-event="return_to_assessor"]';
  assert.equal(await page.textContent(button), "Skicka tillbaka till handläggaren", "the lifecycle's words");

  await context.setOffline(true);
  await page.click(button);
  const form = 'form.action[data-event="return_to_assessor"]';
  await page.waitForSelector(`${form}:not([hidden])`);
  await bigTargets(page, "#screen-order");
  // No reason, or only spaces: nothing is queued.
  await page.click(`${form} button[type=submit]`);
  assert.equal(await page.$eval(`${form} textarea[name=reason]`, (t) => t.validity.valueMissing), true);
  await page.fill(`${form} textarea[name=reason]`, "   ");
  await page.click(`${form} button[type=submit]`);
  await page.waitForSelector("#action-done:not([hidden])");
  assert.match(await page.textContent("#action-done"), /Skriv vad som är fel i ordern/);
  assert.equal(await waiting(page), 0, "nothing queued without a reason");
  assert.ok(await page.isVisible(form), "the form stays open to be completed");

  const why = "Fel adress i beställningen: kunden bor på Ekvägen 4";
  await page.fill(`${form} textarea[name=reason]`, why);
  await page.click(`${form} button[type=submit]`);
  await page.waitForFunction(() => document.querySelector("#action-done")?.textContent.includes("Sparat på telefonen"));
  assert.equal(await waiting(page), 1);
  const card = await page.textContent("#order-card");
  assert.match(card, new RegExp(`Läge\\s*${label("install", "returned_to_assessor")}`), "the phone shows where the step leads");
  assert.match(card, new RegExp(`Orsak\\s*${why}`));
  assert.equal(await page.$(button), null, "the step is done");

  await context.setOffline(false);
  await page.waitForSelector('#sync[data-waiting="0"]', { timeout: 30000 });
  assert.equal(await page.getAttribute("#sync", "data-failed"), "0", await outboxDump(page));
  const detail = (await call("GET", `/orders/${order.id}`, { token: assessor })).body;
  assert.equal(detail.order.state, "returned_to_assessor");
  assert.equal(detail.order.state_reason, why);
  assert.equal(detail.history.filter((h) => h.to === "returned_to_assessor").length, 1, "sent once");
  await page.waitForFunction((v) => document.querySelector("#order-card").textContent.includes(v), label("install", "returned_to_assessor"));
  assert.match(await page.textContent("#order-card"), new RegExp(`Orsak\\s*${why}`), "the server's reason on screen");
  await noHoles(page);
  assert.deepEqual(server.errors, [], "no 5xx from the server");
  assert.deepEqual(problems, []);
});

test("an uninstall shows the assessor's end date and what is to be fetched: equipment and keys", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const { order, customer, name, installer, assessor } = await orderFor(11);
  // The alarm in place and running: keys, the install, the execution.
  let current = order;
  const step = async (who, path, body) => {
    const res = await call("POST", `/orders/${current.id}/${path}`, { token: who, headers: { "If-Match": `"${current.version}"` }, body });
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
    current = res.body.order;
  };
  await step(installer, "receive-keys", { key_numbers: ["B-7011"], count: 2, cabinet: "Skåp 2", hook: "14", night_cabinet: false });
  await step(installer, "install", { installation_date: localDate(0), serials: ["TX-1011", "WB-2011"] });
  await step(await token("koordinator"), "execute", {});
  const endDate = localDate(10);
  const decisions = (await call("GET", `/customers/${customer.id}/decisions`, { token: assessor })).body;
  const decision = (decisions.items ?? decisions).find((d) => d.id === order.decision_id);
  const ended = await call("POST", `/decisions/${order.decision_id}/end`, {
    token: assessor, headers: { "If-Match": `"${decision.version}"` }, body: { end_date: endDate },
  });
  assert.equal(ended.status, 200, JSON.stringify(ended.body));
  const uninstall = ended.body.uninstall_order;
  assert.ok(uninstall?.id, `an uninstall order: ${JSON.stringify(ended.body)}`);
  assert.equal(uninstall.kind, "uninstall");

  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = watchProblems(page);
  await loginOnPhone(page, server.url);
  await page.goto(`${server.url}/#/order/${uninstall.id}`);
  await page.waitForSelector("#screen-order:not([hidden])");
  await page.waitForFunction(() => /Slutdatum/.test(document.querySelector("#order-card").textContent));
  const card = await page.textContent("#order-card");
  const items = (await call("GET", `/equipment/items?customer_id=${customer.id}`, { token: installer })).body;
  const toFetch = items.filter((i) => ["to_collect", "at_customer"].includes(i.state)).map((i) => i.serial).toSorted();
  assert.deepEqual(toFetch, ["TX-1011", "WB-2011"]);
  const endSv = new Date(`${endDate}T12:00:00`).toLocaleDateString("sv-SE", { weekday: "short", day: "numeric", month: "short", timeZone: "Europe/Stockholm" });
  assert.match(card, new RegExp(`Slutdatum\\s*${endSv}`), `the end date ${endDate} in words: ${card}`);
  assert.match(card, /Att hämta\s*Larmenhet TX-1011\s*Larmknapp WB-2011\s*Nycklar att lämna tillbaka/);
  assert.match(card, /Nycklar att lämna tillbaka\s*B-7011 \(2 st\) · i skåpet · Skåp 2, krok 14/);
  assert.match(await page.textContent("#order-title"), new RegExp(name));
  await noHoles(page);
  await bigTargets(page, "#screen-order");
  assert.deepEqual(server.errors, [], "no 5xx from the server");
  assert.deepEqual(problems, []);
});

test("a waiting action is changed or removed before it is sent: removing asks first, and the order's state follows", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const { order, name, installer } = await orderFor(12, { book: false });
  const label = await labels(installer);
  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = watchProblems(page, /status of 40[19]|ERR_INTERNET_DISCONNECTED|Failed to fetch/);
  await loginOnPhone(page, server.url);
  await openOrder(page, name);

  await context.setOffline(true);
  const tomorrow = localDate(1);
  await act(page, "book", async (form) => {
    await page.fill(`${form} input[name=visit_date]`, tomorrow);
    await page.fill(`${form} input[name=visit_time]`, "14:00");
  });
  await act(page, "contact", async (form) => {
    await page.check(`${form} input[value=note]`);
    await page.fill(`${form} textarea[name=note]`, "Portkod 1234 fel");
  });
  assert.equal(await waiting(page), 2);
  assert.match(await page.textContent("#order-card"), new RegExp(`Läge\\s*${label("install", "booked")}`));
  assert.match(await page.textContent("#order-card"), /kl\. 14:00/);
  assert.match(await page.textContent("#order-pending"), /^2 åtgärder väntar/);

  // Removing the booking asks first.
  await page.click('#nav a[href="#/outbox"]');
  await page.waitForSelector("#screen-outbox:not([hidden])");
  await bigTargets(page, "#screen-outbox");
  const booking = page.locator("#waiting li", { hasText: "Besök bokat" });
  await booking.locator("button", { hasText: "Ta bort" }).click();
  assert.equal(await waiting(page), 2, "one tap removes nothing");
  await booking.locator("button", { hasText: "Bekräfta" }).click();
  await page.waitForSelector('#sync[data-waiting="1"]');
  assert.equal(await page.locator("#waiting li").count(), 1);

  // Changing the note: its form opens with what was typed.
  await page.locator("#waiting li", { hasText: "Kontakt" }).locator("button", { hasText: "Ändra" }).click();
  const form = 'form.action[data-event="contact"]';
  await page.waitForSelector(`${form}:not([hidden])`);
  assert.equal(await page.inputValue(`${form} textarea[name=note]`), "Portkod 1234 fel");
  assert.ok(await page.isChecked(`${form} input[value=note]`));
  assert.match(await page.textContent(form), /Du ändrar en åtgärd som väntar/);
  // The booking's removal put the order back where the server has it.
  const card = await page.textContent("#order-card");
  assert.match(card, new RegExp(`Läge\\s*${label("install", "received")}`));
  assert.match(card, /Besök\s*Inte bokat/);
  await page.fill(`${form} textarea[name=note]`, "Portkod 4321");
  await page.click(`${form} button[type=submit]`);
  await page.waitForFunction(() => document.querySelector("#action-done")?.textContent.includes("Ändringen är sparad"));
  assert.equal(await waiting(page), 1, "changed in place, not added");
  assert.match(await page.textContent("#order-card .log"), /Anteckning · väntar på att skickas\s*Portkod 4321/);

  await context.setOffline(false);
  await page.waitForSelector('#sync[data-waiting="0"]', { timeout: 30000 });
  assert.equal(await page.getAttribute("#sync", "data-failed"), "0", await outboxDump(page));
  const detail = (await call("GET", `/orders/${order.id}`, { token: installer })).body;
  assert.deepEqual(detail.contacts.filter((c) => c.kind === "note").map((c) => c.note), ["Portkod 4321"], "only the changed note");
  assert.equal(detail.order.state, "received", "the removed booking never reached the server");
  assert.equal(detail.order.visit_date, null);
  await page.waitForFunction(() => !/väntar på att skickas/.test(document.querySelector("#order-card .log").textContent));
  await noHoles(page);
  assert.deepEqual(server.errors, [], "no 5xx from the server");
  assert.deepEqual(problems, []);
});

test("the night patrol finds a key's place by customer: Skåp N, krok M for a customer one may see, each look audited, offline from the phone's own copy", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const { order, customer, name, installer } = await orderFor(13);
  const keys = await call("POST", `/orders/${order.id}/receive-keys`, {
    token: installer, headers: { "If-Match": `"${order.version}"` },
    body: { key_numbers: ["B-7013"], count: 1, cabinet: "4", hook: "7", night_cabinet: true },
  });
  assert.equal(keys.status, 200, JSON.stringify(keys.body));
  const admin = await token("admin");
  // A customer of another area: the installer may not see it, nor its keys.
  const all = (await call("GET", "/customers?limit=200", { token: admin })).body.items;
  const mine = new Set((await call("GET", "/customers?limit=200", { token: installer })).body.items.map((c) => c.id));
  const other = all.find((c) => !mine.has(c.id));
  assert.ok(other, "a customer the installer may not see");
  assert.equal((await call("GET", `/customers/${other.id}/keys`, { token: installer })).status, 404);

  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = watchProblems(page, /status of 40[149]|ERR_INTERNET_DISCONNECTED|Failed to fetch/);
  await loginOnPhone(page, server.url);
  const searchedAt = new Date(Date.now() - 1000).toISOString();
  await page.click("#menu-button");
  await page.click("#menu-keys");
  await page.waitForSelector("#screen-keys:not([hidden])");
  await bigTargets(page, "#screen-keys");
  const search = async (q) => {
    await page.fill("#key-search input[name=q]", q);
    await page.click("#key-search button[type=submit]");
    await page.waitForFunction(() => !/Söker/.test(document.querySelector("#key-note").textContent));
  };

  await search(customer.customer_number);
  const hit = `#key-results li[data-customer="${customer.customer_number}"]`;
  await page.waitForSelector(hit);
  const registered = (await call("GET", `/customers/${customer.id}/keys`, { token: installer })).body;
  assert.deepEqual(registered.map((k) => [k.key_number, k.cabinet, k.hook, k.night_cabinet]), [["B-7013", "4", "7", true]]);
  assert.equal(await page.textContent(`${hit} .place`), "Skåp 4, krok 7");
  assert.match(await page.textContent(hit), /Nyckel B-7013 \(1 st\) · nattskåpet/);
  assert.match(await page.textContent(hit), new RegExp(name));
  // The look is in the audit log, under the installer's name.
  let looks = [];
  for (let i = 0; i < 50 && !looks.length; i++) {
    const audit = (await call("GET", `/audit?customer_id=${customer.id}&action=key.list&from=${encodeURIComponent(searchedAt)}`, { token: admin })).body;
    looks = audit.items.filter((e) => e.username === "installator" && e.outcome === "ok");
    if (!looks.length) await page.waitForTimeout(100);
  }
  assert.ok(looks.length >= 1, "the key look is audited");

  await search(other.customer_number);
  assert.equal(await page.locator("#key-results li[data-customer]").count(), 0, "nothing of a customer one may not see");
  assert.equal(await page.textContent("#key-note"), "Ingen kund som du får se hittades.");

  // No signal: the customers on the phone are searched.
  await context.setOffline(true);
  await search(name.split(" ")[1]);
  await page.waitForSelector(hit);
  assert.equal(await page.textContent(`${hit} .place`), "Skåp 4, krok 7");
  assert.match(await page.textContent("#key-note"), /Utan täckning/);
  assert.deepEqual(server.errors, [], "no 5xx from the server");
  assert.deepEqual(problems, []);
});

test("a queued install with a mistyped serial is corrected in Att skicka before it is sent", async (t) => {
  const server = await proxy();
  t.after(() => server.close());
  const { order, name, installer } = await orderFor(14);
  const context = await browser.newContext(phone);
  t.after(() => context.close());
  const page = await context.newPage();
  const problems = watchProblems(page, /status of 40[19]|ERR_INTERNET_DISCONNECTED|Failed to fetch/);
  await loginOnPhone(page, server.url);
  await openOrder(page, name);
  await context.setOffline(true);
  await install(page, "TX-1O14", "WB-2014"); // a letter O for the zero
  assert.equal(await waiting(page), 1);

  await page.click('#nav a[href="#/outbox"]');
  await page.waitForSelector("#screen-outbox:not([hidden])");
  await page.locator("#waiting li", { hasText: "Installerat TX-1O14" }).locator("button", { hasText: "Ändra" }).click();
  const form = 'form.action[data-event="install"]';
  await page.waitForSelector(`${form}:not([hidden])`);
  const serials = page.locator(`${form} input[name=serial]`);
  assert.deepEqual(await serials.evaluateAll((inputs) => inputs.map((i) => i.value)), ["TX-1O14", "WB-2014"]);
  await serials.nth(0).fill("TX-1014");
  await page.click(`${form} button[type=submit]`);
  await page.waitForFunction(() => document.querySelector("#action-done")?.textContent.includes("Ändringen är sparad"));
  assert.equal(await waiting(page), 1, "changed in place");
  assert.match(await page.textContent("#order-card"), /Serienummer\s*TX-1014, WB-2014/);

  await context.setOffline(false);
  await page.waitForSelector('#sync[data-waiting="0"]', { timeout: 30000 });
  assert.equal(await page.getAttribute("#sync", "data-failed"), "0", await outboxDump(page));
  const detail = (await call("GET", `/orders/${order.id}`, { token: installer })).body;
  assert.equal(detail.order.state, "installed");
  assert.deepEqual(detail.order.serials.toSorted(), ["TX-1014", "WB-2014"]);
  assert.equal(detail.history.filter((h) => h.to === "installed").length, 1);
  await page.waitForFunction(() => /Larmenhet TX-1014/.test(document.querySelector("#customer-card").textContent));
  assert.deepEqual(server.errors, [], "no 5xx from the server");
  assert.deepEqual(problems, []);
});
