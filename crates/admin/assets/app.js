// orrery admin dashboard. Plain JavaScript, no framework, no build step, nothing loaded from elsewhere.
//
// The token comes from the URL fragment (#token=..., which browsers never send to the server) or from the
// prompt, lives in sessionStorage (gone when the tab closes) and goes out as `Authorization: Bearer` on every
// API call. The map is drawn once from /api/v1/universe; live numbers come from /api/v1/cluster every second.
// Server data is only ever written with textContent / attributes, never parsed as HTML.
"use strict";

(() => {
  const POLL_MS = 1000; // the page is at most ~2 s behind the cluster
  const HIDDEN_POLL_MS = 5000; // a background tab polls less
  const REQUEST_TIMEOUT_MS = 4000;
  const TOKEN_KEY = "orrery-admin-token";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const MAP_SIZE = 1000; // viewBox units of the longer side
  const MAP_PAD = 20;
  const BUDGET = 0.8; // the node CPU share Time Dilation aims at
  const BUSIEST_ROWS = 12;
  const FLAMEGRAPH_SECONDS = 10;

  // Twenty colours that stay apart on a dark background; with more nodes than colours, nodes that share
  // stargates get different colours (greedy graph colouring), like the premapper's pictures.
  const PALETTE = [
    "#4e9bff", "#ff9f1c", "#2ec4b6", "#e05dd2", "#a3d93b", "#ffd23f", "#9b8cff", "#ff6b6b", "#3ddc97",
    "#f78c6b", "#5bc0eb", "#c3a6ff", "#fde74c", "#ff8fab", "#7bd389", "#d4a373", "#00b4d8", "#e9c46a",
    "#b5179e", "#90be6d",
  ];

  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs = {}, text) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const svgEl = (tag, attrs = {}) => {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  };
  const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
  const fmtMs = (n) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(n >= 10 ? 1 : 2)) + " ms" : "–");
  const fmtFactor = (f) => (Number.isFinite(f) ? f.toFixed(2) : "–");
  const fmtPct = (f) => (Number.isFinite(f) ? Math.round(f * 100) + "%" : "–");
  const fmtShort = (n) => (n >= 10000 ? (n / 1000).toFixed(0) + "k" : n >= 1000 ? (n / 1000).toFixed(1) + "k" : String(n));
  const fmtDuration = (s) => {
    s = Math.max(0, Math.floor(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const mm = String(m).padStart(2, "0"), ss = String(sec).padStart(2, "0");
    return h > 0 ? `${h}:${mm}:${ss}` : `${m}:${ss}`;
  };
  const fmtTime = (ms) => new Date(ms).toLocaleTimeString();

  // ---------------------------------------------------------------- state
  const state = {
    token: null,
    clusterName: null,
    epoch: null,
    universe: null, // {systems, gates}
    byId: new Map(), // system_id -> {map: MapSystem, live: SystemView|null, circle}
    active: new Set(), // ids with live numbers last poll
    nodeColour: new Map(),
    baseRadius: 4,
    view: null, // current viewBox [x, y, w, h]
    home: null, // the viewBox showing everything
    shutdown: null, // {view, receivedAt}
    lastUpdate: 0,
    selected: null,
    polling: false,
    universeLoading: false,
    universeTried: 0,
    profilerRunning: false,
    profilerLoaded: 0,
    settingsLoaded: false,
    settingsLoading: false,
    logLevelLoaded: false,
  };

  // ---------------------------------------------------------------- API
  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error) || `HTTP ${status}`);
      this.status = status;
      this.field = body && body.field;
    }
  }

  async function api(method, path, body) {
    if (!state.token) throw new ApiError(401, { error: "unauthorized" });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), path.includes("flamegraph") ? 90000 : REQUEST_TIMEOUT_MS);
    const headers = { Authorization: "Bearer " + state.token };
    const init = { method, headers, signal: controller.signal, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, { error: e.name === "AbortError" ? "request timed out" : "cluster unreachable" });
    } finally {
      clearTimeout(timer);
    }
    if (response.status === 401) {
      askForToken("The token was refused.");
      throw new ApiError(401, { error: "unauthorized" });
    }
    const type = response.headers.get("Content-Type") || "";
    if (!response.ok) {
      let payload = null;
      if (type.includes("json")) payload = await response.json().catch(() => null);
      throw new ApiError(response.status, payload);
    }
    if (response.status === 204) return null;
    if (type.includes("json")) return response.json();
    return response.blob();
  }

  // ---------------------------------------------------------------- token
  function readToken() {
    const match = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
    if (match) {
      const token = decodeURIComponent(match[1]).trim();
      sessionStorage.setItem(TOKEN_KEY, token);
      // Keep the token out of the address bar, bookmarks and screenshots.
      history.replaceState(null, "", location.pathname + location.search);
      return token;
    }
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function askForToken(message) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $("login-error").textContent = message || "";
    $("login").hidden = false;
    $("token-input").focus();
    setConnection("down", "no token");
  }

  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token-input").value.trim();
    if (!token) return;
    state.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("token-input").value = "";
    $("login").hidden = true;
    start();
  });

  // ---------------------------------------------------------------- header
  function setConnection(kind, text) {
    const pill = $("connection");
    pill.className = "pill " + kind;
    pill.textContent = text;
  }

  function renderHeader(cluster) {
    state.clusterName = cluster.cluster_name;
    $("cluster-name").textContent = cluster.cluster_name;
    document.title = cluster.cluster_name + " · orrery admin";
    $("epoch").textContent = cluster.epoch;
    $("sessions").textContent = fmtInt(cluster.sessions);
    $("node-count").textContent = cluster.nodes.length;
    $("last-update").textContent = "updated " + fmtTime(state.lastUpdate);
    updateScheduleButton();
  }

  // ---------------------------------------------------------------- map
  async function loadUniverse() {
    state.universeLoading = true;
    try {
      const universe = await api("GET", "/api/v1/universe");
      state.universe = universe;
      drawMap(universe);
    } catch (e) {
      if (e.status !== 401) $("map-empty").textContent = "could not load the map: " + e.message;
      throw e;
    } finally {
      state.universeLoading = false;
      state.universeTried = Date.now();
    }
  }

  function colourNodes(universe) {
    const nodeIds = [...new Set(universe.systems.map((s) => s.node_id))].sort((a, b) => a - b);
    state.nodeColour.clear();
    if (nodeIds.length <= PALETTE.length) {
      nodeIds.forEach((id, i) => state.nodeColour.set(id, PALETTE[i]));
      return;
    }
    // Nodes that share a stargate must differ: greedy colouring, most-connected nodes first.
    const nodeOf = new Map(universe.systems.map((s) => [s.system_id, s.node_id]));
    const adjacent = new Map(nodeIds.map((id) => [id, new Set()]));
    for (const [a, b] of universe.gates) {
      const na = nodeOf.get(a), nb = nodeOf.get(b);
      if (na !== undefined && nb !== undefined && na !== nb) {
        adjacent.get(na).add(nb);
        adjacent.get(nb).add(na);
      }
    }
    const order = [...nodeIds].sort((a, b) => adjacent.get(b).size - adjacent.get(a).size || a - b);
    const colourIndex = new Map();
    const usage = new Array(PALETTE.length).fill(0);
    for (const id of order) {
      const taken = new Set([...adjacent.get(id)].map((n) => colourIndex.get(n)).filter((c) => c !== undefined));
      let best = -1;
      for (let c = 0; c < PALETTE.length; c++) {
        if (!taken.has(c) && (best < 0 || usage[c] < usage[best])) best = c;
      }
      if (best < 0) best = id % PALETTE.length;
      colourIndex.set(id, best);
      usage[best]++;
    }
    for (const id of nodeIds) state.nodeColour.set(id, PALETTE[colourIndex.get(id)]);
  }

  const nodeColour = (id) => state.nodeColour.get(id) || PALETTE[id % PALETTE.length];

  function drawMap(universe) {
    const systems = universe.systems;
    const gatesGroup = $("map-gates");
    const systemsGroup = $("map-systems");
    gatesGroup.replaceChildren();
    systemsGroup.replaceChildren();
    state.byId.clear();
    state.active.clear();
    $("map-empty").hidden = systems.length > 0;
    $("map-empty").textContent = systems.length ? "" : "the universe is empty";
    if (!systems.length) return;
    colourNodes(universe);

    let minX = Infinity, maxX = -Infinity, minZ = Infinity, maxZ = -Infinity;
    for (const s of systems) {
      minX = Math.min(minX, s.x); maxX = Math.max(maxX, s.x);
      minZ = Math.min(minZ, s.z); maxZ = Math.max(maxZ, s.z);
    }
    const spanX = Math.max(maxX - minX, 1e-9), spanZ = Math.max(maxZ - minZ, 1e-9);
    const scale = (MAP_SIZE - 2 * MAP_PAD) / Math.max(spanX, spanZ);
    const width = spanX * scale + 2 * MAP_PAD, height = spanZ * scale + 2 * MAP_PAD;
    // x to the right, z up: the galactic plane seen from above, as the premapper draws it.
    const px = (s) => MAP_PAD + (s.x - minX) * scale;
    const py = (s) => MAP_PAD + (maxZ - s.z) * scale;
    state.baseRadius = Math.min(7, Math.max(1.4, 190 / Math.sqrt(systems.length)));
    state.home = [0, 0, width, height];
    setView(state.home);

    const point = new Map();
    for (const s of systems) point.set(s.system_id, [px(s), py(s)]);
    let d = "";
    for (const [a, b] of universe.gates) {
      const p = point.get(a), q = point.get(b);
      if (p && q) d += `M${p[0].toFixed(1)} ${p[1].toFixed(1)}L${q[0].toFixed(1)} ${q[1].toFixed(1)}`;
    }
    gatesGroup.appendChild(svgEl("path", { d }));

    const fragment = document.createDocumentFragment();
    for (const s of systems) {
      const [cx, cy] = point.get(s.system_id);
      const circle = svgEl("circle", {
        cx: cx.toFixed(1), cy: cy.toFixed(1), r: state.baseRadius.toFixed(2),
        fill: nodeColour(s.node_id), "data-system": s.system_id,
      });
      fragment.appendChild(circle);
      state.byId.set(s.system_id, { map: s, live: null, circle });
    }
    systemsGroup.appendChild(fragment);
  }

  function radiusFor(players) {
    const r = state.baseRadius * (1 + Math.sqrt(players) / 6);
    return Math.min(r, state.baseRadius * 6);
  }

  function renderMap(cluster) {
    if (!state.universe) return;
    const now = new Set();
    for (const live of cluster.systems) {
      const entry = state.byId.get(live.system_id);
      if (!entry) continue;
      now.add(live.system_id);
      entry.live = live;
      const c = entry.circle;
      c.setAttribute("r", radiusFor(live.players).toFixed(2));
      c.setAttribute("fill", nodeColour(live.node_id));
      c.classList.toggle("dilated", live.tidi < 1.0 && !live.failed);
      c.classList.toggle("failed", !!live.failed);
      c.parentNode.appendChild(c); // draw busy systems on top of quiet ones
    }
    for (const id of state.active) {
      if (now.has(id)) continue;
      const entry = state.byId.get(id);
      if (!entry) continue;
      entry.live = null;
      entry.circle.setAttribute("r", state.baseRadius.toFixed(2));
      entry.circle.setAttribute("fill", nodeColour(entry.map.node_id));
      entry.circle.classList.remove("dilated", "failed");
    }
    state.active = now;
    const selected = state.selected !== null && state.byId.get(state.selected);
    if (selected) selected.circle.parentNode.appendChild(selected.circle);
  }

  // Zoom (wheel) and pan (drag) by moving the viewBox.
  function setView(v) {
    state.view = v;
    $("map").setAttribute("viewBox", v.map((n) => n.toFixed(2)).join(" "));
  }

  function svgPoint(event) {
    const svg = $("map");
    const rect = svg.getBoundingClientRect();
    const [vx, vy, vw, vh] = state.view;
    const s = Math.min(rect.width / vw, rect.height / vh); // preserveAspectRatio meet
    const ox = (rect.width - vw * s) / 2, oy = (rect.height - vh * s) / 2;
    return [vx + (event.clientX - rect.left - ox) / s, vy + (event.clientY - rect.top - oy) / s, s];
  }

  $("map").addEventListener("wheel", (event) => {
    if (!state.view) return;
    event.preventDefault();
    const [x, y] = svgPoint(event);
    const [vx, vy, vw, vh] = state.view;
    const k = Math.exp(Math.sign(event.deltaY) * 0.18);
    const nw = Math.min(Math.max(vw * k, state.home[2] / 40), state.home[2] * 2);
    const f = nw / vw;
    setView([x - (x - vx) * f, y - (y - vy) * f, vw * f, vh * f]);
  }, { passive: false });

  let drag = null;
  $("map").addEventListener("pointerdown", (event) => {
    if (!state.view || event.button !== 0) return;
    drag = { x: event.clientX, y: event.clientY, view: state.view, moved: false, scale: svgPoint(event)[2] };
  });
  window.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    drag.moved = true;
    $("map").classList.add("dragging");
    hideTooltip();
    const [vx, vy, vw, vh] = drag.view;
    setView([vx - dx / drag.scale, vy - dy / drag.scale, vw, vh]);
  });
  window.addEventListener("pointerup", (event) => {
    if (!drag) return;
    const wasClick = !drag.moved;
    drag = null;
    $("map").classList.remove("dragging");
    const id = systemIdOf(event.target);
    if (wasClick && id !== null) selectSystem(id);
  });
  $("map-reset").addEventListener("click", () => state.home && setView(state.home));

  const systemIdOf = (target) => {
    const value = target && target.getAttribute && target.getAttribute("data-system");
    return value === null || value === undefined ? null : Number(value);
  };

  // Tooltip: name, node, players, tick work, factor.
  const tooltip = $("tooltip");
  function hideTooltip() { tooltip.hidden = true; }
  function tooltipRow(label, value, cls) {
    const row = el("div", { class: "row" });
    row.append(el("span", {}, label), el("span", cls ? { class: cls } : {}, value));
    return row;
  }
  $("map").addEventListener("mousemove", (event) => {
    if (drag && drag.moved) return;
    const id = systemIdOf(event.target);
    const entry = id === null ? null : state.byId.get(id);
    if (!entry) return hideTooltip();
    const s = entry.map, live = entry.live;
    const nodeId = live ? live.node_id : s.node_id;
    tooltip.replaceChildren(
      el("div", { class: "name" }, s.name),
      tooltipRow("node", String(nodeId)),
      tooltipRow("players", fmtInt(live ? live.players : 0)),
      tooltipRow("tick work", live ? fmtMs(live.tick_work_ms) : "idle"),
      tooltipRow("factor", fmtFactor(live ? live.tidi : 1), live && live.tidi < 1 ? "bad" : ""),
      tooltipRow("security", s.security.toFixed(1)),
    );
    if (live && live.failed) tooltip.append(tooltipRow("state", "FAILED", "bad"));
    tooltip.hidden = false;
    const wrap = $("map-wrap").getBoundingClientRect();
    let left = event.clientX - wrap.left + 14, top = event.clientY - wrap.top + 14;
    if (left + tooltip.offsetWidth > wrap.width) left -= tooltip.offsetWidth + 28;
    if (top + tooltip.offsetHeight > wrap.height) top -= tooltip.offsetHeight + 28;
    tooltip.style.left = left + "px";
    tooltip.style.top = top + "px";
  });
  $("map").addEventListener("mouseleave", hideTooltip);

  async function selectSystem(id) {
    const previous = state.selected !== null && state.byId.get(state.selected);
    if (previous) previous.circle.classList.remove("selected");
    state.selected = id;
    const entry = state.byId.get(id);
    if (entry) entry.circle.classList.add("selected");
    const box = $("system-detail");
    box.hidden = false;
    box.replaceChildren(el("span", { class: "hint" }, "loading system " + id + "…"));
    try {
      const d = await api("GET", "/api/v1/systems/" + id);
      const dl = el("dl");
      const names = (ids) => ids.map((n) => state.byId.get(n)?.map.name ?? String(n)).join(", ");
      const rows = [
        ["node", d.node_id], ["players", fmtInt(d.players) + " / " + fmtInt(d.max_players)],
        ["tick work", fmtMs(d.tick_work_ms)], ["factor", fmtFactor(d.tidi)],
        ["tick", d.tick_ms + " ms"], ["queue", fmtInt(d.queue)],
        ["security", d.security.toFixed(2)], ["state", d.failed ? "FAILED" : "ticking"],
        ["region", d.region], ["constellation", d.constellation],
      ];
      for (const [k, v] of rows) dl.append(el("dt", {}, k), el("dd", {}, String(v)));
      box.replaceChildren(
        el("b", {}, d.name + " (" + d.system_id + ")"),
        dl,
        el("div", { class: "hint" }, "gates to: " + (names(d.neighbours) || "none")),
      );
    } catch (e) {
      box.replaceChildren(el("span", { class: "error" }, e.message));
    }
  }

  // ---------------------------------------------------------------- nodes: the mountain range
  function renderNodes(nodes) {
    const container = $("nodes");
    container.classList.toggle("many", nodes.length > 24);
    const top = Math.max(1, ...nodes.map((n) => n.cpu_share || 0));
    const existing = new Map([...container.children].map((c) => [c.getAttribute("data-node"), c]));
    const keep = new Set();
    for (const node of [...nodes].sort((a, b) => a.node_id - b.node_id)) {
      const key = String(node.node_id);
      keep.add(key);
      let bar = existing.get(key);
      if (!bar) {
        bar = el("div", { class: "node-bar", "data-node": key });
        const track = el("div", { class: "track" });
        track.append(el("div", { class: "fill" }), el("div", { class: "budget" }));
        bar.append(el("div", { class: "value" }), track, el("div", { class: "label" }));
        container.appendChild(bar);
      }
      container.appendChild(bar); // keep node order
      const share = node.cpu_share || 0;
      const fill = bar.querySelector(".fill");
      fill.style.height = Math.min(100, (share / top) * 100).toFixed(1) + "%";
      fill.style.background = nodeColour(node.node_id);
      bar.querySelector(".budget").style.bottom = ((BUDGET / top) * 100).toFixed(1) + "%";
      bar.classList.toggle("hot", share > BUDGET);
      bar.querySelector(".value").textContent = fmtPct(share);
      const label = bar.querySelector(".label");
      label.replaceChildren(
        el("b", {}, "n" + node.node_id), el("br"),
        document.createTextNode(fmtShort(node.systems) + " sys"), el("br"),
        document.createTextNode(fmtShort(node.players) + " pl"),
      );
      if (node.failed_systems > 0) label.append(el("br"), el("span", { class: "bad" }, node.failed_systems + " failed"));
      bar.title =
        `node ${node.node_id}: CPU ${fmtPct(share)}, ${fmtInt(node.systems)} systems, ${fmtInt(node.players)} players, ` +
        `tick work ${fmtMs(node.tick_work_ms)}/s, ${fmtInt(node.late_ticks)} late ticks, ${node.failed_systems} failed systems`;
    }
    for (const [key, bar] of existing) if (!keep.has(key)) bar.remove();
  }

  // ---------------------------------------------------------------- busiest systems
  function renderBusiest(systems) {
    const rows = [...systems]
      .sort((a, b) => b.tick_work_ms - a.tick_work_ms || b.players - a.players)
      .slice(0, BUSIEST_ROWS);
    const tbody = $("busiest").tBodies[0];
    tbody.replaceChildren(
      ...rows.map((s) => {
        const tr = el("tr", { "data-system": s.system_id });
        const name = el("td");
        name.append(el("span", { class: "swatch" }), document.createTextNode(s.name));
        name.firstChild.style.background = nodeColour(s.node_id);
        if (s.failed) name.append(el("span", { class: "bad" }, " FAILED"));
        tr.append(
          name,
          el("td", {}, String(s.node_id)),
          el("td", { class: "num" }, fmtInt(s.players)),
          el("td", { class: "num" }, fmtMs(s.tick_work_ms)),
          el("td", { class: "num" + (s.tidi < 1 ? " bad" : "") }, fmtFactor(s.tidi)),
          el("td", { class: "num" }, fmtInt(s.kills || 0)),
        );
        return tr;
      }),
    );
    if (!rows.length) {
      const tr = el("tr");
      tr.append(el("td", { colspan: "6", class: "hint" }, "no system has players"));
      tbody.append(tr);
    }
  }
  $("busiest").addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-system]");
    if (row) selectSystem(Number(row.getAttribute("data-system")));
  });

  // ---------------------------------------------------------------- shutdown
  // The bus or the store down: the nodes tick on and checkpoints wait; say so until it is over.
  function renderOutage(services) {
    const banner = $("outage-banner");
    const outage = services && services.outage;
    banner.hidden = !outage;
    banner.textContent = outage ? `Outage: ${outage}. The nodes keep ticking; queued writes drain when it returns.` : "";
  }

  function renderShutdown(view) {
    state.shutdown = view ? { view, receivedAt: performance.now() } : null;
    tickCountdown();
  }

  function tickCountdown() {
    const status = $("shutdown-status"), banner = $("shutdown-banner");
    if (!state.shutdown) {
      status.textContent = "no shutdown scheduled";
      status.classList.remove("active");
      banner.hidden = true;
      $("shutdown-cancel").disabled = true;
      return;
    }
    const { view, receivedAt } = state.shutdown;
    const left = view.seconds_left - (performance.now() - receivedAt) / 1000;
    const text = `shutdown of ${view.cluster} in ${fmtDuration(left)}` + (view.reason ? ` — ${view.reason}` : "");
    status.textContent = text + ` (at ${fmtTime(view.fires_at_unix_ms)})`;
    status.classList.add("active");
    banner.textContent = "⚠ " + text;
    banner.hidden = false;
    $("shutdown-cancel").disabled = false;
  }
  setInterval(tickCountdown, 250);

  function updateScheduleButton() {
    const typed = $("shutdown-cluster").value;
    $("shutdown-schedule").disabled = !state.clusterName || typed !== state.clusterName;
  }
  $("shutdown-cluster").addEventListener("input", updateScheduleButton);

  $("shutdown-schedule").addEventListener("click", async () => {
    const error = $("shutdown-error");
    error.textContent = "";
    const seconds = Number($("shutdown-seconds").value);
    if (!Number.isInteger(seconds) || seconds < 0) {
      error.textContent = "in_seconds: a whole number of seconds, 0 or more";
      return;
    }
    try {
      const view = await api("POST", "/api/v1/shutdown", {
        cluster: $("shutdown-cluster").value,
        in_seconds: seconds,
        reason: $("shutdown-reason").value,
      });
      renderShutdown(view);
      $("shutdown-cluster").value = "";
      updateScheduleButton();
    } catch (e) {
      error.textContent = (e.field ? e.field + ": " : "") + e.message;
    }
  });

  $("shutdown-cancel").addEventListener("click", async () => {
    const error = $("shutdown-error");
    error.textContent = "";
    try {
      await api("DELETE", "/api/v1/shutdown");
      renderShutdown(null);
    } catch (e) {
      error.textContent = e.message;
    }
  });

  // ---------------------------------------------------------------- settings
  async function loadSettings() {
    state.settingsLoading = true;
    let settings;
    try {
      settings = await api("GET", "/api/v1/settings");
    } finally {
      state.settingsLoading = false;
    }
    const tbody = $("settings-rows");
    tbody.replaceChildren();
    if (!settings.length) {
      const tr = el("tr");
      tr.append(el("td", { colspan: "4", class: "hint" }, "no live settings"));
      tbody.append(tr);
    }
    for (const s of settings) tbody.append(settingRow(s));
    state.settingsLoaded = true;
  }

  const showValue = (v) => (typeof v === "string" ? v : JSON.stringify(v));

  function settingRow(s) {
    const tr = el("tr", { "data-setting": s.key });
    const keyCell = el("td", { class: "key" });
    keyCell.append(el("code", {}, s.key), el("div", { class: "desc" }, s.description));
    const input = el("input", { "data-key": s.key, spellcheck: "false", autocomplete: "off" });
    input.value = showValue(s.value);
    const valueCell = el("td");
    const message = el("div", { class: "error" });
    const saved = el("div", { class: "saved" }, s.updated_at_ms ? "changed " + fmtTime(s.updated_at_ms) : "");
    valueCell.append(input, message, saved);
    const button = el("button", { "data-save": s.key, type: "button" }, "Save");
    const buttonCell = el("td");
    buttonCell.append(button);
    tr.append(keyCell, valueCell, buttonCell, el("td", { class: "hint" }, showValue(s.default)));

    const save = async () => {
      message.textContent = "";
      let value = input.value;
      if (typeof s.default !== "string") {
        try {
          value = JSON.parse(input.value);
        } catch {
          message.textContent = "value: not valid JSON";
          return;
        }
      }
      button.disabled = true;
      try {
        const updated = await api("PUT", "/api/v1/settings/" + encodeURIComponent(s.key), { value });
        Object.assign(s, updated);
        input.value = showValue(updated.value);
        saved.textContent = "saved " + fmtTime(Date.now());
      } catch (e) {
        message.textContent = (e.field ? e.field + ": " : "") + e.message;
      } finally {
        button.disabled = false;
      }
    };
    button.addEventListener("click", save);
    input.addEventListener("keydown", (event) => event.key === "Enter" && save());
    return tr;
  }

  // ---------------------------------------------------------------- profiler
  function renderProfilerStatus(status) {
    const running = !!(status && status.running);
    state.profilerRunning = running;
    $("profiler-status").textContent = running
      ? "running since " + (status.since_unix_ms ? fmtTime(status.since_unix_ms) : "?")
      : "stopped";
    $("profiler-start").disabled = running;
    $("profiler-stop").disabled = !running;
  }

  function fillTable(table, rows) {
    const thead = table.tHead, tbody = table.tBodies[0];
    thead.replaceChildren();
    tbody.replaceChildren();
    if (!Array.isArray(rows) || !rows.length) {
      const tr = el("tr");
      tr.append(el("td", { class: "hint" }, "no measurements yet"));
      tbody.append(tr);
      return;
    }
    // The server's JSON objects may come with sorted keys: put the documented columns first, in order.
    const known = ["name", "system_id", "count", "ticks", "total_ms", "mean_us", "p50_us", "p99_us", "max_us"];
    const keys = Object.keys(rows[0]);
    const columns = [...known.filter((k) => keys.includes(k)), ...keys.filter((k) => !known.includes(k))];
    const head = el("tr");
    for (const c of columns) head.append(el("th", typeof rows[0][c] === "number" ? { class: "num" } : {}, c));
    thead.append(head);
    for (const row of rows) {
      const tr = el("tr");
      for (const c of columns) {
        const v = row[c];
        let text;
        if (typeof v !== "number") text = showValue(v ?? "");
        else if (c.endsWith("_id")) text = String(v); // an id, not a quantity: no separators
        else text = v.toLocaleString("en-US", { maximumFractionDigits: Number.isInteger(v) ? 0 : 2 });
        tr.append(el("td", typeof v === "number" ? { class: "num" } : {}, text));
      }
      tbody.append(tr);
    }
  }

  async function loadProfilerReport() {
    const error = $("profiler-error");
    try {
      const report = await api("GET", "/api/v1/profiler/report");
      state.profilerLoaded = Date.now();
      renderProfilerStatus(report);
      fillTable($("profiler-report"), report.by_message);
      fillTable($("profiler-systems"), report.by_system);
      error.textContent = "";
    } catch (e) {
      error.textContent = e.message;
    }
  }

  for (const [id, path] of [["profiler-start", "/api/v1/profiler/start"], ["profiler-stop", "/api/v1/profiler/stop"]]) {
    $(id).addEventListener("click", async () => {
      $("profiler-error").textContent = "";
      try {
        renderProfilerStatus(await api("POST", path));
        await loadProfilerReport();
      } catch (e) {
        $("profiler-error").textContent = e.message;
      }
    });
  }
  $("profiler-refresh").addEventListener("click", loadProfilerReport);

  $("flamegraph").addEventListener("click", async () => {
    const button = $("flamegraph");
    const label = button.textContent;
    button.disabled = true;
    button.textContent = `sampling ${FLAMEGRAPH_SECONDS} s…`;
    $("profiler-error").textContent = "";
    try {
      const blob = await api("GET", `/api/v1/profiler/flamegraph?seconds=${FLAMEGRAPH_SECONDS}`);
      const url = URL.createObjectURL(blob);
      const link = el("a", { href: url, download: `flamegraph-${state.clusterName || "orrery"}-${Date.now()}.svg` });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (e) {
      $("profiler-error").textContent = "flamegraph: " + e.message;
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  });

  // ---------------------------------------------------------------- log level
  async function loadLogLevel() {
    const level = await api("GET", "/api/v1/log-level");
    $("log-level").value = level.filter;
    state.logLevelLoaded = true;
  }
  async function saveLogLevel() {
    const error = $("log-level-error");
    error.textContent = "";
    try {
      const level = await api("PUT", "/api/v1/log-level", { filter: $("log-level").value });
      $("log-level").value = level.filter;
    } catch (e) {
      error.textContent = (e.field ? e.field + ": " : "") + e.message;
    }
  }
  $("log-level-save").addEventListener("click", saveLogLevel);
  $("log-level").addEventListener("keydown", (event) => event.key === "Enter" && saveLogLevel());

  // ---------------------------------------------------------------- the economy
  // /api/v1/economy every 5 s: the figures, the most traded items, and each NPC desk's prices sampled into a
  // series (the last 360 samples, half an hour) drawn as a line chart of the selected desk.
  const ECONOMY_MS = 5000;
  const ECONOMY_SAMPLES = 360;
  const fmtMoney = (cents) => (Number.isFinite(cents) ? (cents / 100).toLocaleString("en-US", { maximumFractionDigits: 2 }) : "–");
  const sum = (object) => Object.values(object || {}).reduce((a, b) => a + b, 0);

  async function loadEconomy() {
    state.economyLoaded = Date.now();
    let report;
    try {
      report = await api("GET", "/api/v1/economy?days=1");
    } catch (e) {
      if (e.status === 404) $("economy-panel").hidden = true;
      return;
    }
    $("economy-panel").hidden = false;
    $("economy-supply").textContent = fmtMoney(report.money_supply);
    const today = report.days[report.days.length - 1] || {};
    $("economy-faucets").textContent = fmtMoney(sum(today.faucets));
    $("economy-sinks").textContent = fmtMoney(sum(today.sinks));
    $("economy-mined").textContent = fmtInt((today.items || {}).mined || 0);
    const ok = report.conservation.ok;
    const badge = $("economy-conservation");
    badge.textContent = ok ? "conserved" : "NOT conserved";
    badge.className = "pill " + (ok ? "live" : "down");
    badge.title = ok ? "money and every item type balance over the stored rows" : JSON.stringify(report.conservation.imbalances);
    const series = state.economySeries || (state.economySeries = new Map());
    const select = $("economy-desk");
    for (const desk of report.npc_desks) {
      const key = String(desk.desk_id);
      if (!series.has(key)) {
        series.set(key, []);
        select.appendChild(el("option", { value: key }, `${desk.name} (station ${desk.station_id})`));
        if (!state.economyDesk && desk.name === "Veldspar") state.economyDesk = key;
      }
      const points = series.get(key);
      points.push({ t: Date.now(), buy: desk.buy_price, sell: desk.sell_price });
      if (points.length > ECONOMY_SAMPLES) points.shift();
    }
    if (!state.economyDesk && report.npc_desks.length) state.economyDesk = String(report.npc_desks[0].desk_id);
    if (state.economyDesk) select.value = state.economyDesk;
    drawEconomyChart();
    const body = $("economy-traded").tBodies[0];
    body.replaceChildren();
    for (const t of report.most_traded) {
      const tr = el("tr");
      tr.append(el("td", {}, t.name || String(t.type_id)), el("td", { class: "num" }, fmtInt(t.volume)),
        el("td", { class: "num" }, fmtInt(t.fills)));
      body.append(tr);
    }
  }

  function drawEconomyChart() {
    const points = (state.economySeries && state.economySeries.get(state.economyDesk)) || [];
    const values = points.flatMap((p) => [p.buy, p.sell]);
    const low = Math.min(...values), high = Math.max(...values);
    const span = high > low ? high - low : Math.max(1, high * 0.1);
    const x = (i) => (points.length > 1 ? (i / (points.length - 1)) * 300 : 150);
    const y = (v) => 115 - ((v - low + (high > low ? 0 : span / 2)) / span) * 110;
    const line = (side) => points.map((p, i) => `${x(i).toFixed(1)},${y(p[side]).toFixed(1)}`).join(" ");
    $("economy-buy").setAttribute("points", line("buy"));
    $("economy-sell").setAttribute("points", line("sell"));
    const last = points[points.length - 1];
    $("economy-buy-now").textContent = last ? fmtMoney(last.buy) : "–";
    $("economy-sell-now").textContent = last ? fmtMoney(last.sell) : "–";
  }
  $("economy-desk").addEventListener("change", (event) => {
    state.economyDesk = event.target.value;
    drawEconomyChart();
  });

  // ---------------------------------------------------------------- the poll loop
  async function poll() {
    if (!state.token) { state.polling = false; return; }
    try {
      const cluster = await api("GET", "/api/v1/cluster");
      state.lastUpdate = Date.now();
      if (state.epoch !== null && cluster.epoch !== state.epoch) await loadUniverse(); // systems moved
      state.epoch = cluster.epoch;
      renderHeader(cluster);
      renderMap(cluster);
      renderNodes(cluster.nodes);
      renderBusiest(cluster.systems);
      renderShutdown(cluster.shutdown);
      renderOutage(cluster.services);
      setConnection("live", "live");
      // Retry a map that failed to load; refresh the profiler's tables while it measures.
      if (!state.universe && !state.universeLoading && Date.now() - state.universeTried > 3000) {
        loadUniverse().catch(() => {});
      }
      if (state.profilerRunning && Date.now() - state.profilerLoaded > 5000) loadProfilerReport();
      if (!state.settingsLoaded && !state.settingsLoading) loadSettings().catch(() => {});
      if (!state.logLevelLoaded) loadLogLevel().catch(() => {});
      if (!state.economyLoaded || Date.now() - state.economyLoaded > ECONOMY_MS) loadEconomy().catch(() => {});
    } catch (e) {
      if (e.status === 401) { state.polling = false; return; }
      const age = state.lastUpdate ? Math.round((Date.now() - state.lastUpdate) / 1000) : null;
      setConnection(age === null || age > 10 ? "down" : "stale", e.message + (age !== null ? ` (${age} s old)` : ""));
    }
    setTimeout(poll, document.hidden ? HIDDEN_POLL_MS : POLL_MS);
  }

  async function start() {
    const loaders = [loadUniverse(), loadSettings(), loadLogLevel(), loadProfilerReport()];
    if (!state.polling) {
      state.polling = true;
      poll();
    }
    const results = await Promise.allSettled(loaders);
    for (const r of results) if (r.status === "rejected" && r.reason.status !== 401) console.warn(r.reason);
  }

  state.token = readToken();
  if (state.token) start();
  else askForToken();
})();
