// The phone's storage, shared by the page and the service worker (a classic
// script: `importScripts` in the worker, a <script> in the page).
//
// IndexedDB "larmkoll": `kv` holds the session, the PIN check and the cached
// work data (wiped at logout); `outbox` holds the actions not yet sent (kept
// through logout, reloads and failed logins, removed only once the server has
// them or the installer discards a refused one).
"use strict";

self.Larmkoll = self.Larmkoll || {};

(function (L) {
  const DB_NAME = "larmkoll";
  const DB_VERSION = 1;
  let opening = null;

  function request(req) {
    return new Promise((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  function open() {
    opening ??= new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        db.createObjectStore("kv");
        db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
      };
      req.onsuccess = () => {
        const db = req.result;
        db.onversionchange = () => {
          db.close();
          opening = null;
        };
        resolve(db);
      };
      req.onerror = () => {
        opening = null;
        reject(req.error);
      };
    });
    return opening;
  }

  // One request in its own transaction; resolves once the transaction is durable.
  async function one(storeName, mode, act) {
    const db = await open();
    const tx = db.transaction(storeName, mode, { durability: "strict" });
    const result = request(act(tx.objectStore(storeName)));
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
    });
    return result;
  }

  const kv = {
    get: (key) => one("kv", "readonly", (s) => s.get(key)),
    set: (key, value) => one("kv", "readwrite", (s) => s.put(value, key)),
    delete: (key) => one("kv", "readwrite", (s) => s.delete(key)),
    keys: () => one("kv", "readonly", (s) => s.getAllKeys()),
  };

  const outbox = {
    add: (item) => one("outbox", "readwrite", (s) => s.add(item)),
    put: (item) => one("outbox", "readwrite", (s) => s.put(item)),
    delete: (seq) => one("outbox", "readwrite", (s) => s.delete(seq)),
    get: (seq) => one("outbox", "readonly", (s) => s.get(seq)),
    // Oldest first: the key is an increasing sequence number.
    all: () => one("outbox", "readonly", (s) => s.getAll()),
  };

  // Everything but the outbox: what logout removes from the phone.
  async function wipe() {
    for (const key of await kv.keys()) await kv.delete(key);
  }

  // --- Session -------------------------------------------------------------

  class NeedLogin extends Error {
    constructor(message) {
      super(message || "Logga in igen.");
      this.name = "NeedLogin";
    }
  }

  function sessionFrom(tokens, previous) {
    const now = Date.now();
    return {
      ...(previous || {}),
      user: tokens.user,
      access_token: tokens.access_token,
      access_expires: now + tokens.expires_in * 1000,
      refresh_token: tokens.refresh_token,
      refresh_expires: now + tokens.refresh_expires_in * 1000,
    };
  }

  const SKEW_MS = 30 * 1000;

  function accessValid(s) {
    return Boolean(s?.access_token) && s.access_expires - SKEW_MS > Date.now();
  }

  // A valid access token, refreshed when it has expired. The refresh token
  // works once, so the page and the worker take turns (a Web Lock) and read
  // the session again inside it: whoever came second uses the new pair.
  async function accessToken(force = false) {
    const s = await kv.get("session");
    if (!s?.user) throw new NeedLogin();
    if (!force && accessValid(s)) return s.access_token;
    return navigator.locks.request("larmkoll-auth", async () => {
      const now = await kv.get("session");
      if (!now?.user) throw new NeedLogin();
      if (now.access_token !== s.access_token && accessValid(now)) return now.access_token;
      if (!now.refresh_token) throw new NeedLogin();
      const res = await fetch("/api/v1/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ refresh_token: now.refresh_token }),
      });
      if (res.status === 401 || res.status === 400) {
        // The refresh token is spent or revoked: only a new login helps. The
        // queue and the PIN stay; the tokens go.
        await kv.set("session", { ...now, access_token: null, refresh_token: null });
        throw new NeedLogin("Inloggningen har gått ut. Logga in igen – inget som väntar går förlorat.");
      }
      if (!res.ok) throw new Error(`Kunde inte förnya inloggningen (${res.status}).`);
      const next = sessionFrom(await res.json(), now);
      await kv.set("session", next);
      return next.access_token;
    });
  }

  // A request that got no answer in time: the connection is stalled
  // (signal that connects but carries nothing). Aborted, so the queue moves on.
  class NoContact extends Error {
    constructor(message) {
      super(message || "Ingen kontakt med servern.");
      this.name = "NoContact";
    }
  }

  // How long a request may take before it counts as stalled: 15 s to answer,
  // plus the body's time at 20 kB/s (slow, but moving). An upload with
  // progress counts as stalled only when no byte moves for STALL_MS.
  const ANSWER_MS = 15000;
  const STALL_MS = 15000;
  function patience(body) {
    const bytes = body?.size ?? body?.length ?? 0;
    return ANSWER_MS + bytes / 20;
  }

  // fetch against /api/v1 with the bearer token; a 401 refreshes once. A
  // request that stalls past its patience, or whose `signal` aborts, rejects
  // with NoContact.
  async function api(path, options = {}) {
    for (let attempt = 0; ; attempt++) {
      const token = await accessToken(attempt > 0);
      const headers = { Accept: "application/json", ...(options.headers || {}) };
      headers.Authorization = `Bearer ${token}`;
      const res = await timed(`/api/v1${path}`, { ...options, headers });
      if (res.status !== 401 || attempt > 0) return res;
    }
  }

  async function timed(url, options) {
    const stop = new AbortController();
    const outer = options.signal;
    if (outer?.aborted) throw new NoContact("Avbrutet – skickas på nytt.");
    const onOuter = () => stop.abort();
    outer?.addEventListener("abort", onOuter);
    const withProgress = options.onProgress && typeof XMLHttpRequest !== "undefined";
    const timer = withProgress ? null : setTimeout(() => stop.abort(), patience(options.body));
    try {
      return await (withProgress ? xhr(url, { ...options, signal: stop.signal }) : fetch(url, { ...options, signal: stop.signal }));
    } catch (e) {
      if (stop.signal.aborted) throw new NoContact(outer?.aborted ? "Avbrutet – skickas på nytt." : undefined);
      throw e;
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener("abort", onOuter);
    }
  }

  // fetch's twin over XMLHttpRequest, for upload progress in the page. It
  // aborts when no byte has moved for STALL_MS, or no answer comes ANSWER_MS
  // after the last byte went.
  function xhr(url, options) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open(options.method || "GET", url);
      for (const [k, v] of Object.entries(options.headers || {})) x.setRequestHeader(k, v);
      x.responseType = "blob";
      let watchdog = null;
      const watch = (ms) => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => x.abort(), ms);
      };
      options.signal?.addEventListener("abort", () => x.abort());
      x.upload.onprogress = (e) => {
        watch(STALL_MS);
        if (e.lengthComputable) options.onProgress(e.loaded, e.total);
      };
      x.upload.onload = () => watch(ANSWER_MS);
      x.onabort = () => {
        clearTimeout(watchdog);
        reject(new NoContact());
      };
      x.onloadend = () => clearTimeout(watchdog);
      watch(STALL_MS);
      x.onload = () => {
        const headers = new Headers();
        for (const line of x.getAllResponseHeaders().trim().split(/\r?\n/)) {
          const at = line.indexOf(":");
          if (at > 0) headers.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
        }
        resolve(new Response(x.response, { status: x.status, headers }));
      };
      x.onerror = () => reject(new TypeError("Nätverksfel"));
      x.ontimeout = x.onerror;
      x.send(options.body ?? null);
    });
  }

  // The server's problem+json: its code, and one Swedish sentence for a person.
  async function problemOf(res) {
    try {
      const p = await res.clone().json();
      const main = p.detail_sv || p.detail || p.title_sv || p.title || "";
      // A validation problem's detail_sv already names each field: no field twice.
      const details = (p.errors || []).map((e) => e.detail_sv).filter((d) => d && !main.includes(d));
      return { code: p.code ?? null, text: [main, ...details].filter(Boolean).join(" ") };
    } catch {
      return { code: null, text: `Servern svarade ${res.status}.` };
    }
  }

  async function problemText(res) {
    return (await problemOf(res)).text;
  }

  Object.assign(L, { kv, outbox, wipe, NeedLogin, NoContact, sessionFrom, accessValid, accessToken, api, problemOf, problemText });
})(self.Larmkoll);
