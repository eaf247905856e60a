// SPDX-License-Identifier: MIT
// pacsd's own /viewer (OHIF served from the same origin) and share links, in Debian's headless
// Chromium driven by playwright-core. Exits non-zero on the first failed check; screenshots go
// to OUTDIR. Bytes are counted with the Chrome DevTools protocol: for every response,
// Network.loadingFinished's encodedDataLength (headers and body as they came over the wire,
// after gzip), summed by kind (viewer app files, QIDO, metadata, thumbnails, frames, other).
//
// usage: node viewer_test.js viewer BASE STUDY_UID NAME_PART DESCRIPTION OUTDIR
//          the study list shows the study, it opens, a slice is drawn, scrolling changes it
//        node viewer_test.js share LINK STUDY_UID NAME_PART OUTDIR
//          the share page names the patient; its OHIF button opens the study in OHIF, a slice
//          is drawn;
//          on a phone-sized screen; prints the first screen's bytes
'use strict';
const { chromium } = require('playwright-core');

const [mode, ...args] = process.argv.slice(2);

function check(cond, what) {
  if (!cond) {
    throw new Error('check failed: ' + what);
  }
  console.log('ok - ' + what);
}

// Counts the bytes of every response of `page`, by kind.
async function countBytes(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const reqs = new Map();
  const state = { reqs, done: [] };
  cdp.on('Network.responseReceived', (e) => {
    reqs.set(e.requestId, { url: e.response.url, status: e.response.status });
  });
  cdp.on('Network.loadingFinished', (e) => {
    const r = reqs.get(e.requestId);
    if (r) {
      r.bytes = e.encodedDataLength;
      state.done.push(r);
    }
  });
  return state;
}

function kindOf(url) {
  const u = new URL(url);
  const p = u.pathname;
  if (p.startsWith('/viewer')) return 'app';
  if (p.startsWith('/share/')) return 'share page';
  if (/\/(thumbnail|rendered)$/.test(p)) return 'thumbnails';
  if (/\/frames\/[\d,]+$/.test(p)) return 'frames';
  if (p.endsWith('/metadata')) return 'metadata';
  if (/\/(studies|series|instances)$/.test(p)) return 'qido';
  return 'other';
}

function summarize(state, label) {
  const by = {};
  let total = 0;
  for (const r of state.done) {
    const k = kindOf(r.url);
    by[k] = by[k] || { n: 0, bytes: 0 };
    by[k].n++;
    by[k].bytes += r.bytes;
    total += r.bytes;
  }
  const parts = Object.keys(by).sort().map((k) => `${k}=${by[k].bytes} (${by[k].n})`);
  console.log(`BYTES ${label}: total=${total} ${parts.join(' ')}`);
  return { total, by };
}

// What the largest canvas shows: how many pixels are lit and a hash of them.
async function canvasState(page) {
  return page.evaluate(() => {
    let best = null;
    for (const c of document.querySelectorAll('canvas')) {
      if (c.width < 64 || c.height < 64) continue;
      let data;
      try {
        const t = document.createElement('canvas');
        t.width = c.width;
        t.height = c.height;
        const tc = t.getContext('2d');
        tc.drawImage(c, 0, 0);
        data = tc.getImageData(0, 0, t.width, t.height).data;
      } catch (e) {
        continue;
      }
      let lit = 0;
      let h = 0;
      const levels = new Set();
      for (let i = 0; i < data.length; i += 4) {
        const v = data[i] + data[i + 1] + data[i + 2];
        if (v > 30) lit++;
        if (levels.size < 64) levels.add(v);
        h = (Math.imul(h, 31) + v) >>> 0;
      }
      const area = c.width * c.height;
      if (!best || area > best.area) {
        best = { area, lit, levels: levels.size, hash: h, w: c.width, h: c.height };
      }
    }
    return best;
  });
}

// Waits (bounded) until a canvas shows an image: enough lit pixels in enough grey levels.
async function waitForSlice(page, ms) {
  const deadline = Date.now() + ms;
  let s = null;
  while (Date.now() < deadline) {
    s = await canvasState(page);
    if (s && s.lit > s.area / 50 && s.levels > 8) {
      return s;
    }
    await page.waitForTimeout(250);
  }
  return s;
}

async function settle(page, state, ms) {
  // Until no response has finished for 3 s (bounded by ms).
  const deadline = Date.now() + ms;
  let last = state.done.length;
  let quiet = 0;
  while (Date.now() < deadline && quiet < 3000) {
    await page.waitForTimeout(500);
    quiet = state.done.length === last ? quiet + 500 : 0;
    last = state.done.length;
  }
}

