// Larmkoll's field app: the installer's visits, the customer card and the
// actions of each order's state, all usable without signal. Actions go into
// the outbox (outbox.js) and are sent when a connection exists; the cached
// work data, the session and the server's order lifecycle (lifecycle.js) live
// in IndexedDB (store.js).
"use strict";

const L = self.Larmkoll;
const $ = (selector) => document.querySelector(selector);

// `form`: the action form open on the order screen ({ event, order }), kept
// open through redraws; `edit`: a waiting action being changed ({ seq, … });
// `shown`: the order on screen; `thumbs`: document id → object URL.
const ui = { unlocked: false, pages: [], form: null, edit: null, shown: null, thumbs: new Map() };

const SERVICE_SV = { safety_alarm: "trygghetslarm", digital_lock: "digitalt lås" };
const DOCUMENT_SV = {
  responsibility_agreement: "Ansvarsavtal",
  key_receipt: "Nyckelkvittens",
  lock_receipt: "Låskvittens",
};
const CONTACT_SV = { call: "Pratade med kunden", no_answer: "Inget svar", visit_booked: "Besök bokat", note: "Anteckning", waiting: "Väntar på" };
const ITEM_SV = { alarm_unit: "Larmenhet", alarm_button: "Larmknapp", digital_lock: "Digitalt lås", receipt_product: "Kvittensprodukt" };
const CUSTODY_SV = { in_cabinet: "i skåpet", signed_out: "utkvitterad", returned: "återlämnad", lost: "borttappad" };
const ITEM_STATE_SV = { at_customer: "hos kunden", to_collect: "att hämta", collected: "hämtad", missing: "saknas", in_stock: "i lager", scrapped: "kasserad" };

// The order's steps the app has a form for. Which of them an order offers,
// and what the button says, is the server's lifecycle's: the steps the user's
// role may take in the order's state.
const STEP_FORMS = new Set(["book", "receive_keys", "install", "decline", "return_to_assessor", "collect_equipment", "return_keys"]);

// The waiting actions the installer can change before they are sent (the
// form opens with what was typed); a photo or a collection is removed and
// done again instead.
const EDITABLE = new Set(["contact", "book", "receive_keys", "install", "decline", "return_to_assessor", "return_keys"]);

// The app's own records on an order, which change no state.
const RECORDS = [
  { event: "contact", label: "Logga kontakt", when: (o, lc) => !L.lifecycle.isFinal(lc, o.kind, o.state) },
  { event: "photos", label: "Fotografera dokument", when: (o) => !["cancelled", "returned_to_assessor"].includes(o.state) },
];

function actionsFor(order, lifecycle, role) {
  return [
    ...RECORDS.filter((r) => r.when(order, lifecycle)),
    ...L.lifecycle.events(lifecycle, order, role).filter((e) => STEP_FORMS.has(e.event)),
  ];
}

// --- small helpers ------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c != null && c !== false));
  return node;
}

