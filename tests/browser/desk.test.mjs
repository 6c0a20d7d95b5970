// The desk in Debian's headless Chromium on a wide screen: a coordinator logs
// in and executes an installed order by keyboard alone; the printable pick-up
// list is rendered to PDF and the PDF's text holds the expected rows. No
// console error, no CSP violation. The data is prepared through the API first
// (the demo has no orders). Run by `cargo test` (tests/api/browser.rs), which
// starts the server and passes its address in LARMKOLL_URL.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getDocument } from "pdfjs-dist/legacy/build/pdf.mjs";
import { base, launch, call as request, token, localDate, proxy, watchProblems } from "./lib.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => browser?.close());

// The API for preparing data: any answer but a success fails the test.
async function call(bearer, method, path, body, headers = {}) {
  const res = await request(method, path, { token: bearer, body, headers });
  assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const login = (username) => token(username);

async function step(token, order, event, body = {}) {
  const res = await call(token, "POST", `/orders/${order.id}/${event}`, body, { "If-Match": `"${order.version}"` });
  return res.order;
}

const day = localDate;

// Customers (the assessor's: Boo) with no decision yet, from the end of the list so the field tests' data stays apart.
async function freshCustomers(assessor, n) {
  const page = await call(assessor, "GET", "/customers?limit=200");
  const found = [];
  for (const c of page.items.reverse()) {
    const decisions = await call(assessor, "GET", `/customers/${c.id}/decisions`);
    if (decisions.length === 0) found.push(c);
    if (found.length === n) return found;
  }
  throw new Error("not enough customers without decisions");
}

async function installed(tokens, customer, serials, keyNumber, installedOn) {
  const granted = await call(tokens.assessor, "POST", `/customers/${customer.id}/decisions`, {
    service: "safety_alarm",
    valid_from: day(-20),
  });
  let order = await step(tokens.installer, granted.order, "book", { visit_date: installedOn });
  order = await step(tokens.installer, order, "receive-keys", {
    key_numbers: [keyNumber], count: 1, cabinet: "Skåp Ö", hook: "12",
  });
  order = await step(tokens.installer, order, "install", { installation_date: installedOn, serials });
  assert.equal(order.state, "installed");
  return { order, decision: granted.decision };
}

test("a coordinator executes by keyboard and prints the pick-up list to PDF", async () => {
  const tokens = {
    assessor: await login("handlaggare"),
    installer: await login("installator"),
    coordinator: await login("koordinator"),
  };
  const [toExecute, toCollect] = await freshCustomers(tokens.assessor, 2);
  const stock = async (kind) =>
    (await call(tokens.installer, "GET", `/equipment/items?state=in_stock&kind=${kind}&limit=1000`)).map((i) => i.serial).reverse();
  const [units, buttons] = [await stock("alarm_unit"), await stock("alarm_button")];
  const suffix = Date.now().toString(36).toUpperCase();
  const installedOn = day(-3);
  const a = await installed(tokens, toExecute, [units[0], buttons[0]], `DA-${suffix}`, installedOn);
  // The second customer's alarm is installed, executed and ended: it is on the pick-up list.
  const b = await installed(tokens, toCollect, [units[1], buttons[1]], `DB-${suffix}`, day(-10));
  await step(tokens.coordinator, b.order, "execute");
  await call(tokens.assessor, "POST", `/decisions/${b.decision.id}/end`, { end_date: day(-1) }, { "If-Match": `"${b.decision.version}"` });

  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, locale: "sv-SE" });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(msg.text());
  });
  page.on("pageerror", (err) => problems.push(String(err)));

  // Log in with the keyboard only.
  await page.goto(`${base}/desk/`);
  assert.equal(await page.getAttribute("html", "lang"), "sv");
  await page.locator("#login input[name=username]").focus();
  await page.keyboard.type("koordinator");
  await page.keyboard.press("Tab");
  await page.keyboard.type("demo");
  await page.keyboard.press("Enter");
  await page.waitForSelector("body[data-ready=queue]");
  assert.equal(await page.textContent("#who"), "Kalle Koordinator");

  const button = page.locator(`button[data-order-id="${a.order.id}"]`);
  const row = page.locator("#queue-rows tr", { has: button });
  assert.match(await row.textContent(), new RegExp(toExecute.customer_number));
  assert.equal(await row.locator("input[name=start]").inputValue(), installedOn, "the installation date is prefilled");

  // Tab to this order's button and press Enter: no mouse.
  let reached = false;
  for (let i = 0; i < 300 && !reached; i++) {
    await page.keyboard.press("Tab");
    reached = await page.evaluate((id) => document.activeElement?.dataset?.orderId === id, a.order.id);
  }
  assert.ok(reached, "the execute button can be reached with Tab");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => /är verkställd från/.test(document.getElementById("status").textContent));
  assert.match(await page.textContent("#status"), new RegExp(`${toExecute.customer_number} .* är verkställd från ${installedOn}`));
  assert.equal(await button.count(), 0, "the executed order leaves the queue");
  assert.ok(await page.evaluate(() => document.activeElement !== document.body), "focus stays in the work, not lost");
  const executed = await call(tokens.coordinator, "GET", `/orders/${a.order.id}`);
  assert.equal((executed.order ?? executed).state, "executed");

  // The printable pick-up list, in the same tab (the login lives in sessionStorage).
  await page.goto(`${base}/desk/hamtlista.html`);
  await page.waitForSelector("body[data-ready=pickup]");
  const listed = page.locator("#pickup tr", { hasText: toCollect.customer_number });
  assert.equal(await listed.count(), 1);
  const line = await listed.textContent();
  assert.match(line, new RegExp(`DB-${suffix}`), "the key number is on the list");
  assert.match(line, new RegExp(units[1]));
  assert.match(line, new RegExp(toCollect.address.street));
  assert.match(line, new RegExp(day(-1)), "the assessor's end date is on the list");
  assert.match(line, new RegExp(`DB-${suffix} · Skåp Ö, krok 12`), "and where the key hangs");
  // At A4 landscape's printable width (297 mm less 24 mm of margins, at 96 dpi) no short cell
  // breaks over two lines and the table fits the page.
  await page.emulateMedia({ media: "print" });
  await page.setViewportSize({ width: 1031, height: 700 });
  const fit = await page.evaluate(() => ({
    broken: [...document.querySelectorAll("#pickup .nowrap")].filter((c) => {
      const range = document.createRange();
      range.selectNodeContents(c);
      return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1;
    }).map((c) => c.textContent),
    widest: Math.max(...[...document.querySelectorAll("#pickup table")].map((t) => t.scrollWidth)),
  }));
  assert.deepEqual(fit.broken, [], "no short cell breaks over two lines");
  assert.ok(fit.widest <= 1031, `the table fits the page: ${fit.widest} px`);
  await page.setViewportSize({ width: 1600, height: 1000 });
  await page.emulateMedia({ media: "screen" });
  const all = await page.textContent("body");
  assert.doesNotMatch(all, /\d{8}-?\d{4}|XXXX/, "no personnummer on the printed list");

  await page.emulateMedia({ media: "print" });
  assert.equal(await page.locator("header.bar").evaluate((h) => getComputedStyle(h).display), "none", "the print stylesheet hides the toolbar");
  const pdf = await page.pdf({ preferCSSPageSize: true, printBackground: false });
  assert.equal(pdf.subarray(0, 5).toString(), "%PDF-");
  const file = join(tmpdir(), `larmkoll-hamtlista-${suffix}.pdf`);
  await writeFile(file, pdf);

  const doc = await getDocument({ data: new Uint8Array(pdf), useSystemFonts: false, verbosity: 0 }).promise;
  let text = "";
  for (let n = 1; n <= doc.numPages; n++) {
    const content = await (await doc.getPage(n)).getTextContent();
    const pageText = content.items.map((i) => i.str).join(" ");
    // Every page says which list, whose and which page it is.
    assert.match(pageText, /Hämtlista (Boo|Sickla) · .* · utskriven av Kalle Koordinator/, `page ${n} of ${file} has the list's header`);
    assert.ok(pageText.includes(`Sida ${n} av ${doc.numPages}`), `page ${n} of ${file} is numbered: ${pageText.slice(-200)}`);
    text += pageText + "\n";
  }
  const view = await page.viewportSize();
  assert.ok(doc.numPages >= 1 && view.width === 1600);
  // The end date, the key's hook and the words of the list, each on one line of its row.
  for (const expected of ["Hämtlista – larm och lås att hämta", toCollect.customer_number, `DB-${suffix} · Skåp Ö, krok 12`, day(-1), units[1], "Larmenhet", "Boo"]) {
    assert.ok(text.includes(expected), `the PDF (${file}) says ${expected}: ${text}`);
  }
  assert.ok(!text.includes("Skriv ut"), "buttons are not printed");
  assert.doesNotMatch(text, /\d{8}-?\d{4}|XXXX/, "no personnummer in the PDF");

  assert.deepEqual(problems, [], "console errors (a CSP violation shows here)");
  await context.close();
});