async function launch() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
}

function watchErrors(page, problems) {
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
  });
}

async function viewerMode([base, study, namePart, description, out]) {
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const problems = [];
    watchErrors(page, problems);
    const bytes = await countBytes(page);

    await page.goto(base + '/viewer/', { timeout: 120000 });
    await page.locator(`text=${namePart}`).first().waitFor({ timeout: 120000 }).catch(() => {});
    const body = await page.locator('body').innerText();
    check(body.includes(namePart), `the study list at /viewer/ shows the patient (${namePart})`);
    check(body.includes(description), `the study list shows the study (${description})`);
    await page.screenshot({ path: `${out}/viewer-study-list.png` });
    summarize(bytes, 'study list (cold cache)');

    bytes.done.length = 0;
    await page.goto(`${base}/viewer/viewer?StudyInstanceUIDs=${study}`, { timeout: 120000 });
    const first = await waitForSlice(page, 180000);
    check(first && first.lit > first.area / 50 && first.levels > 8,
      `a slice is drawn (${JSON.stringify(first)})`);
    await page.screenshot({ path: `${out}/viewer-slice.png` });

    // Scroll the stack: the wheel over the viewport moves one slice per notch.
    const box = await page.evaluate(() => {
      let best = null;
      for (const c of document.querySelectorAll('canvas')) {
        const r = c.getBoundingClientRect();
        if (!best || r.width * r.height > best.w * best.h) {
          best = { x: r.x, y: r.y, w: r.width, h: r.height };
        }
      }
      return best;
    });
    const sliceNumber = async () => {
      const m = /I:\s*(\d+)\s*\((\d+)\/(\d+)\)/.exec(await page.locator('body').innerText());
      return m ? Number(m[2]) : null;
    };
    const before = await sliceNumber();
    await page.mouse.move(box.x + box.w / 2, box.y + box.h / 2);
    let after = first;
    for (let i = 0; i < 40 && after.hash === first.hash; i++) {
      await page.mouse.wheel(0, 120);
      await page.waitForTimeout(300);
      after = await canvasState(page);
    }
    check(after.hash !== first.hash && after.lit > after.area / 50,
      `scrolling changes the slice (hash ${first.hash} -> ${after.hash})`);
    const now = await sliceNumber();
    check(before !== null && now !== null && now !== before,
      `the viewer's overlay moved from slice ${before} to ${now}`);
    await page.screenshot({ path: `${out}/viewer-scrolled.png` });
    check(problems.length === 0, 'no page error and no 4xx/5xx answer ' +
      JSON.stringify(problems.slice(0, 5)));
    console.log('all viewer checks passed');
  } finally {
    await browser.close();
  }
}

async function shareMode([link, study, namePart, out]) {
  const browser = await launch();
  try {
    // A phone: the patient scans the QR code.
    const page = await browser.newPage({ viewport: { width: 412, height: 915 },
      deviceScaleFactor: 2.6, isMobile: true, hasTouch: true,
      userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) ' +
        'Chrome/120.0 Mobile Safari/537.36' });
    const problems = [];
    watchErrors(page, problems);
    const bytes = await countBytes(page);

    await page.goto(link, { timeout: 120000 });
    const text = await page.locator('body').innerText();
    check(text.includes(namePart), `the share page names the patient (${namePart})`);
    await page.screenshot({ path: `${out}/share-page.png` });
    await page.locator(`a.btn[href*="StudyInstanceUIDs=${study}"]`).click();
    const first = await waitForSlice(page, 180000);
    check(first && first.lit > first.area / 50 && first.levels > 8,
      `the share link opens the study and a slice is drawn (${JSON.stringify(first)})`);
    check(page.url().includes(study), 'the viewer shows the shared study');
    const firstScreen = summarize(bytes, 'first screen (share page to first slice, cold cache)');
    await page.screenshot({ path: `${out}/share-viewer.png` });
    await settle(page, bytes, 120000);
    summarize(bytes, 'after the viewer went quiet');
    check(problems.length === 0, 'no page error and no 4xx/5xx answer ' +
      JSON.stringify(problems.slice(0, 5)));
    check(firstScreen.total > 0, 'bytes were counted');
    console.log('all share checks passed');
  } finally {
    await browser.close();
  }
}

(async () => {
  if (mode === 'viewer') {
    await viewerMode(args);
  } else if (mode === 'share') {
    await shareMode(args);
  } else {
    throw new Error('usage: viewer_test.js viewer|share ...');
  }
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