function localDate(offsetDays = 0) {
  const d = new Date(Date.now() + offsetDays * 86400000);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

function when(iso) {
  if (!iso) return "–";
  return new Date(iso).toLocaleString("sv-SE", { dateStyle: "short", timeStyle: "short" });
}

function dateSv(date) {
  if (!date) return "–";
  return new Date(`${date}T12:00:00`).toLocaleDateString("sv-SE", { weekday: "short", day: "numeric", month: "short" });
}

// A key's place in the cabinet, written one way everywhere: "Skåp 2, krok 14".
function keyPlace(cabinet, hook) {
  if (!cabinet && !hook) return "–";
  const skap = /^sk[åa]p/i.test(String(cabinet ?? "")) ? cabinet : `Skåp ${cabinet ?? "–"}`;
  return hook ? `${skap}, krok ${hook}` : skap;
}

function visitText(order) {
  if (!order.visit_date) return "Inte bokat";
  return order.visit_time ? `${dateSv(order.visit_date)} kl. ${order.visit_time.slice(0, 5)}` : dateSv(order.visit_date);
}

// Opens the address in a map app or OpenStreetMap; nothing is loaded here.
function mapLink(address) {
  const query = `${address.street}, ${address.postal_code} ${address.city}`;
  return `https://www.openstreetmap.org/search?query=${encodeURIComponent(query)}`;
}

function customerName(c) {
  return c ? `${c.card.first_name} ${c.card.last_name}` : "Okänd kund";
}

async function getJson(path) {
  const res = await L.api(path);
  if (!res.ok) throw Object.assign(new Error(await L.problemText(res)), { status: res.status });
  return res.json();
}

function flash(text) {
  const done = $("#action-done");
  done.textContent = text;
  done.hidden = false;
}

// --- screens and routing ------------------------------------------------------

const WORK_SCREENS = new Set(["visits", "order", "outbox", "inbox", "keys"]);

function show(name) {
  for (const s of document.querySelectorAll(".screen")) s.hidden = s.id !== `screen-${name}`;
  const working = WORK_SCREENS.has(name);
  $("#nav").hidden = !working;
  $("#sync").hidden = !working;
  $("#menu").hidden = true;
  $("#menu-button").setAttribute("aria-expanded", "false");
  for (const a of document.querySelectorAll("#nav a")) {
    const current = a.getAttribute("href") === (location.hash || "#/");
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function route() {
  if (!ui.unlocked) return;
  const hash = location.hash || "#/";
  const order = hash.match(/^#\/order\/([\w-]+)$/);
  if (order) return renderOrder(order[1]);
  ui.shown = null;
  if (hash === "#/outbox") return renderOutbox();
  if (hash === "#/inbox") return renderInbox();
  if (hash === "#/keys") return show("keys");
  return renderVisits();
}

// --- session: login, PIN, lock -----------------------------------------------

async function decide() {
  const s = await L.kv.get("session");
  if (!s?.user) return showLogin();
  if (!s.pin) return show("pin-setup");
  if (!ui.unlocked) {
    if (L.accessValid(s)) ui.unlocked = true;
    else if (s.refresh_token && navigator.onLine) {
      try {
        await L.accessToken();
        ui.unlocked = true;
      } catch {
        // Not renewed now (no network, or the refresh was refused): the PIN
        // unlocks the phone's copy; the sync bar asks for a login if needed.
      }
    }
  }
  if (!ui.unlocked) return show("lock");
  $("#who").textContent = s.user.display_name;
  await route();
  await renderSync();
  sync();
  if (navigator.onLine) refreshData().catch(() => {});
}

async function showLogin(note) {
  const s = await L.kv.get("session");
  const form = $("#login");
  if (s?.user) form.username.value = s.user.username;
  $("#login-note").textContent = note || "";
  $("#login-note").hidden = !note;
  show("login");
}

async function login(ev) {
  ev.preventDefault();
  const form = ev.target;
  const error = $("#login-error");
  error.hidden = true;
  let res;
  try {
    res = await fetch("/api/v1/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ username: form.username.value.trim(), password: form.password.value }),
    });
  } catch {
    error.textContent = "Ingen täckning. Inloggning kräver anslutning – det som väntar ligger kvar på telefonen.";
    error.hidden = false;
    return;
  }
  if (!res.ok) {
    error.textContent = await L.problemText(res);
    error.hidden = false;
    return;
  }
  await signedIn(await res.json());
  form.password.value = "";
}

// A new token pair, from a password login or the municipality's login service.
async function signedIn(tokens) {
  let previous = await L.kv.get("session");
  if (previous?.user && previous.user.id !== tokens.user.id) {
    // Another person's cached customers leave the phone; their queue stays theirs.
    await L.wipe();
    previous = null;
  }
  await L.kv.set("session", L.sessionFrom(tokens, previous?.pin ? { pin: previous.pin } : null));
  ui.unlocked = true;
  await decide();
  await keepQueueSafe();
}

// The queue lives in the browser's storage, which it may clear when the phone
// runs short of space unless the site's storage is persistent: asked for after
// each login; a refusal is told, with what helps.
async function keepQueueSafe() {
  if (!navigator.storage?.persist) return;
  const kept = (await navigator.storage.persisted()) || (await navigator.storage.persist());
  const note = $("#storage-note");
  note.hidden = kept;
  note.textContent = kept
    ? ""
    : "Webbläsaren har inte lovat att spara det som väntar om telefonen får ont om utrymme. Lägg appen på hemskärmen (Lägg till på startskärmen) så sparas det säkrare.";
  await L.kv.set("storage-persisted", kept);
}

// The login service, when the server has one (remembered for offline starts);
// with password login off, the password form is only the fallback.
async function loginMethods() {
  let methods = await L.kv.get("login-methods");
  if (navigator.onLine) {
    try {
      methods = await (await fetch("/api/v1/auth/methods", { headers: { Accept: "application/json" } })).json();
      await L.kv.set("login-methods", methods);
    } catch {
      // offline: what was remembered
    }
  }
  if (!methods) return;
  if (methods.provider) {
    const button = $("#provider-button");
    button.textContent = methods.provider.button_text;
    button.href = `${methods.provider.start_url}?app=field`;
    $("#provider-login").hidden = false;
  }
  if (!methods.password) {
    $("#password-login").classList.add("fallback");
    $("#password-login").open = false;
  }
}

// Back from the login service with a ticket in the address's fragment:
// redeemed once for the tokens, or the refusal shown in the server's words.
async function redeemTicket() {
  const found = location.hash.match(/^#oidc=([\w-]+)$/);
  if (!found) return false;
  history.replaceState(null, "", `${location.pathname}${location.search}#/`);
  let res;
  try {
    res = await fetch("/api/v1/auth/oidc/token", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ ticket: found[1] }),
    });
  } catch {
    await showLogin("Ingen täckning. Inloggningen kunde inte slutföras – försök igen när du har täckning.");
    return true;
  }
  if (!res.ok) {
    await showLogin();
    $("#login-error").textContent = await L.problemText(res);
    $("#login-error").hidden = false;
    return true;
  }
  await signedIn(await res.json());
  return true;
}

async function pinHash(pin, salt) {
  const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(pin), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: Uint8Array.from(atob(salt), (c) => c.charCodeAt(0)), iterations: 200000 },
    material,
    256,
  );
  return btoa(String.fromCharCode(...new Uint8Array(bits)));
}

async function setPin(ev) {
  ev.preventDefault();
  const { pin, pin2 } = ev.target;
  const error = $("#pin-setup-error");
  if (!/^\d{4,6}$/.test(pin.value) || pin.value !== pin2.value) {
    error.textContent = pin.value === pin2.value ? "PIN-koden ska vara 4–6 siffror." : "PIN-koderna är inte lika.";
    error.hidden = false;
    return;
  }
  const salt = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  const s = await L.kv.get("session");
  await L.kv.set("session", { ...s, pin: { salt, hash: await pinHash(pin.value, salt), failures: 0 } });
  ev.target.reset();
  error.hidden = true;
  await decide();
}

const PIN_ATTEMPTS = 5;

async function unlock(ev) {
  ev.preventDefault();
  const input = ev.target.pin;
  const s = await L.kv.get("session");
  const error = $("#unlock-error");
  if (!s?.pin) return showLogin();
  if ((await pinHash(input.value, s.pin.salt)) === s.pin.hash) {
    await L.kv.set("session", { ...s, pin: { ...s.pin, failures: 0 } });
    input.value = "";
    error.hidden = true;
    ui.unlocked = true;
    return decide();
  }
  const failures = (s.pin.failures || 0) + 1;
  input.value = "";
  if (failures >= PIN_ATTEMPTS) {
    // The PIN and tokens go; the queue stays for the next login.
    await L.kv.set("session", { user: s.user });
    return showLogin("För många felaktiga PIN-försök. Logga in igen – det som väntar finns kvar.");
  }
  await L.kv.set("session", { ...s, pin: { ...s.pin, failures } });
  error.textContent = `Fel PIN-kod. ${PIN_ATTEMPTS - failures} försök kvar.`;
  error.hidden = false;
}

