// Inlined as the first child of the tip page's <main> (the view shown until the live state answers): paints a tip
// at once, before the scripts load and the live connection opens. Where the server put the person's due tip in the
// page (the data block #oo-due-tip, oo_app/first_paint.py), that tip, synchronously, with no request. Otherwise (dev
// mode, the offline shell of the service worker) first the last tip kept on this device (offline included), then,
// as soon as GET /api/tips/due answers (sent now, in parallel with the scripts, with the session cookie), the tip
// the live state will show, with its id: a first visit sees its tip without waiting for the scripts. The box is appended to <body>, outside what React hydrates (React skips unknown elements there), and
// pwa.js removes it as soon as the live tip is on screen. It is not a live region: the live tip is the one announced.
(function () {
  "use strict";
  var MAX_AGE_MS = 7 * 24 * 3600 * 1000;
  var KEY = "oo.lastTip";

  // Paints `tip` ({id, text, kind}) into the one box; `source` says where it came from ("kept" or "due").
  function paint(tip, source) {
    var box = document.getElementById("tip-cached");
    if (!box) {
      box = document.createElement("oo-cached-tip");
      box.id = "tip-cached";
      box.setAttribute("role", "region");
      var kind = document.createElement("p");
      kind.className = "oo-cached-kind";
      var heading = document.createElement("h1");
      heading.className = "oo-cached-text";
      heading.id = "tip-cached-text";
      box.appendChild(kind);
      box.appendChild(heading);
      // Empty rows as tall as the live page's rows below its tip (reactions, links, the mood check-in, the context
      // switch, empty unless the person has contexts), so the tip sits where the live one will and does not jump.
      ["oo-cached-reactions", "oo-cached-links", "oo-cached-mood", "oo-cached-row"].forEach(function (name) {
        var row = document.createElement("div");
        row.className = name;
        box.appendChild(row);
      });
      document.body.appendChild(box);
    }
    box.setAttribute("aria-label", source === "due" ? "Your tip" : "Your last tip");
    var text = document.getElementById("tip-cached-text");
    box.firstChild.textContent = tip.kind || "";
    text.textContent = tip.text;
    text.setAttribute("data-tip-id", String(tip.id || 0));
    text.setAttribute("data-source", source);
  }

  // Still worth painting: the page has not left the view this script lives in (live tip, first run or sign-in).
  function waiting() {
    return !!document.getElementById("paint-cached-tip");
  }

  var block = document.getElementById("oo-due-tip");
  if (block) {
    try {
      var due = JSON.parse(block.textContent);
      if (due && due.id && due.text) {
        paint(due, "due");
        return;
      }
    } catch (e) { /* an unreadable block: as if there were none */ }
  }

  try {
    var kept = JSON.parse(localStorage.getItem(KEY) || "null");
    if (kept && kept.text && Date.now() - kept.at <= MAX_AGE_MS) paint(kept, "kept");
  } catch (e) { /* no kept tip: the due one follows */ }

  if (!window.fetch || location.pathname !== "/") return;
  fetch("/api/tips/due", { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (response.status === 401) {
        // Nobody is signed in here any more: nothing personal stays on screen or on the device.
        try { localStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
        var box = document.getElementById("tip-cached");
        if (box) box.remove();
        return null;
      }
      return response.status === 200 ? response.json() : null;
    })
    .then(function (body) {
      var tip = body && body.tip;
      if (tip && tip.id && tip.text && waiting()) paint(tip, "due");
    })
    .catch(function () { /* offline or the server is down: the kept tip stays until the live one comes */ });
})();
