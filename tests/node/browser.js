// SPDX-License-Identifier: MIT
// What the sign-in tests in headless Chromium share (login_test.js, oidc_login_test.js):
// Debian's Chromium launched as CI can run it, and the wait for OHIF to draw a slice.
'use strict';
const { chromium } = require('playwright-core');

function launch() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
}

// Waits (bounded) until the largest canvas shows an image: enough lit pixels in enough grey
// levels. The page may still navigate meanwhile (OHIF signing in again at the identity
// provider after a reload): a look cut short by that counts as nothing drawn yet.
async function waitForSlice(page, ms) {
  const deadline = Date.now() + ms;
  let s = null;
  while (Date.now() < deadline) {
    s = await page.evaluate(() => {
      let best = null;
      for (const c of document.querySelectorAll('canvas')) {
        if (c.width < 64 || c.height < 64) continue;
        const t = document.createElement('canvas');
        t.width = c.width;
        t.height = c.height;
        const tc = t.getContext('2d');
        tc.drawImage(c, 0, 0);
        const data = tc.getImageData(0, 0, t.width, t.height).data;
        let lit = 0;
        const levels = new Set();
        for (let i = 0; i < data.length; i += 4) {
          const v = data[i] + data[i + 1] + data[i + 2];
          if (v > 30) lit++;
          if (levels.size < 64) levels.add(v);
        }
        const area = c.width * c.height;
        if (!best || area > best.area) best = { area, lit, levels: levels.size };
      }
      return best;
    }).catch((e) => {
      if (!/context was destroyed|navigat/i.test(String(e && e.message))) {
        throw e;
      }
      return null;
    });
    if (s && s.lit > s.area / 50 && s.levels > 8) {
      return s;
    }
    await page.waitForTimeout(250);
  }
  return s;
}

// A page of a fresh context, with the page errors it raises collected in `problems`.
async function openPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  return { context, page, problems };
}

// Fills a sign-in form ({ selector: value }) and submits it with its #submit button.
async function submitForm(page, values) {
  for (const [selector, value] of Object.entries(values)) {
    await page.fill(selector, value);
  }
  await Promise.all([page.waitForNavigation({ timeout: 60000 }), page.click('#submit')]);
}

module.exports = { launch, openPage, submitForm, waitForSlice };