// "Mer" → "Logga ut …": first what a logout does to this phone, then the logout.
function toggleMenu(open = $("#menu").hidden) {
  $("#menu").hidden = !open;
  $("#menu-button").setAttribute("aria-expanded", String(open));
  $("#logout-confirm").hidden = true;
  $("#logout").hidden = false;
  if (open) $("#menu-who").textContent = `Inloggad som ${$("#who").textContent}`;
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

async function confirmLogout() {
  const summary = await L.summary();
  const lists = (await L.kv.get("lists")) || { orders: [] };
  const queued = summary.waiting + summary.failed;
  const parts = [
    `${plural(lists.orders.length, "beställning", "beställningar")} med kundernas uppgifter raderas från telefonen` +
      (navigator.onLine === false ? " och kan inte hämtas igen förrän du har täckning." : "."),
    queued
      ? `${plural(queued, "åtgärd", "åtgärder")} som inte har skickats ligger kvar och skickas när du loggar in igen.`
      : "Inget väntar på att skickas.",
  ];
  $("#logout-text").textContent = parts.join(" ");
  $("#logout").hidden = true;
  $("#logout-confirm").hidden = false;
  $("#logout-no").focus();
}

async function logout() {
  const s = await L.kv.get("session");
  if (s?.refresh_token && navigator.onLine) {
    // At the municipality's login service too, when the session began there.
    fetch("/api/v1/auth/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${s.access_token}` },
      body: JSON.stringify({ refresh_token: s.refresh_token }),
    })
      .then((res) => (res.status === 200 ? res.json() : null))
      .then((out) => {
        if (out?.end_session_url) location.href = out.end_session_url;
      })
      .catch(() => {});
  }
  await L.wipe();
  ui.unlocked = false;
  toggleMenu(false);
  $("#who").textContent = "";
  location.hash = "#/";
  showLogin();
}

// --- the work data on the phone ------------------------------------------------

async function refreshData() {
  const from = localDate(0);
  const to = localDate(14);
  const [lifecycle, visits, open] = await Promise.all([
    getJson("/lifecycle"),
    getJson(`/orders?mine=true&visit_from=${from}&visit_to=${to}&limit=200`),
    getJson("/orders?open=true&state=received&limit=200"),
  ]);
  // Kept on the phone: offline, the actions and the queue's own view of an
  // order come from the last one fetched.
  await L.kv.set("lifecycle", lifecycle);
  const orders = [...visits.items, ...open.items];
  const queued = (await L.summary()).items;
  for (const order of orders) await L.rebase(order, queued);
  // Each order's contact log, for the order screen.
  await Promise.all(orders.map((order) => refreshOrder(order.id, queued)));
  const customerIds = [...new Set(orders.map((o) => o.customer_id))];
  for (const id of customerIds) await refreshCustomer(id);
  const previous = (await L.kv.get("lists")) || { orders: [] };
  const waitingOn = new Set(queued.map((i) => i.order_id));
  // An order whose actions still wait, or the one on screen, stays on the phone.
  const keep = new Set([...orders.map((o) => o.id), ...previous.orders.filter((id) => waitingOn.has(id) || id === ui.shown)]);
  for (const id of previous.orders) {
    if (keep.has(id)) continue;
    for (const key of [`order:${id}`, `base:${id}`, `contacts:${id}`]) await L.kv.delete(key);
  }
  await L.kv.set("lists", { orders: [...keep], fetched_at: new Date().toISOString() });
  const unread = await getJson("/messages/unread-count").catch(() => null);
  if (unread) await L.kv.set("unread", unread.unread ?? unread.count ?? 0);
  await renderBadges();
  if (!location.hash.startsWith("#/order/") || $("#screen-order").hidden) await route();
}

// The customer as the server has it now: card, keys, equipment and
// documents, with each document's thumbnail kept on the phone.
async function refreshCustomer(id) {
  const [card, keys, items, documents] = await Promise.all([
    getJson(`/customers/${id}`),
    getJson(`/customers/${id}/keys`),
    getJson(`/equipment/items?customer_id=${id}`),
    getJson(`/customers/${id}/documents`),
  ]);
  await L.kv.set(`customer:${id}`, { card, keys, items, documents });
  for (const d of documents) {
    if (await L.kv.get(`thumb:${d.id}`)) continue;
    const res = await L.api(`/documents/${d.id}/thumbnail`);
    if (res.ok) await L.kv.set(`thumb:${d.id}`, await res.blob());
  }
}

// The order with its contact log, the server's version under the phone's waiting actions.
async function refreshOrder(id, queued = null) {
  const detail = await getJson(`/orders/${id}`);
  await L.rebase(detail.order, queued);
  await L.kv.set(`contacts:${id}`, detail.contacts);
  return detail.order;
}

// After a send: what the server now holds of these orders and their
// customers, then the screen redrawn from it (an open form stays open).
async function refreshAfterSend(orderIds) {
  if (!orderIds?.length || navigator.onLine === false) return;
  const customers = new Set();
  for (const id of orderIds) {
    try {
      customers.add((await refreshOrder(id)).customer_id);
    } catch {
      // Not fetched now: the next refresh brings it.
    }
  }
  for (const id of customers) await refreshCustomer(id).catch(() => {});
  if (ui.shown && orderIds.includes(ui.shown) && !$("#screen-order").hidden) await renderOrder(ui.shown);
}

const sentOrders = new Set();
let sentTimer = null;
function refreshSoon(orderId) {
  sentOrders.add(orderId);
  clearTimeout(sentTimer);
  sentTimer = setTimeout(() => {
    const ids = [...sentOrders];
    sentOrders.clear();
    refreshAfterSend(ids).catch(() => {});
  }, 500);
}

async function cachedOrders() {
  const lists = (await L.kv.get("lists")) || { orders: [] };
  const orders = [];
  for (const id of lists.orders) {
    const order = await L.kv.get(`order:${id}`);
    if (order) orders.push({ order, customer: await L.kv.get(`customer:${order.customer_id}`) });
  }
  return { orders, fetched_at: lists.fetched_at };
}

// --- rendering ------------------------------------------------------------------

async function renderVisits() {
  const { orders, fetched_at } = await cachedOrders();
  const lc = await L.kv.get("lifecycle");
  const today = localDate(0);
  const byVisit = (a, b) => `${a.order.visit_date}${a.order.visit_time || ""}`.localeCompare(`${b.order.visit_date}${b.order.visit_time || ""}`);
  const open = orders.filter(({ order }) => !L.lifecycle.isFinal(lc, order.kind, order.state) || order.visit_date === today);
  const row = ({ order, customer }) =>
    el("li", {},
      el("a", { href: `#/order/${order.id}`, class: "row" },
        el("strong", {}, customerName(customer)),
        el("span", { class: "muted" }, [
          order.visit_date ? `${dateSv(order.visit_date)} ${order.visit_time || ""} · ` : "",
          `${L.lifecycle.kindLabel(lc, order.kind)} ${SERVICE_SV[order.service]} · ${L.lifecycle.stateLabel(lc, order.kind, order.state)}`,
        ].join("")),
        customer ? el("span", { class: "muted" }, `${customer.card.address.street}, ${customer.card.address.city}`) : null));
  const fill = (id, list, empty) =>
    $(id).replaceChildren(...(list.length ? list.map(row) : [el("li", { class: "empty" }, empty)]));
  fill("#today", open.filter(({ order }) => order.visit_date === today).sort(byVisit), "Inga besök idag.");
  fill("#coming", open.filter(({ order }) => order.visit_date > today).sort(byVisit), "Inga bokade besök de närmaste två veckorna.");
  fill("#to-book", open.filter(({ order }) => order.state === "received" && !order.visit_date), "Inget att boka.");
  $("#data-age").textContent = fetched_at ? `Uppdaterad ${when(fetched_at)}` : "Inte hämtat ännu – kräver täckning.";
  show("visits");
}

