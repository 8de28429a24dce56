// The IOC operations map: MapLibre GL JS, every layer of the registry, KPIs, live updates.
// Plain ES module, no bundler. State a test may read is exposed on window.__ioc.
import { TEXTS, VALUES } from "./i18n.js";

const config = JSON.parse(document.getElementById("ioc-config").textContent);
const FONT = ["IOC Sans Regular"];
const FONT_BOLD = ["IOC Sans Bold"];
const state = {
  lang: config.language || "vi",
  layers: [], // from /api/layers
  mode: null, // "tiles" (vector tiles from /tiles) or "geojson" (fallback endpoint)
  mapLayers: {}, // registry layer id → MapLibre layer ids
  visible: {},
  opacity: {},
  stats: null,
  metric: "",
  unit: "communes",
  events: [], // live change events received (for tests and the toast list)
  selectedCamera: null,
  tileVersion: {},
  ready: false,
};
window.__ioc = state;

const t = (key) => (TEXTS[state.lang] || TEXTS.vi)[key] ?? key;
const tv = (value) => (VALUES[state.lang] || VALUES.vi)[value] ?? value;
const title = (text) => (text ? text[state.lang] || text.vi : "");
const esc = (s) =>
  String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const url = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => encodeURIComponent(values[k]));

async function getJSON(path) {
  const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

// --- style: MapLibre layers from each registry layer's Style -----------------------------------
function colorExpr(style) {
  if (!style.color_by) return style.color;
  const expr = ["match", ["to-string", ["get", style.color_by.field]]];
  for (const [value, color] of Object.entries(style.color_by.values)) expr.push(value, color);
  expr.push(style.color);
  return expr;
}

function sourceLayer(id) {
  return state.mode === "tiles" ? { "source-layer": id } : {};
}

function styleLayers(layer) {
  const s = layer.style;
  const id = layer.id;
  const vis = layer.visible_by_default ? "visible" : "none";
  const out = [];
  const base = { source: id, ...sourceLayer(id), layout: { visibility: vis }, metadata: { ioc: id } };
  if (s.kind === "fill") {
    out.push({ ...base, id: `${id}:fill`, type: "fill", paint: { "fill-color": s.color, "fill-opacity": s.opacity } });
    out.push({
      ...base, id: `${id}:line`, type: "line",
      paint: { "line-color": s.outline || s.color, "line-width": s.width },
    });
    out.push({
      ...base, id: `${id}:highlight`, type: "line", filter: ["==", ["id"], -1],
      paint: { "line-color": "#00e5ff", "line-width": s.width + 3 },
    });
  } else if (s.kind === "line") {
    out.push({
      ...base, id: `${id}:line`, type: "line", layout: { visibility: vis, "line-cap": "round", "line-join": "round" },
      paint: { "line-color": colorExpr(s), "line-width": ["interpolate", ["linear"], ["zoom"], 8, s.width * 0.6, 14, s.width * 2], "line-opacity": s.opacity },
    });
  } else {
    if (s.secondary_geometry) {
      // A camera's field of view: drawn under the points, coloured by status like them.
      const fov = `${id}_${s.secondary_geometry}`;
      const fovBase = { ...base, source: state.mode === "tiles" ? id : fov, ...(state.mode === "tiles" ? { "source-layer": fov } : {}) };
      out.push({ ...fovBase, id: `${id}:fov`, type: "fill", minzoom: 12, paint: { "fill-color": colorExpr(s), "fill-opacity": 0.18 } });
      out.push({
        ...fovBase, id: `${id}:fov-selected`, type: "fill", filter: ["==", ["id"], -1],
        paint: { "fill-color": colorExpr(s), "fill-opacity": 0.45, "fill-outline-color": "#000000" },
      });
    }
    out.push({
      ...base, id: `${id}:cluster`, type: "circle", filter: [">", ["coalesce", ["get", "point_count"], 1], 1],
      paint: {
        "circle-color": s.color_by ? s.color : s.color, "circle-opacity": 0.75,
        "circle-radius": ["interpolate", ["linear"], ["get", "point_count"], 2, s.radius + 4, 100, s.radius + 14],
        "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5,
      },
    });
    out.push({
      ...base, id: `${id}:cluster-count`, type: "symbol", filter: [">", ["coalesce", ["get", "point_count"], 1], 1],
      layout: { visibility: vis, "text-field": ["to-string", ["get", "point_count"]], "text-font": FONT_BOLD, "text-size": 11, "text-allow-overlap": true },
      paint: { "text-color": "#ffffff" },
    });
    out.push({
      ...base, id: `${id}:circle`, type: "circle", filter: ["<=", ["coalesce", ["get", "point_count"], 1], 1],
      paint: {
        "circle-color": colorExpr(s), "circle-radius": ["interpolate", ["linear"], ["zoom"], 8, s.radius * 0.8, 15, s.radius * 1.8],
        "circle-stroke-color": s.outline || "#ffffff", "circle-stroke-width": 1, "circle-opacity": s.opacity,
      },
    });
  }
  if (s.label_field) {
    out.push({
      ...base, id: `${id}:label`, type: "symbol",
      minzoom: s.kind === "fill" ? (id === "communes" ? 8 : 7) : 13,
      filter: ["<=", ["coalesce", ["get", "point_count"], 1], 1],
      layout: {
        visibility: vis, "text-field": ["get", s.label_field], "text-font": s.kind === "fill" ? FONT_BOLD : FONT,
        "text-size": s.kind === "fill" ? 12 : 11, "text-max-width": 8,
        ...(s.kind === "fill" ? {} : { "text-offset": [0, 1.1], "text-anchor": "top" }),
      },
      paint: { "text-color": s.kind === "fill" ? (s.outline || "#333333") : "#263238", "text-halo-color": "#ffffff", "text-halo-width": 1.4 },
    });
  }
  return out;
}

async function detectMode() {
  // Vector tiles from tiles/ when they answer; else the viewer's GeoJSON fallback endpoint.
  try {
    const probe = state.layers.find((l) => l.access === "public" && l.kind === "features");
    const doc = await getJSON(url(config.urls.tilejson, { layer: probe.id }));
    return doc.tiles && doc.tiles.length ? "tiles" : "geojson";
  } catch (e) {
    console.warn("vector tiles unavailable, using the GeoJSON fallback", e);
    return "geojson";
  }
}

function tileUrl(layer) {
  const base = new URL(`/tiles/${layer.id}/{z}/{x}/{y}.mvt`, location.href).href.replace(/%7B/g, "{").replace(/%7D/g, "}");
  const v = state.tileVersion[layer.id];
  return v ? `${base}?v=${v}` : base;
}

function rasterUrl(id) {
  return new URL(config.raster_url.replace("{layer}", id), location.href).href.replace(/%7B/g, "{").replace(/%7D/g, "}");
}

function buildSources(layers) {
  const sources = {};
  for (const layer of layers) {
    if (layer.kind === "raster") {
      sources[layer.id] = { type: "raster", tiles: [rasterUrl(layer.id)], tileSize: 256, attribution: esc(layer.attribution) };
      continue;
    }
    if (layer.kind !== "features") continue;
    if (state.mode === "tiles") {
      sources[layer.id] = { type: "vector", tiles: [tileUrl(layer)], attribution: esc(layer.attribution), minzoom: 0, maxzoom: 16 };
      if (layer.extent) sources[layer.id].bounds = layer.extent;
    } else {
      sources[layer.id] = { type: "geojson", data: url(config.urls.geojson, { layer: layer.id }), attribution: esc(layer.attribution) };
      if (layer.style?.secondary_geometry) {
        sources[`${layer.id}_${layer.style.secondary_geometry}`] = {
          type: "geojson", data: `${url(config.urls.geojson, { layer: layer.id })}?geometry=${layer.style.secondary_geometry}`,
        };
      }
    }
  }
  return sources;
}

function buildStyle() {
  const sources = buildSources(state.layers);
  const layers = [{ id: "background", type: "background", paint: { "background-color": "#eef2f3" } }];
  if (config.basemap) {
    // settings.BASEMAP_URL, proxied and cached by MapProxy as its "basemap" layer.
    sources.basemap = { type: "raster", tiles: [rasterUrl("basemap")], tileSize: 256 };
    layers.push({ id: "basemap", type: "raster", source: "basemap", layout: { visibility: "visible" } });
  }
  for (const layer of state.layers.filter((l) => l.kind === "raster")) {
    const vis = layer.visible_by_default ? "visible" : "none";
    layers.push({ id: `${layer.id}:raster`, type: "raster", source: layer.id, layout: { visibility: vis }, paint: { "raster-opacity": 0.6 }, metadata: { ioc: layer.id } });
    state.mapLayers[layer.id] = [`${layer.id}:raster`];
    state.visible[layer.id] = layer.visible_by_default;
    state.opacity[layer.id] = 0.6;
  }
  // Draw polygons first, then lines, then points; labels last.
  const order = { fill: 0, line: 1, circle: 2 };
  const sorted = state.layers.filter((l) => l.kind === "features" && l.style).sort((a, b) => order[a.style.kind] - order[b.style.kind]);
  const labels = [];
  for (const layer of sorted) {
    const built = styleLayers(layer);
    state.mapLayers[layer.id] = built.map((l) => l.id);
    state.visible[layer.id] = layer.visible_by_default;
    state.opacity[layer.id] = 1;
    for (const l of built) (l.type === "symbol" ? labels : layers).push(l);
  }
  return { version: 8, glyphs: config.glyphs, sources, layers: [...layers, ...labels] };
}

// --- layer tree and legend -------------------------------------------------------------------
function legendHTML(layer) {
  const s = layer.style;
  if (!s) return "";
  const swatch = (color, kind) =>
    `<span class="swatch swatch-${kind}" style="--c:${esc(color)};--o:${esc(s.outline || color)}"></span>`;
  if (s.color_by) {
    return `<ul class="legend">${Object.entries(s.color_by.values)
      .map(([v, c]) => `<li>${swatch(c, s.kind)}${esc(tv(v))}</li>`).join("")}</ul>`;
  }
  return `<ul class="legend"><li>${swatch(s.color === "rgba(0,0,0,0)" ? "transparent" : s.color, s.kind)}${esc(title(layer.title))}</li></ul>`;
}

function renderLayerTree() {
  const groups = new Map();
  for (const layer of state.layers) {
    if (!groups.has(layer.group)) groups.set(layer.group, { title: layer.group_title, layers: [] });
    groups.get(layer.group).layers.push(layer);
  }
  const tree = document.getElementById("layer-tree");
  tree.innerHTML = "";
  for (const [key, group] of groups) {
    const box = document.createElement("details");
    box.open = true;
    box.className = "group";
    box.dataset.group = key;
    box.innerHTML = `<summary>${esc(title(group.title))}</summary>`;
    for (const layer of group.layers) {
      if (!state.mapLayers[layer.id]) continue;
      const item = document.createElement("div");
      item.className = "layer-item";
      item.dataset.layer = layer.id;
      item.innerHTML = `
        <label class="layer-toggle"><input type="checkbox" data-layer="${esc(layer.id)}" ${state.visible[layer.id] ? "checked" : ""}>
          <span>${esc(title(layer.title))}</span>${layer.access !== "public" ? `<span class="badge">${esc(layer.access)}</span>` : ""}</label>
        <label class="opacity"><span>${esc(t("opacity"))}</span>
          <input type="range" min="0" max="1" step="0.05" value="${state.opacity[layer.id]}" data-opacity="${esc(layer.id)}"></label>
        ${legendHTML(layer)}`;
      box.appendChild(item);
    }
    tree.appendChild(box);
  }
  tree.querySelectorAll("input[data-layer]").forEach((el) =>
    el.addEventListener("change", () => setLayerVisible(el.dataset.layer, el.checked)));
  tree.querySelectorAll("input[data-opacity]").forEach((el) =>
    el.addEventListener("input", () => setLayerOpacity(el.dataset.opacity, Number(el.value))));

  const bg = document.getElementById("background-tree");
  bg.innerHTML = "";
  bg.hidden = bg.previousElementSibling.hidden = !config.basemap;
  const entries = [];
  if (config.basemap) entries.push(["basemap", t("basemap")]);
  for (const [id, label] of entries) {
    const visible = map.getLayer(id) && map.getLayoutProperty(id, "visibility") !== "none";
    const row = document.createElement("label");
    row.className = "layer-toggle";
    row.innerHTML = `<input type="checkbox" data-background="${id}" ${visible ? "checked" : ""}> <span>${esc(label)}</span>`;
    row.querySelector("input").addEventListener("change", (e) =>
      map.setLayoutProperty(id, "visibility", e.target.checked ? "visible" : "none"));
    bg.appendChild(row);
  }
}

export function setLayerVisible(id, visible) {
  state.visible[id] = visible;
  for (const mapLayer of state.mapLayers[id] || []) map.setLayoutProperty(mapLayer, "visibility", visible ? "visible" : "none");
  const box = document.querySelector(`input[data-layer="${id}"]`);
  if (box) box.checked = visible;
}

const OPACITY_PROPS = { raster: ["raster-opacity"], fill: ["fill-opacity"], line: ["line-opacity"], circle: ["circle-opacity", "circle-stroke-opacity"], symbol: ["text-opacity"] };
function setLayerOpacity(id, value) {
  state.opacity[id] = value;
  const layer = state.layers.find((l) => l.id === id);
  for (const mapLayer of state.mapLayers[id] || []) {
    const type = map.getLayer(mapLayer).type;
    for (const prop of OPACITY_PROPS[type] || []) {
      let base = 1;
      if (type === "raster") base = 1;
      else if (prop === "fill-opacity") base = mapLayer.endsWith(":fov") ? 0.18 : mapLayer.endsWith(":fov-selected") ? 0.45 : layer.style.opacity;
      if (prop === "circle-opacity" || prop === "line-opacity") base = layer.style.opacity;
      map.setPaintProperty(mapLayer, prop, base * value);
    }
  }
}

// --- popups ------------------------------------------------------------------------------------
function fmt(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "number") return value.toLocaleString(state.lang === "en" ? "en-GB" : "vi-VN");
  if (/^\d{4}-\d\d-\d\dT/.test(value)) return new Date(value).toLocaleString(state.lang === "en" ? "en-GB" : "vi-VN");
  return String(value);
}

