// SPDX-License-Identifier: MIT
// A radiologist signs in to pacsd's viewer through its login page (http.auth = required), in
// Debian's headless Chromium driven by playwright-core. Exits non-zero on the first failed
// check; screenshots go to OUTDIR; the session cookie the browser held is written to
// OUTDIR/cookie.txt (for curl, after the logout).
//
// usage: node login_test.js BASE USER PASSWORD STUDY_UID NAME_PART OUTDIR
//   /viewer/ sends to /login; a wrong password stays there with a message; the right one comes
//   back to the study list, which shows the study; the study opens and a slice is drawn; the
//   session cookie is HttpOnly and SameSite=Strict; logout (the page's own POST) ends it, and
//   the viewer sends to /login again.
'use strict';
const fs = require('fs');
const { launch, openPage, submitForm, waitForSlice } = require('./browser');

const [base, user, password, study, namePart, out] = process.argv.slice(2);

function check(cond, what) {
  if (!cond) {
    throw new Error('check failed: ' + what);
  }
  console.log('ok - ' + what);
}

async function main() {
  const browser = await launch();
  try {
    const { context, page, problems } = await openPage(browser);

    await page.goto(base + '/viewer/', { timeout: 120000 });
    check(new URL(page.url()).pathname === '/login', `/viewer/ sends to the login page (${page.url()})`);
    await page.screenshot({ path: `${out}/login-page.png` });

    await submitForm(page, { '#name': user, '#password': password + '-wrong' });
    check(new URL(page.url()).pathname === '/login', 'a wrong password stays on the login page');
    const msg = await page.locator('#error').innerText();
    check(msg.includes('wrong user name or password'), `the page says so (${msg})`);
    check((await context.cookies()).every((c) => c.name !== 'pacs_session'),
      'no session cookie after a wrong password');

    await submitForm(page, { '#name': user, '#password': password });
    check(new URL(page.url()).pathname.startsWith('/viewer'), `signed in, back at ${page.url()}`);
    const cookie = (await context.cookies()).find((c) => c.name === 'pacs_session');
    check(cookie && cookie.httpOnly && cookie.sameSite === 'Strict' && cookie.path === '/',
      `the session cookie is HttpOnly, SameSite=Strict, Path=/ (${JSON.stringify(cookie &&
        { httpOnly: cookie.httpOnly, sameSite: cookie.sameSite, path: cookie.path })})`);
    check(await page.evaluate(() => !document.cookie.includes('pacs_session')),
      'scripts cannot read the session cookie');
    await page.locator(`text=${namePart}`).first().waitFor({ timeout: 120000 }).catch(() => {});
    const body = await page.locator('body').innerText();
    check(body.includes(namePart), `the study list shows the stored study (${namePart})`);
    await page.screenshot({ path: `${out}/login-study-list.png` });

    await page.goto(`${base}/viewer/viewer?StudyInstanceUIDs=${study}`, { timeout: 120000 });
    const slice = await waitForSlice(page, 180000);
    check(slice && slice.lit > slice.area / 50 && slice.levels > 8,
      `the study opens and a slice is drawn (${JSON.stringify(slice)})`);
    await page.screenshot({ path: `${out}/login-slice.png` });
    fs.writeFileSync(`${out}/cookie.txt`, `pacs_session=${cookie.value}\n`);

    // Logout as a page of the server would do it: a same-origin POST.
    const status = await page.evaluate(async () => {
      const r = await fetch('/logout', { method: 'POST' });
      return r.status;
    });
    check(status === 204, `logout answers 204 (${status})`);
    await page.goto(base + '/viewer/', { timeout: 120000 });
    check(new URL(page.url()).pathname === '/login', 'after logout the viewer sends to /login');
    check(problems.length === 0, 'no page error ' + JSON.stringify(problems.slice(0, 5)));
    console.log('all login checks passed');
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
