// perfops dashboard: plain JS over the JSON API (/api/...). Every text from the lake goes
// through textContent; nothing is ever parsed as HTML. window.__perfops exposes what each
// chart holds, for tests and for debugging.
"use strict";
(() => {
  const POLL_MS = 3000;
  const STATS_EVERY = 5; // overview figures, SLOs and cost refresh every 5th poll
  const COLORS = ["#2f6feb", "#d6336c", "#2b8a3e", "#e67700", "#7048e8", "#0c8599",
    "#c2255c", "#5c940d", "#1864ab", "#a61e4d", "#087f5b", "#862e9c"];
  const GROUPS = {
    overview: ["requests_rate", "tokens_rate", "latency", "gpu_util"],
    gpu: ["gpu_util", "sm_active", "tensor_active", "dram_active", "power", "temp", "sm_clock",
      "fb_used", "xid", "throttle"],
    engine: ["latency", "engine_latency", "tokens_rate", "running", "waiting", "kv_cache", "preemptions",
      "prefix_hits"],
  };
  const S = { range: "1h", start: null, end: null, filters: {}, group: "overview", meta: null,
    events: [], charts: {}, ticks: 0, busy: false, gen: 0 };
  const dbg = window.__perfops = { charts: {}, events: [], errors: [], overview: null,
    slos: null, cost: null, ready: false, updates: 0, loads: 0 };
  window.addEventListener("error", (e) => dbg.errors.push(String(e.message)));
  window.addEventListener("unhandledrejection", (e) => dbg.errors.push(String(e.reason)));

  const $ = (id) => document.getElementById(id);
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    const n = Number(v);
    if (Math.abs(n) >= 1000) return n.toLocaleString("en", { maximumFractionDigits: 0 });
    return n.toFixed(digits === undefined ? 2 : digits);
  }
  function axisNum(v, incr) {
    // tick labels with as many decimals as the tick step needs
    if (v === null || v === undefined) return "";
    if (Math.abs(v) >= 10000 && incr >= 1000) return Number((v / 1000).toFixed(Math.max(0, -Math.floor(Math.log10(incr / 1000))))) + "k";
    const step = incr > 0 && incr < 1 ? Number(incr.toPrecision(6)).toString().split(".")[1] : "";
    const decimals = Math.min(8, (step || "").length);
    return Number(v.toFixed(decimals)).toString();
  }
  function chartWidth() {
    const main = $("main");
    const w = main ? main.clientWidth : 1200;
    return Math.max(200, Math.min(2000, Math.floor(w > 1200 ? w / 2 - 40 : w - 40)));
  }
  function params(extra) {
    const p = new URLSearchParams();
    if (S.range === "custom") { p.set("start", S.start); p.set("end", S.end); }
    else p.set("range", S.range);
    for (const [k, v] of Object.entries(S.filters)) if (v) p.set(k, v);
    p.set("width", String(chartWidth()));
    for (const [k, v] of Object.entries(extra || {})) p.set(k, String(v));
    return p;
  }
  async function api(path, extra) {
    const resp = await fetch(path + "?" + params(extra), { credentials: "same-origin" });
    const body = await resp.json();
    if (!resp.ok) throw new Error((body.error || resp.status) + (body.hint ? " (" + body.hint + ")" : ""));
    return body;
  }
  function status(text, bad) {
    const s = $("status");
    s.textContent = text;
    s.className = bad ? "err" : "";
  }

  // -- charts ------------------------------------------------------------------------------
  function withGaps(line, bucket) {
    // a gap of more than two buckets breaks the line (no scrape, no load) instead of bridging it
    const t = [], v = [];
    line.t.forEach((x, i) => {
      if (i && x - line.t[i - 1] > 2 * bucket) { t.push(line.t[i - 1] + bucket); v.push(null); }
      t.push(x); v.push(line.v[i]);
    });
    return { name: line.name, t, v };
  }
  function align(lines, bucket) {
    lines = lines.map((l) => withGaps(l, bucket));
    const ts = new Set();
    for (const l of lines) for (const t of l.t) ts.add(t);
    const xs = Array.from(ts).sort((a, b) => a - b);
    const index = new Map(xs.map((t, i) => [t, i]));
    const data = [xs.map((t) => t / 1000)];
    for (const l of lines) {
      const ys = new Array(xs.length).fill(null);
      l.t.forEach((t, i) => { ys[index.get(t)] = l.v[i]; });
      data.push(ys);
    }
    return data;
  }
  function bandColor(kind) {
    if (kind === "fault") return "rgba(214, 39, 40, 0.22)";
    if (kind.startsWith("run:")) return "rgba(47, 111, 235, 0.07)";
    if (kind.startsWith("alert")) return "rgba(255, 127, 14, 0.8)";
    return "rgba(100, 100, 100, 0.6)";
  }
  function drawEvents(u, key) {
    const { ctx, bbox } = u;
    const drawn = [];
    ctx.save();
    for (const ev of S.events) {
      let x0 = u.valToPos(ev.start_ms / 1000, "x", true);
      let x1 = ev.end_ms === null ? x0 : u.valToPos(ev.end_ms / 1000, "x", true);
      if (x1 < bbox.left || x0 > bbox.left + bbox.width) continue;
      x0 = Math.max(x0, bbox.left);
      x1 = Math.min(x1, bbox.left + bbox.width);
      ctx.fillStyle = bandColor(ev.kind);
      if (ev.end_ms === null) ctx.fillRect(x0 - 1, bbox.top, 2, bbox.height);
      else ctx.fillRect(x0, bbox.top, Math.max(2, x1 - x0), bbox.height);
      drawn.push({ kind: ev.kind, title: ev.title, start_ms: ev.start_ms, end_ms: ev.end_ms,
        x0: x0 / devicePixelRatio, x1: x1 / devicePixelRatio });
    }
    ctx.restore();
    if (dbg.charts[key]) dbg.charts[key].bands = drawn;
  }
  function showTip(u, key) {
    const tip = $("tip");
    const left = u.cursor.left;
    if (left === undefined || left === null || left < 0) { tip.hidden = true; return; }
    const t = u.posToVal(left, "x") * 1000;
    const slack = (u.scales.x.max - u.scales.x.min) * 1000 / u.bbox.width * 4 * devicePixelRatio;
    const hits = S.events.filter((ev) => t >= ev.start_ms - slack &&
      t <= (ev.end_ms === null ? ev.start_ms : ev.end_ms) + slack);
    if (!hits.length) { tip.hidden = true; return; }
    tip.replaceChildren(...hits.slice(0, 6).map((ev) => el("div", null,
      ev.kind + ": " + (ev.title || "") + (ev.run_id ? "\nrun " + ev.run_id : ""))));
    const rect = u.over.getBoundingClientRect();
    tip.style.left = Math.round(rect.left + left + 12) + "px";
    tip.style.top = Math.round(rect.top + 8) + "px";
    tip.hidden = false;
  }
  function chartCard(key, title, unit, panel, extra) {
    const card = el("div", "card");
    card.dataset.chart = key;
    const h = el("h2", null, title);
    card.append(h);
    const note = el("div", "meta");
    card.append(note);
    const box = el("div");
    card.append(box);
    const thin = { dash: [4, 3], width: 1, stroke: "#8a94a6" };
    S.charts[key] = { card, box, note, unit, panel, plot: null, lines: [],
      extra: Object.assign({ lowest: thin, highest: thin }, extra || {}) };
    return card;
  }
  function render(key, lines, meta) {
    const c = S.charts[key];
    if (!c) return;
    c.lines = lines;
    const points = lines.reduce((n, l) => n + l.v.filter((v) => v !== null).length, 0);
    dbg.charts[key] = Object.assign(dbg.charts[key] || {}, { panel: c.panel, points,
      series: lines.map((l) => ({ id: l.id, name: l.name, t: l.t.slice(), v: l.v.slice() })),
      bucket_ms: meta.bucket_ms, source: meta.source || null, bands: (dbg.charts[key] || {}).bands || [] });
    c.note.textContent = (meta.metric ? meta.metric + " · " : "") + (meta.source ? "from " + meta.source + " · " : "") +
      "bucket " + fmt(meta.bucket_ms / 1000, 0) + " s";
    if (!lines.length || !points) {
      if (c.plot) { c.plot.destroy(); c.plot = null; }
      c.box.replaceChildren(el("div", "empty", "no data in this range"));
      return;
    }
    const data = align(lines, meta.bucket_ms);
    const scaleMin = meta.start_ms / 1000;
    const scaleMax = meta.end_ms / 1000;
    if (c.plot && c.plot.series.length === lines.length + 1 &&
        lines.every((l, i) => c.plot.series[i + 1].label === l.name)) {
      c.plot.setData(data, false);
      c.plot.setScale("x", { min: scaleMin, max: scaleMax });
      return;
    }
    if (c.plot) c.plot.destroy();
    c.box.replaceChildren();
    const opts = {
      width: chartWidth(), height: 200,
      scales: { x: { time: true, min: scaleMin, max: scaleMax, auto: false } },
      series: [{}].concat(lines.map((l, i) => Object.assign({ label: l.name, width: 1.5,
        stroke: COLORS[i % COLORS.length], spanGaps: false,
        value: (u, v) => fmt(v) + " " + c.unit }, c.extra[l.name] || {}))),
      axes: [{}, { label: c.unit, size: 64, values: (u, vals, axis, space, incr) => vals.map((v) => axisNum(v, incr)) }],
      legend: { live: true },
      hooks: { draw: [(u) => drawEvents(u, key)], setCursor: [(u) => showTip(u, key)] },
    };
    c.plot = new uPlot(opts, data, c.box);
    c.plot.over.addEventListener("mouseleave", () => { $("tip").hidden = true; });
  }
  function merge(old, fresh, startMs) {
    // live update: the fresh buckets replace those from their first time on
    const byName = new Map(old.map((l) => [l.id, l]));
    const out = [];
    for (const f of fresh) {
      const o = byName.get(f.id) || { id: f.id, name: f.name, t: [], v: [] };
      const cut = f.t.length ? f.t[0] : Infinity;
      const keep = o.t.map((t, i) => [t, o.v[i]]).filter(([t]) => t < cut && t >= startMs);
      out.push({ id: f.id, name: f.name, t: keep.map((p) => p[0]).concat(f.t), v: keep.map((p) => p[1]).concat(f.v) });
      byName.delete(f.id);
    }
    for (const o of byName.values()) {
      const keep = o.t.map((t, i) => [t, o.v[i]]).filter(([t]) => t >= startMs);
      if (keep.length) out.push({ id: o.id, name: o.name, t: keep.map((p) => p[0]), v: keep.map((p) => p[1]) });
    }
    return out;
  }
  function linesOf(body) {
    const out = [];
    for (const s of body.data.series || []) {
      out.push({ id: s.id || s.name, name: s.name, t: s.t, v: s.v });
      if (s.id === "envelope") { // many series as one: their mean, and the lowest and highest
        out.push({ id: "envelope:lo", name: "lowest", t: s.t, v: s.lo });
        out.push({ id: "envelope:hi", name: "highest", t: s.t, v: s.hi });
      }
    }
    return out;
  }
  async function loadPanel(key, live) {
    const c = S.charts[key];
    const lastT = live && c.lines.length ? Math.max(...c.lines.map((l) => l.t.length ? l.t[l.t.length - 1] : 0)) : null;
    const extra = lastT ? { since: lastT } : {};
    const body = await api("/api/panel/" + c.panel, extra);
    const meta = Object.assign({}, body.data, { start_ms: body.start_ms, end_ms: body.end_ms });
    const lines = lastT ? merge(c.lines, linesOf(body), body.start_ms) : linesOf(body);
    render(key, lines, meta);
    if (body.data.heat && !lastT) heatmap(key, body.data.heat, meta);
  }
  function heatColor(f) {
    // dark blue (low) to yellow (high), readable on white
    const a = [49, 54, 149], b = [254, 224, 76];
    return "rgb(" + a.map((x, i) => Math.round(x + (b[i] - x) * f)).join(",") + ")";
  }
  function heatmap(key, heat, meta) {
    // one row per series (GPU), one column per bucket, coloured by the bucket's mean
    const c = S.charts[key];
    const vals = heat.rows.flat().filter((v) => v !== null);
    if (!vals.length) return;
    const lo = Math.min(...vals), hi = Math.max(...vals);
    const width = chartWidth(), rowH = Math.max(3, Math.min(12, Math.floor(320 / heat.rows.length)));
    const canvas = el("canvas");
    canvas.width = width; canvas.height = rowH * heat.rows.length;
    const ctx = canvas.getContext("2d");
    const span = meta.end_ms - meta.start_ms, colW = Math.max(1, width * meta.bucket_ms / span);
    heat.rows.forEach((row, r) => row.forEach((v, i) => {
      if (v === null) return;
      ctx.fillStyle = heatColor(hi > lo ? (v - lo) / (hi - lo) : 0.5);
      ctx.fillRect((heat.t[i] - meta.start_ms) / span * width, r * rowH, colW, rowH);
    }));
    const note = el("div", "meta", "heatmap: " + heat.rows.length + " series, one row each, " +
      fmt(lo) + " (blue) to " + fmt(hi) + " (yellow) " + c.unit + "; top row " + heat.names[0] +
      ", bottom row " + heat.names[heat.names.length - 1]);
    c.card.append(note, canvas);
    dbg.charts[key].heat = { rows: heat.rows.length, names: heat.names.slice(), cells: vals.length };
  }

  // -- groups ------------------------------------------------------------------------------
  function tile(k, v) {
    const t = el("div", "tile");
    t.append(el("div", "k", k), el("div", "v", v));
    return t;
  }
  function stateCell(state) {
    return el("td", "state-" + String(state).replace(/ /g, "-"), state);
  }
  function table(headers, rows) {
    const t = el("table");
    const head = el("tr");
    headers.forEach((h) => head.append(el("th", null, h)));
    t.append(head);
    for (const r of rows) {
      const tr = el("tr");
      for (const cell of r) tr.append(cell instanceof Node ? cell : el("td", null, cell));
      t.append(tr);
    }
    return t;
  }
  function sloTable(slos) {
    return table(["SLO", "service", "state", "SLI", "objective", "budget left", "burn rates", "note"],
      slos.map((s) => [s.name, s.service, stateCell(s.state),
        s.sli_pct === null ? "–" : fmt(s.sli_pct, 3) + "%", fmt(s.objective_pct, 3) + "%",
        s.budget_left_pct === null ? "–" : fmt(s.budget_left_pct, 1) + "%",
        Object.entries(s.burn_rates).map(([w, b]) => w + " " + fmt(b, 2) + "x").join(", "), s.note || ""]));
  }
  async function overviewFigures(box) {
    const body = await api("/api/overview");
    const o = dbg.overview = body.data;
    const cur = o.currency || "";
    box.replaceChildren(
      tile("requests/s", fmt(o.requests_per_s)), tile("output tokens/s", fmt(o.output_tokens_per_s)),
      tile("error ratio", o.error_ratio === null ? "–" : fmt(100 * o.error_ratio, 2) + "%"),
      tile("TTFT p95", fmt(o.latency_p95_ms.ttft, 0) + " ms"), tile("ITL p95", fmt(o.latency_p95_ms.itl, 1) + " ms"),
      tile("E2E p95", fmt(o.latency_p95_ms.e2e, 0) + " ms"), tile("GPUs up", String(o.gpus_up)),
      tile(cur + "/h", o.cost_per_hour === null ? "–" : fmt(Number(o.cost_per_hour), 2)),
      tile(cur + "/1M tokens", o.per_1m_tokens === null ? "–" : fmt(Number(o.per_1m_tokens), 4)));
    return o;
  }
  async function buildOverview(main) {
    const tiles = el("div", "tiles wide");
    const slos = el("div", "card wide");
    main.append(tiles, slos);
    for (const id of GROUPS.overview) main.append(chartCard("overview:" + id, S.meta.panels[id].title, S.meta.panels[id].unit, id));
    const o = await overviewFigures(tiles);
    slos.replaceChildren(el("h2", null, "SLOs (as `perfops slo status`)"),
      o.slos.length ? sloTable(o.slos) : el("div", "empty", "no SLOs in perfops.yaml"));
    S.refreshStats = async () => { await overviewFigures(tiles); };
  }
  function buildSeriesGroup(main, group) {
    for (const id of GROUPS[group]) main.append(chartCard(group + ":" + id, S.meta.panels[id].title, S.meta.panels[id].unit, id));
  }
  async function buildSlos(main) {
    const body = await api("/api/slos");
    dbg.slos = body.data;
    const head = el("div", "card wide");
    head.append(el("h2", null, "SLOs now"), body.data.slos.length ? sloTable(body.data.slos) : el("div", "empty", "no SLOs in perfops.yaml"));
    main.append(head);
    for (const s of body.data.slos) {
      const meta = { bucket_ms: body.data.bucket_ms, start_ms: body.start_ms, end_ms: body.end_ms, source: s.kind };
      const k1 = "slos:" + s.name + ":sli";
      const k2 = "slos:" + s.name + ":burn";
      main.append(chartCard(k1, s.name + " — SLI per bucket (objective " + fmt(s.objective_pct, 3) + "%)", "%", "slo"));
      main.append(chartCard(k2, s.name + " — burn rate (alert thresholds dashed)", "x", "slo"));
      render(k1, [{ name: "SLI %", t: s.series.t, v: s.series.sli_pct },
        { name: "objective", t: s.series.t, v: s.series.t.map(() => s.objective_pct) }], meta);
      const burn = [{ name: "burn rate", t: s.series.t, v: s.series.burn_rate }];
      for (const a of s.alerts) {
        const name = a.severity + " > " + fmt(a.threshold, 1) + "x";
        if (!burn.some((l) => l.name === name)) {
          burn.push({ name, t: s.series.t, v: s.series.t.map(() => a.threshold) });
          S.charts[k2].extra[name] = { dash: [6, 4], width: 1 };
        }
      }
      S.charts[k1].extra.objective = { dash: [6, 4], width: 1 };
      render(k2, burn, meta);
      main.append(await sloDrill(s));
    }
  }
  async function sloDrill(s) {
    // drill-down: the worst buckets of the range, and the requests that missed the SLO
    const card = el("div", "card wide");
    const when = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);
    card.append(el("h2", null, s.name + " — worst buckets and the requests that missed it"));
    card.append(s.worst.length ? table(["from (UTC)", "to", "SLI"],
      s.worst.map((w) => [when(w.start_ms), when(w.end_ms), fmt(w.sli_pct, 2) + "%"]))
      : el("div", "meta", "no bucket below the objective in this range"));
    const body = await api("/api/slos/" + encodeURIComponent(s.name) + "/misses");
    const d = body.data;
    dbg.misses = dbg.misses || {};
    dbg.misses[s.name] = d;
    if (d.note) { card.append(el("div", "meta", d.note)); return card; }
    card.append(el("div", "meta", d.missed + " of " + d.of + " load-test requests missed it" +
      (d.requests.length < d.missed ? " (first " + d.requests.length + " shown)" : "")));
    if (d.requests.length) {
      card.append(table(["scheduled (UTC)", "TTFT ms", "E2E ms", "tokens", "status", "error", "run", "request"],
        d.requests.map((r) => [when(r.scheduled_ms), fmt(r.ttft_ms, 0), fmt(r.e2e_ms, 0),
          String(r.output_tokens), String(r.status), r.error || "", r.run_id, r.request_id])));
    }
    return card;
  }
  async function buildCost(main) {
    const body = await api("/api/cost");
    const d = dbg.cost = body.data;
    const card = el("div", "card wide");
    card.append(el("h2", null, "Cost by service (as `perfops cost report`, " + d.currency + ")"),
      table(["service", "GPU-hours", "cost", "idle", "tokens", "$/1M tokens", "$/1M SLO tokens", "tokens/J"],
        d.rows.map((r) => [r.group, fmt(r.gpu_hours, 4), r.total, r.idle_cost, fmt(r.tokens, 0),
          r.per_1m_tokens || "–", r.per_1m_slo_tokens || "–", fmt(r.tokens_per_joule, 3)])));
    for (const n of d.notes) card.append(el("div", "meta", n));
    main.append(card);
    const meta = { bucket_ms: d.bucket_ms, start_ms: body.start_ms, end_ms: body.end_ms, source: "cost report" };
    d.series.forEach((s, i) => {
      const key = "cost:" + i;
      main.append(chartCard(key, s.name, s.name, "cost"));
      render(key, [{ name: s.name, t: s.t, v: s.v }], meta);
    });
  }
  function buildEvents(main) {
    const card = el("div", "card wide");
    card.append(el("h2", null, "Events (faults, alerts, runs, annotations)"));
    const legend = el("div", "meta");
    for (const [cls, name] of [["k-fault", "fault (band)"], ["k-run", "run (band)"], ["k-alert", "alert"], ["k-other", "other event"]]) {
      legend.append(el("span", "legend-key " + cls), el("span", null, name + "  "));
    }
    card.append(legend);
    const when = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);
    card.append(S.events.length ? table(["start (UTC)", "end", "kind", "service", "title", "run"],
      S.events.map((e) => [when(e.start_ms), e.end_ms === null ? "" : when(e.end_ms), e.kind, e.service || "", e.title || "", e.run_id || ""]))
      : el("div", "empty", "no events in this range"));
    main.append(card);
  }
  async function loadEvents() {
    const body = await api("/api/events");
    S.events = body.data;
    dbg.events = body.data;
  }

  async function load() {
    const gen = ++S.gen;
    const main = $("main");
    for (const c of Object.values(S.charts)) if (c.plot) c.plot.destroy();
    S.charts = {};
    dbg.charts = {};
    S.refreshStats = null;
    main.replaceChildren();
    status("loading…");
    try {
      await loadEvents();
      if (S.group === "overview") await buildOverview(main);
      else if (S.group === "slos") await buildSlos(main);
      else if (S.group === "cost") await buildCost(main);
      else if (S.group === "events") buildEvents(main);
      else buildSeriesGroup(main, S.group);
      await Promise.all(Object.keys(S.charts).filter((k) => S.charts[k].panel !== "slo" && S.charts[k].panel !== "cost")
        .map((k) => loadPanel(k, false)));
      if (gen !== S.gen) return;
      status("");
      dbg.loads += 1;
      dbg.ready = true;
    } catch (err) {
      status(String(err.message || err), true);
    }
  }
  async function poll() {
    if (S.range === "custom" || S.busy || !dbg.ready) return;
    S.busy = true;
    const gen = S.gen;
    try {
      await loadEvents();
      const keys = Object.keys(S.charts).filter((k) => S.charts[k].panel !== "slo" && S.charts[k].panel !== "cost");
      for (const k of keys) if (gen === S.gen) await loadPanel(k, true);
      S.ticks += 1;
      if (S.refreshStats && S.ticks % STATS_EVERY === 0) await S.refreshStats();
      for (const c of Object.values(S.charts)) if (c.plot) c.plot.redraw(false, false);
      dbg.updates += 1;
      $("live").textContent = "live · updated " + new Date().toLocaleTimeString();
    } catch (err) {
      status(String(err.message || err), true);
    } finally {
      S.busy = false;
    }
  }

  // -- controls ----------------------------------------------------------------------------
  function mark(container, attr, value) {
    for (const b of container.querySelectorAll("button")) b.classList.toggle("on", b.dataset[attr] === value);
  }
  function fillFilters(filters) {
    for (const sel of document.querySelectorAll("select[data-filter]")) {
      const name = sel.dataset.filter;
      sel.replaceChildren(el("option", null, "all"));
      sel.firstChild.value = "";
      for (const v of filters[name] || []) { const o = el("option", null, v); o.value = v; sel.append(o); }
      sel.addEventListener("change", () => { S.filters[name] = sel.value; load(); });
    }
  }
  function localInput(ms) {
    const d = new Date(ms - new Date().getTimezoneOffset() * 60000);
    return d.toISOString().slice(0, 19);
  }
  async function init() {
    try {
      const resp = await fetch("/api/meta", { credentials: "same-origin" });
      S.meta = await resp.json();
      if (!resp.ok) throw new Error(S.meta.error);
    } catch (err) {
      status("cannot read /api/meta: " + (err.message || err), true);
      return;
    }
    $("workspace").textContent = S.meta.workspace || "";
    fillFilters(S.meta.filters);
    const hash = new URLSearchParams(location.hash.slice(1));
    if (hash.get("range") && (S.meta.ranges.includes(hash.get("range")))) S.range = hash.get("range");
    if (hash.get("group") && S.meta.groups.includes(hash.get("group"))) S.group = hash.get("group");
    if (Number(hash.get("start")) < Number(hash.get("end"))) {
      S.range = "custom"; S.start = Number(hash.get("start")); S.end = Number(hash.get("end"));
    }
    $("ranges").addEventListener("click", (e) => {
      const r = e.target.dataset && e.target.dataset.range;
      if (!r) return;
      $("custom").hidden = r !== "custom";
      if (r === "custom") {
        const now = Date.now();
        $("custom-start").value = localInput(now - 3600000);
        $("custom-end").value = localInput(now);
        mark($("ranges"), "range", r);
        return;
      }
      S.range = r;
      mark($("ranges"), "range", r);
      load();
    });
    $("custom-apply").addEventListener("click", () => {
      const a = new Date($("custom-start").value).getTime();
      const b = new Date($("custom-end").value).getTime();
      if (!(a < b)) { status("the custom range must end after it starts", true); return; }
      S.range = "custom"; S.start = a; S.end = b;
      load();
    });
    $("tabs").addEventListener("click", (e) => {
      const g = e.target.dataset && e.target.dataset.group;
      if (!g) return;
      S.group = g;
      mark($("tabs"), "group", g);
      load();
    });
    mark($("ranges"), "range", S.range);
    mark($("tabs"), "group", S.group);
    window.__perfops.select = (name, value) => { const s = $("f-" + name); s.value = value; s.dispatchEvent(new Event("change")); };
    await load();
    setInterval(poll, POLL_MS);
  }
  init();
})();
