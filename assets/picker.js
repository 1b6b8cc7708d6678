// Backstop picker: search-as-you-type for inputs marked data-pick="regions|orgs|units|persons"
// (optional data-pick-template="<report form key>" for units). Typing a name, part of it, its
// pinyin initials (nsq → 南沙区) or a code lists at most 20 choices inside the user's scope from
// /api/v1/pick/<kind>; choosing one puts its code or id into the input, the name beside it.
// Progressive enhancement: without this script the input takes the code or id as typed.
(function () {
  "use strict";
  function setup(input) {
    var kind = input.getAttribute("data-pick");
    if (!/^(regions|orgs|units|persons)$/.test(kind)) { return; }
    var list = document.createElement("ul");
    list.className = "pick-list";
    list.setAttribute("role", "listbox");
    list.id = (input.id || ("pick-" + kind)) + "-choices";
    list.hidden = true;
    var chosen = document.createElement("span");
    chosen.className = "pick-chosen muted";
    chosen.id = (input.id || ("pick-" + kind)) + "-chosen";
    chosen.setAttribute("aria-live", "polite");
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("inputmode");
    input.insertAdjacentElement("afterend", chosen);
    chosen.insertAdjacentElement("afterend", list);
    var timer = null, seq = 0, items = [], active = -1;

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      active = -1;
    }
    function mark() {
      Array.prototype.forEach.call(list.children, function (li, i) {
        li.setAttribute("aria-selected", i === active ? "true" : "false");
      });
    }
    function choose(i) {
      var it = items[i];
      if (!it) { return; }
      input.value = it.value;
      chosen.textContent = it.label;
      close();
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
    function show(found) {
      items = found;
      list.textContent = "";
      found.forEach(function (it, i) {
        var li = document.createElement("li");
        li.setAttribute("role", "option");
        li.className = "pick-item";
        var name = document.createElement("span");
        name.className = "pick-label";
        name.textContent = it.label;
        var hint = document.createElement("span");
        hint.className = "pick-hint muted";
        hint.textContent = it.hint;
        li.appendChild(name);
        li.appendChild(hint);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(i); });
        list.appendChild(li);
      });
      if (!found.length) {
        var none = document.createElement("li");
        none.className = "pick-none muted";
        none.textContent = "管辖范围内没有匹配项";
        list.appendChild(none);
      }
      active = -1;
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }
    function search() {
      var q = input.value.trim();
      chosen.textContent = "";
      if (!q) { close(); return; }
      var url = "/api/v1/pick/" + kind + "?q=" + encodeURIComponent(q);
      var tpl = input.getAttribute("data-pick-template");
      if (tpl) { url += "&template=" + encodeURIComponent(tpl); }
      var mine = ++seq;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (found) { if (mine === seq && Array.isArray(found)) { show(found); } })
        .catch(function () { close(); });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(search, 200);
    });
    input.addEventListener("keydown", function (e) {
      if (list.hidden || !items.length) { return; }
      if (e.key === "ArrowDown") { active = (active + 1) % items.length; mark(); e.preventDefault(); }
      else if (e.key === "ArrowUp") { active = (active + items.length - 1) % items.length; mark(); e.preventDefault(); }
      else if (e.key === "Enter" && active >= 0) { choose(active); e.preventDefault(); }
      else if (e.key === "Escape") { close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-pick]").forEach(setup);
  });
})();