// Logs in at the desk by keyboard and waits for the first view.
async function deskLogin(page, origin, username, firstView) {
  await page.goto(`${origin}/desk/`);
  await page.locator("#login input[name=username]").focus();
  await page.keyboard.type(username);
  await page.keyboard.press("Tab");
  await page.keyboard.type("demo");
  await page.keyboard.press("Enter");
  await page.waitForSelector(`body[data-ready=${firstView}]`);
}

test("a coordinator ends an execution by keyboard and billing stops on the assessor's end date", async () => {
  const tokens = {
    assessor: await login("handlaggare"),
    installer: await login("installator"),
    coordinator: await login("koordinator"),
  };
  const [c] = await freshCustomers(tokens.assessor, 1);
  const stock = async (kind) =>
    (await call(tokens.installer, "GET", `/equipment/items?state=in_stock&kind=${kind}&limit=1000`)).map((i) => i.serial).reverse();
  const serials = [(await stock("alarm_unit"))[2], (await stock("alarm_button"))[2]];
  const suffix = Date.now().toString(36).toUpperCase();
  const a = await installed(tokens, c, serials, `DE-${suffix}`, day(-12));
  await step(tokens.coordinator, a.order, "execute");
  const endDate = day(-2);
  await call(tokens.assessor, "POST", `/decisions/${a.decision.id}/end`, { end_date: endDate }, { "If-Match": `"${a.decision.version}"` });
  const [uninstall] = (await call(tokens.installer, "GET", `/orders?customer_id=${c.id}&kind=uninstall`)).items;
  let order = await step(tokens.installer, uninstall, "collect-equipment", { collected_on: day(0), items: serials });
  order = await step(tokens.installer, order, "return-keys", { outcome: "returned" });
  assert.equal(order.state, "keys_returned");

  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "sv-SE" });
  const page = await context.newPage();
  const problems = watchProblems(page);
  await deskLogin(page, base, "koordinator", "queue");

  // To the tab "Att avsluta" and on to this customer's button, by keyboard alone.
  let reached = false;
  for (let i = 0; i < 50 && !reached; i++) {
    await page.keyboard.press("Tab");
    reached = await page.evaluate(() => document.activeElement?.dataset?.view === "ending");
  }
  assert.ok(reached, "the tab Att avsluta can be reached with Tab");
  await page.keyboard.press("Enter");
  await page.waitForSelector("body[data-ready=ending]");
  const button = page.locator(`button[data-order-id="${order.id}"]`);
  const row = page.locator("#ending-rows tr", { has: button });
  assert.match(await row.textContent(), new RegExp(`${c.customer_number}.*${endDate}`));
  reached = false;
  for (let i = 0; i < 300 && !reached; i++) {
    await page.keyboard.press("Tab");
    reached = await page.evaluate((id) => document.activeElement?.dataset?.orderId === id, order.id);
  }
  assert.ok(reached, "the end button can be reached with Tab");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => /är avslutad per/.test(document.getElementById("status").textContent));
  assert.match(await page.textContent("#status"), new RegExp(`${c.customer_number} .*: insatsen är avslutad per ${endDate}`));
  assert.equal(await button.count(), 0, "the ended order leaves the list");

  // Through the API: the order ended, and billing stopped on the assessor's date.
  const ended = await call(tokens.coordinator, "GET", `/orders/${order.id}`);
  assert.equal(ended.order.state, "ended");
  const billing = await login("avgift");
  const events = await call(billing, "GET", `/billing/events?from=${day(-30)}&to=${day(0)}`);
  const mine = events.filter((e) => e.customer_id === c.id).map((e) => `${e.kind} ${e.date}`);
  assert.deepEqual(mine, [`start ${day(-12)}`, `stop ${endDate}`]);
  assert.deepEqual(problems, [], "console errors");
  await context.close();
});

