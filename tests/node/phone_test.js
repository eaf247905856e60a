// SPDX-License-Identifier: MIT
// The share page on a phone (issue 18), in Debian's headless Chromium driven by playwright-core
// with touch emulation. Exits non-zero on the first failed check; screenshots go to OUTDIR.
// What the screen shows is judged from screenshots (decoded in a blank page of the same
// browser), never from the page's own variables.
//
// usage: node phone_test.js page LINK OUTDIR SERIES [REPORT_TEXT|-] [NAME_PART]
//          on a 412x915 phone at device scale 2.6 and on a 360x640 one: the page lists SERIES
//          series (and shows REPORT_TEXT in the report, or no report for "-"); a tap on the
//          first opens a slice that fills at least 90% of the screen width with non-uniform
//          pixels; a swipe changes the slice; a window preset changes the pixels; pinch zooms
//          and a double tap resets; the slice saves as a JPEG; the page switches to English
//        node phone_test.js studies LINK OUTDIR STUDY_UID... -- NOT_UID...
//          the page lists exactly these studies (a patient link), each with its series
'use strict';
const { chromium } = require('playwright-core');

const [mode, ...args] = process.argv.slice(2);
const started = Date.now();

function check(cond, what) {
  if (!cond) {
    throw new Error('check failed: ' + what);
  }
  console.log(`ok - [${((Date.now() - started) / 1000).toFixed(1)} s] ${what}`);
}

const PHONES = [
  { name: 'pixel', width: 412, height: 915, scale: 2.6 },
  { name: 'small', width: 360, height: 640, scale: 2 },
];

async function launch() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
}

