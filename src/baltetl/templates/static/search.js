// Client-side search over organisations and projects.  The index is window.BALTMET_SEARCH, loaded by a
// <script> tag (fetch() of file:// is blocked).  Results are built with textContent only.
(function () {
  "use strict";
  var index = window.BALTMET_SEARCH || { entries: [] };
  var LIMIT = 100;
  function fold(s) {
    return (s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  var names = index.entries.map(function (e) { return fold(e[1]); });
  var hay = index.entries.map(function (e, i) { return names[i] + " " + fold(e[2]); });
  var input = document.getElementById("q");
  var list = document.getElementById("results");
  var count = document.getElementById("count");

  function item(e) {
    var li = document.createElement("li");
    var kind = document.createElement("span");
    kind.className = "kind";
    kind.textContent = e[0] === "o" ? "organisation" : "project";
    var a = document.createElement("a");
    a.setAttribute("href", e[3]);
    a.textContent = e[1];
    li.appendChild(kind);
    li.appendChild(a);
    if (e[2]) {
      var detail = document.createElement("span");
      detail.className = "sub";
      detail.textContent = " " + e[2];
      li.appendChild(detail);
    }
    return li;
  }

  function run() {
    var words = fold(input.value).split(/\s+/).filter(Boolean);
    list.replaceChildren();
    if (!words.length) { count.textContent = ""; return; }
    var found = [];
    for (var i = 0; i < hay.length; i++) {
      var h = hay[i], ok = true;
      for (var j = 0; j < words.length && ok; j++) ok = h.indexOf(words[j]) >= 0;
      if (ok) found.push(i);
    }
    var q = words.join(" ");
    found.sort(function (a, b) {
      var ra = names[a].indexOf(q) === 0 ? 0 : names[a].indexOf(q) > 0 ? 1 : 2;
      var rb = names[b].indexOf(q) === 0 ? 0 : names[b].indexOf(q) > 0 ? 1 : 2;
      if (ra !== rb) return ra - rb;
      if (index.entries[a][0] !== index.entries[b][0]) return index.entries[a][0] === "o" ? -1 : 1;
      return names[a].length - names[b].length;
    });
    found.slice(0, LIMIT).forEach(function (i) { list.appendChild(item(index.entries[i])); });
    count.textContent = found.length + " found" +
      (found.length > LIMIT ? ", the first " + LIMIT + " shown" : "");
  }

  input.addEventListener("input", run);
  var q = new URLSearchParams(window.location.search).get("q");
  if (q) input.value = q;
  run();
})();