function thumbUrl(documentId, blob) {
  if (!ui.thumbs.has(documentId)) ui.thumbs.set(documentId, URL.createObjectURL(blob));
  return ui.thumbs.get(documentId);
}

async function documentList(documents) {
  const rows = [];
  for (const d of documents) {
    const blob = await L.kv.get(`thumb:${d.id}`);
    const label = `${DOCUMENT_SV[d.kind] || "Dokument"} · underskrivet ${d.signed_at} av ${d.signed_by}`;
    rows.push(el("li", { class: "document", "data-document": d.id },
      blob ? el("img", { src: thumbUrl(d.id, blob), alt: `${DOCUMENT_SV[d.kind] || "Dokument"}, underskrivet av ${d.signed_by}`, width: 64 }) : null,
      el("span", {}, label)));
  }
  return el("ul", { class: "documents" }, rows);
}

function keyList(keys) {
  return el("ul", {}, keys.map((k) =>
    el("li", {}, `${k.key_number} (${k.count} st) · ${CUSTODY_SV[k.custody] || "okänt läge"} · ${keyPlace(k.cabinet, k.hook)}`)));
}

// `withState`: each item's state after it, where it is not simply at the customer's.
function itemList(items, withState = true) {
  const sorted = items.toSorted((a, b) => a.serial.localeCompare(b.serial));
  return el("ul", {}, sorted.map((i) => el("li", {}, `${ITEM_SV[i.kind] || "Utrustning"} ${i.serial}` +
    (withState && i.state !== "at_customer" ? ` (${ITEM_STATE_SV[i.state] || "okänt läge"})` : ""))));
}

// The order's contact log: the server's, then the phone's own not yet sent.
function contactLog(contacts, waiting) {
  const rows = [
    ...contacts.map((c) => el("li", {}, el("span", { class: "muted" }, `${when(c.at)} · ${CONTACT_SV[c.kind] || "Kontakt"}`), c.note ? el("span", {}, c.note) : null)),
    ...waiting.filter((i) => i.event === "contact").map((i) => {
      const body = JSON.parse(i.body);
      return el("li", { class: "queued" }, el("span", { class: "muted" }, `${when(i.created_at)} · ${CONTACT_SV[body.kind] || "Kontakt"} · väntar på att skickas`), body.note ? el("span", {}, body.note) : null);
    }),
  ];
  return rows.length ? el("ul", { class: "log" }, rows) : "Inga kontakter ännu";
}

async function renderOrder(id) {
  if (ui.shown !== id) {
    // Another order: its forms start closed.
    ui.form = null;
    $("#action-done").hidden = true;
  }
  ui.shown = id;
  const order = await L.kv.get(`order:${id}`);
  if (!order) {
    $("#order-title").textContent = "Ordern finns inte på telefonen";
    $("#customer-card").replaceChildren(el("p", {}, "Hämta på nytt när du har täckning."));
    $("#order-card").replaceChildren();
    $("#order-actions").replaceChildren();
    return show("order");
  }
  const customer = await L.kv.get(`customer:${order.customer_id}`);
  const card = customer?.card;
  const lc = await L.kv.get("lifecycle");
  const kind = L.lifecycle.kindLabel(lc, order.kind);
  const summary = await L.summary();
  const waiting = summary.items.filter((i) => i.order_id === id && i.status === "waiting");
  $("#order-title").textContent = `${kind} · ${customerName(customer)}`;
  const field = (label, value) => [el("dt", {}, label), el("dd", {}, value ?? "–")];
  $("#customer-card").replaceChildren(
    el("h3", {}, "Kunden"),
    card
      ? el("dl", {},
          field("Kundnummer", card.customer_number),
          field("Adress", [
            `${card.address.street}, ${card.address.postal_code} ${card.address.city} `,
            el("a", { href: mapLink(card.address), class: "map", rel: "noopener", target: "_blank" }, "Visa på karta"),
          ]),
          field("Telefon", card.phone ? el("a", { href: `tel:${card.phone.replace(/[^\d+]/g, "")}`, class: "tel" }, card.phone) : "–"),
          field("Nyckelposition", card.key_position),
          field("Portkod och inpassering", card.entry_notes),
          field("Utrustning hos kunden", customer.items.length ? itemList(customer.items) : "Ingen"),
          field("Nycklar", customer.keys.length ? keyList(customer.keys) : "Inga"),
          field("Dokument", customer.documents.length ? await documentList(customer.documents) : "Inga"))
      : el("p", {}, "Kortet är inte hämtat till telefonen."),
  );
  // An uninstall: the assessor's end date and what is to be fetched.
  const uninstall = order.kind === "uninstall" && customer
    ? [
        field("Slutdatum", order.end_date ? dateSv(order.end_date) : "–"),
        field("Att hämta", customer.items.some((i) => ["to_collect", "at_customer"].includes(i.state))
          ? itemList(customer.items.filter((i) => ["to_collect", "at_customer"].includes(i.state)), false)
          : "Ingen utrustning"),
        field("Nycklar att lämna tillbaka", customer.keys.some((k) => k.custody !== "returned")
          ? keyList(customer.keys.filter((k) => k.custody !== "returned"))
          : "Inga"),
      ]
    : [];
  $("#order-card").replaceChildren(
    el("h3", {}, "Ordern"),
    el("dl", {},
      field("Insats", `${kind} av ${SERVICE_SV[order.service] || "tjänsten"}`),
      field("Läge", L.lifecycle.stateLabel(lc, order.kind, order.state)),
      field("Besök", visitText(order)),
      ...uninstall,
      order.state_reason ? field("Orsak", order.state_reason) : null,
      order.waiting_reason ? field("Väntar på", order.waiting_reason) : null,
      order.serials?.length ? field("Serienummer", order.serials.join(", ")) : null,
      field("Kontakter", contactLog((await L.kv.get(`contacts:${id}`)) || [], waiting))),
    el("p", { id: "order-pending", class: "pending", role: "status" }),
  );
  renderOrderPending(summary);
  const role = (await L.kv.get("session"))?.user?.role;
  $("#order-actions").replaceChildren(
    ...actionsFor(order, lc, role).map((a) =>
      el("button", { type: "button", class: "action-button", "data-event": a.event, onclick: () => openAction(a.event, order, customer) }, a.label)),
    lc ? null : el("p", { class: "muted" }, "Orderns steg visas när appen har hämtat dem med täckning."),
  );
  // A form the installer has open stays open, with what was typed.
  for (const form of document.querySelectorAll("form.action")) form.hidden = ui.form?.event !== form.dataset.event;
  show("order");
  if (ui.edit && ui.edit.order_id === id && ui.form?.event !== ui.edit.event) startEdit(order, customer);
}