async function phone(browser, p) {
  const context = await browser.newContext({ viewport: { width: p.width, height: p.height },
    deviceScaleFactor: p.scale, isMobile: true, hasTouch: true, acceptDownloads: true,
    userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) ' +
      'Chrome/120.0 Mobile Safari/537.36' });
  // The decoder (about:blank: no CSP, for decoding screenshots) is opened first: the page opened
  // last is the one in front, and Chromium paces a page behind it to about one frame a second,
  // each touch event waiting for a frame (the test took 80 s instead of 20).
  const decoder = await context.newPage();
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push('console: ' + m.text());
  });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`); });
  return { context, page, problems, decoder };
}

// A screenshot's pixels inside `rect` (CSS pixels): how many grey levels, the spread, a hash.
async function pixels(ph, rect) {
  const png = (await ph.page.screenshot()).toString('base64');
  return ph.decoder.evaluate(async ([b64, r, scale]) => {
    const im = new Image();
    im.src = 'data:image/png;base64,' + b64;
    await im.decode();
    const c = document.createElement('canvas');
    c.width = im.naturalWidth;
    c.height = im.naturalHeight;
    const g = c.getContext('2d');
    g.drawImage(im, 0, 0);
    const x0 = Math.max(0, Math.round(r.x * scale));
    const y0 = Math.max(0, Math.round(r.y * scale));
    const w = Math.min(c.width - x0, Math.round(r.w * scale));
    const h = Math.min(c.height - y0, Math.round(r.h * scale));
    const data = g.getImageData(x0, y0, w, h).data;
    const levels = new Set();
    let sum = 0;
    let sum2 = 0;
    let hash = 0;
    let lit = 0;
    for (let i = 0; i < data.length; i += 4) {
      const v = (data[i] + data[i + 1] + data[i + 2]) / 3;
      levels.add(Math.round(v));
      sum += v;
      sum2 += v * v;
      if (v > 30) lit++;
      hash = (Math.imul(hash, 31) + Math.round(v)) >>> 0;
    }
    const n = data.length / 4;
    const mean = sum / n;
    return { levels: levels.size, sd: Math.sqrt(Math.max(0, sum2 / n - mean * mean)), mean, lit: lit / n, hash, w, h };
  }, [png, rect, ph.scale]);
}

// The rectangle the slice is drawn in (object-fit: contain, before any zoom), in CSS pixels.
async function sliceRect(page) {
  return page.evaluate(() => {
    const im = document.getElementById('vi');
    const r = im.getBoundingClientRect();
    if (!im.naturalWidth || !im.naturalHeight) return null;
    const s = Math.min(r.width / im.naturalWidth, r.height / im.naturalHeight);
    const w = im.naturalWidth * s;
    const h = im.naturalHeight * s;
    return { x: r.x + (r.width - w) / 2, y: r.y + (r.height - h) / 2, w, h,
      natural: [im.naturalWidth, im.naturalHeight], screen: [innerWidth, innerHeight], src: im.src };
  });
}

// Waits (bounded) until the viewer shows a loaded slice other than `notSrc`.
async function waitSlice(page, notSrc, ms) {
  await page.waitForFunction((prev) => {
    const im = document.getElementById('vi');
    return im && im.src && im.src !== prev && im.complete && im.naturalWidth > 0 &&
      document.getElementById('vw').hidden;
  }, notSrc || '', { timeout: ms });
  await page.waitForTimeout(150); // one more frame painted
  return sliceRect(page);
}

const counter = (page) => page.locator('#vn').innerText();

// A touch event; `at` (seconds since the epoch) sets its time, so that a loaded machine, where
// each event takes long to dispatch, cannot turn a double tap into two single taps.
async function touch(cdp, type, points, at) {
  await cdp.send('Input.dispatchTouchEvent', { type, timestamp: at || Date.now() / 1000,
    touchPoints: points.map(([x, y], id) => ({ x, y, id })) });
}

async function swipe(cdp, x, y0, y1) {
  await touch(cdp, 'touchStart', [[x, y0]]);
  for (let i = 1; i <= 10; i++) {
    await touch(cdp, 'touchMove', [[x, y0 + ((y1 - y0) * i) / 10]]);
  }
  await touch(cdp, 'touchEnd', []);
}

// Taps `loc` until `done` (a function run in the page) holds: up to three taps, 5 s each. On a
// loaded machine Chromium can take a tap for something else (a long press when the touch's end
// is dispatched late): a person taps again, and so does the test, saying so in its output.
async function tapUntil(page, loc, done, what) {
  for (let i = 1; i <= 3; i++) {
    await loc.tap();
    try {
      await page.waitForFunction(done, null, { timeout: 5000 });
      return;
    } catch (e) {
      const on = await page.evaluate(() => [...document.querySelectorAll('#vp .on')].map((b) => b.dataset.w));
      console.log(`note - ${what}: tap ${i} had no effect within 5 s (presets on: ${JSON.stringify(on)})`);
    }
  }
  throw new Error(`check failed: ${what}: three taps had no effect`);
}

async function pageMode([link, out, series, report, namePart]) {
  const browser = await launch();
  try {
    for (const p of PHONES) {
      const ph = await phone(browser, p);
      ph.scale = p.scale;
      const { page } = ph;
      const tag = `${p.name} ${p.width}x${p.height}@${p.scale}`;
      await page.goto(link, { timeout: 60000 });
      const body = await page.locator('body').innerText();
      if (namePart) check(body.includes(namePart), `${tag}: the page names the patient (${namePart})`);
      const n = await page.locator('.s').count();
      check(n === Number(series), `${tag}: the page lists ${series} series (${n})`);
      await page.waitForFunction(() => [...document.querySelectorAll('.s img')].every((i) => i.complete && i.naturalWidth > 0),
        null, { timeout: 60000 });
      check(true, `${tag}: every series thumbnail loaded`);
      if (report && report !== '-') {
        const shown = await page.locator('#report').innerText();
        check(shown.includes(report), `${tag}: the report's text is shown (${JSON.stringify(report)})`);
      } else {
        check(await page.locator('.rp').count() === 0, `${tag}: no report is shown`);
      }
      await page.screenshot({ path: `${out}/phone-${p.name}-page.png`, fullPage: true });

      // A tap opens the middle slice, full width.
      await tapUntil(page, page.locator('.s').first(), () => !document.getElementById('v').hidden, `${tag}: opening the series`);
      let r = await waitSlice(page, '', 60000);
      check(r && r.w >= 0.9 * r.screen[0], `${tag}: the slice fills ${Math.round((100 * r.w) / r.screen[0])}% of the screen width (${JSON.stringify(r)})`);
      const first = await pixels(ph, r);
      check(first.levels > 16 && first.sd > 8 && first.lit > 0.05,
        `${tag}: the slice's pixels are not uniform (${JSON.stringify(first)})`);
      await page.waitForFunction(() => /^\d+ \/ \d+$/.test(document.getElementById('vn').innerText), null, { timeout: 60000 });
      const c0 = await counter(page);
      const images = await page.locator('.s').first().getAttribute('data-n');
      check(c0.endsWith(' / ' + images), `${tag}: the viewer has every image of the series (${c0}; the page says ${images})`);
      await page.screenshot({ path: `${out}/phone-${p.name}-slice.png` });

      // A swipe up moves on.
      const cdp = await ph.context.newCDPSession(page);
      await swipe(cdp, p.width / 2, p.height * 0.7, p.height * 0.4);
      r = await waitSlice(page, r.src, 60000);
      const c1 = await counter(page);
      const moved = await pixels(ph, r);
      check(c1 !== c0 && moved.hash !== first.hash, `${tag}: a swipe changes the slice (${c0} -> ${c1})`);
      check(moved.levels > 16 && moved.sd > 8, `${tag}: the next slice is an image too`);

      // A window preset changes what the same slice looks like.
      await tapUntil(page, page.locator('#vp button[data-w="-600,1500"]'),
        () => document.querySelector('#vp button[data-w="-600,1500"]').classList.contains('on'), `${tag}: the lung preset`);
      r = await waitSlice(page, r.src, 60000);
      const lung = await pixels(ph, r);
      check(await counter(page) === c1, `${tag}: the preset keeps the slice (${c1})`);
      check(lung.hash !== moved.hash && Math.abs(lung.mean - moved.mean) > 2,
        `${tag}: the lung window changes the pixels (mean ${moved.mean.toFixed(1)} -> ${lung.mean.toFixed(1)})`);
      await page.screenshot({ path: `${out}/phone-${p.name}-lung.png` });

      // Pinch to zoom, double tap to reset.
      const cx = r.x + r.w / 2;
      const cy = r.y + r.h / 2;
      await touch(cdp, 'touchStart', [[cx - 30, cy], [cx + 30, cy]]);
      for (let i = 1; i <= 8; i++) await touch(cdp, 'touchMove', [[cx - 30 - 12 * i, cy], [cx + 30 + 12 * i, cy]]);
      await touch(cdp, 'touchEnd', []);
      const zoomed = await page.evaluate(() => new DOMMatrix(getComputedStyle(document.getElementById('vi')).transform).a);
      check(zoomed > 1.5, `${tag}: pinching zooms in (scale ${zoomed.toFixed(2)})`);
      const counterZoomed = await counter(page);
      check(counterZoomed === c1, `${tag}: pinching does not change the slice`);
      const t0 = Date.now() / 1000;
      for (let i = 0; i < 2; i++) {
        await touch(cdp, 'touchStart', [[cx, cy]], t0 + 0.12 * i);
        await touch(cdp, 'touchEnd', [], t0 + 0.12 * i + 0.05);
      }
      await page.waitForFunction(() => new DOMMatrix(getComputedStyle(document.getElementById('vi')).transform).a === 1, null, { timeout: 5000 });
      check(true, `${tag}: a double tap resets the zoom`);

      // Save the slice.
      const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), page.locator('#vsv').tap()]);
      const path = `${out}/phone-${p.name}-saved.jpg`;
      await dl.saveAs(path);
      const jpeg = require('fs').readFileSync(path);
      check(jpeg.length > 1000 && jpeg[0] === 0xff && jpeg[1] === 0xd8, `${tag}: the slice saves as a JPEG (${dl.suggestedFilename()}, ${jpeg.length} bytes)`);

      // Close (the phone's back button too), then English.
      await page.goBack();
      await page.waitForFunction(() => document.getElementById('v').hidden, null, { timeout: 5000 });
      check(true, `${tag}: back closes the viewer`);
      await page.locator('#lang').tap();
      const en = await page.locator('main').innerText();
      check(en.includes('Study date') && !en.includes('Ngày chụp'), `${tag}: the page switches to English`);
      check(ph.problems.length === 0, `${tag}: no page error and no 4xx/5xx answer ${JSON.stringify(ph.problems.slice(0, 5))}`);
      await ph.context.close();
    }
    console.log('all phone checks passed');
  } finally {
    await browser.close();
  }
}

