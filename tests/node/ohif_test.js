// SPDX-License-Identifier: MIT
// OHIF (the prebuilt @ohif/app) in headless Chromium against pacsd: the study list shows the
// stored studies, and opening a study fetches its series, metadata and frames, every request
// answered 2xx, with no page error. Exits non-zero on the first failed check.
// usage: node ohif_test.js VIEWER_URL DICOMWEB_URL STUDY_UID FRAMES
'use strict';
const { chromium } = require('playwright-core');

const [viewer, dicomweb, study, frames] = process.argv.slice(2);

function check(cond, what) {
  if (!cond) {
    throw new Error('OHIF check failed: ' + what);
  }
  console.log('ok - ' + what);
}

(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const answers = [];
    const problems = [];
    page.on('response', (r) => {
      if (r.url().startsWith(dicomweb)) {
        answers.push({ status: r.status(), url: r.url().slice(dicomweb.length) });
      }
    });
    page.on('requestfailed', (r) => {
      if (r.url().startsWith(dicomweb)) {
        problems.push('failed: ' + r.url() + ' ' + r.failure().errorText);
      }
    });
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));

    await page.goto(viewer + '/', { timeout: 120000 });
    /* The pydicom samples' patients are called CompressedSamples^...; OHIF shows them. */
    await page.locator('text=CompressedSamples').first().waitFor({ timeout: 120000 })
      .catch(() => {});
    check(answers.some((a) => a.url.startsWith('/studies?') && a.status === 200),
      'the study list asked QIDO-RS and got 200');
    const rows = await page.locator('text=CompressedSamples').count();
    check(rows >= 2, `the study list shows the stored studies (${rows} rows)`);

    answers.length = 0;
    await page.goto(`${viewer}/viewer?StudyInstanceUIDs=${study}`, { timeout: 120000 });
    const deadline = Date.now() + 120000;
    const frameAnswers = () => answers.filter((a) => /\/frames\/\d+$/.test(a.url));
    while (Date.now() < deadline && frameAnswers().length < Number(frames)) {
      await page.waitForTimeout(500);
    }
    check(answers.some((a) => a.url.includes(`/studies/${study}/series?`) && a.status === 200),
      'the viewer listed the series');
    check(answers.some((a) => a.url.endsWith('/metadata') && a.status === 200),
      'the viewer read the series metadata');
    check(frameAnswers().length >= Number(frames),
      `the viewer fetched ${frameAnswers().length} frames (at least ${frames})`);
    const bad = answers.filter((a) => a.status >= 400);
    check(bad.length === 0, 'every DICOMweb request was answered 2xx ' +
      JSON.stringify(bad.slice(0, 5)));
    check(problems.length === 0, 'no failed request or page error ' +
      JSON.stringify(problems.slice(0, 5)));
    await page.screenshot({ path: process.env.SCREENSHOT || 'ohif.png' });
    console.log('all OHIF checks passed');
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
