// Backstop: small progressive enhancements; the pages work without it.
document.addEventListener("DOMContentLoaded", function () {
  // Ask before destructive actions marked with data-confirm.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
  clearOutboxOnLogout();
  resendForms();
  pauseRefreshWhileTyping();
});

// ---- Forms that survive a dropped connection (issue 14, item 2).
// A form marked data-resend is sent by fetch with an Idempotency-Key header. Until an answer
// arrives it is kept in localStorage ("backstop.outbox"); when the connection drops it is sent
// again with the same key once the phone is back online (or the next page of the app opens),
// and the server (kernel::replay) saves it once however often it arrives.
// What waits on a shared phone is the least that saves the worker's work (docs/PRIVACY.md,
// "On the phone"): an entry is kept only until an answer arrives and at most KEEP_MS (24 h);
// it belongs to the account that typed it and is sent only under that account (another
// account's entries are dropped, never sent as someone else); logging out clears them all;
// and a form with an ID-number field is never kept (it is sent as usual and, if the connection
// drops, stays typed on the page instead).
var OUTBOX = "backstop.outbox";
var KEEP_MS = 24 * 3600 * 1000;
var NEVER_KEPT = ["id_number"];

// The account the page belongs to ("" on pages before login).
function who() {
  var el = document.querySelector("[data-who]");
  return el ? el.getAttribute("data-who") : "";
}

function clearOutbox() {
  try { window.localStorage.removeItem(OUTBOX); } catch (e) { /* no storage: nothing kept */ }
}

function clearOutboxOnLogout() {
  document.querySelectorAll("form[data-logout]").forEach(function (f) {
    f.addEventListener("submit", clearOutbox);
  });
}

// Does the form carry a field never to be kept on the phone?
function carriesId(f) {
  return NEVER_KEPT.some(function (n) { return !!f.querySelector("[name='" + n + "']"); });
}

function newKey() {
  if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
  var b = new Uint8Array(16);
  window.crypto.getRandomValues(b);
  return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
}

function readOutbox() {
  try { return JSON.parse(window.localStorage.getItem(OUTBOX) || "[]"); } catch (e) { return []; }
}

function writeOutbox(list) {
  try { window.localStorage.setItem(OUTBOX, JSON.stringify(list)); } catch (e) { /* private mode: no keeping */ }
}

function forget(key) {
  writeOutbox(readOutbox().filter(function (x) { return x.key !== key; }));
}

function notice(text, near) {
  var p = document.createElement("p");
  p.className = "error";
  p.setAttribute("role", "status");
  p.textContent = text;
  if (near) { near.insertBefore(p, near.firstChild); } else {
    var main = document.querySelector("main") || document.body;
    main.insertBefore(p, main.firstChild);
  }
  return p;
}

function send(entry) {
  return window.fetch(entry.action, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/x-www-form-urlencoded", "Idempotency-Key": entry.key },
    body: entry.body
  });
}

// Show the server's answer as the page: a redirect is followed, anything else replaces the
// document (a refused form comes back with the input kept and the reasons).
function show(resp) {
  if (resp.redirected) { window.location.assign(resp.url); return; }
  return resp.text().then(function (html) {
    document.open();
    document.write(html);
    document.close();
  });
}

function resendForms() {
  document.querySelectorAll("form[data-resend]").forEach(function (f) {
    if ((f.getAttribute("enctype") || "").indexOf("multipart") >= 0) { return; }
    if (carriesId(f)) { return; }
    f.addEventListener("submit", function (e) {
      if (!window.fetch || !window.localStorage || e.defaultPrevented) { return; }
      e.preventDefault();
      var entry = {
        key: newKey(),
        action: f.getAttribute("action") || window.location.pathname,
        body: new URLSearchParams(new FormData(f)).toString(),
        at: Date.now(),
        who: who()
      };
      var list = readOutbox();
      list.push(entry);
      writeOutbox(list);
      var button = f.querySelector("button[type=submit], button:not([type])");
      if (button) { button.disabled = true; }
      send(entry).then(function (resp) {
        forget(entry.key);
        return show(resp);
      }).catch(function () {
        if (button) { button.disabled = false; }
        notice("网络连接中断：填写的内容已保存在本机，恢复连接后会自动重新提交（不会重复保存）。", f);
      });
    });
  });
  var flush = function () {
    var me = who();
    // Before login nothing is sent (nor dropped: the same person may be logging back in).
    if (!me) { return; }
    readOutbox().forEach(function (entry) {
      // Older than a day, or typed under another account: dropped, never sent.
      if (!(Date.now() - entry.at <= KEEP_MS) || entry.who !== me) { forget(entry.key); return; }
      send(entry).then(function (resp) {
        forget(entry.key);
        if (resp.ok || resp.redirected) {
          notice("网络恢复后，之前未送达的表单已重新提交并保存。");
        } else {
          notice("之前未送达的表单已重新提交，但未能保存，请打开该页面重新填写。");
        }
      }).catch(function () { /* still offline: keep it */ });
    });
  };
  window.addEventListener("online", flush);
  if (navigator.onLine !== false) { flush(); }
}

// ---- Self-refreshing parts (hx-trigger="every …") never overwrite what someone is typing:
// the refresh is skipped while a field inside is focused or changed and not yet sent.
function dirty(root) {
  return Array.prototype.some.call(root.querySelectorAll("input, textarea, select"), function (el) {
    if (el.type === "checkbox" || el.type === "radio") { return el.checked !== el.defaultChecked; }
    if (el.tagName === "SELECT") {
      return Array.prototype.some.call(el.options, function (o) { return o.selected !== o.defaultSelected; });
    }
    if (el.type === "hidden") { return false; }
    return el.value !== el.defaultValue;
  });
}

function pauseRefreshWhileTyping() {
  document.body.addEventListener("htmx:beforeRequest", function (e) {
    var el = e.detail && e.detail.elt;
    if (!el || (el.getAttribute("hx-trigger") || "").indexOf("every") < 0) { return; }
    var active = document.activeElement;
    var typing = active && el.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
    if (typing || dirty(el)) { e.preventDefault(); }
  });
}
