// Time from navigation to the map's first `idle` (default layers drawn) and the bytes the
// first view transfers, in Debian's headless Chromium. Used by viewer/bench.py.
//   node tests/browser/bench.mjs '{"url": "...", "runs": 3}'
import { chromium } from "playwright-core";

const args = JSON.parse(process.argv[2]);
const browser = await chromium.launch({
  executablePath: args.chromium || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
});
const runs = [];
try {
  for (let i = 0; i < (args.runs || 3); i++) {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    // Playwright sees the requests of MapLibre's web workers (tiles) too.
    let bytes = 0;
    let requests = 0;
    const sizes = [];
    context.on("requestfinished", (req) => {
      requests += 1;
      sizes.push(req.sizes().then((s) => { bytes += s.responseBodySize + s.responseHeadersSize; }).catch(() => {}));
    });
    const t0 = Date.now();
    await page.goto(`${args.url}/`, { waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => window.__ioc && window.__ioc.ready && window.iocMap, null, { timeout: 60000 });
    await page.evaluate(() => new Promise((resolve) => {
      const map = window.iocMap;
      if (map.loaded() && map.areTilesLoaded()) resolve(); else map.once("idle", resolve);
    }));
    const idleMs = Date.now() - t0;
    await Promise.all(sizes);
    runs.push({ idle_ms: idleMs, bytes, requests });
    await context.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(`RESULT ${JSON.stringify({ runs })}\n`);
