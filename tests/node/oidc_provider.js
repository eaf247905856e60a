// SPDX-License-Identifier: MIT
// A real OpenID Connect provider for the viewer's sign-in test (test_login_oidc): npm's
// oidc-provider (certified by the OpenID Foundation), with one public client (the viewer: code
// flow with PKCE, no secret), one user with a password, and JWT access tokens for pacsd's
// DICOMweb (resource indicator RESOURCE, audience AUDIENCE, scope `read`), signed RS256 by a
// key made here. Its sign-in page checks the password (oidc-provider's own development pages
// take any); consent is given without asking, as a hospital sets its own viewer up.
//
// usage: node oidc_provider.js DIR USER PASSWORD RESOURCE AUDIENCE
//   Listens on a free loopback port, writes DIR/jwks.json (the public key, for auth.jwt_keys)
//   and DIR/issuer (its issuer URL), then waits (bounded) for DIR/viewer-origin, the origin of
//   the pacsd whose viewer is the client (redirect URI ORIGIN/viewer/callback), and serves.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');

const [dir, user, password, resource, audience] = process.argv.slice(2);

function writeAtomic(path, text) {
  fs.writeFileSync(path + '.tmp', text);
  fs.renameSync(path + '.tmp', path);
}

async function waitForFile(path, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (fs.existsSync(path)) {
      return fs.readFileSync(path, 'utf8').trim();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${path} after ${ms} ms`);
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(res, uid, status, message) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`<!doctype html><html><head><title>Hospital sign-in</title></head><body>
<h1>Hospital sign-in</h1>${message ? `<p id="error">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<input id="login" name="login" autocomplete="username">
<input id="password" name="password" type="password" autocomplete="current-password">
<button id="submit" type="submit">Sign in</button></form></body></html>`);
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => {
      body += d;
      if (body.length > 8192) {
        reject(new Error('form too large'));
        req.destroy();
      }
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

function samePassword(a, b) {
  const x = crypto.createHash('sha256').update(a).digest();
  const y = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(x, y);
}

// The sign-in and consent steps oidc-provider hands to the application (its interaction API).
async function interaction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params, session } = details;
  if (req.method === 'GET' && prompt.name === 'login') {
    loginPage(res, uid, 200, '');
    return;
  }
  if (req.method === 'POST' && prompt.name === 'login') {
    const form = await readForm(req);
    if (form.get('login') !== user || !samePassword(form.get('password') || '', password)) {
      loginPage(res, uid, 401, 'wrong user name or password');
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: user } },
      { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'consent') {
    const grant = details.grantId ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) {
      grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    }
    if (missing.missingOIDCClaims) {
      grant.addOIDCClaims(missing.missingOIDCClaims);
    }
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } },
      { mergeWithLastSubmission: true });
    return;
  }
  res.statusCode = 400;
  res.end('unexpected interaction ' + prompt.name);
}

async function main() {
  const { default: Provider, errors } = await import('oidc-provider');
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = 'test-op-' + crypto.randomBytes(4).toString('hex');
  const priv = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  const pub = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };

  let provider = null;
  const server = http.createServer((req, res) => {
    if (!provider) {
      res.statusCode = 503;
      res.end('starting');
      return;
    }
    if (req.url.startsWith('/interaction/')) {
      interaction(provider, req, res).catch((e) => {
        console.error('interaction:', e);
        if (!res.headersSent) {
          res.statusCode = 500;
          res.end(String(e.message));
        }
      });
      return;
    }
    provider.callback()(req, res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  writeAtomic(`${dir}/jwks.json`, JSON.stringify({ keys: [pub] }));
  writeAtomic(`${dir}/issuer`, issuer + '\n');

  const origin = await waitForFile(`${dir}/viewer-origin`, 60000);
  provider = new Provider(issuer, {
    clients: [{
      client_id: 'pacs-viewer',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [`${origin}/viewer/callback`],
      post_logout_redirect_uris: [`${origin}/viewer/signed-out`],
    }],
    jwks: { keys: [priv] },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    pkce: { required: () => true },
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
    async findAccount(ctx, id) {
      if (id !== user) {
        return undefined;
      }
      return { accountId: id, claims: () => ({ sub: id, preferred_username: id, name: id }) };
    },
    clientBasedCORS: (ctx, o) => o === origin,
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        useGrantedResource: () => true,
        getResourceServerInfo(ctx, indicator) {
          if (indicator !== resource) {
            throw new errors.InvalidTarget();
          }
          return { scope: 'read', audience, accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    interactions: { url: (ctx, i) => `/interaction/${i.uid}` },
  });
  provider.on('server_error', (ctx, e) => console.error('provider error:', e));
  console.log(`oidc provider at ${issuer} for ${origin}`);
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
