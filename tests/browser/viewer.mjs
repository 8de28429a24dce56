// Drives the map viewer in Debian's headless Chromium (playwright-core, never a downloaded
// browser) and prints one JSON line of results for tests/test_viewer_browser.py.
//
//   node tests/browser/viewer.mjs '{"url": "...", "artifacts": "...", "camera": {...}, ...}'
//
// Protocol for the live-update step: the script prints `NEED_REPORT {"lon":..,"lat":..}` and
// waits for a line `REPORT <id>` on stdin (the Python side creates the report by then).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const args = JSON.parse(process.argv[2]);
const BASE = args.url;
const ART = args.artifacts;
mkdirSync(ART, { recursive: true });
const out = { checks: {}, timings: {}, errors: [], requests: {} };
const stdinLines = createInterface({ input: process.stdin });
const lineWaiters = [];
const lines = [];
stdinLines.on("line", (l) => (lineWaiters.length ? lineWaiters.shift()(l) : lines.push(l)));
const nextLine = () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => lineWaiters.push(r)));

// playwright-core gives every launch a fresh temporary --user-data-dir (it refuses one in args).
const browser = await chromium.launch({
  executablePath: args.chromium || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
  ],
});

async function idle(page, timeout = 30000) {
  await page.waitForFunction(() => window.__ioc && window.__ioc.ready && window.iocMap, null, { timeout });
  await page.evaluate(
    (ms) => new Promise((resolve, reject) => {
      const map = window.iocMap;
      const timer = setTimeout(() => reject(new Error("map did not become idle")), ms);
      const done = () => { clearTimeout(timer); resolve(); };
      if (map.loaded() && map.areTilesLoaded() && !map.isMoving()) { map.once("idle", done); map.triggerRepaint(); } else map.once("idle", done);
    }),
    timeout,
  );
}

const rendered = (page, layers) =>
  page.evaluate((ls) => {
    const map = window.iocMap;
    const have = ls.filter((l) => map.getLayer(l));
    return have.length ? map.queryRenderedFeatures({ layers: have }).length : 0;
  }, layers);

function record(page, bucket) {
  const log = [];
  page.on("response", async (resp) => {
    const entry = { url: resp.url(), status: resp.status(), type: resp.headers()["content-type"] || "" };
    log.push(entry);
    if (/json/.test(entry.type) && !/event-stream/.test(entry.type)) {
      try { entry.body = await resp.text(); } catch { /* navigation/stream */ }
    }
  });
  page.on("console", (m) => { if (m.type() === "error") out.errors.push(`${bucket}: ${m.text()}`); });
  page.on("pageerror", (e) => out.errors.push(`${bucket}: ${e.message}`));
  out.requests[bucket] = log;
  return log;
}

