// oO's service worker: keeps the app shell (the pages and their hashed build assets) for offline visits, and shows
// the tips pushed to this browser. It never caches the API, sign-in routes or the live connection: the last tip
// itself is kept by the page (localStorage "oo.lastTip"), so nothing personal lands in the shell cache.
"use strict";

const SHELL_CACHE = "oo-shell-v1";
const SHELL_PAGES = ["/", "/settings"];
const STATIC_FILES = ["/manifest.webmanifest", "/favicon.ico", "/icons/icon-192.png", "/icons/icon-512.png"];
const BUILD_ASSET = /^\/assets\/[^?#]+\.(?:js|css|woff2?)$/;

function isShellPage(url) {
  return SHELL_PAGES.includes(url.pathname.replace(/\/+$/, "") || "/");
}

function isStatic(url) {
  return BUILD_ASSET.test(url.pathname) || STATIC_FILES.includes(url.pathname);
}

// The build assets a page loads (its module preloads, scripts and stylesheets), read from its HTML.
function assetsOf(html) {
  const found = new Set();
  for (const match of html.matchAll(/(?:href|src)="(\/assets\/[^"]+)"|import\s*(?:\*\s*as\s*\w+\s*from\s*)?\(?"(\/assets\/[^"]+)"/g)) {
    found.add(match[1] || match[2]);
  }
  return [...found];
}

// A page carrying a person's due tip (oo_app/first_paint.py): never stored. The shell's own copies are asked for
// with PLAIN, which the server honours by answering the page exactly as built.
const PERSONAL_BLOCK = '<script type="application/json" id="oo-due-tip">';
const PLAIN = { "X-OO-Shell": "1" };

// Store a fresh copy of a shell page, then exactly the assets it needs: older builds' assets are dropped.
async function refreshShell(pagePath, response) {
  const cache = await caches.open(SHELL_CACHE);
  let html = await response.clone().text();
  if (html.includes(PERSONAL_BLOCK)) {
    response = await fetch(pagePath, { cache: "no-store", headers: PLAIN });
    if (!response.ok) return;
    html = await response.clone().text();
    if (html.includes(PERSONAL_BLOCK)) return;
  }
  await cache.put(pagePath, response);
  const wanted = new Set(assetsOf(html));
  await Promise.all(
    [...wanted].map(async (path) => {
      if (!(await cache.match(path))) {
        const asset = await fetch(path);
        if (asset.ok) await cache.put(path, asset);
      }
    }),
  );
  const pages = await Promise.all(SHELL_PAGES.map((page) => cache.match(page)));
  for (const page of pages) {
    if (page) for (const path of assetsOf(await page.text())) wanted.add(path);
  }
  for (const request of await cache.keys()) {
    const path = new URL(request.url).pathname;
    if (BUILD_ASSET.test(path) && !wanted.has(path)) await cache.delete(request);
  }
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL_CACHE);
      await cache.addAll(STATIC_FILES);
      const page = await fetch("/", { cache: "reload", headers: PLAIN });
      if (page.ok) await refreshShell("/", page);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name !== SHELL_CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // Nothing but the shell is ever answered from (or stored in) the cache: a person's tip (GET /api/tips/due) and
  // every other API answer go to the network as they are.
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  if (request.mode === "navigate" && isShellPage(url)) {
    // Network first: a new build or a changed page wins whenever the server answers.
    const path = url.pathname.replace(/\/+$/, "") || "/";
    event.respondWith(
      (async () => {
        try {
          const response = await fetch(request);
          if (response.ok) event.waitUntil(refreshShell(path, response.clone()));
          return response;
        } catch (error) {
          const cache = await caches.open(SHELL_CACHE);
          return (await cache.match(path)) || (await cache.match("/")) || Response.error();
        }
      })(),
    );
  } else if (isStatic(url)) {
    // Build assets are content-hashed: a cached copy is always right.
    event.respondWith(
      (async () => {
        const cache = await caches.open(SHELL_CACHE);
        const cached = await cache.match(url.pathname);
        if (cached) return cached;
        const response = await fetch(request);
        if (response.ok && BUILD_ASSET.test(url.pathname)) await cache.put(url.pathname, response.clone());
        return response;
      })(),
    );
  }
});

// A pushed tip: {"title": "oO", "body": <tip text>, "tip_id": <int>, "kind": "advice"|"todo", "url": "/",
// "actions": [{"action": "done", "title": "Done"}, {"action": "later", "title": "Later"}], "answer": <token>}
// (oo_app/push/tips.py). The actions become the notification's buttons; the token answers this one tip.
self.addEventListener("push", (event) => {
  let tip = {};
  try {
    tip = event.data ? event.data.json() : {};
  } catch (error) {
    tip = { body: event.data ? event.data.text() : "" };
  }
  const answerable = typeof tip.answer === "string" && Array.isArray(tip.actions);
  const actions = answerable
    ? tip.actions.filter((action) => action && typeof action.action === "string" && typeof action.title === "string")
    : [];
  event.waitUntil(
    self.registration.showNotification(tip.title || "oO", {
      body: tip.body || "A new tip is waiting.",
      tag: "oo-tip",
      renotify: false,
      icon: "/icons/icon-192.png",
      badge: "/icons/icon-192.png",
      actions,
      data: { url: tip.url || "/", tipId: tip.tip_id, answer: answerable ? tip.answer : null },
    }),
  );
});

// A button of the notification answers the tip with no page opened: true when oO took the answer (or had it
// already, or had another one: 409), false when it could not (too old, refused, offline), and then the page opens
// so the person can answer there.
async function answerTip(token, action) {
  try {
    const response = await fetch("/api/push/react", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "omit",
      body: JSON.stringify({ token, action }),
    });
    return response.ok || response.status === 409;
  } catch (error) {
    return false;
  }
}

async function openPage(target) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) {
    if (new URL(client.url).origin === target.origin && "focus" in client) {
      await client.focus();
      if ("navigate" in client && client.url !== target.href) await client.navigate(target.href);
      return;
    }
  }
  await self.clients.openWindow(target.href);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  const target = new URL(data.url || "/", self.location.origin);
  const answering = event.action && data.answer ? answerTip(data.answer, event.action) : Promise.resolve(false);
  event.waitUntil(
    (async () => {
      if (!(await answering)) await openPage(target);
    })(),
  );
});
