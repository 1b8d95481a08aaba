// Inlined as the first child of the tip page's <main>: paints the last tip kept on this device at once, before the
// scripts load and the live connection answers. It is appended to <body>, outside what React hydrates (React skips
// unknown elements there), and removed by pwa.js as soon as the live tip is on screen.
(function () {
  "use strict";
  var MAX_AGE_MS = 7 * 24 * 3600 * 1000;
  try {
    var tip = JSON.parse(localStorage.getItem("oo.lastTip") || "null");
    if (!tip || !tip.text || Date.now() - tip.at > MAX_AGE_MS || document.getElementById("tip-cached")) return;
    var box = document.createElement("oo-cached-tip");
    box.id = "tip-cached";
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", "Your last tip");
    var kind = document.createElement("p");
    kind.className = "oo-cached-kind";
    kind.textContent = tip.kind || "";
    var text = document.createElement("p");
    text.className = "oo-cached-text";
    text.id = "tip-cached-text";
    text.textContent = tip.text;
    box.appendChild(kind);
    box.appendChild(text);
    document.body.appendChild(box);
  } catch (e) { /* no cached tip: the live one follows */ }
})();