async function studiesMode([link, out, ...rest]) {
  const cut = rest.indexOf('--');
  const want = cut < 0 ? rest : rest.slice(0, cut);
  const never = cut < 0 ? [] : rest.slice(cut + 1);
  const browser = await launch();
  try {
    const ph = await phone(browser, PHONES[0]);
    ph.scale = PHONES[0].scale;
    const { page } = ph;
    await page.goto(link, { timeout: 60000 });
    const shown = await page.locator('.st').evaluateAll((els) => els.map((e) => e.dataset.study));
    check(JSON.stringify([...shown].sort()) === JSON.stringify([...want].sort()),
      `the page lists exactly the patient's studies (${shown.length} of ${want.length})`);
    const html = await page.content();
    for (const u of never) check(!html.includes(u), `the page never names study ${u}`);
    await page.waitForFunction(() => [...document.querySelectorAll('.s img')].every((i) => i.complete && i.naturalWidth > 0),
      null, { timeout: 60000 });
    check(true, 'every series thumbnail of every study loaded');
    await page.screenshot({ path: `${out}/phone-patient-page.png`, fullPage: true });
    const last = page.locator('.st').last().locator('.s').first();
    await last.tap();
    const r = await waitSlice(page, '', 60000);
    check(r && r.w >= 0.9 * r.screen[0], 'a slice of the last study opens, full width');
    check(ph.problems.length === 0, `no page error and no 4xx/5xx answer ${JSON.stringify(ph.problems.slice(0, 5))}`);
    console.log('all patient page checks passed');
  } finally {
    await browser.close();
  }
}

(async () => {
  if (mode === 'page') {
    await pageMode(args);
  } else if (mode === 'studies') {
    await studiesMode(args);
  } else {
    throw new Error('usage: phone_test.js page|studies ...');
  }
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
