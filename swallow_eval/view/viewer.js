// swallow-eval run viewer: everything is in this file's page; no network.
// Task data is parsed only when a task is opened, and only one page of items is in the DOM.
"use strict";
(function () {
  var PAGE = 50;
  var index = JSON.parse(document.getElementById("index").textContent);
  var loaded = {};  // task name -> parsed task blob
  var state = { task: null, page: 0, open: new Set(), target: null, list: [] };
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "cls") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }
  function num(v, digits) { return v === null || v === undefined ? "–" : Number(v).toFixed(digits === undefined ? 3 : digits); }
  function show(v) { return typeof v === "string" ? v : JSON.stringify(v); }
  function short(v, n) { var s = show(v); s = s === undefined ? "" : s.replace(/\s+/g, " "); return s.length > n ? s.slice(0, n - 1) + "…" : s; }
  function part(item) { return item.u !== undefined ? item.u : item.k; }  // subtask, else category
  function keyOf(item) { return item.u === undefined ? [String(item.i)] : [item.u, String(item.i)]; }
  function link(task, item) { return "#" + [task].concat(keyOf(item)).map(encodeURIComponent).join("/"); }

  // ---- header and cards ------------------------------------------------------------------------
  function kvTable(title, obj) {
    var rows = Object.keys(obj || {}).map(function (k) {
      return el("tr", {}, [el("td", { text: k }), el("td", { text: show(obj[k]) })]);
    });
    return rows.length ? el("table", { cls: "kv" }, [el("caption", { text: title })].concat(rows)) : null;
  }
  function renderHeader() {
    var h = index.header, m = h.model || {}, c = h.config || {};
    $("title").textContent = (m.spec || m.name || "run") + " — " + (h.run_id || "");
    var line = ["created " + (h.created || "?"), "config hash " + (c.config_hash || "?"), "backend " + (c.backend || "?")];
    if (c.limit !== null && c.limit !== undefined) line.push("--limit " + c.limit);
    if (c.max_new_tokens_cap !== null && c.max_new_tokens_cap !== undefined) line.push("--max-new-tokens " + c.max_new_tokens_cap);
    $("subtitle").textContent = line.join(" · ");
    var data = {};
    Object.keys(h.data).forEach(function (t) { var d = h.data[t]; data[t] = (d.source || "?") + " " + (d.root || ""); });
    var box = $("settings");
    [["model", m], ["backend settings", h.backend], ["config", c], ["package versions", h.versions],
     ["data source per task", data], ["timings (s)", h.timings], ["requests", h.requests], ["tokens", h.tokens],
     ["serving", h.serving], ["skipped tasks", h.skipped]].forEach(function (p) {
      var t = kvTable(p[0], p[1]); if (t) box.appendChild(t);
    });
    if (index.against) {
      var a = index.against, am = a.model || {};
      $("against").appendChild(el("p", {}, ["Compared against ", el("b", { text: (am.spec || am.name || "?") + " " + (a.run_id || "") }),
        " (" + a.folder + "): items paired as swallow-eval compare pairs them, that run is the baseline."]));
      a.problems.forEach(function (p) { $("against").appendChild(el("p", { cls: "notes", text: p })); });
    }
  }
  function breakdown(t) {
    var rows = [];
    [["group", t.groups], ["subtask", t.subtasks]].forEach(function (p) {
      Object.keys(p[1] || {}).forEach(function (g) {
        var v = (p[1][g] || {})[t.metric];
        if (v !== undefined) rows.push(el("tr", {}, [el("td", { text: p[0] + " " + g }), el("td", { text: num(v === null ? null : v / t.scale) })]));
      });
    });
    return rows.length ? el("details", {}, [el("summary", { text: "breakdown (" + rows.length + ")" }), el("table", {}, rows)]) : null;
  }
  function renderCards() {
    index.tasks.forEach(function (t) {
      var badges = [el("span", { cls: "badge", text: "n=" + t.n })];
      if (t.partial) badges.push(el("span", { cls: "badge partial", title: t.partial, text: t.partial }));
      var lines = [el("div", { cls: "name", text: t.name }), el("div", { text: t.label + " (" + t.metric + ")" }),
        el("div", { cls: "value", text: num(t.value) }),
        el("div", { text: "SE " + (t.se === null ? "–" : "±" + num(t.se)) }), el("div", {}, badges)];
      var a = index.against && index.against.tasks[t.name];
      if (a) {
        var cls = a.delta > 0 ? "delta-up" : a.delta < 0 ? "delta-down" : "";
        lines.push(el("div", { cls: cls, text: "Δ " + (a.delta === null ? "–" : (a.delta >= 0 ? "+" : "") + num(a.delta)) +
          " vs " + num(a.baseline) + (a.p === null ? "" : " (p=" + num(a.p) + ")") + ", " + a.changed + " changed" }));
      }
      lines.push(breakdown(t));
      var card = el("div", { cls: "card", "data-task": t.name }, lines);
      card.addEventListener("click", function (e) { if (!e.target.closest("details")) location.hash = "#" + encodeURIComponent(t.name); });
      $("cards").appendChild(card);
    });
  }

  // ---- one task: filters, sorting, pages --------------------------------------------------------
  function position(name) { return index.tasks.findIndex(function (t) { return t.name === name; }); }
  function blobOf(name) { return document.getElementById("task-" + position(name)); }
  function taskData(name) {
    if (!loaded[name]) {
      var pos = position(name);
      var blob = JSON.parse(blobOf(name).textContent);
      blob.info = index.tasks[pos];
      blob.flipAt = new Map((blob.against ? blob.against.flips : []).map(function (f) { return [f.at, f]; }));
      loaded[name] = blob;
    }
    return loaded[name];
  }
  function haystack(d, item) {
    if (item._hay === undefined) {
      var parts = [item.p ? item.p[1] : "", item.m ? JSON.stringify(item.m) : "", item.o ? item.o.join("\n") : "",
        show(item.y), show(item.t)];
      if (item.x) parts.push(item.x[1]);
      (item.c || []).forEach(function (c) { if (c.length === 1) parts.push(c[0]); else parts.push(c[1], c[2]); });
      item._hay = parts.join("\n").toLowerCase();
    }
    return item._hay;
  }
  function openTask(name) {
    var started = performance.now();
    if (state.task !== name) {
      state.task = name; state.page = 0; state.open = new Set();
      $("search").value = ""; $("wrong").checked = false; $("changed").checked = false; $("sort").value = "order";
      var d = taskData(name), subtasks = Array.from(new Set(d.items.map(part).filter(function (u) { return u !== undefined; })));
      var kind = d.items.some(function (i) { return i.u !== undefined; }) ? "subtasks" : "categories";
      var select = $("subtask"); select.textContent = "";
      select.appendChild(el("option", { value: "", text: subtasks.length ? "all " + kind + " (" + subtasks.length + ")" : "no subtasks" }));
      subtasks.forEach(function (u) { select.appendChild(el("option", { value: u, text: u })); });
      select.disabled = subtasks.length === 0;
      var scored = d.items.some(function (i) { return i.s !== null; });
      $("wrong").disabled = !scored;
      $("wrong-label").title = scored ? "items below full score on " + d.info.metric : "corpus metric: no per-item scores";
      $("changed-label").style.display = d.against ? "" : "none";
      document.querySelectorAll(".card").forEach(function (c) { c.classList.toggle("selected", c.dataset.task === name); });
      $("task-title").textContent = d.info.label + " — " + name;
      $("task-note").textContent = d.against && d.against.note ? d.against.note : "";
    }
    apply();
    window.viewerTimings.lastOpenMs = performance.now() - started;
  }
  function apply() {
    var started = performance.now();
    var d = taskData(state.task), q = $("search").value.trim().toLowerCase(), sub = $("subtask").value;
    var wrong = $("wrong").checked, changed = $("changed").checked, list = [];
    d.items.forEach(function (item, at) {
      if (sub && part(item) !== sub) return;
      if (wrong && !(item.s !== null && item.s < 1)) return;
      if (changed && !d.flipAt.has(at)) return;
      if (q && haystack(d, item).indexOf(q) < 0) return;
      list.push(at);
    });
    var sort = $("sort").value, items = d.items;
    var score = function (at) { return items[at].s === null ? Infinity : items[at].s; };
    var outLen = function (at) { var o = items[at].o; return o ? o.join("").length : 0; };
    if (sort === "score-asc") list.sort(function (a, b) { return score(a) - score(b) || a - b; });
    if (sort === "score-desc") list.sort(function (a, b) { return (score(b) === Infinity ? -1 : score(b)) - (score(a) === Infinity ? -1 : score(a)) || a - b; });
    if (sort === "length-desc") list.sort(function (a, b) { return outLen(b) - outLen(a) || a - b; });
    state.list = list;
    var pages = Math.max(1, Math.ceil(list.length / PAGE));
    if (state.target !== null) state.page = Math.floor(list.indexOf(state.target) / PAGE);
    state.page = Math.min(Math.max(0, state.page), pages - 1);
    renderPage();
    window.viewerTimings.lastApplyMs = performance.now() - started;
  }
  function renderPage() {
    var d = taskData(state.task), list = state.list, first = state.page * PAGE;
    var shown = list.slice(first, first + PAGE), box = $("items");
    box.textContent = "";
    shown.forEach(function (at) { box.appendChild(itemNode(d, at)); });
    $("count").textContent = list.length ? "items " + (first + 1) + "–" + (first + shown.length) + " of " + list.length +
      (list.length === d.items.length ? "" : " (filtered from " + d.items.length + ")") : "no item matches (of " + d.items.length + ")";
    var pages = Math.max(1, Math.ceil(list.length / PAGE));
    $("page").textContent = "page " + (state.page + 1) + " / " + pages;
    $("prev").disabled = state.page === 0; $("next").disabled = state.page >= pages - 1;
    document.body.dataset.ready = "1";
    if (!window.viewerTimings.firstPageMs) {
      window.viewerTimings.firstPageMs = performance.now();
      requestAnimationFrame(function () { setTimeout(function () { window.viewerTimings.firstFrameMs = performance.now(); }, 0); });
    }
  }

  // ---- one item ---------------------------------------------------------------------------------
  function mark(s) {
    if (s === null) return el("span", { cls: "mark", text: "·" });
    return s >= 1 ? el("span", { cls: "mark right", text: "✓" }) : s <= 0 ? el("span", { cls: "mark wrong", text: "✗" })
      : el("span", { cls: "mark partial", text: "◐" });
  }
  function predictionText(item) {
    var y = item.y;
    if (y && typeof y === "object" && y.programs) return y.passed + "/" + y.programs.length + " programs passed";
    if (y && typeof y === "object" && y.ratings) return "ratings " + y.ratings.join(", ");
    if (item.c && typeof y === "number" && item.c[y]) return "choice " + y + ": " + continuation(item, y);
    return y;
  }
  function goldText(item) {
    if (item.c && typeof item.t === "number" && item.c[item.t]) return "choice " + item.t + ": " + continuation(item, item.t);
    return item.t;
  }
  function itemNode(d, at) {
    var item = d.items[at], node = el("div", { cls: "item", "data-at": String(at), id: "item-" + at });
    if (state.target === at) node.classList.add("target");
    var line = el("div", { cls: "line" }, [mark(item.s), el("span", { cls: "idx", text: keyOf(item).join("/") }),
      el("span", { cls: "short" }, [el("b", { text: "pred " }), short(predictionText(item), 70), el("b", { text: "  gold " }), short(goldText(item), 50)])]);
    var flip = d.flipAt.get(at);
    if (flip) line.appendChild(el("span", { cls: "was", text: "baseline score " + (flip.os === null ? "–" : flip.os) + " → " + (flip.ns === null ? "–" : flip.ns) }));
    line.addEventListener("click", function () {
      if (state.open.has(at)) state.open.delete(at); else state.open.add(at);
      node.replaceWith(itemNode(d, at));
    });
    node.appendChild(line);
    if (state.open.has(at)) node.appendChild(detail(d, item, at));
    return node;
  }
  function pre(text, cls) { return el("pre", cls ? { cls: cls } : {}, [show(text)]); }
  // The few-shot part folds: the prefix the task's (or subtask's) prompts share, stored once; else, in
  // a few-shot task whose shots differ per item (GSM8K samples them), up to the item's last blank line.
  function promptBlock(d, split) {
    var shots = split[0] >= 0 ? d.prefixes[split[0]] : "", rest = split[1], own = false;
    if (!shots && d.info.shots > 0 && rest.lastIndexOf("\n\n") > 0) {
      shots = rest.slice(0, rest.lastIndexOf("\n\n") + 2); rest = rest.slice(shots.length); own = true;
    }
    var children = [el("summary", { text: "prompt (" + (shots.length + rest.length) + " chars)" })];
    if (shots) {
      children.push(el("details", { cls: "shots" }, [el("summary", { text: "few-shot part (" + shots.length + " chars, " +
        (own ? "this item's own shots" : "shared by this task's items") + ")" }), pre(shots)]));
    }
    children.push(pre(rest, "rest"));
    return el("details", { cls: "prompt" }, children);
  }
  // item.x: the context all choices share, item.c[k] = [continuation]; else item.c[k] = [prefix id, rest, continuation]
  function continuation(item, k) { return item.x ? item.c[k][0] : item.c[k][2]; }
  function choicesTable(d, item) {
    var parts = [];
    if (item.x) parts.push(promptBlock(d, item.x));
    var rows = [el("tr", {}, [el("th", { text: "#" }), item.x ? null : el("th", { text: "context" }), el("th", { text: "continuation" }),
      el("th", { text: "log-likelihood" }), el("th", { text: "greedy" })])];
    item.c.forEach(function (c, k) {
      var won = item.y === k, gold = item.t === k;
      var tr = el("tr", { cls: (won ? "won " : "") + (gold ? "gold" : "") }, [
        el("td", {}, [String(k), won ? el("span", { cls: "tag won", text: "chosen" }) : null, gold ? el("span", { cls: "tag gold", text: "gold" }) : null]),
        item.x ? null : el("td", {}, [promptBlock(d, [c[0], c[1]])]),
        el("td", {}, [pre(continuation(item, k))]), el("td", { cls: "ll", text: item.l ? num(item.l[k], 4) : "–" }),
        el("td", { text: item.g ? String(item.g[k]) : "–" })]);
      rows.push(tr);
    });
    parts.push(el("table", { cls: "choices" }, rows));
    return parts;
  }
  function outputsBlock(item) {
    var y = item.y, parts = [];
    if (y && typeof y === "object" && y.programs) {
      y.programs.forEach(function (p, k) {  // one folded block per sample, the first one open
        var ok = y.results[k] === "passed", same = k > 0 && p === y.programs[k - 1];
        var box = el("details", { cls: "program" }, [el("summary", {}, ["program " + (k + 1) + ": ",
          el("span", { cls: "verdict " + (ok ? "passed" : "failed"), text: y.results[k] }), same ? " (same program as " + k + ")" : ""]), pre(p)]);
        if (k === 0) box.setAttribute("open", "");
        parts.push(box);
      });
      return parts;
    }
    if (y && typeof y === "object" && y.judgments) {
      (y.answers || item.o || []).forEach(function (a, k) {
        parts.push(el("h4", { text: "turn " + (k + 1) + " answer" }), pre(a));
        if (y.judgments[k] !== undefined) parts.push(el("h4", { text: "turn " + (k + 1) + " judge (rating " + y.ratings[k] + ")" }), pre(y.judgments[k]));
      });
      return parts;
    }
    (item.o || []).forEach(function (o, k) { parts.push(el("h4", { text: item.o.length > 1 ? "raw output " + (k + 1) : "raw output" }), pre(o)); });
    return parts;
  }
  function metricsTable(names, values, s) {
    var rows = names.map(function (m, k) { return el("tr", {}, [el("td", { text: m }), el("td", { text: values[k] === null ? "–" : String(values[k]) })]); });
    rows.push(el("tr", {}, [el("td", { text: "card score" }), el("td", { text: s === null ? "– (corpus metric)" : String(s) })]));
    return el("table", { cls: "metrics" }, rows);
  }
  function side(title, outputs, prediction, values, s, d, item) {
    var fake = { o: outputs, y: prediction, c: item.c, x: item.x, t: item.t };
    return el("div", {}, [el("h4", { text: title + " — score " + (s === null || s === undefined ? "–" : s) })]
      .concat(outputsBlock(fake)).concat([el("h4", { text: "prediction" }), pre(predictionText(fake)), metricsTable(d.metricNames, values, s === undefined ? null : s)]));
  }
  function detail(d, item, at) {
    var parts = [el("a", { cls: "permalink", href: link(state.task, item), text: "link to this item" })];
    if (item.p) parts.push(promptBlock(d, item.p));
    if (item.m) {
      parts.push(el("h4", { text: "conversation" }));
      item.m.forEach(function (m) { parts.push(el("div", {}, [el("b", { text: m[0] + ": " }), pre(m[1])])); });
    }
    if (item.c) parts = parts.concat(choicesTable(d, item));
    var flip = d.flipAt.get(at);
    if (flip) {
      parts.push(el("div", { cls: "sides" }, [side("baseline", flip.o, flip.y, flip.v, flip.os, d, item),
        side("this run", item.o, item.y, item.v, flip.ns === undefined ? item.s : flip.ns, d, item)]));
    } else {
      parts = parts.concat(outputsBlock(item));
      parts.push(el("h4", { text: "extracted prediction" }), pre(predictionText(item)));
    }
    parts.push(el("h4", { text: "gold" }), pre(goldText(item)));
    if (!flip) parts.push(el("h4", { text: "metrics" }), metricsTable(d.metricNames, item.v, item.s));
    return el("div", { cls: "detail" }, parts);
  }

  // ---- routing: #task, #task/index, #task/subtask/index -----------------------------------------
  function route() {
    var parts = location.hash.slice(1).split("/").filter(Boolean).map(decodeURIComponent);
    var known = function (n) { return index.tasks.some(function (t) { return t.name === n; }); };
    if (!index.tasks.length) return;
    var name = parts.length && known(parts[0]) ? parts[0] : index.tasks[0].name;
    if (!blobOf(name)) {  // the page is still being read: its data comes later in the file
      document.addEventListener("DOMContentLoaded", route, { once: true });
      return;
    }
    var at = -1;
    if (parts.length > 1) {
      var key = parts.slice(1).join("\u0000");
      at = taskData(name).items.findIndex(function (i) { return keyOf(i).join("\u0000") === key; });
    }
    if (at >= 0 && state.task === name) {  // an item of the open task: clear the filters hiding it
      $("search").value = ""; $("wrong").checked = false; $("changed").checked = false; $("subtask").value = "";
    }
    state.target = at >= 0 ? at : null;
    openTask(name);
    if (at >= 0) {
      state.open.add(at);
      renderPage();
      $("item-" + at).scrollIntoView({ block: "start" });
    }
  }

  // For bench/view_load.py: ms since navigation start to the first page of items, and per action.
  window.viewerTimings = { firstPageMs: 0, firstFrameMs: 0, lastOpenMs: 0, lastApplyMs: 0 };
  renderHeader();
  renderCards();
  ["wrong", "changed", "subtask", "sort"].forEach(function (id) {
    $(id).addEventListener("change", function () { state.page = 0; state.target = null; apply(); });
  });
  var timer = null;
  $("search").addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { state.page = 0; state.target = null; apply(); }, 150);
  });
  $("prev").addEventListener("click", function () { state.page -= 1; state.target = null; renderPage(); window.scrollTo(0, $("task-view").offsetTop); });
  $("next").addEventListener("click", function () { state.page += 1; state.target = null; renderPage(); window.scrollTo(0, $("task-view").offsetTop); });
  window.addEventListener("hashchange", route);
  route();
})();