// The order's waiting and refused actions, from the same summary as the bar.
function renderOrderPending(summary) {
  const line = $("#order-pending");
  if (!line || !ui.shown) return;
  const mine = summary.items.filter((i) => i.order_id === ui.shown);
  const waiting = mine.filter((i) => i.status === "waiting").length;
  const failed = mine.filter((i) => i.status === "failed").length;
  const parts = [];
  if (waiting) parts.push(`${plural(waiting, "åtgärd", "åtgärder")} väntar på att skickas`);
  if (failed) parts.push(`${plural(failed, "åtgärd", "åtgärder")} nekades – se Att skicka`);
  line.textContent = parts.join(". ");
  line.hidden = !parts.length;
  line.dataset.waiting = String(waiting);
  line.dataset.failed = String(failed);
}

function openAction(event, order, customer, editing = null) {
  for (const form of document.querySelectorAll("form.action")) form.hidden = form.dataset.event !== event;
  const form = document.querySelector(`form.action[data-event="${event}"]`);
  form.dataset.order = order.id;
  ui.form = { event, order: order.id };
  if (!editing) ui.edit = null;
  form.querySelector(".edit-note")?.remove();
  if (editing) form.querySelector("h3").after(el("p", { class: "note edit-note" }, "Du ändrar en åtgärd som väntar på att skickas."));
  $("#action-done").hidden = true;
  if (event === "book") form.visit_date.value ||= order.visit_date || localDate(0);
  if (event === "install") {
    form.installation_date.value = localDate(0);
    const rows = order.service === "digital_lock" ? 1 : 2;
    $("#serials").replaceChildren();
    for (let i = 0; i < rows; i++) addSerial();
    $("#lock-receipt-choice").hidden = order.service !== "digital_lock";
  }
  if (event === "photos") {
    form.signed_at.value = localDate(0);
    if (!form.signed_by.value && customer) form.signed_by.value = customerName(customer);
    ui.pages = [];
    renderPages();
  }
  if (event === "collect_equipment") {
    form.collected_on.value = localDate(0);
    $("#collect-items").replaceChildren(
      ...(customer?.items || [])
        .filter((i) => ["at_customer", "to_collect"].includes(i.state))
        .map((i) => el("label", { class: "choice" }, el("input", { type: "checkbox", name: "item", value: i.serial, checked: true }), ` ${ITEM_SV[i.kind] || i.kind} ${i.serial}`)),
    );
  }
  if (editing) fillForm(form, editing);
  form.querySelector("input:not([type=hidden]):not([type=radio]), textarea, select")?.focus();
  form.scrollIntoView({ block: "start" });
}

// A waiting action's values back in its form, to be changed.
function fillForm(form, body) {
  for (const [name, value] of Object.entries(body)) {
    if (name === "serials") {
      const inputs = () => form.querySelectorAll("input[name=serial]");
      while (inputs().length < value.length) addSerial();
      value.forEach((serial, i) => { inputs()[i].value = serial; });
      continue;
    }
    const field = form.elements[name];
    if (!field) continue;
    if (field instanceof RadioNodeList) field.value = value;
    else if (field.type === "checkbox") field.checked = Boolean(value);
    else field.value = Array.isArray(value) ? value.join("\n") : value ?? "";
  }
}

function startEdit(order, customer) {
  openAction(ui.edit.event, order, customer, JSON.parse(ui.edit.body));
}

let serialCount = 0;
function addSerial() {
  const id = `serial-${++serialCount}`;
  const input = el("input", { id, name: "serial", autocapitalize: "characters", autocomplete: "off", spellcheck: "false" });
  const row = el("div", { class: "serial" }, el("label", { for: id }, `Serienummer ${$("#serials").children.length + 1}`), input);
  if ("BarcodeDetector" in self) {
    const picker = el("input", { type: "file", accept: "image/*", capture: "environment", class: "visually-hidden", tabindex: "-1", "aria-hidden": "true" });
    picker.addEventListener("change", async () => {
      const file = picker.files[0];
      if (!file) return;
      try {
        const codes = await new self.BarcodeDetector().detect(await createImageBitmap(file));
        if (codes[0]) input.value = codes[0].rawValue;
        else input.placeholder = "Ingen streckkod hittades – skriv in numret";
      } catch {
        input.placeholder = "Kunde inte läsa streckkoden – skriv in numret";
      }
    });
    row.append(picker, el("button", { type: "button", class: "secondary small", onclick: () => picker.click() }, "Skanna"));
  }
  $("#serials").append(row);
  return input;
}

