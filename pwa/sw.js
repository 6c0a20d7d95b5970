// The field app's service worker: keeps the shell on the phone so the app
// opens with no signal, and sends the outbox when the connection returns
// (Background Sync where the browser has it, and at every worker start).
// The server writes the build's version into __BUILD__ when it serves this file.
"use strict";

const BUILD = "__BUILD__";
const SHELL_CACHE = `larmkoll-shell-${BUILD}`;
const versioned = (path) => `${path}?v=${BUILD}`;
const SHELL = [
  "/",
  versioned("/app.css"),
  versioned("/store.js"),
  versioned("/lifecycle.js"),
  versioned("/outbox.js"),
  versioned("/app.js"),
  "/manifest.webmanifest",
  "/icon.svg",
  "/icon-192.png",
  "/icon-512.png",
];

importScripts(versioned("/store.js"), versioned("/lifecycle.js"), versioned("/outbox.js"));

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL_CACHE)
      // A versioned file never changes under its URL: the copy the page just
      // loaded (HTTP cache) is the one to keep; the rest is revalidated (a 304
      // for what the page has). So the first visit downloads each file once.
      .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: url.includes("?v=") ? "default" : "no-cache" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("larmkoll-shell-") && name !== SHELL_CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

// The shell from the cache (the network only to refresh the page itself when
// it answers quickly); the API always from the network: the app keeps its own
// data in IndexedDB, where logout can wipe it.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  // The API, the docs and the desk (wide-screen, online) are not the field app's.
  if (/^\/(api|docs|desk)(\/|$)/.test(url.pathname)) return;
  if (event.request.mode === "navigate") {
    event.respondWith(page(event.request));
    return;
  }
  event.respondWith(
    caches.match(event.request).then((hit) => hit || fetch(event.request)),
  );
});

async function page(request) {
  const cache = await caches.open(SHELL_CACHE);
  try {
    const fresh = await Promise.race([
      fetch(request),
      new Promise((_, reject) => setTimeout(() => reject(new Error("slow")), 3000)),
    ]);
    if (fresh.ok && new URL(request.url).pathname === "/") await cache.put("/", fresh.clone());
    if (fresh.ok) return fresh;
  } catch {
    // no signal or too slow: the cached shell
  }
  return (await cache.match("/")) || new Response("Larmkoll är inte tillgänglig offline ännu.", {
    status: 503,
    headers: { "Content-Type": "text/plain; charset=utf-8" },
  });
}

// A pass that stops early (no signal, a 5xx, items left) rejects, so the
// browser schedules the sync again with its own backoff.
self.addEventListener("sync", (event) => {
  if (event.tag === "outbox") event.waitUntil(self.Larmkoll.flushOrThrow());
});

self.addEventListener("message", (event) => {
  if (event.data === "flush") event.waitUntil(self.Larmkoll.flush());
});

// Every start of the worker is a chance to send what waits.
self.Larmkoll.flush().catch(() => {});