let popup = null;
async function openPopup(layerId, featureId, lngLat) {
  const layer = state.layers.find((l) => l.id === layerId);
  if (popup) popup.remove();
  popup = new maplibregl.Popup({ maxWidth: "360px", className: "ioc-popup" })
    .setLngLat(lngLat).setHTML(`<p>${esc(t("loading"))}</p>`).addTo(map);
  popup.getElement().dataset.layer = layerId;
  popup.getElement().dataset.feature = featureId;
  if (layer.style?.secondary_geometry) selectCamera(featureId);
  popup.on("close", () => { if (layer.style?.secondary_geometry) selectCamera(null); });
  try {
    const data = await getJSON(url(config.urls.feature, { layer: layerId, id: featureId }));
    let html = `<h3>${esc(title(layer.title))}</h3><table class="attrs">`;
    for (const [name, value] of Object.entries(data.properties)) {
      if (name === "version") continue;
      const shown = data.display[name] ?? value;
      html += `<tr data-field="${esc(name)}"><th>${esc(data.titles[name] || name)}</th><td>${esc(fmt(shown))}</td></tr>`;
    }
    html += "</table>";
    if (layerId === "field_reports") {
      const hist = await getJSON(url(config.urls.history, { id: featureId }));
      html += `<h4>${esc(t("history"))}</h4><ol class="history">${hist.history
        .map((h) => `<li><time>${esc(fmt(h.changed_at))}</time> <b>${esc(tv(h.to_status))}</b>${h.note ? ` — ${esc(h.note)}` : ""}</li>`)
        .join("")}</ol>`;
    }
    popup.setHTML(html);
    popup.getElement().dataset.loaded = "1";
    if (state.stats && layerId === state.stats.layer) showUnit(data.properties.code);
  } catch (e) {
    popup.setHTML(`<p class="error">${esc(e.message)}</p>`);
  }
}

