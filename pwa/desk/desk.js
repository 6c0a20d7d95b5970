// Larmkoll at the desk: the coordinators', assessors' and billing officers'
// views over /api/v1, for a wide screen. Plain DOM, no framework, no inline
// script or style (the CSP forbids them). The printable pick-up list
// (hamtlista.html) uses the same file. Which order steps a row offers, and
// the words for states and steps, come from the server's lifecycle
// (GET /api/v1/lifecycle, read through /lifecycle.js).
"use strict";

const state = {
  token: sessionStorage.getItem("access_token"),
  refreshToken: sessionStorage.getItem("refresh_token"),
  user: JSON.parse(sessionStorage.getItem("desk_user") || "null"),
  lifecycle: null,
};

const SERVICE = { safety_alarm: "Trygghetslarm", digital_lock: "Digitalt lås" };
const ITEM = { alarm_unit: "Larmenhet", alarm_button: "Larmknapp/klocka", digital_lock: "Låsvred", receipt_product: "Kvittensprodukt" };

// The step `event` if this user may take it on the order now (by the lifecycle), else null.
function stepFor(order, event) {
  return self.Larmkoll.lifecycle.events(state.lifecycle, order, state.user.role).find((e) => e.event === event) ?? null;
}

function stateLabel(kind, orderState) {
  return self.Larmkoll.lifecycle.stateLabel(state.lifecycle, kind, orderState);
}

// Which views each role works in; the first is where it starts.
const VIEWS = [
  { id: "queue", label: "Att verkställa", roles: ["coordinator", "admin"], load: loadQueue },
  { id: "ending", label: "Att avsluta", roles: ["coordinator", "admin"], load: loadEnding },
  { id: "extensions", label: "Förlängningar", roles: ["coordinator", "admin"], load: loadExtensions },
  { id: "stalled", label: "Stoppade ärenden", roles: ["assessor", "coordinator", "admin"], load: loadStalled },
  { id: "platform", label: "Larmplattformen", roles: ["alarm_center", "admin"], load: loadPlatform },
  { id: "messages", label: "Meddelanden", roles: null, load: loadMessages },
  { id: "billing", label: "Debitering", roles: ["billing", "admin"], load: loadBilling },
  { id: "keys", label: "Nycklar", roles: ["coordinator", "installer", "care_staff", "admin"], load: loadKeys },
  { id: "pickup", label: "Hämtlista", roles: ["coordinator", "installer", "admin"], load: null },
  { id: "users", label: "Användare", roles: ["admin"], load: loadUsers },
  { id: "outbox", label: "Utskick", roles: ["admin"], load: loadOutbox },
];

const ROLE = {
  admin: "Systemförvaltare",
  assessor: "Biståndshandläggare",
  coordinator: "Koordinator",
  installer: "Larminstallatör",
  care_staff: "Hemtjänstpersonal",
  billing: "Avgiftshandläggare",
  alarm_center: "Jourhandläggare",
};

// Everyone with a role, as a message's addressee.
const ROLE_ALL = {
  coordinator: "Alla koordinatorer",
  assessor: "Alla biståndshandläggare",
  installer: "Alla larminstallatörer",
  care_staff: "All hemtjänstpersonal",
  billing: "Alla avgiftshandläggare",
  alarm_center: "Alla jourhandläggare",
  admin: "Alla systemförvaltare",
};

class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// --- The session: tokens kept fresh, a lapsed login asked for again --------

const SESSION_LAPSED = "Inloggningen har gått ut. Logga in igen.";
let refreshTimer = null;
let refreshing = null;

// Keeps a new token pair and refreshes it before the access token expires.
function keepSession(t) {
  state.token = t.access_token;
  state.refreshToken = t.refresh_token;
  sessionStorage.setItem("access_token", t.access_token);
  sessionStorage.setItem("refresh_token", t.refresh_token);
  sessionStorage.setItem("access_expires_at", String(Date.now() + t.expires_in * 1000));
  if (t.user) {
    state.user = t.user;
    sessionStorage.setItem("desk_user", JSON.stringify(t.user));
  }
  scheduleRefresh();
}

// A minute before expiry (a fifth of the lifetime for short ones), and at
// once when the page was closed for longer than that.
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const expiresAt = Number(sessionStorage.getItem("access_expires_at") || 0);
  if (!state.refreshToken || !expiresAt) return;
  const left = expiresAt - Date.now();
  const margin = Math.min(60_000, left / 5);
  // A failed renewal is noticed at the next request, which asks for the login again.
  refreshTimer = setTimeout(refreshSession, Math.max(0, left - margin));
}