try {
  // ---------------------------------------------------------------- anonymous visitor
  const anon = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "vi-VN" });
  const page = await anon.newPage();
  const anonLog = record(page, "anonymous");
  const t0 = Date.now();
  await page.goto(`${BASE}/`, { waitUntil: "domcontentloaded" });
  await idle(page);
  out.timings.first_idle_ms = Date.now() - t0;
  out.checks.mode = await page.evaluate(() => window.__ioc.mode);
  out.checks.lang_default = await page.evaluate(() => document.documentElement.lang);
  out.checks.title_vi = await page.textContent("h1");
  out.checks.tree_layers = await page.$$eval("input[data-layer]", (els) => els.map((e) => e.dataset.layer));
  out.checks.rendered_default = {};
  for (const id of ["communes", "province", "schools", "health_facilities", "field_reports", "road_segments"]) {
    out.checks.rendered_default[id] = await rendered(page, [`${id}:fill`, `${id}:line`, `${id}:circle`, `${id}:cluster`]);
  }
  out.checks.attribution = await page.textContent(".maplibregl-ctrl-attrib");
  await page.screenshot({ path: join(ART, "01-anonymous-default.png") });

  // Toggling a layer changes what is rendered.
  await page.uncheck('input[data-layer="schools"]');
  await idle(page);
  const schoolsOff = await rendered(page, ["schools:circle", "schools:cluster"]);
  await page.check('input[data-layer="schools"]');
  await idle(page);
  const schoolsOn = await rendered(page, ["schools:circle", "schools:cluster"]);
  out.checks.toggle = { off: schoolsOff, on: schoolsOn };

  // Search without diacritics finds "Đồng Hỷ"; the label renders with local glyphs.
  await page.fill("#search-input", "dong hy");
  await page.waitForSelector("#search-results li[data-i]", { timeout: 10000 });
  out.checks.search_results = await page.$$eval("#search-results li[data-i] b", (els) => els.map((e) => e.textContent));
  const target = await page.$$("#search-results li[data-i]");
  let clicked = false;
  for (const li of target) {
    if ((await li.getAttribute("data-layer")) === "communes") { await li.click(); clicked = true; break; }
  }
  if (!clicked && target.length) await target[0].click();
  await page.waitForTimeout(300);
  await idle(page);
  await page.waitForTimeout(500);
  out.checks.labels = await page.evaluate(() =>
    window.iocMap.queryRenderedFeatures({ layers: ["communes:label"] }).map((f) => f.properties.name));
  out.checks.popup_after_search = await page.$eval(".maplibregl-popup", (el) => el.textContent).catch(() => null);
  out.checks.glyph_requests = anonLog.filter((r) => r.url.includes("/glyphs/")).map((r) => [decodeURIComponent(r.url.split("/glyphs/")[1]), r.status]);
  await page.screenshot({ path: join(ART, "02-search-dong-hy.png") });

  // Language switch.
  await page.click("#lang-en");
  out.checks.title_en = await page.textContent("h1");
  out.checks.groups_en = await page.$$eval("#layer-tree summary", (els) => els.map((e) => e.textContent));
  out.checks.placeholder_en = await page.getAttribute("#search-input", "placeholder");
  await page.screenshot({ path: join(ART, "03-english.png") });
  await page.click("#lang-vi");
  out.checks.title_back = await page.textContent("h1");

  // Dashboard: stats loaded, choropleth of a metric.
  await page.waitForFunction(() => window.__ioc.stats, null, { timeout: 10000 });
  out.checks.metrics_anonymous = await page.evaluate(() => window.__ioc.stats.metrics.map((m) => m.id));
  await page.selectOption("#metric-select", "schools");
  await idle(page);
  out.checks.choropleth = await page.evaluate(() => JSON.stringify(window.iocMap.getPaintProperty("communes:fill", "fill-color")).slice(0, 40));
  await page.screenshot({ path: join(ART, "04-choropleth.png") });
  await page.selectOption("#metric-select", "");

  // Live update: a report created on the server appears within 2 s.
  const center = args.report_at;
  await page.evaluate((c) => window.iocMap.jumpTo({ center: c, zoom: 14 }), center);
  await idle(page);
  await page.waitForFunction(() => window.__ioc.eventSource && window.__ioc.eventSource.readyState === 1, null, { timeout: 10000 });
  process.stdout.write(`NEED_REPORT ${JSON.stringify({ lon: center[0], lat: center[1] })}\n`);
  const reportId = Number((await nextLine()).split(" ")[1]);
  const tLive = Date.now();
  let liveMs = null;
  while (Date.now() - tLive < 5000) {
    const found = await page.evaluate((id) => window.iocMap.queryRenderedFeatures({ layers: ["field_reports:circle"] })
      .some((f) => Number(f.id ?? f.properties.id) === id), reportId);
    if (found) { liveMs = Date.now() - tLive; break; }
    await page.waitForTimeout(50);
  }
  out.timings.live_report_ms = liveMs;
  out.checks.live_event = await page.evaluate((id) => window.__ioc.events.some((e) => e.layer === "field_reports" && e.id === id), reportId);
  await page.waitForTimeout(300);
  out.checks.toast = await page.$$eval(".toast", (els) => els.map((e) => e.textContent));
  await page.screenshot({ path: join(ART, "05-live-report.png") });

  // Restricted data never reaches the anonymous page.
  const restricted = args.restricted_layers;
  out.checks.anonymous_restricted_requests = anonLog
    .filter((r) => restricted.some((id) => r.url.includes(`/tiles/${id}`) || r.url.includes(`/${id}/`) || r.url.includes(`geojson/${id}`)))
    .map((r) => r.url);
  out.checks.anonymous_restricted_fields = anonLog
    .filter((r) => r.body && args.restricted_fields.some((f) => r.body.includes(`"${f}"`)))
    .map((r) => r.url);
  out.checks.anonymous_layers_body_has_restricted = anonLog
    .filter((r) => r.url.endsWith("/api/layers") && r.body)
    .some((r) => restricted.some((id) => r.body.includes(`"id": "${id}"`) || r.body.includes(`"id":"${id}"`)));
  await anon.close();

  // ---------------------------------------------------------------- operator
  const opCtx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const op = await opCtx.newPage();
  const opLog = record(op, "operator");
  await op.goto(`${BASE}/`, { waitUntil: "domcontentloaded" });
  await op.click("#login");
  await op.fill("#id_username", args.operator.username);
  await op.fill("#id_password", args.operator.password);
  await Promise.all([op.waitForURL(`${BASE}/`), op.click('input[type="submit"], button[type="submit"]')]);
  await idle(op);
  out.checks.operator_tree_layers = await op.$$eval("input[data-layer]", (els) => els.map((e) => e.dataset.layer));
  out.checks.metrics_operator = await op.waitForFunction(() => window.__ioc.stats && window.__ioc.stats.metrics.map((m) => m.id), null, { timeout: 10000 }).then((h) => h.jsonValue());
  const cam = args.camera;
  // Traffic nodes (licence-plate cameras) may sit on the same spot: keep the click on cameras.
  if (await op.$('input[data-layer="traffic_nodes"]')) await op.uncheck('input[data-layer="traffic_nodes"]');
  await op.evaluate((c) => window.iocMap.jumpTo({ center: c.at, zoom: 16 }), cam);
  await idle(op);
  const point = await op.evaluate((c) => { const p = window.iocMap.project(c.at); return [p.x, p.y]; }, cam);
  const box = await op.$eval("#map", (el) => { const r = el.getBoundingClientRect(); return [r.left, r.top]; });
  await op.mouse.click(box[0] + point[0], box[1] + point[1]);
  await op.waitForSelector(".maplibregl-popup[data-loaded='1']", { timeout: 10000 });
  out.checks.camera_popup = {
    layer: await op.$eval(".maplibregl-popup", (el) => el.dataset.layer),
    feature: await op.$eval(".maplibregl-popup", (el) => Number(el.dataset.feature)),
    fields: await op.$$eval(".maplibregl-popup tr[data-field]", (els) => els.map((e) => e.dataset.field)),
  };
  await idle(op);
  out.checks.camera_fov_selected = await op.evaluate(() =>
    window.iocMap.queryRenderedFeatures({ layers: ["cameras:fov-selected"] }).map((f) => f.id));
  out.checks.camera_fov_all = await rendered(op, ["cameras:fov"]);
  await op.screenshot({ path: join(ART, "06-operator-camera.png") });
  out.checks.operator_camera_tiles = opLog.filter((r) => r.url.includes("/tiles/cameras") || r.url.includes("geojson/cameras")).length;
  await opCtx.close();
} catch (e) {
  out.fatal = `${e.name}: ${e.message}`;
} finally {
  await browser.close();
  out.failed = Object.values(out.requests).flat().filter((r) => r.status >= 400).map((r) => `${r.status} ${r.url}`);
  for (const log of Object.values(out.requests)) for (const r of log) delete r.body;
  out.requests = Object.fromEntries(Object.entries(out.requests).map(([k, v]) => [k, v.length]));
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
  process.exit(0);
}