function selectCamera(id) {
  state.selectedCamera = id;
  for (const l of state.layers) {
    if (!l.style?.secondary_geometry) continue;
    const mapId = `${l.id}:fov-selected`;
    if (map.getLayer(mapId)) map.setFilter(mapId, ["==", ["id"], id === null ? -1 : Number(id)]);
    if (id !== null && map.getLayer(`${l.id}:fov`)) map.setLayerZoomRange(`${l.id}:fov-selected`, 0, 24);
  }
}

function interactiveLayers() {
  return Object.values(state.mapLayers).flat().filter((id) => /:(circle|cluster|line|fill)$/.test(id) && map.getLayer(id));
}

function onMapClick(e) {
  const hits = map.queryRenderedFeatures(e.point, { layers: interactiveLayers() });
  if (!hits.length) return;
  // Points over lines over polygons.
  const rank = (f) => ({ circle: 0, cluster: 0, line: 1, fill: 2 })[f.layer.id.split(":")[1]] ?? 3;
  hits.sort((a, b) => rank(a) - rank(b));
  const hit = hits[0];
  const layerId = hit.layer.metadata?.ioc || hit.layer.id.split(":")[0];
  if ((hit.properties.point_count || 1) > 1) {
    map.easeTo({ center: e.lngLat, zoom: Math.min(map.getZoom() + 2, 16) });
    return;
  }
  const featureId = hit.id ?? hit.properties.id;
  openPopup(layerId, featureId, e.lngLat);
}

