// oO's page glue, inlined in <head>: registers the service worker, keeps the last tip on this device for the next
// visit (offline included), and offers installation where the browser allows it. Plain ES5, no dependencies.
(function () {
  "use strict";
  var KEY = "oo.lastTip";
  var deferredInstall = null;
  var saved = "";

  function save(tip) {
    var value = JSON.stringify(tip);
    if (value === saved) return;
    try {
      localStorage.setItem(KEY, value);
      saved = value;
    } catch (e) { /* storage full or disabled: the page still works online */ }
  }

  function forget() {
    try { localStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
    saved = "";
  }

  function installButton() {
    var button = document.getElementById("install-app");
    if (!button) return;
    button.hidden = !deferredInstall;
    if (button.dataset.bound) return;
    button.dataset.bound = "1";
    button.addEventListener("click", function () {
      if (!deferredInstall) return;
      var prompt = deferredInstall;
      deferredInstall = null;
      prompt.prompt();
      prompt.userChoice.then(installButton, installButton);
    });
  }

  // The live page (rendered from the server's state) replaces the cached tip, and its tip (#tip-text) becomes the
  // new cache; the sign-in view means nobody is signed in on this device any more: forget the cached tip.
  function sync() {
    var cached = document.getElementById("tip-cached");
    if (document.getElementById("sign-in-page")) {
      forget();
      if (cached) cached.remove();
      return;
    }
    var live = document.getElementById("tip-text");
    var id = live && Number(live.getAttribute("data-tip-id"));
    var text = live && live.textContent.trim();
    if (id && text) save({ id: id, text: text, kind: live.getAttribute("data-kind") || "", at: Date.now() });
    if (cached && (document.getElementById("tip-page") || location.pathname !== "/")) cached.remove();
    installButton();
  }

  new MutationObserver(sync).observe(document.documentElement, {
    childList: true,
    subtree: true,
    characterData: true,
    attributes: true,
    attributeFilter: ["data-tip-id"],
  });

  window.addEventListener("beforeinstallprompt", function (event) {
    event.preventDefault();
    deferredInstall = event;
    installButton();
  });
  window.addEventListener("appinstalled", function () {
    deferredInstall = null;
    installButton();
  });

  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js").catch(function () { /* no offline shell; online is unaffected */ });
    });
  }
})();