// Exchanges the refresh token for a new pair; concurrent callers share one
// exchange (a refresh token is good once). Resolves false when the session
// cannot be renewed.
function refreshSession() {
  if (!state.refreshToken) return Promise.resolve(false);
  refreshing ??= (async () => {
    try {
      const res = await fetch("/api/v1/auth/refresh", {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: state.refreshToken }),
      });
      if (!res.ok) return false;
      keepSession(await res.json());
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

async function api(path, options = {}, retried = false) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (options.body) headers["Content-Type"] = "application/json";
  const res = await fetch(`/api/v1${path}`, { ...options, headers });
  if (res.status === 401 && state.token) {
    // An expired or ended access token: renew once and ask again, else log in again.
    if (!retried && (await refreshSession())) return api(path, options, true);
    logout(SESSION_LAPSED);
    throw new ApiError(SESSION_LAPSED, 401, "unauthenticated");
  }
  if (!res.ok) {
    const problem = await res.json().catch(() => ({}));
    throw new ApiError(problem.detail_sv || problem.detail || res.statusText, res.status, problem.code);
  }
  if (options.raw) return res;
  return res.status === 204 ? null : res.json();
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function cell(...children) {
  return el("td", {}, ...children);
}

function say(text, isError = false) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

function fill(tbodyId, emptyId, rows) {
  const body = document.getElementById(tbodyId);
  if (!emptyId && rows.length === 0) {
    const columns = body.closest("table").querySelectorAll("thead th").length;
    rows = [el("tr", {}, el("td", { colSpan: columns, className: "muted", textContent: "Inget att visa." }))];
  }
  body.replaceChildren(...rows);
  if (emptyId) document.getElementById(emptyId).hidden = rows.length > 0;
}

const customerCache = new Map();
async function customer(id) {
  if (!customerCache.has(id)) customerCache.set(id, api(`/customers/${id}`).catch(() => null));
  return customerCache.get(id);
}

function customerLabel(c, fallback) {
  if (!c) return fallback ?? "–";
  return `${c.customer_number} ${c.first_name} ${c.last_name}`;
}

async function downloadCsv(path, filename) {
  try {
    const res = await api(path, { raw: true, headers: { Accept: "text/csv" } });
    const url = URL.createObjectURL(await res.blob());
    const a = el("a", { href: url, download: filename });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    say(`${filename} har laddats ner.`);
  } catch (e) {
    say(e.message, true);
  }
}

// --- The coordinator's queue: installed, not executed ----------------------

async function loadQueue() {
  const page = await api("/orders?state=installed&kind=install&limit=200");
  const rows = await Promise.all(page.items.map(async (order) => queueRow(order, await customer(order.customer_id))));
  fill("queue-rows", "queue-empty", rows);
}

function queueRow(order, c) {
  const label = customerLabel(c, order.customer_id);
  const date = el("input", { type: "date", value: order.installation_date ?? "", readOnly: true, name: "start" });
  date.setAttribute("aria-label", `Verkställ från (installationsdatum) för ${label}`);
  return stepRow(order, c, {
    event: "execute",
    spoken: `från ${order.installation_date}`,
    cells: [cell(order.received_at.slice(0, 10)), cell(order.installation_date ?? "–"), cell(date)],
    done: () => `${label} är verkställd från ${order.installation_date}. Debiteringen startar samma dag.`,
    failed: `Kunde inte verkställa ${label}`,
    list: "queue",
    reload: loadQueue,
  });
}

// --- The coordinator's endings: collected, keys back, to end ----------------

async function loadEnding() {
  const page = await api("/orders?kind=uninstall&state=keys_returned&limit=200");
  const rows = await Promise.all(page.items.map(async (order) => endingRow(order, await customer(order.customer_id))));
  fill("ending-rows", "ending-empty", rows);
}

// Ends the execution on the end date the assessor gave: billing stops that day.
function endingRow(order, c) {
  const label = customerLabel(c, order.customer_id);
  return stepRow(order, c, {
    event: "end",
    spoken: `per ${order.end_date}`,
    cells: [cell(order.end_date ?? "–")],
    done: (res) => `${label}: insatsen är avslutad per ${res.order?.end_date ?? order.end_date}. Debiteringen stoppas samma dag.`,
    failed: `Kunde inte avsluta ${label}`,
    list: "ending",
    reload: loadEnding,
  });
}

// A row of a work list with one step to take on its order: customer, address,
// service, the view's own cells, and the step's button (or the state, when
// this user may not take it). A taken step removes the row and keeps the
// keyboard in the list; a stale row reloads the list.
function stepRow(order, c, { event, spoken, cells, done, failed, list, reload }) {
  const label = customerLabel(c, order.customer_id);
  const step = stepFor(order, event);
  let button = null;
  if (step) {
    button = el("button", { type: "button", textContent: step.label });
    button.setAttribute("aria-label", `${step.label} ${label} ${spoken}`);
    button.dataset.orderId = order.id;
  }
  const row = el(
    "tr",
    {},
    cell(label),
    cell(c ? `${c.address.street}, ${c.address.city}` : "–"),
    cell(SERVICE[order.service] ?? order.service),
    ...cells,
    cell(button ?? stateLabel(order.kind, order.state)),
  );
  // One key per order and attempt series: a retry after a lost answer does not act twice.
  const key = newKey();
  button?.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const res = await api(`/orders/${order.id}/${step.path_segment}`, {
        method: "POST",
        body: "{}",
        headers: { "If-Match": `"${order.version}"`, "Idempotency-Key": key },
      });
      say(done(res));
      const next = row.nextElementSibling ?? row.previousElementSibling;
      row.remove();
      document.getElementById(`${list}-empty`).hidden = document.getElementById(`${list}-rows`).children.length > 0;
      (next?.querySelector("button") ?? document.getElementById(`h-${list}`)).focus();
    } catch (e) {
      button.disabled = false;
      say(`${failed}: ${e.message}`, true);
      if (e.status === 412 || e.status === 409) await reload();
    }
  });
  return row;
}

// --- Extension checks -------------------------------------------------------

function period(p) {
  return `${p.from} – ${p.to ?? "tills vidare"}`;
}

async function loadExtensions() {
  const rows = await api("/reports/extensions");
  fill("extension-rows", "extensions-empty", rows.map(extensionRow));
}