test("the desk renews a lapsed token, asks for the login again when it cannot, and every inbox opens", async () => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "sv-SE" });
  const page = await context.newPage();
  const problems = watchProblems(page);
  await deskLogin(page, base, "koordinator", "queue");
  assert.equal(await page.locator("#login").isVisible(), false);
  assert.equal(await page.locator("#logout").isVisible(), true);

  // The access token no longer works (expired, or its session cut): the desk renews it and goes on.
  await page.evaluate(() => { state.token = "lapsed"; sessionStorage.setItem("access_token", "lapsed"); });
  await page.locator('#views button[data-view="messages"]').click();
  await page.waitForSelector("body[data-ready=messages]");
  assert.equal(await page.locator("#login").isVisible(), false, "still logged in");
  assert.notEqual(await page.evaluate(() => sessionStorage.getItem("access_token")), "lapsed");
  assert.equal(await page.textContent("#status"), "", "no error over the inbox");
  assert.ok((await page.locator("#message-list li").count()) + (await page.locator("#messages-empty").isVisible() ? 1 : 0) > 0);

  // Neither token works: a Swedish login with the name kept and the password empty, nothing else.
  await page.evaluate(() => {
    state.token = "lapsed";
    state.refreshToken = "lapsed";
  });
  await page.locator('#views button[data-view="queue"]').click();
  await page.waitForSelector("#login:not([hidden])");
  assert.equal(await page.textContent("#status"), "Inloggningen har gått ut. Logga in igen.");
  assert.equal(await page.inputValue("#login input[name=username]"), "koordinator");
  assert.equal(await page.inputValue("#login input[name=password]"), "");
  for (const hidden of ["#views", "#logout", "#view-queue"]) {
    assert.equal(await page.locator(hidden).isVisible(), false, `${hidden} is not shown at the login`);
  }
  assert.equal(await page.evaluate(() => document.activeElement?.name), "password", "the cursor waits in the password");

  // Each desk role's inbox opens without an error.
  for (const username of ["koordinator", "handlaggare", "avgift", "larmcentral", "admin"]) {
    await page.evaluate(() => sessionStorage.clear());
    await page.goto(`${base}/desk/#messages`);
    await page.reload();
    await page.locator("#login input[name=username]").fill(username);
    await page.locator("#login input[name=password]").fill("demo");
    await page.keyboard.press("Enter");
    await page.waitForSelector("body[data-ready=messages]");
    assert.equal(await page.textContent("#status"), "", `${username}: no error over the inbox`);
  }
  assert.deepEqual(problems, [], "console errors");
  await context.close();
});