// --- dashboard -------------------------------------------------------------------------------
const RAMP = ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"];
async function loadStats() {
  state.stats = await getJSON(`${config.urls.stats}?by=${state.unit}`);
  renderDashboard();
  applyChoropleth();
}

function renderDashboard() {
  const select = document.getElementById("metric-select");
  const stats = state.stats;
  if (!stats) return;
  select.innerHTML = `<option value="">${esc(t("none"))}</option>` + stats.metrics
    .map((m) => `<option value="${esc(m.id)}" ${m.id === state.metric ? "selected" : ""}>${esc(title(m.title))}</option>`).join("");
  const totals = {};
  for (const u of stats.units) for (const [k, v] of Object.entries(u.values)) totals[k] = (totals[k] || 0) + (v || 0);
  document.getElementById("totals").innerHTML = `<table class="kpis">${stats.metrics
    .map((m) => `<tr data-metric="${esc(m.id)}"><th>${esc(title(m.title))}</th><td>${esc(fmt(totals[m.id]))}</td></tr>`).join("")}</table>` +
    (stats.metrics.some((m) => m.layer === "cameras") || config.user.authenticated ? "" : `<p class="hint">${esc(t("hidden_metrics"))}</p>`);
  if (!document.getElementById("unit-summary").dataset.code) {
    document.getElementById("unit-summary").innerHTML = `<p class="hint">${esc(t("click_unit"))}</p>`;
  } else {
    showUnit(document.getElementById("unit-summary").dataset.code);
  }
}

