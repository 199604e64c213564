/* RewardHeads leaderboard: column sorting, filtering, the set selector, URL state, copy buttons.
   Plain ES2015, no dependencies; works from file:// and any static host. */
(function () {
  "use strict";

  var tables = Array.prototype.slice.call(document.querySelectorAll("table.board"));
  var filter = document.getElementById("filter");
  var counter = document.getElementById("filter-count");
  var setSelect = document.getElementById("set-select");
  var groups = Array.prototype.slice.call(document.querySelectorAll("section.group[data-set]"));
  var state = { sort: "", dir: "", q: "", set: "" };

  function readHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    var sort = params.get("sort") || "";
    var dir = params.get("dir");
    return {
      sort: sort,
      dir: sort ? (dir === "asc" || dir === "desc" ? dir : "desc") : "",
      q: params.get("q") || "",
      set: params.get("set") || ""
    };
  }

  function hashOf(s) {
    var params = new URLSearchParams();
    if (s.sort) { params.set("sort", s.sort); params.set("dir", s.dir); }
    if (s.q) { params.set("q", s.q); }
    if (s.set) { params.set("set", s.set); }
    var text = params.toString();
    return text ? "#" + text : "";
  }

  function writeHash() {
    var hash = hashOf(state);
    if (hash === location.hash || (!hash && !location.hash)) { return; }
    var url = location.href.split("#")[0] + hash;
    try {
      history.replaceState(null, "", url);
    } catch (err) {
      location.replace(hash || "#");
    }
  }

  function cellValue(row, index) {
    var cell = row.cells[index];
    return cell ? cell.getAttribute("data-v") : null;
  }

  function sortTable(table, key, dir) {
    var tbody = table.tBodies[0];
    if (!tbody) { return; }
    var rows = Array.prototype.slice.call(tbody.rows);
    var target = null;
    Array.prototype.forEach.call(table.querySelectorAll("th[data-key]"), function (th) {
      if (th.getAttribute("data-key") === key) {
        target = th;
        th.setAttribute("aria-sort", dir === "asc" ? "ascending" : "descending");
      } else {
        th.removeAttribute("aria-sort");
      }
    });
    var order = function (a, b) {
      return Number(a.getAttribute("data-order")) - Number(b.getAttribute("data-order"));
    };
    if (!target) {
      rows.sort(order);
    } else {
      var index = target.cellIndex;
      var numeric = target.getAttribute("data-type") === "num";
      var sign = dir === "asc" ? 1 : -1;
      rows.sort(function (a, b) {
        var x = cellValue(a, index), y = cellValue(b, index);
        var missX = x === null || x === "", missY = y === null || y === "";
        if (missX || missY) {  /* missing values always sink to the bottom */
          return missX === missY ? order(a, b) : (missX ? 1 : -1);
        }
        var c = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return c ? sign * c : order(a, b);
      });
    }
    rows.forEach(function (row) { tbody.appendChild(row); });
  }

  function applyFilter(query) {
    var terms = query.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0, total = 0;
    tables.forEach(function (table) {
      var visible = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var hay = row.getAttribute("data-search") || row.textContent.toLowerCase();
        var match = terms.every(function (t) { return hay.indexOf(t) !== -1; });
        row.hidden = !match;
        if (match) { visible += 1; }
      });
      shown += visible;
      total += table.tBodies[0].rows.length;
      var group = table.closest(".group");
      var empty = group && group.querySelector(".empty");
      if (empty) { empty.hidden = visible > 0; }
    });
    if (counter) {
      counter.textContent = terms.length ? shown + " of " + total + " shown" : "";
    }
  }

  function applySet() {
    if (!setSelect) { return; }
    var known = Array.prototype.some.call(setSelect.options, function (o) { return o.value === state.set; });
    if (!known) { state.set = ""; }
    setSelect.value = state.set;
    groups.forEach(function (group) {
      group.hidden = Boolean(state.set) && group.getAttribute("data-set") !== state.set;
    });
  }

  function apply() {
    applySet();
    tables.forEach(function (table) { sortTable(table, state.sort, state.dir); });
    applyFilter(state.q);
    if (filter && filter.value !== state.q) { filter.value = state.q; }
  }

  function onHeaderClick(event) {
    var th = event.currentTarget;
    var key = th.getAttribute("data-key");
    if (state.sort === key) {
      state.dir = state.dir === "asc" ? "desc" : "asc";
    } else {
      state.sort = key;
      state.dir = th.getAttribute("data-first") || "desc";
    }
    apply();
    writeHash();
  }

  tables.forEach(function (table) {
    Array.prototype.forEach.call(table.querySelectorAll("th[data-key]"), function (th) {
      th.addEventListener("click", onHeaderClick);
    });
  });

  if (setSelect) {
    setSelect.addEventListener("change", function () {
      state.set = setSelect.value;
      applySet();
      writeHash();
    });
  }

  if (filter) {
    filter.addEventListener("input", function () {
      state.q = filter.value.trim();
      applyFilter(state.q);
      writeHash();
    });
    document.addEventListener("keydown", function (event) {
      var tag = (event.target.tagName || "").toLowerCase();
      if (event.key === "/" && tag !== "input" && tag !== "textarea") {
        event.preventDefault();
        filter.focus();
      } else if (event.key === "Escape" && event.target === filter) {
        filter.value = "";
        state.q = "";
        applyFilter("");
        writeHash();
      }
    });
  }

  window.addEventListener("hashchange", function () {
    var next = readHash();
    if (hashOf(next) !== hashOf(state)) { state = next; apply(); }
  });

  if (tables.length) {
    state = readHash();
    apply();
  }

  /* tables wider than the screen: edge shadows and a "scroll →" hint (see style.css) */
  Array.prototype.forEach.call(document.querySelectorAll(".table-wrap"), function (wrap) {
    var frame = document.createElement("div");
    frame.className = "table-frame";
    wrap.parentNode.insertBefore(frame, wrap);
    frame.appendChild(wrap);
    var hint = document.createElement("span");
    hint.className = "scroll-hint";
    hint.setAttribute("aria-hidden", "true");
    hint.textContent = "scroll \u2192";
    frame.appendChild(hint);
    function update() {
      var max = wrap.scrollWidth - wrap.clientWidth;
      frame.classList.toggle("more-left", max > 1 && wrap.scrollLeft > 1);
      frame.classList.toggle("more-right", max > 1 && wrap.scrollLeft < max - 1);
    }
    wrap.addEventListener("scroll", update, { passive: true });
    window.addEventListener("resize", update);
    if (window.ResizeObserver) {  /* filtering and sorting can change the table's width */
      new ResizeObserver(update).observe(wrap.querySelector("table") || wrap);
    }
    update();
  });

  /* copy buttons (BibTeX, command) */
  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (btn) {
    var label = btn.textContent;
    function done(ok) {
      btn.textContent = ok ? "Copied" : "Press Ctrl+C";
      window.setTimeout(function () { btn.textContent = label; }, 1600);
    }
    btn.addEventListener("click", function () {
      var source = document.getElementById(btn.getAttribute("data-copy"));
      if (!source) { return; }
      var text = source.textContent;
      var select = function () {
        var range = document.createRange();
        range.selectNodeContents(source);
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
        done(ok);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { done(true); }, select);
      } else {
        select();
      }
    });
  });
})();