test("a desk session kept open past two token lifetimes stays logged in", async () => {
  const upstream = process.env.LARMKOLL_SHORT_TOKEN_URL;
  assert.ok(upstream, "LARMKOLL_SHORT_TOKEN_URL must name the short-token server");
  const server = await proxy(upstream);
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "sv-SE" });
  const page = await context.newPage();
  try {
    const problems = watchProblems(page);
    await deskLogin(page, server.url, "koordinator", "queue");
    // Access tokens live one minute there; wait out two of them and a little.
    await page.waitForTimeout(130_000);
    await page.locator('#views button[data-view="messages"]').click();
    await page.waitForSelector("body[data-ready=messages]");
    assert.equal(await page.locator("#login").isVisible(), false, "still logged in");
    const count = (request) => server.seen.filter((r) => r === request).length;
    const refreshes = count("POST /api/v1/auth/refresh");
    assert.ok(refreshes >= 2, `renewed before each expiry (${refreshes} renewals): ${server.seen.join(", ")}`);
    assert.equal(count("POST /api/v1/auth/login"), 1, "logged in once, never asked again");
    assert.deepEqual(problems, [], "console errors");
  } finally {
    await context.close();
    await server.close();
  }
});

test("a coordinator writes to a customer's assessor with a copy to the alarm team, and the assessor answers in the thread", async () => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "sv-SE" });
  const page = await context.newPage();
  const problems = watchProblems(page);
  const assessor = await login("handlaggare");
  const coordinator = await login("koordinator");
  // A Boo customer the coordinator sees, with an ordinary assessor.
  const customers = await call(coordinator, "GET", "/customers?limit=200");
  const customer = customers.items.find((c) => c.ordinary_assessor_id && c.address.city === "Saltsjö-Boo");
  assert.ok(customer, "a Boo customer with an ordinary assessor");
  const subject = `Nycklar vid avslut ${Date.now()}`;
  const question = "Ska alla nycklar tillbaka när larmet tas ned?";

  await deskLogin(page, base, "koordinator", "queue");
  await page.locator('#views button[data-view="messages"]').click();
  await page.waitForSelector("body[data-ready=messages]");
  await page.locator("#compose-open").click();
  await page.waitForSelector("#compose:not([hidden]) select[name=to] option");
  await page.locator("#compose select[name=to]").selectOption(["assessor:ordinary"]);
  const team = await page.locator("#compose select[name=copy] option", { hasText: "Boo larmgrupp" }).getAttribute("value");
  await page.locator("#compose select[name=copy]").selectOption([team]);
  await page.locator("#compose input[name=customer]").fill(customer.customer_number);
  await page.locator("#compose input[name=subject]").fill(subject);
  await page.locator("#compose textarea[name=body]").fill(question);
  await page.locator("#compose button[type=submit]").click();
  await page.waitForSelector("#thread:not([hidden])");
  assert.match(await page.textContent("#status"), /Meddelandet är skickat till Hanna Handläggare\./);
  assert.equal(await page.textContent("#h-thread"), subject);
  assert.match(await page.textContent("#thread-about"), new RegExp(`Gäller kund ${customer.customer_number}`));
  assert.match(await page.textContent("#thread-posts"), /kopia Boo larmgrupp/);

  // Through the API: the assessor has it, from the coordinator, about the customer.
  const inbox = await call(assessor, "GET", "/messages?limit=200");
  const got = inbox.find((m) => m.subject === subject);
  assert.ok(got, "in the assessor's inbox");
  assert.equal(got.sender_name, "Kalle Koordinator");
  assert.equal(got.customer_id, customer.id);
  assert.equal(got.body, question);

  // The assessor opens it at the desk and answers everyone in the thread.
  await page.evaluate(() => sessionStorage.clear());
  await deskLogin(page, base, "handlaggare", "stalled");
  await page.locator('#views button[data-view="messages"]').click();
  await page.waitForSelector("body[data-ready=messages]");
  const row = page.locator("#message-list li", { hasText: subject });
  assert.match(await row.textContent(), /Från Kalle Koordinator/);
  await row.locator("button", { hasText: "Visa tråden" }).click();
  await page.waitForSelector("#thread:not([hidden])");
  await page.locator("#reply textarea[name=body]").fill("Ja, alla nycklar ska tillbaka.");
  await page.locator("#reply button[type=submit]").click();
  await page.waitForFunction(() => document.querySelectorAll("#thread-posts li").length === 2);
  assert.equal(await page.textContent("#status"), "Svaret är skickat.");
  assert.match(await page.locator("#thread-posts li").nth(1).textContent(), /Till Kalle Koordinator · kopia Boo larmgrupp/);

  // Through the API: the coordinator has the answer in the same thread, read audited.
  const back = (await call(coordinator, "GET", "/messages?limit=200")).find((m) => m.subject === `Sv: ${subject}`);
  assert.ok(back, "the answer reached the coordinator");
  assert.equal(back.thread_id, got.thread_id);
  const thread = await call(coordinator, "GET", `/messages/threads/${got.thread_id}`);
  assert.deepEqual(thread.posts.map((p) => p.sender.name), ["Kalle Koordinator", "Hanna Handläggare"]);
  assert.deepEqual(problems, [], "console errors");
  await context.close();
});