function showUnit(code) {
  const box = document.getElementById("unit-summary");
  const unit = state.stats?.units.find((u) => u.code === code);
  if (!unit) return;
  box.dataset.code = code;
  let html = `<h3>${esc(unit.full_name || unit.name)}</h3><table class="kpis">${state.stats.metrics
    .map((m) => `<tr data-metric="${esc(m.id)}"><th>${esc(title(m.title))}</th><td>${esc(fmt(unit.values[m.id]))}</td></tr>`).join("")}</table>`;
  if (unit.predecessors?.length) {
    html += `<p class="formed-from"><b>${esc(t("formed_from"))}:</b> ${unit.predecessors
      .map((p) => esc(`${p.name}${p.district ? ` (${p.district})` : ""}`)).join("; ")}</p>`;
  }
  box.innerHTML = html;
  const layerId = state.stats.layer;
  const hit = map.querySourceFeatures(layerId, state.mode === "tiles" ? { sourceLayer: layerId } : {}).find((f) => f.properties.code === code);
  if (hit && map.getLayer(`${layerId}:highlight`)) map.setFilter(`${layerId}:highlight`, ["==", ["get", "code"], code]);
}

function applyChoropleth() {
  const legend = document.getElementById("choropleth-legend");
  for (const id of ["communes", "districts_2024"]) {
    const layer = state.layers.find((l) => l.id === id);
    if (layer && map.getLayer(`${id}:fill`)) {
      map.setPaintProperty(`${id}:fill`, "fill-color", layer.style.color);
      map.setPaintProperty(`${id}:fill`, "fill-opacity", layer.style.opacity * (state.opacity[id] ?? 1));
    }
  }
  legend.innerHTML = "";
  if (!state.metric || !state.stats) return;
  const layerId = state.stats.layer;
  const values = state.stats.units.map((u) => u.values[state.metric] ?? 0);
  const max = Math.max(1, ...values);
  const expr = ["match", ["get", "code"]];
  for (const u of state.stats.units) {
    const v = u.values[state.metric] ?? 0;
    expr.push(u.code, RAMP[Math.min(RAMP.length - 1, Math.floor((v / max) * (RAMP.length - 1e-9)))]);
  }
  expr.push("rgba(0,0,0,0)");
  if (!map.getLayer(`${layerId}:fill`)) return;
  setLayerVisible(layerId, true);
  map.setPaintProperty(`${layerId}:fill`, "fill-color", expr);
  map.setPaintProperty(`${layerId}:fill`, "fill-opacity", 0.75);
  legend.innerHTML = RAMP.map((c, i) =>
    `<span><i style="background:${c}"></i>${fmt(Math.round((i / RAMP.length) * max))}–${fmt(Math.round(((i + 1) / RAMP.length) * max))}</span>`).join("");
}