// A photo shrunk on the phone: upright, long edge at most 2048 px, JPEG without metadata.
async function shrink(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    throw new Error(`${file.name}: bilden kunde inte läsas. Ta fotot igen med kameran (JPEG).`);
  }
  const scale = Math.min(1, 2048 / Math.max(bitmap.width, bitmap.height));
  const canvas = new OffscreenCanvas(Math.round(bitmap.width * scale), Math.round(bitmap.height * scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return canvas.convertToBlob({ type: "image/jpeg", quality: 0.85 });
}

function renderPages() {
  $("#pages").replaceChildren(
    ...ui.pages.map((page, index) => {
      const retake = el("input", { type: "file", accept: "image/*", capture: "environment", class: "visually-hidden", tabindex: "-1", "aria-hidden": "true" });
      retake.addEventListener("change", () => addPages(retake.files, index));
      return el("li", {},
        el("img", { src: page.url, alt: `Sida ${index + 1}`, width: 96 }),
        el("span", {}, `Sida ${index + 1} · ${Math.round(page.blob.size / 1024)} kB`),
        retake,
        el("button", { type: "button", class: "secondary small", onclick: () => retake.click() }, "Ta om"),
        el("button", { type: "button", class: "secondary small", onclick: () => { URL.revokeObjectURL(page.url); ui.pages.splice(index, 1); renderPages(); } }, "Ta bort"));
    }),
  );
}

async function addPages(files, replaceIndex = null) {
  const error = $("#photos-error");
  error.hidden = true;
  for (const file of files) {
    try {
      const blob = await shrink(file);
      const page = { id: crypto.randomUUID(), blob, url: URL.createObjectURL(blob) };
      if (replaceIndex != null) {
        URL.revokeObjectURL(ui.pages[replaceIndex].url);
        ui.pages[replaceIndex] = page;
        replaceIndex = null;
      } else ui.pages.push(page);
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    }
  }
  renderPages();
}

// --- actions into the outbox ----------------------------------------------------

async function submitAction(ev) {
  ev.preventDefault();
  const form = ev.target;
  const event = form.dataset.event;
  const order = await L.kv.get(`order:${form.dataset.order}`);
  const customer = await L.kv.get(`customer:${order.customer_id}`);
  const who = customer?.card.customer_number || "";
  const editing = ui.edit && ui.edit.order_id === order.id && ui.edit.event === event ? ui.edit : null;
  // A change keeps the action's place and path; the order's state already
  // counts the action, so the step is not looked up again.
  const step = editing
    ? { path_segment: editing.path.split("/").pop() }
    : L.lifecycle.events(await L.kv.get("lifecycle"), order, (await L.kv.get("session"))?.user?.role)
      .find((e) => e.event === event);
  if (STEP_FORMS.has(event) && !step) {
    // The order moved on since the form was opened (a sync meanwhile).
    form.reset();
    await renderOrder(order.id);
    return flash("Steget går inte att göra på ordern i det läge den har nu.");
  }
  const transition = (body, label) => ({
    event, order_id: order.id, method: "POST", path: `/orders/${order.id}/${step.path_segment}`,
    body: JSON.stringify(body), if_match: true, label: `${label} · ${who}`,
  });
  const data = new FormData(form);
  const items = [];
  if (event === "contact") {
    if (data.get("kind") === "waiting" && !String(data.get("note") || "").trim()) {
      return flash("Skriv vad ordern väntar på.");
    }
    items.push({
      event, order_id: order.id, method: "POST", path: `/orders/${order.id}/contacts`,
      body: JSON.stringify({ kind: data.get("kind"), note: data.get("note") || null }),
      label: `Kontakt: ${CONTACT_SV[data.get("kind")]} · ${who}`,
    });
  } else if (event === "book") {
    items.push(transition({ visit_date: data.get("visit_date"), visit_time: data.get("visit_time") || null }, `Besök bokat ${data.get("visit_date")}`));
  } else if (event === "receive_keys") {
    const numbers = String(data.get("key_numbers")).split(/[\n,;]+/).map((s) => s.trim()).filter(Boolean);
    items.push(transition({
      key_numbers: numbers, count: Number(data.get("count")), cabinet: data.get("cabinet").trim(),
      hook: data.get("hook").trim(), night_cabinet: data.get("night_cabinet") === "on",
    }, `Nycklar mottagna ${numbers.join(", ")}`));
  } else if (event === "install") {
    const serials = data.getAll("serial").map((s) => String(s).trim()).filter(Boolean);
    if (!serials.length) return form.querySelector("input[name=serial]").focus();
    const body = { installation_date: data.get("installation_date"), serials };
    if (order.service === "digital_lock") body.lock_receipt_left = data.get("lock_receipt_left") === "on";
    items.push(transition(body, `Installerat ${serials.join(", ")}`));
  } else if (event === "photos") {
    if (!ui.pages.length) {
      $("#photos-error").textContent = "Ta minst ett foto av dokumentet.";
      $("#photos-error").hidden = false;
      return;
    }
    const params = {
      kind: data.get("kind"), customer_id: order.customer_id, order_id: order.id,
      signed_by: data.get("signed_by").trim(), signed_at: data.get("signed_at"),
    };
    ui.pages.forEach((page, index) => {
      items.push({
        event: "document", id: page.id, order_id: order.id, method: "PUT",
        path: `/documents/${page.id}?${new URLSearchParams(params)}`,
        body: page.blob, content_type: "image/jpeg",
        label: `${DOCUMENT_SV[params.kind]} sida ${index + 1} · ${who}`,
      });
      URL.revokeObjectURL(page.url);
    });
    ui.pages = [];
  } else if (event === "decline") {
    items.push(transition({ reason: data.get("reason").trim() }, "Kunden avböjer"));
  } else if (event === "return_to_assessor") {
    const reason = String(data.get("reason") || "").trim();
    if (!reason) return flash("Skriv vad som är fel i ordern, så att handläggaren kan rätta den.");
    items.push(transition({ reason }, `Tillbaka till handläggaren: ${reason}`));
  } else if (event === "collect_equipment") {
    const all = [...form.querySelectorAll("input[name=item]")];
    items.push(transition({
      collected_on: data.get("collected_on"),
      items: all.filter((i) => i.checked).map((i) => i.value),
      missing: all.filter((i) => !i.checked).map((i) => i.value),
    }, "Utrustning hämtad"));
  } else if (event === "return_keys") {
    items.push(transition({ outcome: data.get("outcome"), note: data.get("note") || null }, "Nycklar återlämnade"));
  }
  if (editing) {
    const changed = await L.amend(editing.seq, { body: items[0].body, label: items[0].label });
    if (!changed) return flash("Åtgärden skickas just nu och kan inte ändras. Försök igen om en stund.");
    ui.edit = null;
  } else {
    for (const item of items) await L.enqueue(item);
  }
  form.reset();
  form.querySelector(".edit-note")?.remove();
  ui.form = null;
  await renderOrder(order.id);
  await renderSync();
  flash(editing ? "Ändringen är sparad på telefonen." : items.length > 1 ? `${items.length} foton sparade på telefonen.` : "Sparat på telefonen.");
  navigator.serviceWorker?.ready.then((r) => r.sync?.register("outbox")).catch(() => {});
  sync();
}

// --- the outbox on screen, and sending ------------------------------------------

async function renderSync() {
  const s = await L.summary();
  const meta = (await L.kv.get("sync")) || {};
  const parts = [s.waiting ? `${s.waiting} väntar på att skickas · äldsta ${when(s.oldest)}` : "Inget väntar"];
  parts.push(s.last_sync ? `senast skickat ${when(s.last_sync)}` : "inget skickat ännu");
  if (s.failed) parts.push(`${s.failed} misslyckade`);
  const stuck = s.waiting && meta.trying_since && navigator.onLine !== false;
  if (stuck) {
    // Signal that connects but carries nothing: say so, and what helps.
    const since = new Date(meta.trying_since).toLocaleTimeString("sv-SE", { hour: "2-digit", minute: "2-digit" });
    parts.push(`Försöker skicka sedan ${since} – ingen kontakt med servern. Allt ligger kvar på telefonen och skickas av sig självt; gå dit täckningen är bättre eller tryck Skicka nu.`);
  } else if (s.last_error) parts.push(s.last_error);
  const bar = $("#sync");
  $("#sync-text").textContent = parts.join(" · ");
  bar.dataset.waiting = String(s.waiting);
  bar.dataset.failed = String(s.failed);
  bar.classList.toggle("pending", s.waiting > 0);
  bar.classList.toggle("failing", s.failed > 0);
  bar.classList.toggle("stuck", Boolean(stuck));
  bar.dataset.stuck = stuck ? "true" : "false";
  $("#sync-login").hidden = !meta.login_needed;
  $("#sync-now").hidden = !s.waiting;
  renderOrderPending(s);
  await renderBadges(s);
  return s;
}

async function renderBadges(summary) {
  const s = summary || (await L.summary());
  const outbox = $("#badge-outbox");
  outbox.textContent = String(s.waiting + s.failed);
  outbox.hidden = !(s.waiting + s.failed);
  const unread = (await L.kv.get("unread")) || 0;
  $("#badge-inbox").textContent = String(unread);
  $("#badge-inbox").hidden = !unread;
}

function progress(sent, total) {
  const bar = $("#sync-progress");
  bar.hidden = !total || sent >= total;
  bar.max = total || 1;
  bar.value = sent;
}

// Sending, and when to try again, is the outbox's (outbox.js); the page shows it.
async function sync() {
  const s = await L.kv.get("session");
  if (!s?.user) return;
  await L.sync({ onProgress: progress, onDone: synced });
}

// "Skicka nu": a fresh attempt at once, cutting one that hangs.
async function sendNow() {
  const s = await L.kv.get("session");
  if (!s?.user) return;
  await L.sendNow({ onProgress: progress, onDone: synced });
}

async function synced(result) {
  progress(0, 0);
  const summary = await renderSync();
  if (result.touched?.length) await refreshAfterSend(result.touched);
  // Redrawn from the phone's state; an open form stays open.
  if (!result.busy && (result.sent || summary.failed)) await route();
}

async function renderOutbox() {
  const s = await L.summary();
  const failed = s.items.filter((i) => i.status === "failed");
  const waiting = s.items.filter((i) => i.status === "waiting");
  $("#failed").replaceChildren(
    ...(failed.length
      ? failed.map((item) => {
          const remove = el("button", { type: "button", class: "secondary small" }, "Ta bort");
          remove.addEventListener("click", async () => {
            if (remove.dataset.armed) {
              await L.discard(item.seq);
              return renderOutbox().then(renderSync);
            }
            remove.dataset.armed = "1";
            remove.textContent = "Bekräfta: ta bort för gott";
          });
          return el("li", { class: "failed" },
            el("strong", {}, item.label),
            el("span", { class: "muted" }, `Gjort ${when(item.created_at)} · nekat ${when(item.failed_at)}`),
            el("p", { class: "error" }, item.error?.message || "Servern tog inte emot åtgärden."),
            item.order_id ? el("a", { href: `#/order/${item.order_id}` }, "Visa ordern") : null,
            el("div", { class: "buttons" },
              el("button", { type: "button", class: "small", onclick: async () => { await L.retry(item.seq); await renderOutbox(); sync(); } }, "Skicka igen"),
              remove));
        })
      : [el("li", { class: "empty" }, "Inga misslyckade.")]),
  );
  $("#waiting").replaceChildren(
    ...(waiting.length
      ? waiting.map((item) => el("li", { "data-seq": item.seq },
          el("strong", {}, item.label),
          el("span", { class: "muted" }, `Gjort ${when(item.created_at)}${item.attempts ? ` · ${plural(item.attempts, "försök", "försök")}` : ""}`),
          el("div", { class: "buttons" },
            item.order_id && EDITABLE.has(item.event)
              ? el("button", { type: "button", class: "secondary small", onclick: () => editWaiting(item) }, "Ändra")
              : null,
            withdrawButton(item))))
      : [el("li", { class: "empty" }, "Inget väntar.")]),
  );
  show("outbox");
}

// "Ta bort" on a waiting action: asks first, then takes it out of the queue
// (unless a send of it is under way) and the order's state on the phone
// follows what is left.
function withdrawButton(item) {
  const button = el("button", { type: "button", class: "secondary small" }, "Ta bort");
  button.addEventListener("click", async () => {
    if (!button.dataset.armed) {
      button.dataset.armed = "1";
      button.textContent = "Bekräfta: ta bort, skickas inte";
      return;
    }
    if (!(await L.withdraw(item.seq))) {
      button.closest("li").append(el("p", { class: "error" }, "Åtgärden skickas just nu. Försök igen om en stund."));
      return;
    }
    await renderOutbox();
    await renderSync();
  });
  return button;
}

// "Ändra": the order's form opens with the action's values.
function editWaiting(item) {
  ui.edit = { seq: item.seq, event: item.event, order_id: item.order_id, body: item.body, path: item.path };
  ui.form = null;
  if (location.hash === `#/order/${item.order_id}`) return route();
  location.hash = `#/order/${item.order_id}`;
}

// --- a key's place by customer (the night patrol at the cabinet) ----------------

// The server's answer when there is signal: the customers the user may see
// (GET /customers?q=, each look audited) and where each one's keys are now
// (GET /customers/{id}/keys, audited). Without signal: the customers on the phone.
async function searchKeys(ev) {
  ev.preventDefault();
  const q = ev.target.q.value.trim();
  const note = $("#key-note");
  if (!q) return;
  let found = [];
  note.textContent = "Söker …";
  try {
    const page = await getJson(`/customers?q=${encodeURIComponent(q)}&limit=20`);
    for (const card of page.items) found.push({ card, keys: await getJson(`/customers/${card.id}/keys`) });
    note.textContent = found.length ? "" : "Ingen kund som du får se hittades.";
  } catch (e) {
    if (e.status) {
      note.textContent = e.message;
    } else {
      const text = q.toLowerCase();
      for (const key of await L.kv.keys()) {
        if (!String(key).startsWith("customer:")) continue;
        const c = await L.kv.get(key);
        const name = `${c.card.first_name} ${c.card.last_name}`.toLowerCase();
        if (c.card.customer_number.toLowerCase().includes(text) || name.includes(text)) found.push(c);
      }
      note.textContent = `Utan täckning: bara kunderna som finns på telefonen söks${found.length ? "" : ", och ingen av dem passar"}.`;
    }
  }
  $("#key-results").replaceChildren(...found.map(({ card, keys }) =>
    el("li", { "data-customer": card.customer_number },
      el("strong", {}, `${card.first_name} ${card.last_name}`),
      el("span", { class: "muted" }, `${card.customer_number} · ${card.address.street}, ${card.address.city}`),
      keys.length
        ? el("ul", { class: "keys" }, keys.map((k) => el("li", {},
            el("strong", { class: "place" }, keyPlace(k.cabinet, k.hook)),
            ` Nyckel ${k.key_number} (${k.count} st)${k.night_cabinet ? " · nattskåpet" : ""}` +
              (k.custody === "in_cabinet" ? "" : ` · ${CUSTODY_SV[k.custody] || "okänt läge"} – inte i skåpet`))))
        : el("p", {}, card.key_position ? `Inga nycklar i registret. Kortet säger: ${card.key_position}` : "Inga nycklar i registret."))));
}

async function renderInbox() {
  show("inbox");
  // A reply being written is never wiped by a background redraw.
  if ([...document.querySelectorAll("#messages textarea")].some((t) => t.value.trim())) return;
  let messages = (await L.kv.get("messages")) || [];
  try {
    messages = await getJson("/messages?limit=50");
    await L.kv.set("messages", messages);
    $("#inbox-note").textContent = "";
  } catch {
    $("#inbox-note").textContent = "Utan täckning: senast hämtade meddelanden visas.";
  }
  $("#messages").replaceChildren(
    ...(messages.length
      ? messages.map((m) => el("li", { class: m.read_at ? "" : "unread" },
          el("strong", {}, m.subject),
          m.copy ? el("span", { class: "muted" }, " (kopia)") : null,
          el("span", { class: "muted" }, when(m.created_at)),
          el("span", { class: "muted from" }, `Från ${m.sender_name ?? "Larmkoll"}`),
          el("p", {}, m.body),
          m.order_id ? el("a", { href: `#/order/${m.order_id}` }, "Visa ordern") : null,
          m.read_at ? null : el("button", { type: "button", class: "secondary small", onclick: () => markRead(m) }, "Markera som läst"),
          replyForm(m)))
      : [el("li", { class: "empty" }, "Inga meddelanden.")]),
  );
}

// An answer to everyone in the message's thread, queued like every other
// action: written without signal, sent once when there is.
function replyForm(message) {
  const id = `reply-${message.id}`;
  return el("details", { class: "reply" },
    el("summary", {}, "Svara"),
    el("form", {
      onsubmit: async (ev) => {
        ev.preventDefault();
        const text = ev.target.elements.body.value.trim();
        if (!text) return;
        await L.enqueue({
          event: "reply", method: "POST", path: `/messages/threads/${message.thread_id}/replies`,
          body: JSON.stringify({ body: text }), label: `Svar: ${message.subject}`,
        });
        ev.target.reset();
        ev.target.closest("details").open = false;
        $("#inbox-note").textContent = "Svaret skickas till alla i tråden, så snart det finns täckning.";
        await sync();
      },
    },
    el("label", { for: id }, "Svar till alla i tråden"),
    el("textarea", { id, name: "body", rows: "3", maxlength: "5000", required: true }),
    el("button", { type: "submit" }, "Skicka svar")));
}

async function markRead(message) {
  await L.enqueue({ event: "read", method: "POST", path: `/messages/${message.id}/read`, label: `Meddelande läst: ${message.subject}` });
  const messages = ((await L.kv.get("messages")) || []).map((m) => (m.id === message.id ? { ...m, read_at: new Date().toISOString() } : m));
  await L.kv.set("messages", messages);
  await L.kv.set("unread", messages.filter((m) => !m.read_at).length);
  await renderInbox();
  await sync();
}

// --- start ------------------------------------------------------------------------

function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
}