function extensionRow(r) {
  const check = el("span", { className: `check ${r.check}`, textContent: r.note_sv });
  const actions = el("div", { className: "actions" });
  const row = el(
    "tr",
    {},
    cell(`${r.customer_number} (${r.area})`),
    cell(SERVICE[r.service] ?? r.service),
    cell(period(r.previous)),
    cell(period(r.next)),
    cell(check),
    cell(actions),
  );
  const order = { kind: "extension", service: r.service, state: r.order_state };
  const execute = stepFor(order, "execute");
  const sendBack = stepFor(order, "return_to_assessor");
  if (r.check === "ok" && execute) {
    const button = el("button", { type: "button", textContent: execute.label });
    button.setAttribute("aria-label", `Verkställ förlängningen för ${r.customer_number}`);
    const key = newKey();
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await api(`/orders/${r.order_id}/execute`, {
          method: "POST",
          body: "{}",
          headers: { "If-Match": `"${r.order_version}"`, "Idempotency-Key": key },
        });
        say(`Förlängningen för ${r.customer_number} är verkställd.`);
        await loadExtensions();
        document.getElementById("h-extensions").focus();
      } catch (e) {
        button.disabled = false;
        say(e.message, true);
      }
    });
    actions.append(button);
  } else if (r.check !== "ok" && sendBack) {
    // A gap or an overlap goes back to the assessor with the days named.
    const reason = el("input", { type: "text", name: "reason", value: r.note_sv });
    reason.setAttribute("aria-label", `Orsak till att ${r.customer_number} skickas tillbaka`);
    const back = el("button", { type: "button", className: "secondary", textContent: sendBack.label });
    const key = newKey();
    back.addEventListener("click", async () => {
      back.disabled = true;
      try {
        await api(`/orders/${r.order_id}/return-to-assessor`, {
          method: "POST",
          body: JSON.stringify({ reason: reason.value }),
          headers: { "If-Match": `"${r.order_version}"`, "Idempotency-Key": key },
        });
        say(`Förlängningen för ${r.customer_number} är skickad tillbaka till handläggaren.`);
        await loadExtensions();
        document.getElementById("h-extensions").focus();
      } catch (e) {
        back.disabled = false;
        say(e.message, true);
      }
    });
    actions.append(reason, back);
  } else {
    actions.append(el("span", { className: "muted", textContent: stateLabel("extension", r.order_state) }));
  }
  return row;
}

// --- Stalled orders (assessor, alarm lead) ----------------------------------

function stalledRow(r) {
  return el(
    "tr",
    {},
    cell(r.customer_number),
    cell(r.area),
    cell(r.received),
    cell(stateLabel("install", r.state)),
    cell(r.reason ?? "–"),
    cell(r.waiting_reason ?? "–"),
    cell(r.ordinary_assessor ?? "–"),
  );
}

async function loadStalled() {
  const [one, three, keys] = await Promise.all([
    api("/reports/not-executed?months=1"),
    api("/reports/not-executed?months=3"),
    api("/reports/keys-not-received"),
  ]);
  fill("stalled-1", null, one.map(stalledRow));
  fill("stalled-3", null, three.map(stalledRow));
  fill(
    "stalled-keys",
    null,
    keys.map((r) =>
      el(
        "tr",
        {},
        cell(r.customer_number),
        cell(r.area),
        cell(r.received),
        cell(r.due),
        cell(stateLabel("install", r.state)),
        cell(r.waiting_reason ?? "–"),
        cell(r.ordinary_assessor ?? "–"),
      ),
    ),
  );
}

// --- Messages ---------------------------------------------------------------

const whenSv = (t) => new Date(t).toLocaleString("sv-SE", { dateStyle: "short", timeStyle: "short" });
const partyNames = (list) => list.map((p) => p.name).join(", ");
let openThread = null;

async function loadMessages() {
  const messages = await api("/messages?limit=100");
  const items = messages.map((m) => {
    const open = el("button", { type: "button", className: "secondary small", textContent: "Visa tråden" });
    open.addEventListener("click", () => showThread(m, li, read).catch((e) => say(e.message, true)));
    const read = m.read_at ? null : el("button", { type: "button", className: "secondary small", textContent: "Markera som läst" });
    read?.addEventListener("click", () => markRead(m, li, read).catch((e) => say(e.message, true)));
    const li = el(
      "li",
      { className: m.read_at ? "read" : "unread" },
      el("strong", { textContent: m.subject }),
      m.copy ? el("span", { className: "badge", textContent: "Kopia" }) : null,
      el("span", { className: "muted", textContent: ` ${whenSv(m.created_at)}` }),
      el("span", { className: "from muted", textContent: `Från ${m.sender_name ?? "Larmkoll"}` }),
      el("p", { textContent: m.body }),
      open,
      read,
    );
    return li;
  });
  document.getElementById("message-list").replaceChildren(...items);
  document.getElementById("messages-empty").hidden = items.length > 0;
  if (openThread) await drawThread(await api(`/messages/threads/${openThread}`)).catch(() => closeThread());
}

async function markRead(m, li, button) {
  await api(`/messages/${m.id}/read`, { method: "POST", headers: { "Idempotency-Key": newKey() } });
  li.className = "read";
  button?.remove();
}

