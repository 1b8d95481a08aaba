// Web push for /settings, inlined in <head>: window.ooPush.status(api), .enable(api) and .disable(api) each resolve
// to "unsupported", "denied", "off", "on" or "error: <what went wrong>". `api` is the origin of oO's API (the page
// names it in data-api of #push-section); the subscription goes to POST/DELETE {api}/api/push/subscriptions with the
// CSRF header (double submit cookie).
(function () {
  "use strict";

  function supported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  // The CSRF cookie is __Host-oo_csrf where oO's cookies are Secure (production), oo_csrf on http://localhost
  // (oo_app/auth/sessions.py, csrf_cookie): the prefixed one first, so a plain one planted beside it is never sent.
  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)__Host-oo_csrf=([^;]+)/) ||
      document.cookie.match(/(?:^|;\s*)oo_csrf=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function keyBytes(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  async function call(api, method, path, body) {
    var response = await fetch(api + path, {
      method: method,
      credentials: "include",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) {
      var message = "oO could not update this browser (HTTP " + response.status + ")";
      try {
        message = (await response.json()).error || message;
      } catch (e) { /* not JSON */ }
      var error = new Error(message);
      error.status = response.status;
      throw error;
    }
    return response.status === 204 ? null : response.json();
  }

  async function subscription() {
    var registration = await navigator.serviceWorker.getRegistration("/");
    return registration ? registration.pushManager.getSubscription() : null;
  }

  function failure(error) {
    if (error && error.name === "AbortError") {
      // The browser's push service refused or could not be reached (private windows have none).
      return "error: this browser could not subscribe (" + error.message + "); try again later or in another browser";
    }
    if (error && error.name === "NotAllowedError") return "denied";
    return "error: " + ((error && error.message) || String(error));
  }

  window.ooPush = {
    // The browser's subscription, re-sent to oO so both agree (a revoked consent turns it off here too).
    status: async function (api) {
      if (!supported()) return "unsupported";
      if (Notification.permission === "denied") return "denied";
      try {
        var current = await subscription();
        if (!current) return "off";
        await call(api, "POST", "/api/push/subscriptions", current.toJSON());
        return "on";
      } catch (error) {
        if (error.status === 403) {
          var stale = await subscription();
          if (stale) await stale.unsubscribe();
          return "off";
        }
        return failure(error);
      }
    },
    enable: async function (api) {
      if (!supported()) return "unsupported";
      try {
        var permission = await Notification.requestPermission();
        if (permission !== "granted") return permission === "denied" ? "denied" : "off";
        var registration = await navigator.serviceWorker.register("/sw.js");
        await navigator.serviceWorker.ready;
        var current = await registration.pushManager.getSubscription();
        if (!current) {
          var key = await call(api, "GET", "/api/push/key");
          current = await registration.pushManager.subscribe({
            userVisibleOnly: true,
            applicationServerKey: keyBytes(key.public_key),
          });
        }
        await call(api, "POST", "/api/push/subscriptions", current.toJSON());
        return "on";
      } catch (error) {
        return failure(error);
      }
    },
    disable: async function (api) {
      if (!supported()) return "unsupported";
      try {
        var current = await subscription();
        if (current) {
          await call(api, "DELETE", "/api/push/subscriptions", { endpoint: current.endpoint });
          await current.unsubscribe();
        }
        return "off";
      } catch (error) {
        return failure(error);
      }
    },
  };
})();
