// SPDX-License-Identifier: MIT
// Retrieves instances with dicomweb-client the way a client that names no transfer syntax
// does: retrieveInstance with no media types (multipart/related; type="application/dicom") and
// retrieveBulkData on the Pixel Data BulkDataURI of the instance's metadata (multipart/related;
// type="application/octet-stream"). Writes each instance to OUTDIR/SOP.dcm and the bulk data
// parts, concatenated, to OUTDIR/SOP.bulk; prints one JSON line per instance and call with the
// outcome (the HTTP status when the call failed). The checks on the bytes are the shell's.
// usage: node compressed_test.js BASE_URL OUTDIR STUDY SERIES SOP [STUDY SERIES SOP]...
'use strict';
global.XMLHttpRequest = require('xhr2');
const fs = require('fs');
const path = require('path');
const { api } = require('dicomweb-client');

const [base, outdir, ...uids] = process.argv.slice(2);

function bytes(part) {
  return part instanceof ArrayBuffer ? new Uint8Array(part) : new Uint8Array(part.buffer || part);
}

function failure(e) {
  return { ok: false, status: e && e.status ? e.status : 0, error: String(e && e.message || e) };
}

(async () => {
  const client = new api.DICOMwebClient({ url: base });
  for (let i = 0; i + 2 < uids.length; i += 3) {
    const ids = { studyInstanceUID: uids[i], seriesInstanceUID: uids[i + 1],
      sopInstanceUID: uids[i + 2] };
    const sop = ids.sopInstanceUID;
    let instance;
    try {
      const data = bytes(await client.retrieveInstance(ids));
      fs.writeFileSync(path.join(outdir, sop + '.dcm'), data);
      instance = { ok: true, bytes: data.length };
    } catch (e) {
      instance = failure(e);
    }
    console.log(JSON.stringify({ sop, call: 'retrieveInstance', ...instance }));
    let bulk;
    try {
      const metadata = await client.retrieveInstanceMetadata(ids);
      const uri = metadata[0]['7FE00010'].BulkDataURI;
      const parts = await client.retrieveBulkData({ BulkDataURI: uri });
      const all = (Array.isArray(parts) ? parts : [parts]).map(bytes);
      const total = all.reduce((n, p) => n + p.length, 0);
      const out = new Uint8Array(total);
      let at = 0;
      for (const p of all) {
        out.set(p, at);
        at += p.length;
      }
      fs.writeFileSync(path.join(outdir, sop + '.bulk'), out);
      bulk = { ok: true, parts: all.length, bytes: total };
    } catch (e) {
      bulk = failure(e);
    }
    console.log(JSON.stringify({ sop, call: 'retrieveBulkData', ...bulk }));
  }
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