// The whole conversation beside the inbox, with a reply to everyone in it.
async function showThread(m, li, readButton) {
  const thread = await api(`/messages/threads/${m.thread_id}`);
  openThread = thread.id;
  drawThread(thread);
  if (!m.read_at) await markRead(m, li, readButton);
  document.getElementById("h-thread").focus();
}

function drawThread(thread) {
  const first = thread.posts[0];
  document.getElementById("h-thread").textContent = first.subject;
  document.getElementById("thread-about").textContent = thread.customer_number
    ? `Gäller kund ${thread.customer_number}${thread.order_id ? " och en beställning" : ""}`
    : "Gäller ingen kund";
  document.getElementById("thread-posts").replaceChildren(
    ...thread.posts.map((p) =>
      el(
        "li",
        {},
        el("strong", { textContent: p.sender ? p.sender.name : "Larmkoll" }),
        el("span", { className: "muted", textContent: ` ${whenSv(p.created_at)}` }),
        el("span", { className: "from muted", textContent: `Till ${partyNames(p.to)}${p.copy.length ? ` · kopia ${partyNames(p.copy)}` : ""}` }),
        el("p", { textContent: p.body }),
      ),
    ),
  );
  document.getElementById("thread").hidden = false;
}

function closeThread() {
  openThread = null;
  document.getElementById("thread").hidden = true;
}

async function sendReply(event) {
  event.preventDefault();
  const form = event.target;
  const body = new FormData(form).get("body");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const thread = await api(`/messages/threads/${openThread}/replies`, {
      method: "POST",
      headers: { "Idempotency-Key": newKey() },
      body: JSON.stringify({ body }),
    });
    drawThread(thread);
    form.reset();
    say("Svaret är skickat.");
  } catch (e) {
    say(e.message, true);
  } finally {
    button.disabled = false;
  }
}

// The addressees: the ordinary assessor of the customer named, roles, groups and persons.
async function openCompose() {
  const form = document.getElementById("compose");
  const directory = await api("/messages/addressees");
  const options = () => [
    el("option", { value: "assessor:ordinary", textContent: "Kundens ordinarie handläggare" }),
    el("optgroup", { label: "Roller" }, ...Object.entries(ROLE_ALL).map(([code, name]) => el("option", { value: `role:${code}`, textContent: name }))),
    el("optgroup", { label: "Grupper" }, ...directory.groups.map((g) => el("option", { value: `group:${g.id}`, textContent: g.name }))),
    el("optgroup", { label: "Personer" }, ...directory.users.map((u) => el("option", { value: `user:${u.id}`, textContent: `${u.display_name} (${u.role_sv.toLowerCase()})` }))),
  ];
  form.elements.to.replaceChildren(...options());
  form.elements.copy.replaceChildren(...options());
  form.hidden = false;
  form.elements.to.focus();
}

function addressees(select) {
  const out = { users: [], groups: [], roles: [], ordinary_assessor: false };
  for (const o of select.selectedOptions) {
    const [kind, id] = o.value.split(":");
    if (kind === "assessor") out.ordinary_assessor = true;
    else out[`${kind}s`].push(id);
  }
  return out;
}

async function sendNew(event) {
  event.preventDefault();
  const form = event.target;
  const data = new FormData(form);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const number = data.get("customer").trim().toUpperCase();
    let customerId = null;
    if (number) {
      const found = await api(`/customers?q=${encodeURIComponent(number)}&limit=5`);
      const match = found.items.find((c) => c.customer_number === number);
      if (!match) throw new Error(`Ingen kund med kundnummer ${number} som du kan se.`);
      customerId = match.id;
    }
    const thread = await api("/messages", {
      method: "POST",
      headers: { "Idempotency-Key": newKey() },
      body: JSON.stringify({
        to: addressees(form.elements.to),
        copy: addressees(form.elements.copy),
        customer_id: customerId,
        subject: data.get("subject"),
        body: data.get("body"),
      }),
    });
    form.reset();
    form.hidden = true;
    openThread = thread.id;
    drawThread(thread);
    say(`Meddelandet är skickat till ${partyNames(thread.posts[0].to)}.`);
  } catch (e) {
    say(e.message, true);
  } finally {
    button.disabled = false;
  }
}

function wireMessages() {
  document.getElementById("compose-open").addEventListener("click", () => openCompose().catch((e) => say(e.message, true)));
  document.getElementById("compose-cancel").addEventListener("click", () => { document.getElementById("compose").hidden = true; });
  document.getElementById("compose").addEventListener("submit", sendNew);
  document.getElementById("reply").addEventListener("submit", sendReply);
}

// --- Billing ----------------------------------------------------------------

function billingPeriod() {
  const form = new FormData(document.getElementById("billing-period"));
  return new URLSearchParams({ from: form.get("from"), to: form.get("to") });
}

async function loadBilling() {
  const form = document.getElementById("billing-period");
  if (!form.from.value) {
    const now = new Date();
    const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
    form.from.value = iso(new Date(now.getFullYear(), now.getMonth(), 1));
    form.to.value = iso(new Date(now.getFullYear(), now.getMonth() + 1, 0));
  }
  const events = await api(`/billing/events?${billingPeriod()}`);
  fill(
    "billing-rows",
    "billing-empty",
    events.map((e) =>
      el(
        "tr",
        { className: e.kind },
        cell(e.date),
        cell(e.kind === "start" ? "Start" : "Stopp"),
        cell(e.customer_number),
        cell(SERVICE[e.service] ?? e.service),
        cell(e.own_invoice_line ? "Ja (annan kommun)" : "Nej"),
      ),
    ),
  );
}

