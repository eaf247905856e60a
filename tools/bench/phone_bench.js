// SPDX-License-Identifier: MIT
// The share page on a phone over a slow link (issue 18's figures; scripts/bench_phone.sh runs
// it): Debian's headless Chromium, a 412x915 phone at device scale 2.6 with touch, a cold
// cache, and the Chrome DevTools protocol's network emulation (Network.emulateNetworkConditions)
// of WebPageTest's profiles: 3G, 1.6 Mbit/s down, 768 kbit/s up, 300 ms round trip; 4G,
// 9 Mbit/s both ways, 170 ms. A measurement, not a test: it prints figures and checks only that
// it measured something.
//
// Per run: open the link, tap the first series as soon as it shows (as an impatient patient
// would), and wait for the first slice to be painted:
//   first_slice_s   seconds from the start of navigation to the first slice's image loaded
//                   (performance.now() in the page, so the emulated latency counts, the
//                   browser's start-up does not)
//   page_in_s, slice_asked_s, slice_in_s: where that time went (the page's last byte, the
//                   tap's request for the slice sent, the slice's last byte)
//   bytes_before    bytes over the wire (Resource Timing transferSize: headers and body as
//                   sent, gzip included) of every response that ended before that moment: the
//                   page, the thumbnails, the series' instance list and the slice
// then drag a finger steadily through the series, one slice step every 50 ms (20 slices/s
// asked) for 6 s, and count the slices actually painted:
//   slices_per_s    distinct slices painted during the drag, per second
//   catch_up_s      seconds after the drag ends until its last slice is painted
//
// usage: node phone_bench.js LINK PROFILE [RUNS]     (PROFILE: 3g or 4g; RUNS default 3)
// Prints one JSON object per run and a last line "MEDIAN {...}".
'use strict';
const { chromium } = require('playwright-core');

const PROFILES = {
  '3g': { downloadThroughput: 1.6e6 / 8, uploadThroughput: 768e3 / 8, latency: 300 },
  '4g': { downloadThroughput: 9e6 / 8, uploadThroughput: 9e6 / 8, latency: 170 },
};
const DRAG_MS = 6000;
const STEP_MS = 50;

async function run(browser, link, profile) {
  const context = await browser.newContext({ viewport: { width: 412, height: 915 },
    deviceScaleFactor: 2.6, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, ...profile });
  // Every slice painted, with its time, recorded by the page itself from its first moment.
  await page.addInitScript(() => {
    window.__painted = [];
    document.addEventListener('load', (e) => {
      if (e.target && e.target.id === 'vi' && e.target.src) {
        window.__painted.push({ t: performance.now(), src: e.target.src });
      }
    }, true);
  });
  await page.goto(link, { waitUntil: 'commit', timeout: 120000 });
  await page.locator('.s').first().tap({ timeout: 120000 });
  await page.waitForFunction(() => window.__painted.length > 0, null, { timeout: 120000, polling: 50 });
  const first = await page.evaluate(() => {
    const t = window.__painted[0].t;
    const nav = performance.getEntriesByType('navigation')[0];
    let bytes = nav ? nav.transferSize : 0;
    let slice = null;
    for (const r of performance.getEntriesByType('resource')) {
      if (r.responseEnd <= t) bytes += r.transferSize;
      if (!slice && /\/rendered\?/.test(r.name)) slice = r;
    }
    // Where the time went: the page in, the tap's request sent, the slice in.
    return { t, bytes, page: nav ? nav.responseEnd : 0, asked: slice ? slice.startTime : 0,
      got: slice ? slice.responseEnd : 0 };
  });
  // The series' list must be in before scrolling means anything.
  await page.waitForFunction(() => /^\d+ \/ \d+$/.test(document.getElementById('vn').innerText),
    null, { timeout: 120000 });
  const total = Number((await page.locator('#vn').innerText()).split('/')[1]);
  const step = await page.evaluate((n) => Math.max(6, (0.5 * document.getElementById('vs').clientHeight) / n), total);
  const x = 206;
  const y0 = 780; // above the bottom bar (presets, slider)
  const steps = DRAG_MS / STEP_MS;
  const touch = (type, pts) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: pts.map(([px, py]) => ({ x: px, y: py })) });
  const start = await page.evaluate(() => performance.now());
  await touch('touchStart', [[x, y0]]);
  const wall0 = Date.now();
  for (let i = 1; i <= steps; i++) {
    const due = wall0 + i * STEP_MS;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    // Up moves on, one slice a step, from low on the screen (a 300-slice series has 6-pixel
    // steps: 120 of them fit).
    await touch('touchMove', [[x, Math.max(10, y0 - i * step)]]);
  }
  const end = await page.evaluate(() => performance.now());
  await touch('touchEnd', []);
  const target = await page.locator('#vn').innerText();
  // Wait (bounded) for the slice the drag ended on to be painted.
  await page.waitForFunction(() => document.getElementById('vw').hidden, null, { timeout: 120000 }).catch(() => {});
  const after = await page.evaluate(() => performance.now());
  const painted = await page.evaluate(() => window.__painted);
  const during = new Set(painted.filter((p) => p.t > start && p.t <= end).map((p) => p.src)).size;
  const last = painted.length ? painted[painted.length - 1].t : after;
  await context.close();
  return {
    first_slice_s: +(first.t / 1000).toFixed(2),
    bytes_before: first.bytes,
    page_in_s: +(first.page / 1000).toFixed(2),
    slice_asked_s: +(first.asked / 1000).toFixed(2),
    slice_in_s: +(first.got / 1000).toFixed(2),
    slices_per_s: +(during / ((end - start) / 1000)).toFixed(1),
    catch_up_s: +(Math.max(0, last - end) / 1000).toFixed(2),
    drag_s: +((end - start) / 1000).toFixed(1),
    ended_on: target,
  };
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

(async () => {
  const [link, name, runsText] = process.argv.slice(2);
  const profile = PROFILES[name];
  if (!link || !profile) throw new Error('usage: node phone_bench.js LINK 3g|4g [RUNS]');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const results = [];
  try {
    for (let i = 0; i < Number(runsText || 3); i++) {
      const r = await run(browser, link, profile);
      console.log(JSON.stringify({ profile: name, run: i + 1, ...r }));
      results.push(r);
    }
  } finally {
    await browser.close();
  }
  if (!results.length || !(results[0].bytes_before > 0)) throw new Error('nothing was measured');
  const m = {};
  for (const k of ['first_slice_s', 'page_in_s', 'slice_asked_s', 'slice_in_s', 'bytes_before',
    'slices_per_s', 'catch_up_s']) {
    m[k] = median(results.map((r) => r[k]));
  }
  console.log('MEDIAN ' + JSON.stringify({ profile: name, runs: results.length, ...m }));
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
