// SPDX-License-Identifier: MIT
// An independent HL7 v2 client sending ORU^R01 (a RIS's reports) to pacsd's MLLP listener:
// @medplum/core builds and serialises each message, @medplum/hl7's Hl7Client sends it and
// waits for the ACK, read with @medplum/core's parser. Each message is given as NAME and its
// segments after MSH, one per line. Prints one line per message: name, MSA-1, MSA-2, ERR-2,
// ERR-3.1 (tab-separated); tests/test_reports.sh checks them.
// usage: node hl7_oru_test.js PORT NAME SEGMENTS [NAME SEGMENTS...]
'use strict';
const { Hl7Message } = require('@medplum/core');
const { Hl7Client } = require('@medplum/hl7');

const [port, ...pairs] = process.argv.slice(2);

async function main() {
  const client = new Hl7Client({ host: '127.0.0.1', port: Number(port), keepAlive: true });
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const name = pairs[i];
    const msh = 'MSH|^~\\&|RIS|BVTINH|PACS|BVTINH|20240105083000||ORU^R01^ORU_R01|' +
      `ORU${i / 2 + 1}|P|2.5.1|||AL|NE|VNM|UNICODE UTF-8`;
    const m = Hl7Message.parse([msh, ...pairs[i + 1].split('\n')].join('\r'));
    const ack = await client.sendAndWait(m, { timeoutMs: 30000 });
    const msa = ack.getSegment('MSA');
    const err = ack.getSegment('ERR');
    console.log([name, msa.getField(1).toString(), msa.getField(2).toString(),
      err ? err.getField(2).toString() : '', err ? err.getField(3).getComponent(1) : '']
      .join('\t'));
  }
  await client.close();
}

// Exit when done: @medplum/hl7's sendAndWait leaves its timeout armed after the ACK, which
// kept node alive for timeoutMs (30 s) after the last message.
main().then(() => process.exit(0), (e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