document.addEventListener("DOMContentLoaded", () => {
  $("#login").addEventListener("submit", login);
  $("#pin-setup").addEventListener("submit", setPin);
  $("#unlock").addEventListener("submit", unlock);
  $("#lock-login").addEventListener("click", () => showLogin());
  $("#menu-button").addEventListener("click", () => toggleMenu());
  $("#logout").addEventListener("click", confirmLogout);
  $("#menu-keys").addEventListener("click", () => { toggleMenu(false); location.hash = "#/keys"; });
  $("#key-search").addEventListener("submit", searchKeys);
  $("#logout-yes").addEventListener("click", logout);
  $("#logout-no").addEventListener("click", () => toggleMenu(false));
  $("#sync-now").addEventListener("click", () => sendNow());
  $("#sync-login").addEventListener("click", () => showLogin("Logga in för att skicka det som väntar."));
  $("#reload-data").addEventListener("click", () =>
    refreshData().catch((e) => { $("#data-age").textContent = `Kunde inte hämta: ${e.message}`; }));
  $("#add-serial").addEventListener("click", () => addSerial().focus());
  $("#f-photos").pages.addEventListener("change", (ev) => addPages(ev.target.files).then(() => { ev.target.value = ""; }));
  for (const form of document.querySelectorAll("form.action")) form.addEventListener("submit", submitAction);
  window.addEventListener("hashchange", route);
  window.addEventListener("online", () => { sync(); refreshData().catch(() => {}); });
  L.channel?.addEventListener("message", async (ev) => {
    await renderSync();
    // The worker sent something of an order: show what the server has now,
    // once for a burst of sends.
    if (ev.data?.changed === "sent") refreshSoon(ev.data.order_id);
    if (!$("#screen-outbox").hidden) await renderOutbox();
  });
  registerWorker();
  loginMethods();
  redeemTicket().then((redeemed) => redeemed || decide());
});