test("the admin sees every mail waiting in the outbox, in words, and filters them", async () => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "sv-SE" });
  const page = await context.newPage();
  const problems = watchProblems(page);
  const admin = await login("admin");
  const coordinator = await login("koordinator");
  // A mailbox for the alarm team; no mail server is configured here, so the mail waits.
  const groups = await call(admin, "GET", "/groups");
  const team = groups.find((g) => g.name === "Boo larmgrupp");
  const mailbox = `larmgruppen-${Date.now()}@kommun.test`;
  await request("PUT", `/groups/${team.id}/mailbox`, { token: admin, body: { address: mailbox } });
  try {
    const subject = `Utskick ${Date.now()}`;
    await call(coordinator, "POST", "/messages", { to: { groups: [team.id] }, subject, body: "Hej larmgruppen" }, { "Idempotency-Key": `k-${Date.now()}` });
    const queued = (await call(admin, "GET", "/outbox?channel=email&limit=50")).find((d) => d.target === mailbox);
    assert.ok(queued, "the mail is in the outbox");
    assert.equal(queued.state, "pending");

    await deskLogin(page, base, "admin", "queue");
    await page.locator('#views button[data-view="outbox"]').click();
    await page.waitForSelector("body[data-ready=outbox]");
    const row = page.locator("#outbox-rows tr", { hasText: mailbox });
    assert.equal(await row.count(), 1);
    const text = await row.textContent();
    for (const words of ["E-post", "Meddelande från en kollega", "väntar"]) assert.ok(text.includes(words), `${words} in ${text}`);
    for (const code of ["pending", "conversation", "email"]) assert.ok(!text.includes(code), `no code ${code} in ${text}`);
    // Only failed ones: the waiting mail is not among them.
    await page.locator("#outbox-filter select[name=state]").selectOption("failed");
    await page.locator("#outbox-filter button[type=submit]").click();
    await page.waitForFunction((m) => ![...document.querySelectorAll("#outbox-rows tr")].some((r) => r.textContent.includes(m)), mailbox);
    assert.deepEqual(problems, [], "console errors");
  } finally {
    await request("PUT", `/groups/${team.id}/mailbox`, { token: admin, body: { address: null } });
    await context.close();
  }
});

