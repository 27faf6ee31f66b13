// Client-side search over organisations and projects with MiniSearch (assets/minisearch.js, MIT): words,
// beginnings of words, accents and case folded, plural -s/-ies, a letter or two wrong (longer words), results
// ranked (BM25, the name counts most), facets by metropolis, type and topic.  The index is window.BALTMET_SEARCH,
// loaded by a <script> tag (fetch() of file:// is blocked).  Results are built with textContent only.
(function () {
  "use strict";
  var data = window.BALTMET_SEARCH || { fields: [], entries: [] };
  var LIMIT = 100;
  var F = {};
  data.fields.forEach(function (f, i) { F[f] = i; });
  var FACETS = ["metropolises", "type", "topics"];

  function fold(s) {
    return (s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  function stem(t) {  // cities -> city, projects -> project (not: business, class)
    if (t.length > 4 && /ies$/.test(t)) return t.slice(0, -3) + "y";
    if (t.length > 3 && /[^su]s$/.test(t)) return t.slice(0, -1);
    return t;
  }
  function list(v) { return Array.isArray(v) ? v : (v ? [v] : []); }

  var entries = data.entries;
  var search = new MiniSearch({
    fields: ["name", "topics", "detail", "text"],
    extractField: function (doc, field) {
      if (field === "id") return doc.id;
      var v = entries[doc.id][F[field]];
      return Array.isArray(v) ? v.join(" ") : (v || "");
    },
    processTerm: function (term) { var t = stem(fold(term)); return t || null; },
    searchOptions: {
      boost: { name: 3, topics: 2, detail: 1, text: 1 },
      prefix: function (term) { return term.length > 2; },
      fuzzy: function (term) { return term.length > 4 ? 0.2 : false; },
      combineWith: "AND"
    }
  });
  search.addAll(entries.map(function (e, i) { return { id: i }; }));

  var input = document.getElementById("q");
  var list_ = document.getElementById("results");
  var count = document.getElementById("count");
  var selects = {};
  FACETS.forEach(function (f) { selects[f] = document.getElementById("f-" + f); });

  function item(e) {
    var li = document.createElement("li");
    var kind = document.createElement("span");
    kind.className = "kind";
    kind.textContent = e[F.kind] === "o" ? "organisation" : "project";
    var a = document.createElement("a");
    a.setAttribute("href", e[F.url]);
    a.textContent = e[F.name];
    li.appendChild(kind);
    li.appendChild(a);
    var more = [e[F.detail]].concat(list(e[F.topics]).length ? ["topics: " + list(e[F.topics]).join(", ")] : []);
    var detail = document.createElement("span");
    detail.className = "sub";
    detail.textContent = " " + more.filter(Boolean).join(" · ");
    li.appendChild(detail);
    return li;
  }

  function fill(facet, counts) {  // the options of a facet: its values in the results, most frequent first
    var sel = selects[facet], keep = sel.value;
    var values = Object.keys(counts).sort(function (a, b) { return counts[b] - counts[a] || a.localeCompare(b); });
    if (keep && !(keep in counts)) values.unshift(keep);
    sel.replaceChildren();
    var all = document.createElement("option");
    all.value = "";
    all.textContent = "all";
    sel.appendChild(all);
    values.forEach(function (v) {
      var o = document.createElement("option");
      o.value = v;
      o.textContent = v + " (" + (counts[v] || 0) + ")";
      sel.appendChild(o);
    });
    sel.value = keep;
  }

  function run() {
    var q = input.value.trim();
    var chosen = FACETS.filter(function (f) { return selects[f].value; });
    var hits;
    if (q) {
      hits = search.search(q);
      if (!hits.length) hits = search.search(q, { combineWith: "OR" });  // no entry has every word: any word
      hits = hits.map(function (h) { return h.id; });
    } else if (chosen.length) {
      hits = entries.map(function (e, i) { return i; });
    } else {
      hits = [];
    }
    var counts = {};
    FACETS.forEach(function (f) { counts[f] = {}; });
    var shown = hits.filter(function (i) {
      var e = entries[i];
      FACETS.forEach(function (f) {  // a facet's counts: of the results the other facets let through
        var others = chosen.every(function (g) { return g === f || list(e[F[g]]).indexOf(selects[g].value) >= 0; });
        if (others) list(e[F[f]]).forEach(function (v) { counts[f][v] = (counts[f][v] || 0) + 1; });
      });
      return chosen.every(function (g) { return list(e[F[g]]).indexOf(selects[g].value) >= 0; });
    });
    FACETS.forEach(function (f) { fill(f, counts[f]); });
    list_.replaceChildren();
    shown.slice(0, LIMIT).forEach(function (i) { list_.appendChild(item(entries[i])); });
    count.textContent = q || chosen.length ? shown.length + " found" +
      (shown.length > LIMIT ? ", the first " + LIMIT + " shown" : "") : "";
  }

  input.addEventListener("input", run);
  FACETS.forEach(function (f) { selects[f].addEventListener("change", run); });
  var q = new URLSearchParams(window.location.search).get("q");
  if (q) input.value = q;
  run();
})();