// --- search ----------------------------------------------------------------------------------
let searchTimer = null;
let searchSeq = 0;
async function runSearch(q) {
  const list = document.getElementById("search-results");
  if (!q.trim()) { list.hidden = true; return; }
  const seq = ++searchSeq;
  const data = await getJSON(`${config.urls.search}?q=${encodeURIComponent(q)}`);
  if (seq !== searchSeq) return;
  list.innerHTML = data.results.length
    ? data.results.map((r, i) =>
      `<li role="option" data-i="${i}" data-layer="${esc(r.layer)}"><b>${esc(r.label)}</b> <small>${esc(title(r.layer_title))}</small></li>`).join("")
    : `<li class="empty">${esc(t("no_results"))}</li>`;
  list.hidden = false;
  list.querySelectorAll("li[data-i]").forEach((li) => li.addEventListener("click", () => {
    const r = data.results[Number(li.dataset.i)];
    list.hidden = true;
    if (!state.visible[r.layer]) setLayerVisible(r.layer, true);
    const [x0, y0, x1, y1] = r.bbox;
    if (x0 === x1 && y0 === y1) map.flyTo({ center: r.center, zoom: 15 });
    else map.fitBounds([[x0, y0], [x1, y1]], { padding: 60, maxZoom: 15 });
    map.once("moveend", () => openPopup(r.layer, r.id, r.center));
  }));
}

// --- live updates (server-sent events) -----------------------------------------------------
function toast(text) {
  const box = document.getElementById("toasts");
  const el = document.createElement("div");
  el.className = "toast";
  el.textContent = text;
  box.appendChild(el);
  setTimeout(() => el.remove(), 6000);
}

function refreshSource(layerId, version) {
  const layer = state.layers.find((l) => l.id === layerId);
  if (!layer) return;
  if (state.mode === "tiles") {
    state.tileVersion[layerId] = version || Date.now();
    map.getSource(layerId)?.setTiles([tileUrl(layer)]);
  } else {
    const data = url(config.urls.geojson, { layer: layerId });
    map.getSource(layerId)?.setData(`${data}?v=${version || Date.now()}`);
    if (layer.style?.secondary_geometry) {
      map.getSource(`${layerId}_${layer.style.secondary_geometry}`)?.setData(`${data}?geometry=${layer.style.secondary_geometry}&v=${version || Date.now()}`);
    }
  }
}