// --- The printable pick-up list ---------------------------------------------

// "B-1042 · Skåp 2, krok 14", or where the key is when not on its hook.
function pickupKey(k) {
  const where = { in_cabinet: `${k.cabinet}, krok ${k.hook}`, signed_out: "utkvitterad", lost: "borttappad" }[k.custody] ?? "";
  return `${k.key_number} · ${where}`;
}

async function loadPickup() {
  const [rows, me] = await Promise.all([
    api("/reports/to-collect"),
    state.user?.display_name ? state.user : api("/auth/me"),
  ]);
  const printedAt = new Date().toLocaleString("sv-SE", { dateStyle: "short", timeStyle: "short" });
  const byArea = new Map();
  for (const r of rows) {
    if (!byArea.has(r.area)) byArea.set(r.area, []);
    byArea.get(r.area).push(r);
  }
  const columns = ["Adress och tillträde", "Kund", "Telefon", "Slutdatum", "Att hämta", "Nycklar", "Hämtat"];
  const sections = [...byArea].map(([area, list]) =>
    el(
      "section",
      { className: "area" },
      el("h3", { textContent: `${area} (${list.length})` }),
      el(
        "table",
        { className: "grid pickup" },
        el(
          "thead",
          {},
          // Repeated at the top of every printed page: which list, whose, when.
          el("tr", { className: "page-head" }, el("th", {
            colSpan: columns.length,
            scope: "colgroup",
            textContent: `Hämtlista ${area} · ${printedAt} · utskriven av ${me.display_name}`,
          })),
          el("tr", {}, ...columns.map((h) => el("th", { scope: "col", textContent: h }))),
        ),
        el(
          "tbody",
          {},
          ...list.map((r) =>
            el(
              "tr",
              {},
              el("td", {},
                el("span", { className: "nowrap", textContent: `${r.street}, ${r.postal_code} ${r.city}` }),
                r.entry_notes ? el("span", { className: "entry", textContent: r.entry_notes }) : null),
              el("td", { className: "nowrap" }, `${r.customer_number} ${r.name}`),
              el("td", { className: "nowrap" }, r.phone ?? "–"),
              el("td", { className: "nowrap" }, r.end_date ?? "–"),
              el("td", {}, ...r.items.map((i) => {
                const [kind, serial] = i.split(" ");
                return el("span", { className: "nowrap line", textContent: `${ITEM[kind] ?? "Utrustning"} ${serial}` });
              })),
              el("td", {}, ...(r.keys.length ? r.keys.map((k) => el("span", { className: "nowrap line", textContent: pickupKey(k) })) : ["–"])),
              el("td", { className: "tick" }, "☐"),
            ),
          ),
        ),
      ),
    ),
  );
  document.getElementById("pickup").replaceChildren(
    ...(sections.length ? sections : [el("p", { textContent: "Inget att hämta just nu." })]),
  );
  document.getElementById("printed-at").textContent = printedAt;
  document.getElementById("printed-by").textContent = me.display_name;
}

// --- Shell: login, navigation -----------------------------------------------

function viewsFor(user) {
  return VIEWS.filter((v) => !v.roles || v.roles.includes(user.role));
}

async function show(id, { focus = false } = {}) {
  const mine = viewsFor(state.user);
  const view = mine.find((v) => v.id === id) ?? mine[0];
  for (const v of VIEWS) document.getElementById(`view-${v.id}`).hidden = v !== view;
  for (const b of document.querySelectorAll("#views button")) {
    if (b.dataset.view === view.id) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  if (location.hash !== `#${view.id}`) history.replaceState(null, "", `#${view.id}`);
  if (focus) say("");
  if (focus) document.getElementById(`h-${view.id}`).focus();
  if (view.load) {
    try {
      await view.load();
    } catch (e) {
      say(e.message, true);
    }
  }
  document.body.dataset.ready = view.id;
}

async function enterDesk() {
  // Without it the rows show no steps and the states by their codes; the views still load.
  state.lifecycle = await api("/lifecycle").catch(() => null);
  if (!state.user) return; // the login had expired: api() logged out
  document.getElementById("login").hidden = true;
  document.getElementById("logout").hidden = false;
  document.getElementById("who").textContent = state.user.display_name;
  const nav = document.getElementById("views");
  nav.replaceChildren(
    ...viewsFor(state.user).map((v) => {
      const b = el("button", { type: "button", textContent: v.label, className: "tab" });
      b.dataset.view = v.id;
      b.addEventListener("click", () => show(v.id, { focus: true }));
      return b;
    }),
  );
  nav.hidden = false;
  show(location.hash.slice(1));
}

function logout(message) {
  const username = state.user?.username;
  if (state.refreshToken && message === undefined) {
    // Logging out on purpose ends the session on the server too, and at the
    // municipality's login service when the session began there.
    fetch("/api/v1/auth/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(state.token ? { Authorization: `Bearer ${state.token}` } : {}) },
      body: JSON.stringify({ refresh_token: state.refreshToken }),
    })
      .then((res) => (res.status === 200 ? res.json() : null))
      .then((out) => {
        if (out?.end_session_url) location.href = out.end_session_url;
      })
      .catch(() => {});
  }
  clearTimeout(refreshTimer);
  state.token = null;
  state.refreshToken = null;
  state.user = null;
  for (const k of ["access_token", "refresh_token", "access_expires_at", "desk_user"]) sessionStorage.removeItem(k);
  if (document.body.dataset.page !== "desk") {
    location.href = "/desk/index.html";
    return;
  }
  const form = document.getElementById("login");
  if (username) form.elements.username.value = username;
  form.elements.password.value = "";
  for (const v of VIEWS) document.getElementById(`view-${v.id}`).hidden = true;
  document.getElementById("views").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
  form.hidden = false;
  say(typeof message === "string" ? message : "");
  (username ? form.elements.password : form.elements.username).focus();
}

