// The outbox: every action the installer takes is stored here first and sent
// when there is a connection, oldest first, so the actions on one order reach
// the server in the order they were done. Each item carries a client-made id,
// sent as `Idempotency-Key` (or, for a photo, as the document's own id), so a
// resend after a lost answer is recognised by the server and stored once.
//
// Shared by the page and the service worker; one flush runs at a time across
// both (a Web Lock), so the `online` event and the worker's `sync` never send
// the same item twice at once. The whole retry policy is here: which answers
// are done, retried or failed, and when the next try comes.
"use strict";

(function (L) {
  const channel = typeof BroadcastChannel !== "undefined" ? new BroadcastChannel("larmkoll") : null;

  function changed(what = "outbox", extra = {}) {
    channel?.postMessage({ changed: what, ...extra });
  }

  async function enqueue(action) {
    const session = await L.kv.get("session");
    if (!session?.user) throw new L.NeedLogin();
    const item = {
      id: action.id || crypto.randomUUID(),
      user_id: session.user.id,
      created_at: new Date().toISOString(),
      attempts: 0,
      status: "waiting",
      ...action,
    };
    item.seq = await L.outbox.add(item);
    if (item.order_id) await applyLocally(item.order_id, [item]);
    changed();
    return item;
  }

  // The phone's own view of an order until the server answers: the state its
  // queued actions lead to by the server's lifecycle (the server decides in the end).
  async function applyLocally(orderId, items) {
    const order = await L.kv.get(`order:${orderId}`);
    if (!order) return;
    const lifecycle = await L.kv.get("lifecycle");
    for (const item of items) {
      const to = L.lifecycle.next(lifecycle, order.kind, order.state, item.event);
      order.state = to ?? order.state;
      const body = typeof item.body === "string" ? JSON.parse(item.body) : {};
      if (to && body.reason) order.state_reason = body.reason;
      if (item.event === "install") order.serials = body.serials;
      if (item.event === "install") order.installation_date = body.installation_date;
      if (item.event === "book") Object.assign(order, { visit_date: body.visit_date, visit_time: body.visit_time });
    }
    await L.kv.set(`order:${orderId}`, order);
  }

  // The server's order, with the phone's own actions still waiting on top.
  // `items` (the outbox as read once by a caller saving many orders) saves a read per order.
  // The server's copy is kept apart (`base:`), so that the phone's view can be
  // recomputed when a waiting action is changed or withdrawn.
  async function rebase(order, items = null) {
    const waiting = (items || (await mine())).filter((i) => i.status === "waiting" && i.order_id === order.id);
    await L.kv.set(`base:${order.id}`, order);
    await L.kv.set(`order:${order.id}`, order);
    await applyLocally(order.id, waiting);
  }

  // The phone's view of an order again from the server's copy and what still waits.
  async function recompute(orderId) {
    const base = await L.kv.get(`base:${orderId}`);
    if (base) return rebase(base);
    return freshOrder(orderId).catch(() => null);
  }

  async function mine() {
    const session = await L.kv.get("session");
    const items = await L.outbox.all();
    return items.filter((i) => i.user_id === session?.user?.id);
  }

  async function summary() {
    const items = await mine();
    const waiting = items.filter((i) => i.status === "waiting");
    const meta = (await L.kv.get("sync")) || {};
    return {
      waiting: waiting.length,
      failed: items.filter((i) => i.status === "failed").length,
      oldest: waiting[0]?.created_at || null,
      last_sync: meta.last_sync || null,
      last_error: waiting.length ? meta.last_error || null : null,
      items,
    };
  }

  async function noteSync(patch) {
    const meta = (await L.kv.get("sync")) || {};
    await L.kv.set("sync", { ...meta, ...patch });
  }

  async function freshOrder(orderId) {
    const res = await L.api(`/orders/${orderId}`);
    if (!res.ok) return null;
    const detail = await res.json();
    await rebase(detail.order);
    return detail.order;
  }

  async function send(item, onProgress, signal) {
    for (let attempt = 0; ; attempt++) {
      const headers = {};
      if (item.method === "POST") headers["Idempotency-Key"] = item.id;
      if (item.if_match) {
        // The version the phone knows, advanced by its own earlier actions.
        const order = (await L.kv.get(`order:${item.order_id}`)) || (await freshOrder(item.order_id));
        if (order) headers["If-Match"] = `"${order.version}"`;
      }
      let body = item.body;
      if (body instanceof Blob) headers["Content-Type"] = item.content_type || body.type;
      else if (body != null) headers["Content-Type"] = "application/json";
      const res = await L.api(item.path, { method: item.method, headers, body, onProgress, signal });
      // Someone else changed the order meanwhile: take the server's version and
      // send once more; the state machine refuses what no longer applies, with
      // a message the installer can act on.
      if (res.status === 412 && item.if_match && attempt === 0) {
        await freshOrder(item.order_id);
        continue;
      }
      return res;
    }
  }

  // --- The retry policy ---------------------------------------------------

  // What an answer means for the item: "done" (stored; also a 409
  // already_applied, the server did it but its answer was lost), "retry" (408,
  // 425, 429, 5xx, or the same key still being handled: the queue stops and
  // tries again later) or "failed" (any other refusal: to the list the
  // installer sees, never to the bin).
  function verdict(status, code) {
    if (status >= 200 && status < 300) return "done";
    if (status === 409 && code === "already_applied") return "done";
    if (status >= 500 || [408, 425, 429].includes(status)) return "retry";
    if (status === 409 && code === "idempotency_in_progress") return "retry";
    return "failed";
  }

  const BUSY_MS = 3000; // another flush holds the lock
  const FIRST_RETRY_MS = 5000; // after a stop: 5 s, 10 s, … 160 s, ±25 %
  const MAX_DOUBLINGS = 5;
  // After no contact at all (a stalled or dropped connection, not a busy
  // server) the next try comes within 10 s (8 s ±25 %): signal comes back
  // unannounced, and a send that started just before it still hangs to its
  // 15 s deadline, so the queue goes within 15 + 10 s of good signal.
  const NO_CONTACT_MAX_MS = 8000;
  const STILL_WAITING_MS = 60000; // items queued while a pass ran
  let stops = 0;

  // A pass that left work behind: the browser's Background Sync should come back.
  function stoppedEarly(result) {
    return Boolean(result.offline || result.busy || "stopped" in result);
  }

  // When to try again after a pass, in ms; null: at the `online` event, or
  // when something new is queued.
  function delayAfter(result, waiting) {
    if (result.offline) return null;
    if (result.busy) return BUSY_MS;
    if ("stopped" in result) {
      stops = Math.min(stops + 1, MAX_DOUBLINGS + 1);
      const backoff = FIRST_RETRY_MS * 2 ** (stops - 1);
      const capped = result.noContact ? Math.min(backoff, NO_CONTACT_MAX_MS) : backoff;
      return capped * (0.75 + Math.random() / 2);
    }
    stops = 0;
    return waiting ? STILL_WAITING_MS : null;
  }

  let timer = null;
  // The send in flight in this context, so that "Skicka nu" can cut it.
  let inFlight = null;

  // "Skicka nu": a fresh attempt at once, whatever holds the queue. A send
  // stalled here is aborted; a flush held by the other context (page or
  // worker) loses its lock. Each item's Idempotency-Key keeps a send that
  // still lands from being stored twice.
  function sendNow(hooks = {}) {
    inFlight?.abort();
    stops = 0;
    return sync({ ...hooks, steal: true });
  }

  // Sends now and keeps trying by the policy; `hooks.onDone(result)` after
  // every pass (the page redraws), `hooks.onProgress` as in flush.
  async function sync(hooks = {}) {
    clearTimeout(timer);
    let result;
    try {
      result = await flush(hooks);
    } catch (e) {
      result = { stopped: e.message };
    }
    const waiting = (await mine()).filter((i) => i.status === "waiting").length;
    const delay = delayAfter(result, waiting);
    if (delay != null) timer = setTimeout(() => sync(hooks), delay);
    await hooks.onDone?.(result);
    return result;
  }

  // One pass for the service worker's `sync` event: it rejects when the pass
  // stopped early, so that the browser schedules Background Sync again.
  async function flushOrThrow() {
    const result = await flush();
    if (stoppedEarly(result)) {
      throw new Error(`Utkorgen är inte tömd (${result.offline ? "ingen täckning" : result.busy ? "skickas redan" : result.stopped}).`);
    }
    return result;
  }

  // Sends what waits, oldest first. Stops at the first network error, 5xx or
  // 429 (the rest waits for the next try); a refusal (4xx) moves the item to
  // the failed list with the server's words and goes on with the next.
  async function flush(hooks = {}) {
    if (!navigator.locks) return { busy: true };
    // No network at all: wait for the `online` event rather than try.
    if (navigator.onLine === false) {
      await noteSync({ last_error: "Ingen täckning – skickas när anslutningen är tillbaka." });
      return { offline: true };
    }
    const how = hooks.steal ? { steal: true } : { ifAvailable: true };
    return navigator.locks.request("larmkoll-outbox", how, async (lock) => {
      if (!lock) return { busy: true };
      const started = new Date().toISOString();
      const cut = new AbortController();
      inFlight = cut;
      const items = (await mine()).filter((i) => i.status === "waiting");
      const photos = items.filter((i) => i.body instanceof Blob);
      const total = photos.reduce((n, i) => n + i.body.size, 0);
      let sentBytes = 0;
      let sent = 0;
      const touched = new Set(); // orders the server now holds more of
      for (const item of items) {
        const isPhoto = item.body instanceof Blob;
        const progress = isPhoto && hooks.onProgress
          ? (loaded) => hooks.onProgress(sentBytes + loaded, total)
          : undefined;
        let res;
        try {
          res = await send(item, progress, cut.signal);
        } catch (e) {
          const needLogin = e instanceof L.NeedLogin;
          const message = needLogin ? e.message : "Ingen kontakt med servern.";
          // A send cut by "Skicka nu" was not an attempt of its own.
          const counted = !(cut.signal.aborted && e instanceof L.NoContact);
          if (counted) await L.outbox.put({ ...item, attempts: item.attempts + 1 });
          const meta = (await L.kv.get("sync")) || {};
          await noteSync({
            last_error: message,
            login_needed: needLogin,
            trying_since: needLogin ? null : meta.trying_since || started,
          });
          changed();
          return { sent, touched: [...touched], stopped: message, noContact: !needLogin };
        }
        if (isPhoto) sentBytes += item.body.size;
        const answer = await settle(item, res);
        if (answer === "retry") {
          await L.outbox.put({ ...item, attempts: item.attempts + 1 });
          await noteSync({ last_error: `Servern svarade ${res.status}; försöker igen snart.`, trying_since: null });
          changed();
          return { sent, touched: [...touched], stopped: res.status };
        }
        if (answer === "done") sent++;
        if (answer === "done" && item.order_id) touched.add(item.order_id);
        hooks.onProgress?.(sentBytes, total);
        changed();
      }
      // "senast skickat" only when something was: each send notes its own time (settle).
      await noteSync({ last_error: null, login_needed: false, trying_since: null });
      changed();
      return { sent, touched: [...touched] };
    });
  }

  async function settle(item, res) {
    const { code, text } = res.ok ? {} : await L.problemOf(res);
    const outcome = verdict(res.status, code);
    if (outcome === "done") {
      await L.outbox.delete(item.seq);
      const type = res.headers.get("Content-Type") || "";
      if (res.ok && item.order_id && type.includes("json")) {
        const body = await res.json();
        if (body?.order?.id) await rebase(body.order);
      } else if (!res.ok && item.order_id) {
        await freshOrder(item.order_id).catch(() => null);
      }
      await noteSync({ last_sync: new Date().toISOString() });
      // The page redraws from what the server now has, whoever sent it.
      if (item.order_id) changed("sent", { order_id: item.order_id });
      return "done";
    }
    if (outcome === "retry") return "retry";
    await L.outbox.put({
      ...item,
      status: "failed",
      failed_at: new Date().toISOString(),
      error: { status: res.status, code, message: text },
    });
    if (item.order_id) await freshOrder(item.order_id).catch(() => null);
    return "failed";
  }

  // A refused item sent again (after the installer fixed what the server said).
  async function retry(seq) {
    const item = await L.outbox.get(seq);
    if (!item) return;
    await L.outbox.put({ ...item, status: "waiting", error: null, failed_at: null });
    changed();
  }

  // A refused item the installer chooses to drop, after confirming.
  async function discard(seq) {
    const item = await L.outbox.get(seq);
    if (!item || item.status !== "failed") return;
    await L.outbox.delete(seq);
    changed();
  }

  // A waiting action changed or withdrawn by the installer before it is sent.
  // Only while no pass is sending (the queue's lock), so it cannot be half
  // sent; false when a send is under way. The order's view is recomputed.
  async function withQueueHeld(act) {
    if (!navigator.locks) return false;
    return navigator.locks.request("larmkoll-outbox", { ifAvailable: true }, async (lock) => {
      if (!lock) return false;
      await act();
      return true;
    });
  }

  async function withdraw(seq) {
    let orderId = null;
    const done = await withQueueHeld(async () => {
      const item = await L.outbox.get(seq);
      if (!item || item.status !== "waiting") return;
      orderId = item.order_id;
      await L.outbox.delete(seq);
      if (orderId) await recompute(orderId);
    });
    if (done) changed();
    return done;
  }

  // `patch`: the new body and label. A changed action gets a new id: the
  // server may hold the old one under the old id, from a send whose answer
  // was lost, and must not answer the change with that.
  async function amend(seq, patch) {
    const done = await withQueueHeld(async () => {
      const item = await L.outbox.get(seq);
      if (!item || item.status !== "waiting") return;
      await L.outbox.put({ ...item, ...patch, id: crypto.randomUUID(), attempts: 0 });
      if (item.order_id) await recompute(item.order_id);
    });
    if (done) changed();
    return done;
  }

  Object.assign(L, { enqueue, flush, sync, sendNow, flushOrThrow, summary, retry, discard, withdraw, amend, rebase, changed, channel });
})(self.Larmkoll);