test("the key holder finds a customer's key by customer number, signs it out to the night patrol and in again, and reads its chain of moves", async () => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "sv-SE" });
  const page = await context.newPage();
  const problems = watchProblems(page);
  const coordinator = await login("koordinator");
  const [customer] = await freshCustomers(coordinator, 1);
  const number = `DK-${Date.now() % 100000}`;
  const created = await call(coordinator, "POST", "/keys", {
    key_number: number.toLowerCase(), customer_id: customer.id, count: 1, cabinet: "Skåp 7", hook: "21",
  }, { "Idempotency-Key": `nyckel-${Date.now()}` });
  assert.equal(created.key.key_number, number, "the register writes the number as on the tag");

  await deskLogin(page, base, "koordinator", "queue");
  await page.locator('#views button[data-view="keys"]').click();
  await page.waitForSelector("body[data-ready=keys]");
  await page.locator("#key-search input[name=q]").fill(customer.customer_number);
  await page.keyboard.press("Enter");
  const row = page.locator("#key-rows tr", { hasText: number });
  await row.waitFor();
  assert.match(await row.textContent(), /Skåp 7, krok 21/);

  // Out to the night patrol, by keyboard from the row's list.
  const patrol = (await call(coordinator, "GET", "/groups")).find((g) => g.name === "Boo nattpatrull");
  await row.locator("select").selectOption(patrol.id);
  await row.locator("button", { hasText: "Kvittera ut" }).click();
  await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(`${n} är utkvitterad till Boo nattpatrull`), number);
  let key = (await call(coordinator, "GET", `/keys/${created.key.id}`)).key;
  assert.equal(key.custody, "signed_out");
  assert.equal(key.holder_group_id, patrol.id);

  // Found again by its key number, written as a person types it; back on its hook.
  const typed = number.toLowerCase().replace("-", " ");
  await page.locator("#key-search input[name=q]").fill(typed);
  await page.keyboard.press("Enter");
  await page.waitForFunction((q) => document.querySelector("#key-rows").dataset.query === q, typed);
  await page.locator("#key-rows tr", { hasText: "Utkvitterad till Boo nattpatrull" }).waitFor();
  await page.locator("#key-rows tr", { hasText: number }).locator("button", { hasText: "Kvittera in" }).click();
  await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(`${n} hänger i Skåp 7, krok 21`), number);
  key = (await call(coordinator, "GET", `/keys/${created.key.id}`)).key;
  assert.equal(key.custody, "in_cabinet");

  // The chain of moves, in words.
  await page.locator("#key-rows tr", { hasText: number }).locator("button", { hasText: "Historik" }).click();
  await page.waitForSelector("#key-history:not([hidden])");
  const moves = await page.locator("#key-moves li").allTextContents();
  assert.equal(moves.length, 3, moves.join(" | "));
  assert.match(moves[0], /Mottagen från kunden.*Från Kunden till Skåp 7, krok 21/s);
  assert.match(moves[1], /Utkvitterad.*av Kalle Koordinator.*till Boo nattpatrull/s);
  assert.match(moves[2], /Inkvitterad.*Från Boo nattpatrull till Skåp 7, krok 21/s);
  assert.deepEqual(problems, [], "console errors");
  await context.close();
});