function startDesk() {
  document.getElementById("login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    const error = document.getElementById("login-error");
    try {
      const t = await api("/auth/login", {
        method: "POST",
        body: JSON.stringify({ username: form.get("username"), password: form.get("password") }),
      });
      keepSession(t);
      ev.target.elements.password.value = "";
      error.hidden = true;
      enterDesk();
    } catch (e) {
      error.textContent = e.status === 401 ? "Fel användarnamn eller lösenord." : e.message;
      error.hidden = false;
    }
  });
  document.getElementById("logout").addEventListener("click", () => logout());
  document.getElementById("new-user").addEventListener("submit", createUser);
  wireMessages();
  document.getElementById("key-search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadKeys().catch((e) => say(e.message, true));
  });
  document.getElementById("outbox-filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadOutbox().catch((e) => say(e.message, true));
  });
  document.getElementById("billing-period").addEventListener("submit", (ev) => {
    ev.preventDefault();
    show("billing");
  });
  document.getElementById("billing-csv").addEventListener("click", () => {
    const p = billingPeriod();
    downloadCsv(`/billing/events.csv?${p}`, `debitering-${p.get("from")}-${p.get("to")}.csv`);
  });
  for (const b of document.querySelectorAll("[data-csv]")) {
    b.addEventListener("click", () => downloadCsv(b.dataset.csv, b.dataset.file));
  }
  window.addEventListener("hashchange", () => state.user && show(location.hash.slice(1)));
  loginMethods();
  if (redeemTicket()) return;
  if (state.token && state.user) {
    scheduleRefresh();
    enterDesk();
  }
}

// --- The alarm platform (alarm centre): register new alarms, deregister ended ---

async function loadPlatform() {
  const rows = await api("/reports/platform-registration");
  fill("platform-rows", "platform-empty", rows.map(platformRow));
}

function platformRow(r) {
  const register = r.problem === "not_registered";
  const today = new Date().toLocaleDateString("sv-SE");
  const form = el("form", { className: "actions" });
  const reference = register
    ? el("input", { name: "reference", required: true, maxLength: 100, placeholder: "Referens i plattformen", ariaLabel: `Plattformens referens för ${r.customer_number}` })
    : null;
  const on = el("input", { name: "on", type: "date", required: true, value: today, max: today, ariaLabel: `${register ? "Registrerat" : "Avregistrerat"} den, ${r.customer_number}` });
  const button = el("button", { type: "submit", textContent: register ? "Registrera" : "Avregistrera" });
  form.append(...[reference, on, button].filter(Boolean));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    try {
      // The order's version for If-Match, read now.
      const detail = await api(`/orders/${r.order_id}`);
      const path = register ? "register-in-platform" : "deregister-from-platform";
      const body = register
        ? { platform_reference: reference.value, registered_on: on.value }
        : { deregistered_on: on.value };
      await api(`/orders/${r.order_id}/${path}`, {
        method: "POST",
        headers: { "Idempotency-Key": newKey(), "If-Match": `"${detail.order.version}"` },
        body: JSON.stringify(body),
      });
      const done = register
        ? `Larmet för ${r.customer_number} är registrerat i larmplattformen (${reference.value}).`
        : `Larmet för ${r.customer_number} är avregistrerat ur larmplattformen.`;
      await loadPlatform();
      say(done);
    } catch (e) {
      button.disabled = false;
      say(e.message, true);
    }
  });
  return el("tr", {},
    cell(r.customer_number),
    cell(r.area),
    cell(r.installation_date ?? "–"),
    cell(stateLabel("install", r.state)),
    cell(register ? "Registrera – larmet tas inte emot" : `Avregistrera (${r.platform_reference ?? "ingen referens"}, registrerat ${r.registered_on ?? "–"})`),
    cell(form));
}

// --- The key register: where each customer's key is, signed out and in --------

const MOVE = {
  receive: "Mottagen från kunden",
  sign_out: "Utkvitterad",
  sign_in: "Inkvitterad",
  return_to_customer: "Återlämnad till kunden",
  report_lost: "Anmäld borttappad",
  receive_again: "Mottagen igen",
};
const names = { groups: new Map(), users: new Map() };

async function loadNames() {
  if (names.groups.size) return;
  const directory = await api("/messages/addressees");
  for (const g of directory.groups) names.groups.set(g.id, g.name);
  for (const u of directory.users) names.users.set(u.id, u.display_name);
}

// A place in the register's words: `cabinet:Skåp 2/14`, `group:<id>`, `user:<id>`, `customer`, `lost`.
function placeSv(place) {
  const [kind, rest] = place.split(/:(.*)/s);
  if (kind === "cabinet") {
    const [cabinet, hook] = rest.split("/");
    return `${cabinet}, krok ${hook}`;
  }
  if (kind === "group") return names.groups.get(rest) ?? "en grupp";
  if (kind === "user") return names.users.get(rest) ?? "en person";
  return { customer: "Kunden", lost: "Borttappad" }[kind] ?? place;
}

