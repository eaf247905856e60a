// SPDX-License-Identifier: MIT
// A radiologist signs in to pacsd's viewer at the hospital's OpenID Connect provider
// (oidc_provider.js), in Debian's headless Chromium driven by playwright-core. Exits non-zero
// on the first failed check; screenshots go to OUTDIR, and the access token OHIF sent to
// DICOMweb to OUTDIR/token.txt (for curl).
//
// usage: node oidc_login_test.js BASE ISSUER USER PASSWORD STUDY_UID NAME_PART OUTDIR
//   /viewer/ sends (OHIF itself, not pacsd) to the provider's sign-in page; a wrong password
//   stays there and no DICOMweb request is answered; the right one comes back to OHIF's study
//   list, which shows the study; every DICOMweb request then carries the provider's access
//   token (a JWT for pacsd); the study opens and a slice is drawn.
'use strict';
const fs = require('fs');
const { launch, openPage, submitForm, waitForSlice } = require('./browser');

const [base, issuer, user, password, study, namePart, out] = process.argv.slice(2);

function check(cond, what) {
  if (!cond) {
    throw new Error('check failed: ' + what);
  }
  console.log('ok - ' + what);
}

const atProvider = (u) => u.href.startsWith(issuer + '/interaction/');

async function main() {
  const browser = await launch();
  try {
    const { page, problems } = await openPage(browser);
    const dicomweb = []; // { auth, status } of each DICOMweb request the viewer made
    page.on('response', (r) => {
      if (r.url().startsWith(base + '/dicomweb/')) {
        dicomweb.push({ auth: r.request().headers().authorization || '', status: r.status() });
      }
    });

    await page.goto(base + '/viewer/', { timeout: 120000 });
    await page.waitForURL(atProvider, { timeout: 120000 });
    check(true, `the viewer sends to the provider's sign-in page (${page.url()})`);
    await page.screenshot({ path: `${out}/oidc-provider-page.png` });

    await submitForm(page, { '#login': user, '#password': password + '-wrong' });
    check(atProvider(new URL(page.url())), 'a wrong password stays at the provider');
    const msg = await page.locator('#error').innerText();
    check(msg.includes('wrong user name or password'), `the provider says so (${msg})`);
    check(dicomweb.every((d) => d.status !== 200),
      `no DICOMweb request was answered before the sign-in (${JSON.stringify(dicomweb)})`);

    const signedIn = dicomweb.length;
    await submitForm(page, { '#login': user, '#password': password });
    await page.waitForURL((u) => u.href.startsWith(base + '/viewer'), { timeout: 120000 });
    check(true, `signed in, back in the viewer at ${page.url()}`);
    await page.locator(`text=${namePart}`).first().waitFor({ timeout: 120000 }).catch(() => {});
    const body = await page.locator('body').innerText();
    check(body.includes(namePart), `the study list shows the stored study (${namePart})`);
    await page.screenshot({ path: `${out}/oidc-study-list.png` });

    const answered = dicomweb.slice(signedIn).filter((d) => d.status === 200);
    check(answered.length > 0 && answered.every((d) => d.auth.startsWith('Bearer ')),
      `DICOMweb answered the viewer's requests, each with a bearer token (${answered.length})`);
    const token = answered[0].auth.slice(7);
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    check(claims.iss === issuer && claims.sub === user,
      `the token is the provider's JWT for ${user} (iss ${claims.iss}, aud ${claims.aud})`);
    fs.writeFileSync(`${out}/token.txt`, token + '\n');

    await page.goto(`${base}/viewer/viewer?StudyInstanceUIDs=${study}`, { timeout: 120000 });
    const slice = await waitForSlice(page, 180000);
    check(slice && slice.lit > slice.area / 50 && slice.levels > 8,
      `the study opens and a slice is drawn (${JSON.stringify(slice)})`);
    await page.screenshot({ path: `${out}/oidc-slice.png` });
    check(dicomweb.slice(signedIn).every((d) => d.status !== 401),
      'no DICOMweb request was refused after the sign-in');
    check(problems.length === 0, 'no page error ' + JSON.stringify(problems.slice(0, 5)));
    console.log('all OIDC sign-in checks passed');
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
