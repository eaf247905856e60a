// SPDX-License-Identifier: MIT
// Drives pacsd's DICOMweb gateway with dicomweb-client, the library OHIF uses, the way OHIF
// does: study list, series, series metadata, a frame, a whole instance and the pixel data
// through its BulkDataURI. Exits non-zero on the first disagreement.
// usage: node client_test.js BASE_URL STUDY SERIES SOP ROWS COLUMNS STUDIES
'use strict';
global.XMLHttpRequest = require('xhr2');
const { api } = require('dicomweb-client');

const [base, study, series, sop, rows, cols, nStudies] = process.argv.slice(2);

function check(cond, what) {
  if (!cond) {
    throw new Error('dicomweb-client check failed: ' + what);
  }
  console.log('ok - ' + what);
}

function bytes(part) {
  return part instanceof ArrayBuffer ? new Uint8Array(part) : new Uint8Array(part.buffer || part);
}

(async () => {
  const client = new api.DICOMwebClient({ url: base });
  const studies = await client.searchForStudies({
    queryParams: { limit: 101, offset: 0, fuzzymatching: true,
      includefield: '00081030,00080060,00080090,00100030' },
  });
  check(studies.length === Number(nStudies), `searchForStudies lists ${nStudies} studies`);
  check(studies.some((s) => s['0020000D'].Value[0] === study), 'the CT study is listed');

  const seriesList = await client.searchForSeries({ studyInstanceUID: study });
  check(seriesList.length === 1 && seriesList[0]['0020000E'].Value[0] === series,
    'searchForSeries finds the series');

  const instances = await client.searchForInstances({ studyInstanceUID: study,
    seriesInstanceUID: series });
  check(instances.length === 1 && instances[0]['00080018'].Value[0] === sop,
    'searchForInstances finds the instance');

  const metadata = await client.retrieveSeriesMetadata({ studyInstanceUID: study,
    seriesInstanceUID: series });
  check(metadata.length === 1, 'retrieveSeriesMetadata returns one instance');
  const m = metadata[0];
  check(m['00080018'].Value[0] === sop, 'metadata names the instance');
  check(m['00280010'].Value[0] === Number(rows) && m['00280011'].Value[0] === Number(cols),
    'metadata has Rows and Columns');

  const frames = await client.retrieveInstanceFrames({ studyInstanceUID: study,
    seriesInstanceUID: series, sopInstanceUID: sop, frameNumbers: [1],
    mediaTypes: [{ mediaType: 'application/octet-stream', transferSyntaxUID: '*' }] });
  check(frames.length === 1, 'retrieveInstanceFrames returns one frame');
  const frame = bytes(frames[0]);
  check(frame.length === rows * cols * 2, `frame 1 has ${rows * cols * 2} bytes`);

  const instance = bytes(await client.retrieveInstance({ studyInstanceUID: study,
    seriesInstanceUID: series, sopInstanceUID: sop }));
  check(String.fromCharCode(...instance.slice(128, 132)) === 'DICM',
    'retrieveInstance returns a Part 10 file');

  const bulk = await client.retrieveBulkData({ BulkDataURI: m['7FE00010'].BulkDataURI });
  const pixels = bytes(Array.isArray(bulk) ? bulk[0] : bulk);
  check(pixels.length === frame.length && pixels.every((b, i) => b === frame[i]),
    'the BulkDataURI of Pixel Data gives the same bytes as frame 1');
  console.log('all dicomweb-client checks passed');
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