const pending = new Map();
function onChange(event) {
  const change = JSON.parse(event.data);
  state.events.push({ ...change, received_at: Date.now() });
  // Coalesce bursts (an import of 1,000 rows) into one refresh per layer.
  for (const id of [change.layer, change.old_layer]) {
    if (!id || pending.has(id)) continue;
    // Refresh at once, and again a moment later: the tile cache's listener invalidates the
    // tiles on the same notification, possibly just after our first request.
    pending.set(id, setTimeout(() => {
      pending.delete(id);
      refreshSource(id, change.history_id);
      setTimeout(() => refreshSource(id, `${change.history_id}b`), 700);
    }, 100));
  }
  let text = null;
  if (change.layer === "field_reports") text = change.op === "I" ? t("new_report") : t("report_changed");
  else if (change.layer === "cameras") text = t("camera_changed");
  if (text === null) return;
  if (change.op === "D") { toast(`${text} #${change.id} ${t("deleted")}`); return; }
  scheduleStats();
  getJSON(url(config.urls.feature, { layer: change.layer, id: change.id }))
    .then((f) => {
      const p = f.properties;
      const label = p.title || p.name || p.tracking_code || `#${change.id}`;
      const status = f.display.status || p.status || "";
      toast(`${text}: ${label}${status ? ` — ${status}` : ""}`);
    })
    .catch(() => toast(`${text} #${change.id}`));
}

let statsTimer = null;
function scheduleStats() {
  clearTimeout(statsTimer);
  statsTimer = setTimeout(() => loadStats().catch((e) => console.error(e)), 1000);
}

function connectEvents() {
  const source = new EventSource(config.urls.events);
  source.addEventListener("change", onChange);
  source.addEventListener("open", () => document.body.classList.remove("live-lost"));
  source.addEventListener("error", () => document.body.classList.add("live-lost"));
  // The server ends a stream after its lifetime with "bye"; EventSource reconnects by itself
  // (retry: 2 s) and sends Last-Event-ID, so changes in between are caught up.
  state.eventSource = source;
}

// --- language --------------------------------------------------------------------------------
function applyLanguage() {
  document.documentElement.lang = state.lang;
  document.title = t("title");
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  document.querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = t(el.dataset.i18nTitle); });
  document.querySelectorAll(".lang-switch button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.lang === state.lang)));
  if (state.ready) { renderLayerTree(); renderDashboard(); }
}

function setLanguage(lang) {
  state.lang = lang;
  applyLanguage();
  // Remember it server-side too (Django's set_language), without leaving the map.
  const csrf = config.csrf_token;
  fetch(config.urls.setlang, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": csrf },
    body: `language=${lang}&next=/`, redirect: "manual",
  }).catch(() => {});
}

// --- start -----------------------------------------------------------------------------------
let map;
async function main() {
  applyLanguage();
  document.querySelectorAll(".lang-switch button").forEach((b) => b.addEventListener("click", () => setLanguage(b.dataset.lang)));
  document.getElementById("toggle-layers").addEventListener("click", () => document.body.classList.toggle("hide-left"));
  document.getElementById("toggle-dashboard").addEventListener("click", () => document.body.classList.toggle("hide-right"));
  const input = document.getElementById("search-input");
  input.addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => runSearch(input.value), 200); });
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") { clearTimeout(searchTimer); runSearch(input.value); } });

  const data = await getJSON(config.urls.layers);
  state.layers = data.layers;
  state.mode = await detectMode();
  const [x0, y0, x1, y1] = config.bbox;
  map = new maplibregl.Map({
    container: "map",
    style: buildStyle(),
    bounds: [[x0, y0], [x1, y1]],
    fitBoundsOptions: { padding: 20 },
    attributionControl: { compact: false },
    hash: false,
  });
  window.iocMap = map;
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  map.on("click", onMapClick);
  map.on("mousemove", (e) => {
    const hits = map.queryRenderedFeatures(e.point, { layers: interactiveLayers() });
    map.getCanvas().style.cursor = hits.length ? "pointer" : "";
  });
  document.getElementById("unit-select").addEventListener("change", (e) => {
    state.unit = e.target.value;
    document.getElementById("unit-summary").dataset.code = "";
    loadStats();
  });
  document.getElementById("metric-select").addEventListener("change", (e) => { state.metric = e.target.value; applyChoropleth(); });
  await new Promise((resolve) => map.once("load", resolve));
  renderLayerTree();
  state.ready = true;
  document.body.dataset.mode = state.mode;
  loadStats().catch((e) => console.error(e));
  connectEvents();
}

main().catch((e) => {
  console.error(e);
  document.body.dataset.error = e.message;
});