function whereSv(k) {
  if (k.custody === "in_cabinet") return `${k.cabinet}, krok ${k.hook}${k.night_cabinet ? " (nattskåpet)" : ""}`;
  if (k.custody === "signed_out") {
    const to = k.holder_group_id ? names.groups.get(k.holder_group_id) : names.users.get(k.holder_user_id);
    return `Utkvitterad till ${to ?? "okänd"}${k.overdue ? " – försenad" : ""}`;
  }
  return k.custody === "lost" ? "Borttappad" : "Återlämnad till kunden";
}

async function loadKeys() {
  await loadNames();
  const form = new FormData(document.getElementById("key-search"));
  const q = String(form.get("q") || "").trim();
  const show = form.get("show");
  const query = new URLSearchParams({ limit: "1000" });
  if (show === "overdue") query.set("overdue", "true");
  else if (show) query.set("custody", show);
  if (/^k-?\d+$/i.test(q)) {
    const number = q.toUpperCase().replace(/^K-?/, "K-");
    const found = await api(`/customers?q=${encodeURIComponent(number)}&limit=5`);
    const customer = found.items.find((c) => c.customer_number === number);
    if (!customer) {
      fill("key-rows", null, []);
      return say(`Ingen kund med kundnummer ${number} som du kan se.`, true);
    }
    query.set("customer_id", customer.id);
  } else if (q) {
    query.set("key_number", q);
  }
  const keys = await api(`/keys?${query}`);
  fill("key-rows", null, keys.map(keyRow));
  document.getElementById("key-rows").dataset.query = q;
}

function keyRow(k) {
  const actions = el("div", { className: "actions" });
  const history = el("button", { type: "button", className: "secondary", textContent: "Historik" });
  history.addEventListener("click", () => showKeyHistory(k).catch((e) => say(e.message, true)));
  actions.append(history);
  if (k.custody === "in_cabinet") {
    const groups = el("select", { ariaLabel: `Kvittera ut ${k.key_number} till` },
      ...[...names.groups].map(([id, name]) => el("option", { value: id, textContent: name })));
    const out = el("button", { type: "button", textContent: "Kvittera ut" });
    out.addEventListener("click", () => moveKey(k, "sign-out", { group_id: groups.value }, `${k.key_number} är utkvitterad till ${names.groups.get(groups.value)}.`));
    actions.prepend(groups, out);
  } else if (k.custody === "signed_out" || k.custody === "lost") {
    const back = el("button", { type: "button", textContent: "Kvittera in" });
    back.addEventListener("click", () => moveKey(k, "sign-in", {}, `${k.key_number} hänger i ${k.cabinet}, krok ${k.hook}.`));
    actions.prepend(back);
  }
  return el("tr", { className: k.overdue ? "stop" : "" },
    cell(k.key_number), cell(k.customer_number), cell(String(k.count)),
    cell(whereSv(k)), cell(whenSv(k.since)), cell(actions));
}

async function moveKey(k, move, body, done) {
  try {
    await api(`/keys/${k.id}/${move}`, {
      method: "POST",
      headers: { "Idempotency-Key": newKey(), "If-Match": `"${k.version}"` },
      body: JSON.stringify(body),
    });
    say(done);
    await loadKeys();
  } catch (e) {
    say(e.message, true);
  }
}

async function showKeyHistory(k) {
  const detail = await api(`/keys/${k.id}`);
  document.getElementById("h-key-history").textContent = `Nyckel ${k.key_number} – kund ${k.customer_number}`;
  document.getElementById("key-moves").replaceChildren(
    ...detail.history.map((m) =>
      el("li", {},
        el("strong", { textContent: MOVE[m.move] ?? "Flyttad" }),
        el("span", { className: "muted", textContent: ` ${whenSv(m.at)} av ${names.users.get(m.user_id) ?? "okänd"}` }),
        el("p", { textContent: `Från ${placeSv(m.from)} till ${placeSv(m.to)}${m.note ? ` – ${m.note}` : ""}` }))),
  );
  document.getElementById("key-history").hidden = false;
  document.getElementById("h-key-history").focus();
}

// --- The outbox (admin): every mail and webhook delivery, sent again on demand --

// What a delivery carries, in words: a message's topic or a webhook's event.
const WHAT = {
  ordered: "Ny beställning",
  installed: "Installerat",
  declined: "Kunden avböjde",
  returned_to_assessor: "Åter till handläggare",
  equipment_collected: "Utrustning hämtad",
  cancelled: "Beställning makulerad",
  terminated: "Avbeställning",
  lock_mounted: "Lås monterat",
  lock_removed: "Lås nedtaget",
  not_executed: "Ej verkställt efter en månad",
  keys_not_received: "Nycklar ej inkomna",
  escalation: "Eskalering",
  three_month_list: "Lista tre månader",
  conversation: "Meddelande från en kollega",
  "order.transitioned": "Beställningen bytte läge",
  "decision.granted": "Beslut beviljat",
  "decision.extended": "Beslut förlängt",
  "decision.ended": "Beslut avslutat",
  "execution.started": "Verkställighet startad",
  "execution.ended": "Verkställighet avslutad",
  "billing.start": "Debitering start",
  "billing.stop": "Debitering stopp",
  "equipment.moved": "Utrustning flyttad",
  "key.moved": "Nyckel flyttad",
  "document.stored": "Dokument sparat",
  "message.created": "Meddelande skapat",
};
const CHANNEL = { email: "E-post", webhook: "Webhook" };

