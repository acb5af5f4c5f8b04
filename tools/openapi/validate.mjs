// Validates recorded server responses against docs/openapi.yaml.
//
//   node tools/openapi/validate.mjs docs/openapi.yaml DIR
//
// Each file in DIR is {"method", "target", "status", "content_type", "body"}, written
// by the integration tests' HTTP client. A response must match an operation of the
// document, its status must be documented for that operation, and its body must
// validate against the documented schema. Exit 1 on any failure.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const [specPath, dir] = process.argv.slice(2);
const spec = YAML.parse(fs.readFileSync(specPath, 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'spec', components: spec.components });

const routes = Object.entries(spec.paths).map(([template, item]) => ({
  template,
  item,
  regex: new RegExp('^' + template.replace(/\{[^}]+\}/g, '[^/]+') + '$'),
}));

function resolve(obj) {
  // Follows a local $ref such as '#/components/responses/Problem'.
  while (obj && obj.$ref) {
    obj = obj.$ref.split('/').slice(1).reduce((o, k) => o[k.replace(/~1/g, '/').replace(/~0/g, '~')], spec);
  }
  return obj;
}

const validators = new Map();
function validatorFor(schema) {
  const key = JSON.stringify(schema);
  if (!validators.has(key)) {
    const rewritten = JSON.parse(key.replace(/"#\/components\//g, '"spec#/components/'));
    validators.set(key, ajv.compile(rewritten));
  }
  return validators.get(key);
}

let checked = 0, skipped = 0;
const failures = [];
for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const sample = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
  const where = `${sample.method} ${sample.target} -> ${sample.status}`;
  const pathOnly = sample.target.split('?')[0];
  const route = routes.find((r) => r.regex.test(pathOnly));
  const op = route && route.item[sample.method.toLowerCase()];
  if (!op) {  // a route or method the contract does not have (404/405 tests)
    skipped++;
    continue;
  }
  const response = resolve(op.responses[String(sample.status)]);
  if (!response) {
    failures.push(`${where}: status ${sample.status} is not documented for ${op.operationId}`);
    continue;
  }
  checked++;
  if (!response.content) {
    if (sample.body.length) failures.push(`${where}: documented without a body, got one`);
    continue;
  }
  const type = (sample.content_type || '').split(';')[0].trim();
  const media = response.content[type];
  if (!media) {
    failures.push(`${where}: content type ${type} is not documented`);
    continue;
  }
  // A text body (the metrics exposition) is checked by its own tool (promtool).
  if (!type.includes('json')) continue;
  // NDJSON: every line is one JSON value, checked against the media's x-line-schema.
  const ndjson = type === 'application/x-ndjson';
  const texts = ndjson ? sample.body.split('\n').filter((l) => l.length) : [sample.body];
  const schema = ndjson ? media['x-line-schema'] || {} : media.schema;
  for (const text of texts) {
    let body;
    try {
      body = JSON.parse(text);
    } catch (e) {
      failures.push(`${where}: ${ndjson ? 'a line' : 'the body'} is not JSON`);
      break;
    }
    const validate = validatorFor(schema);
    if (!validate(body)) {
      failures.push(`${where}: ${ajv.errorsText(validate.errors)}`);
      break;
    }
  }
}
for (const f of failures.slice(0, 50)) console.error('openapi: ' + f);
console.log(`openapi: ${checked} responses checked against ${specPath}, ${skipped} outside the contract, ${failures.length} failed`);
if (checked === 0) {
  console.error('openapi: no responses were recorded; is JOBSTATE_RESPONSE_SAMPLES set for the tests?');
  process.exit(1);
}
process.exit(failures.length ? 1 : 0);
