// SPDX-License-Identifier: MIT
// An independent HL7 v2 client against pacsd's MLLP listener: @medplum/hl7's Hl7Client (and
// its Hl7Connection over a TLS socket) sends ADT^A01/A04/A08/A40, ORM^O01 and OMI^O23 built and
// serialised by @medplum/core, in UTF-8 and in ISO 8859-1, waits for each ACK and reads it with
// @medplum/core's parser. Prints one line per message: name, MSA-1, MSA-2, ERR-2, ERR-3.1 and
// MSA-3 (tab-separated); tests/test_hl7_client.sh checks them.
// usage: node hl7_client_test.js PORT [TLS_PORT CA CERT KEY]
'use strict';
const fs = require('fs');
const tls = require('tls');
const { Hl7Message } = require('@medplum/core');
const { Hl7Client, Hl7Connection } = require('@medplum/hl7');

const [port, tlsPort, ca, cert, key] = process.argv.slice(2);
let seq = 0;

function msg(type, charset, ...segments) {
  seq += 1;
  const msh = `MSH|^~\\&|HIS|BVTINH|PACS|BVTINH|20240105083000||${type}|NODE${seq}|P|2.5.1` +
    `|||AL|NE|VNM|${charset}`;
  return Hl7Message.parse([msh, ...segments].join('\r'));
}

function report(name, sent, ack) {
  const msa = ack.getSegment('MSA');
  const err = ack.getSegment('ERR');
  const control = sent.getSegment('MSH').getField(10).toString();
  if (msa.getField(2).toString() !== control) {
    throw new Error(`${name}: the ACK answers ${msa.getField(2)}, not ${control}`);
  }
  const cols = [name, msa.getField(1).toString(), msa.getField(2).toString(),
    err ? err.getField(2).toString() : '', err ? err.getField(3).getComponent(1) : '',
    msa.getField(3) ? msa.getField(3).toString() : ''];
  console.log(cols.join('\t'));
}

const PID = 'PID|1||BN0001^^^BVTINH^MR~DN4010123456789^^^BHXH^SS||Nguyễn^Văn An||19800215|M';
const messages = [
  ['A01', 'UNICODE UTF-8', ['EVN|A01|20240105083000', PID, 'PV1|1|O']],
  ['A04', 'UNICODE UTF-8', ['EVN|A04|20240105083000',
    'PID|1||BN0002^^^BVTINH^MR||Trần^Thị Hương||19900101|F', 'PV1|1|O']],
  ['A08', 'UNICODE UTF-8', ['EVN|A08|20240105090000',
    'PID|1||BN0001^^^BVTINH^MR||Nguyễn^Văn Anh||19800215|M', 'PV1|1|O']],
  ['A40', 'UNICODE UTF-8', ['EVN|A40|20240105090000', 'PID|1||BN0001^^^BVTINH^MR',
    'MRG|BN0002^^^BVTINH^MR']],
  ['O01', 'UNICODE UTF-8', [PID, 'ORC|NW|PL1001|||SC||^^^20240106093000^^R',
    'OBR|1|PL1001||CT01^CT sọ não không tiêm^L||||||||||||||ACC1001|RP1001|SPS1001|CT1|||CT',
    'ZDS|1.2.826.0.1.3680043.10.1347.77.1^^Application^DICOM']],
  ['O23', 'UNICODE UTF-8', [PID, 'ORC|NW|PL1002|||SC', 'TQ1|1||||||20240106100000',
    'OBR|1|PL1002||MR01^MRI cột sống^L',
    'IPC|ACC1002|RP1002|1.2.826.0.1.3680043.10.1347.77.2|SPS1002|MR||MRI1||MR1']],
  ['A01-no-id', 'UNICODE UTF-8', ['EVN|A01', 'PID|1||||Nguyễn^Văn An']],
  ['O01-bad-control', 'UNICODE UTF-8', [PID, 'ORC|ZZ|PL1003', 'OBR|1|PL1003']],
  ['S12', 'UNICODE UTF-8', ['SCH|1', PID]],
  ['A02', 'UNICODE UTF-8', ['EVN|A02', PID]],
];
const types = {
  A01: 'ADT^A01^ADT_A01', A04: 'ADT^A04^ADT_A01', A08: 'ADT^A08^ADT_A01',
  A40: 'ADT^A40^ADT_A39', O01: 'ORM^O01^ORM_O01', O23: 'OMI^O23^OMI_O23',
  S12: 'SIU^S12^SIU_S12', A02: 'ADT^A02^ADT_A02',
};

async function main() {
  const client = new Hl7Client({ host: '127.0.0.1', port: Number(port), keepAlive: true });
  for (const [name, charset, segments] of messages) {
    const m = msg(types[name.split('-')[0]], charset, ...segments);
    report(name, m, await client.sendAndWait(m, { timeoutMs: 30000 }));
  }
  await client.close();
  // ISO 8859-1: the client encodes the message in Latin-1 (MSH-18 8859/1) and decodes the ACK.
  const latin = new Hl7Client({ host: '127.0.0.1', port: Number(port), encoding: 'latin1' });
  const m = msg('ADT^A08^ADT_A01', '8859/1', 'EVN|A08',
    'PID|1||BN0003^^^BVTINH^MR||Müller^José||19700101|M');
  report('A08-latin1', m, await latin.sendAndWait(m, { timeoutMs: 30000 }));
  await latin.close();
  if (tlsPort) {
    const socket = tls.connect({
      host: '127.0.0.1', port: Number(tlsPort), ca: fs.readFileSync(ca),
      cert: fs.readFileSync(cert), key: fs.readFileSync(key), servername: 'localhost',
    });
    await new Promise((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    const conn = new Hl7Connection(socket, 'utf-8');
    const t = msg('ADT^A01^ADT_A01', 'UNICODE UTF-8', 'EVN|A01', PID);
    report('A01-tls', t, await conn.sendAndWait(t, { timeoutMs: 30000 }));
    await conn.close();
  }
}

// Exit when done: @medplum/hl7's sendAndWait leaves its timeout armed after the ACK, which
// kept node alive for timeoutMs (30 s) after the last message.
main().then(() => process.exit(0), (e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