async function loadOutbox() {
  const form = new FormData(document.getElementById("outbox-filter"));
  const query = new URLSearchParams({ limit: "200" });
  for (const name of ["state", "channel"]) if (form.get(name)) query.set(name, form.get(name));
  const rows = await api(`/outbox?${query}`);
  fill("outbox-rows", null, rows.map(outboxRow));
}

function outboxRow(d) {
  const again = ["failed", "bounced", "sent"].includes(d.state)
    ? el("button", { type: "button", className: "secondary", textContent: "Skicka igen" })
    : null;
  const row = el(
    "tr",
    {},
    cell(whenSv(d.created_at)),
    cell(CHANNEL[d.channel] ?? d.channel),
    cell(WHAT[d.event_type] ?? "Annan händelse"),
    cell(d.customer_number ?? "–"),
    cell(d.target),
    cell(d.state_sv),
    cell(String(d.attempts)),
    cell(d.last_error ?? "–"),
    cell(again),
  );
  again?.addEventListener("click", async () => {
    again.disabled = true;
    try {
      const queued = await api(`/outbox/${d.id}/replay`, { method: "POST", headers: { "Idempotency-Key": newKey() } });
      row.replaceWith(outboxRow(queued));
      say(`Skickas igen till ${queued.target}.`);
    } catch (e) {
      again.disabled = false;
      say(e.message, true);
    }
  });
  return row;
}

// --- Users (admin): provisioned ahead, switched off and on ---------------------

async function loadUsers() {
  const users = await api("/users");
  fill("user-rows", null, users.map(userRow));
}

function userRow(u) {
  const how = [u.external_id ? `Kommunens inloggning (${u.external_id})` : null, u.has_password ? "Lösenord" : null]
    .filter(Boolean)
    .join(", ");
  const toggle = el("button", {
    type: "button",
    className: "secondary",
    textContent: u.active ? "Stäng av" : "Aktivera",
  });
  toggle.setAttribute("aria-label", `${u.active ? "Stäng av" : "Aktivera"} ${u.username}`);
  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    try {
      await api(`/users/${u.id}`, {
        method: "PATCH",
        body: JSON.stringify({ active: !u.active }),
        headers: { "If-Match": `"${u.version}"` },
      });
      say(u.active ? `${u.username} är avstängd och utloggad överallt.` : `${u.username} är aktiv igen.`);
      await loadUsers();
    } catch (e) {
      toggle.disabled = false;
      say(e.message, true);
    }
  });
  return el(
    "tr",
    {},
    cell(u.username),
    cell(u.display_name),
    cell(ROLE[u.role] ?? u.role),
    cell(how || "–"),
    cell(u.active ? "Aktiv" : "Avstängd"),
    cell(toggle),
  );
}

async function createUser(ev) {
  ev.preventDefault();
  const form = ev.target;
  const data = new FormData(form);
  const error = document.getElementById("new-user-error");
  const body = {
    username: data.get("username").trim(),
    display_name: data.get("display_name").trim(),
    role: data.get("role"),
  };
  if (data.get("external_id").trim()) body.external_id = data.get("external_id").trim();
  if (data.get("password")) body.password = data.get("password");
  try {
    const created = await api("/users", { method: "POST", body: JSON.stringify(body) });
    form.reset();
    error.hidden = true;
    say(`${created.username} är upplagd.`);
    await loadUsers();
  } catch (e) {
    error.textContent = e.message;
    error.hidden = false;
  }
}

// The municipality's login service, when the server has one; with password
// login off, the password form is only the fallback for named accounts.
async function loginMethods() {
  let methods;
  try {
    methods = await (await fetch("/api/v1/auth/methods", { headers: { Accept: "application/json" } })).json();
  } catch {
    return;
  }
  if (methods.provider) {
    const button = document.getElementById("provider-button");
    button.textContent = methods.provider.button_text;
    button.href = `${methods.provider.start_url}?app=desk`;
    document.getElementById("provider-login").hidden = false;
  }
  if (!methods.password) {
    const fallback = document.getElementById("password-login");
    fallback.classList.add("fallback");
    fallback.open = false;
  }
}

// Back from the login service with a ticket in the address's fragment:
// redeemed once for the session's tokens, or the refusal shown in its words.
function redeemTicket() {
  const found = location.hash.match(/^#oidc=([\w-]+)$/);
  if (!found) return false;
  history.replaceState(null, "", location.pathname + location.search);
  const error = document.getElementById("login-error");
  state.token = null; // a new session replaces whatever this tab had
  api("/auth/oidc/token", { method: "POST", body: JSON.stringify({ ticket: found[1] }) })
    .then((t) => {
      keepSession(t);
      error.hidden = true;
      enterDesk();
    })
    .catch((e) => {
      error.textContent = e.message;
      error.hidden = false;
    });
  return true;
}

async function startPickup() {
  document.getElementById("print").addEventListener("click", () => window.print());
  if (!state.token) {
    location.href = "/desk/index.html";
    return;
  }
  scheduleRefresh();
  try {
    await loadPickup();
  } catch (e) {
    say(e.message, true);
  }
  document.body.dataset.ready = "pickup";
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.body.dataset.page === "pickup") startPickup();
  else startDesk();
});