test("the alarm centre registers a newly installed alarm in the alarm platform by keyboard, and the order carries it", async () => {
  const tokens = {
    assessor: await login("handlaggare"),
    installer: await login("installator"),
    coordinator: await login("koordinator"),
  };
  const [customer] = await freshCustomers(tokens.assessor, 1);
  // From the end of the stock, past the two the first desk test takes: the field tests use the start.
  const stock = async (kind) =>
    (await call(tokens.installer, "GET", `/equipment/items?state=in_stock&kind=${kind}&limit=1000`)).map((i) => i.serial).reverse();
  const [units, buttons] = [await stock("alarm_unit"), await stock("alarm_button")];
  const suffix = Date.now().toString(36).toUpperCase();
  const { order } = await installed(tokens, customer, [units[2], buttons[2]], `DP-${suffix}`, day(-2));

  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "sv-SE" });
  const page = await context.newPage();
  const problems = watchProblems(page);
  await deskLogin(page, base, "larmcentral", "platform");
  const row = page.locator("#platform-rows tr", { hasText: customer.customer_number });
  await row.waitFor();
  assert.match(await row.textContent(), /Registrera – larmet tas inte emot/);
  // Keyboard only: into the reference, type it, Enter.
  await row.locator("input[name=reference]").focus();
  await page.keyboard.type(`PNC-${suffix}`);
  await page.keyboard.press("Enter");
  await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(`Larmet för ${n} är registrerat`), customer.customer_number);
  // The row leaves the list once it is read again.
  await page.locator("#platform-rows tr", { hasText: customer.customer_number }).waitFor({ state: "detached" });

  // Through the API: the install order carries the registration, and its history the record.
  const detail = await call(tokens.coordinator, "GET", `/orders/${order.id}`);
  assert.equal(detail.order.platform_registration.reference, `PNC-${suffix}`);
  assert.equal(detail.order.platform_registration.registered_on, day(0));
  assert.equal(detail.order.state, "installed", "recording the registration does not move the order");
  assert.deepEqual(problems, [], "console errors");
  await context.close();
});
