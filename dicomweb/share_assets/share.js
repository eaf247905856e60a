// SPDX-License-Identifier: MIT
// The share page's viewer (share_page.c): one slice at a time from WADO-RS /rendered at the
// screen's pixel size, neighbours preloaded, swipe or drag through the slices, window presets,
// pinch zoom and pan, double tap to reset, save as JPEG, Vietnamese or English. Embedded into
// pacsd at build time and inlined into the page; no library, no storage but the language.
// Every request carries the share token from the page's own URL as a Bearer token, so two tabs
// with two links never mix (the cookie the page also sets is for the OHIF button).
'use strict';
(() => {
  const d = document;
  const root = d.documentElement;
  const $ = (id) => d.getElementById(id);
  const base = d.body.dataset.base;
  const token = decodeURIComponent(location.pathname.split('/')[2] || '');
  const auth = { Authorization: 'Bearer ' + token };
  const dpr = window.devicePixelRatio || 1;

  // ---- language: Vietnamese unless the reader chose English ----
  try {
    const l = localStorage.getItem('pacs-lang');
    if (l === 'en' || l === 'vi') root.lang = l;
  } catch (e) { /* no storage: Vietnamese */ }
  $('lang').onclick = () => {
    root.lang = root.lang === 'vi' ? 'en' : 'vi';
    try { localStorage.setItem('pacs-lang', root.lang); } catch (e) { /* not kept */ }
  };

  const v = $('v');
  const stage = $('vs');
  const img = $('vi');
  const num = $('vn');
  const range = $('vr');
  const wait = $('vw');
  const oops = $('ve');
  const presets = $('vp');
  const MAX_CACHED = 64;
  const AHEAD = 8;
  const BEHIND = 3;
  const NEAR = 12; // how far from the slice asked for a slice at hand may stand in for it
  const PARALLEL = 6; // what a browser opens to one HTTP/1.1 server
  let S = null; // the open series
  const cache = new Map(); // key -> { url, blob }, oldest first
  const busy = new Map(); // key -> { ac, id: "sop/frame" } of requests on their way
  const failed = new Set(); // keys the server would not render: not asked again

  const val = (o, t) => (o[t] && o[t].Value ? o[t].Value[0] : undefined);

  function viewport() {
    let w = Math.round(innerWidth * dpr);
    let h = Math.round(innerHeight * dpr);
    // Never more than the image has: the browser scales a small image up for free.
    if (S.cols && S.rows) {
      w = Math.min(w, S.cols);
      h = Math.min(h, S.rows);
    }
    return w + ',' + h;
  }
  const id = (k) => S.list[k].sop + '/' + S.list[k].f;
  const key = (k) => id(k) + '|' + S.win + '|' + S.vp;
  const urlOf = (k) => base + '/studies/' + S.study + '/series/' + S.series + '/instances/' +
    S.list[k].sop + '/frames/' + S.list[k].f + '/rendered?viewport=' + S.vp + '&quality=85' +
    (S.win ? '&window=' + S.win + ',linear' : '');

  // Shows the slice asked for or, while it is on its way, the nearest one at hand, so that a
  // finger faster than the link still sees the series move; the number is the one shown.
  function paint() {
    let shown = cache.has(key(S.i)) ? S.i : -1;
    for (let d = 1; shown < 0 && S.ready && d <= NEAR; d++) {
      for (const k of [S.i - d * S.dir, S.i + d * S.dir]) {
        if (shown < 0 && k >= 0 && k < S.list.length && cache.has(key(k))) shown = k;
      }
    }
    if (shown >= 0) {
      const c = cache.get(key(shown));
      if (img.src !== c.url) img.src = c.url;
      S.shown = shown;
      oops.hidden = true;
    }
    wait.hidden = shown === S.i;
    const at = shown >= 0 ? shown : S.i;
    num.textContent = (S.ready ? at + 1 : '…') + ' / ' + (S.ready ? S.list.length : S.n);
  }

  function trim() {
    const keep = new Set(wanted().map(key));
    for (const [k, c] of cache) {
      if (cache.size <= MAX_CACHED) break;
      if (!keep.has(k)) {
        URL.revokeObjectURL(c.url);
        cache.delete(k);
      }
    }
  }

  function load(k) {
    const kk = key(k);
    if (cache.has(kk) || busy.has(kk) || failed.has(kk)) return;
    const ac = new AbortController();
    busy.set(kk, { ac, id: id(k) });
    const s = S;
    fetch(urlOf(k), { headers: auth, signal: ac.signal, cache: 'no-store' })
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error('HTTP ' + r.status))))
      .then((b) => {
        if (busy.has(kk) && busy.get(kk).ac === ac) busy.delete(kk);
        if (S !== s) return;
        cache.set(kk, { url: URL.createObjectURL(b), blob: b });
        trim();
        paint();
        pump();
      }, (e) => {
        if (busy.has(kk) && busy.get(kk).ac === ac) busy.delete(kk);
        if (S !== s || e.name === 'AbortError') return;
        failed.add(kk);
        if (key(S.i) === kk) {
          wait.hidden = true;
          oops.hidden = false;
        }
        pump();
      });
  }

  // The slices worth having now: the current one, then outwards, more ahead than behind.
  function wanted() {
    const out = [S.i];
    const n = S.list.length;
    for (let j = 1; j <= AHEAD; j++) {
      const a = S.i + j * S.dir;
      const b = S.i - j * S.dir;
      if (a >= 0 && a < n) out.push(a);
      if (j <= BEHIND && b >= 0 && b < n) out.push(b);
    }
    return out;
  }

  function pump() {
    if (!S) return;
    const w = wanted();
    const keys = new Set(w.map(key));
    const tail = '|' + S.win + '|' + S.vp;
    // Requests for another window or size, or for slices too far from the finger to stand in
    // for the one it is on, give way; the others are let finish.
    for (const [kk, b] of busy) {
      const k = S.pos ? S.pos.get(b.id) : 0;
      const behind = (S.i - k) * S.dir;
      if (!keys.has(kk) && (!kk.endsWith(tail) || k === undefined || behind > NEAR || behind < -2 * AHEAD)) {
        b.ac.abort();
        busy.delete(kk);
      }
    }
    // The first slice has the link to itself: neighbours wait until it is on screen.
    if (S.shown === undefined) {
      load(S.i);
      return;
    }
    // While the slice asked for is on its way, fewer others share the link with it.
    const limit = cache.has(key(S.i)) ? PARALLEL : 3;
    for (let j = 0; j < w.length && busy.size < limit; j++) load(w[j]);
  }

  function go(k) {
    if (!S || !S.ready) return;
    k = Math.max(0, Math.min(S.list.length - 1, k));
    if (k === S.i) return;
    S.dir = k > S.i ? 1 : -1;
    S.i = k;
    range.value = k + 1;
    paint();
    pump();
  }

  // Every image of the series, in instance number order, frames of multi-frame ones in turn;
  // QIDO pages through a series larger than the server's result limit, until it has as many
  // images as the page said the series holds (or the server has no more).
  async function list(s) {
    const url = base + '/studies/' + s.study + '/series/' + s.series +
      '/instances?includefield=00200013,00280008,00280010&limit=1000&offset=';
    let all = [];
    let images = 0;
    for (let pages = 0; pages < 1000 && images < s.n; pages++) {
      const r = await fetch(url + all.length, { headers: Object.assign({ Accept: 'application/dicom+json' }, auth) });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      const page = r.status === 204 ? [] : await r.json();
      if (!page.length) break;
      all = all.concat(page);
      for (const o of page) if (val(o, '00280010')) images += Number(val(o, '00280008')) || 1;
    }
    const items = all.filter((o) => val(o, '00280010'))
      .map((o) => ({ sop: val(o, '00080018'), no: Number(val(o, '00200013')) || 0, n: Number(val(o, '00280008')) || 1 }))
      .sort((a, b) => a.no - b.no);
    const out = [];
    for (const it of items) for (let f = 1; f <= it.n; f++) out.push({ sop: it.sop, f });
    if (S !== s || !out.length) return;
    const cur = S.list[S.i];
    const at = Math.max(0, out.findIndex((it) => it.sop === cur.sop && it.f === cur.f));
    S.list = out;
    S.pos = new Map(out.map((it, k) => [it.sop + '/' + it.f, k]));
    S.i = at;
    if (S.shown !== undefined) S.shown = at;
    S.ready = true;
    range.max = out.length;
    range.value = at + 1;
    range.disabled = false;
    paint();
    pump();
  }

  // ---- zoom and pan: a CSS transform of the image ----
  let z = { s: 1, x: 0, y: 0 };
  const applyZ = () => { img.style.transform = `translate(${z.x}px,${z.y}px) scale(${z.s})`; };
  const resetZ = () => { z = { s: 1, x: 0, y: 0 }; applyZ(); };

  function open(b) {
    const ds = b.dataset;
    S = {
      study: b.closest('.st').dataset.study, series: ds.series, n: Number(ds.n), mod: ds.mod,
      rows: Number(ds.rows), cols: Number(ds.cols), no: ds.no || '',
      list: [{ sop: ds.mid, f: Number(ds.fr) || 1 }], i: 0, dir: 1, win: '', ready: false,
    };
    S.vp = viewport();
    for (const p of presets.children) {
      p.hidden = p.classList.contains('ct') && S.mod !== 'CT';
      p.classList.toggle('on', !p.dataset.w);
    }
    range.disabled = true;
    range.max = S.n;
    resetZ();
    oops.hidden = true;
    v.hidden = false;
    d.body.classList.add('vo');
    history.pushState({ viewer: 1 }, '');
    paint();
    pump();
    list(S).catch(() => { /* the middle slice stays; scrolling needs the list */ });
  }

  function close() {
    if (!S) return;
    S = null;
    v.hidden = true;
    d.body.classList.remove('vo');
    for (const b of busy.values()) b.ac.abort();
    busy.clear();
    failed.clear();
    for (const c of cache.values()) URL.revokeObjectURL(c.url);
    cache.clear();
    img.removeAttribute('src');
  }

  function save() {
    const c = S && S.shown !== undefined && cache.get(key(S.shown));
    if (!c) return;
    const a = d.createElement('a');
    a.href = c.url;
    a.download = 'anh-' + S.no + '-' + (S.shown + 1) + '.jpg';
    d.body.appendChild(a);
    a.click();
    a.remove();
  }

  function pdf(b) {
    fetch(b.dataset.url, { headers: Object.assign({ Accept: 'application/octet-stream' }, auth) })
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error('HTTP ' + r.status))))
      .then((bl) => {
        const a = d.createElement('a');
        a.href = URL.createObjectURL(new Blob([bl], { type: 'application/pdf' }));
        a.download = 'ket-qua.pdf';
        d.body.appendChild(a);
        a.click();
        a.remove();
      }, () => { b.disabled = true; });
  }

  d.addEventListener('click', (e) => {
    const s = e.target.closest('.s');
    if (s) open(s);
    const p = e.target.closest('.pdf');
    if (p) pdf(p);
  });
  $('vx').onclick = () => history.back();
  $('vsv').onclick = save;
  addEventListener('popstate', close);
  range.oninput = () => go(Number(range.value) - 1);
  presets.onclick = (e) => {
    const b = e.target.closest('button');
    if (!b || !S) return;
    S.win = b.dataset.w;
    for (const p of presets.children) p.classList.toggle('on', p === b);
    paint();
    pump();
  };
  addEventListener('resize', () => {
    if (!S) return;
    const vp = viewport();
    const [w0, h0] = S.vp.split(',').map(Number);
    const [w1, h1] = vp.split(',').map(Number);
    // The address bar coming and going is no reason to fetch every slice again.
    if ((w0 > h0) !== (w1 > h1) || Math.abs(w1 - w0) > w0 / 5 || Math.abs(h1 - h0) > h0 / 5) {
      S.vp = vp;
      paint();
      pump();
    }
  });
  addEventListener('keydown', (e) => {
    if (!S) return;
    if (e.key === 'Escape') history.back();
    else if (e.key === 'ArrowDown' || e.key === 'ArrowRight') go(S.i + 1);
    else if (e.key === 'ArrowUp' || e.key === 'ArrowLeft') go(S.i - 1);
  });
  stage.addEventListener('wheel', (e) => {
    e.preventDefault();
    if (!S) return;
    if (e.ctrlKey) {
      z.s = Math.max(1, Math.min(8, z.s * (e.deltaY < 0 ? 1.1 : 1 / 1.1)));
      if (z.s === 1) z.x = z.y = 0;
      applyZ();
    } else {
      go(S.i + (e.deltaY > 0 ? 1 : -1));
    }
  }, { passive: false });

  // ---- gestures, with pointer events (touch, pen and mouse alike) ----
  const pts = new Map();
  let g = null;
  let lastTap = 0;
  const two = () => {
    const [a, b] = [...pts.values()];
    return { d: Math.hypot(a.x - b.x, a.y - b.y) || 1, mx: (a.x + b.x) / 2, my: (a.y + b.y) / 2 };
  };
  const one = (x, y, t, moved) => ({ mode: 'one', x0: x, y0: y, lx: x, ly: y, t0: t, moved, k0: S.i });
  // Up or left moves on; a slice per `step` pixels, so a long series needs no long drag.
  const along = (dx, dy) => (Math.abs(dy) >= Math.abs(dx) ? -dy : -dx);

  stage.addEventListener('pointerdown', (e) => {
    if (!S) return;
    stage.setPointerCapture(e.pointerId);
    pts.set(e.pointerId, { x: e.clientX, y: e.clientY });
    if (pts.size === 1) {
      g = one(e.clientX, e.clientY, e.timeStamp, 0);
    } else if (pts.size === 2) {
      const p = two();
      g = { mode: 'pinch', d0: p.d, s0: z.s, mx: p.mx, my: p.my, x0: z.x, y0: z.y };
    }
  });
  stage.addEventListener('pointermove', (e) => {
    if (!g || !pts.has(e.pointerId)) return;
    pts.set(e.pointerId, { x: e.clientX, y: e.clientY });
    if (g.mode === 'pinch' && pts.size >= 2) {
      const p = two();
      const s = Math.max(1, Math.min(8, (g.s0 * p.d) / g.d0));
      const cx = stage.clientWidth / 2;
      const cy = stage.clientHeight / 2;
      // The point first under the fingers' midpoint stays under it.
      z = { s, x: p.mx - cx - ((g.mx - cx - g.x0) * s) / g.s0, y: p.my - cy - ((g.my - cy - g.y0) * s) / g.s0 };
      applyZ();
    } else if (g.mode === 'one') {
      const dx = e.clientX - g.x0;
      const dy = e.clientY - g.y0;
      g.moved = Math.max(g.moved, Math.abs(dx) + Math.abs(dy));
      if (z.s > 1.01) {
        z.x += e.clientX - g.lx;
        z.y += e.clientY - g.ly;
        applyZ();
      } else if (S.ready) {
        const step = Math.max(6, (0.5 * stage.clientHeight) / S.list.length);
        go(g.k0 + Math.trunc(along(dx, dy) / step));
      }
      g.lx = e.clientX;
      g.ly = e.clientY;
    }
  });
  const up = (e) => {
    if (!pts.has(e.pointerId)) return;
    pts.delete(e.pointerId);
    if (g && g.mode === 'one' && pts.size === 0) {
      if (g.moved < 10 && e.timeStamp - g.t0 < 300) {
        if (e.timeStamp - lastTap < 400) {
          resetZ();
          lastTap = 0;
        } else {
          lastTap = e.timeStamp;
        }
      } else if (z.s <= 1.01 && S.i === g.k0 && g.moved > 30) {
        // A short swipe over a short series still moves one slice.
        go(S.i + (along(e.clientX - g.x0, e.clientY - g.y0) > 0 ? 1 : -1));
      }
    }
    if (g && g.mode === 'pinch' && z.s <= 1.01) resetZ();
    if (pts.size === 0) {
      g = null;
    } else if (pts.size === 1 && g && g.mode === 'pinch') {
      const p = pts.values().next().value;
      g = one(p.x, p.y, 0, 99);
    }
  };
  stage.addEventListener('pointerup', up);
  stage.addEventListener('pointercancel', up);
})();
