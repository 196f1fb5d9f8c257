/**
 * Writes <elmDir>/model/fhir-modelinfo.json: cql-exec-fhir's FHIR 4.0.1 model info cut down to the
 * types the compiled ELM can reach, for the engine's resource wrapper (src/engine/data-provider.ts).
 *
 * Why: every evaluation thread parses the model info once at start, and the full one (931 types,
 * 760 KB of XML) costs 150 ms of CPU on an idle core and ~400 ms while the threads start together.
 * The cut one keeps about a tenth of it.
 *
 * What is kept: every FHIR type the ELM names (retrieves, casts, result types), the Patient, and
 * everything they reach: base types, element types, list element types, choice types, interval
 * point types. cql-exec-fhir only looks up the declared type of an element (never the
 * `resourceType` of contained data), so wrapping a resource of a kept type reads exactly what the
 * full model reads. A resource of a type outside the list is wrapped with the full model.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import xml2js from 'xml2js';

const require = createRequire(import.meta.url);

/** FHIR type names an ELM document mentions (`{http://hl7.org/fhir}Condition`, `FHIR.Condition`). */
function typesNamedIn(text) {
  const names = new Set();
  for (const match of text.matchAll(/(?:\{http:\/\/hl7\.org\/fhir\}|"FHIR\.)([A-Za-z][\w.]*)/g)) names.add(match[1]);
  return names;
}

/** The FHIR types a typeInfo refers to: `FHIR.X` attribute values and `namespace="FHIR" name="X"` specifiers. */
function referencedTypes(node, out) {
  if (Array.isArray(node)) {
    for (const item of node) referencedTypes(item, out);
    return out;
  }
  if (node === null || typeof node !== 'object') return out;
  for (const [key, value] of Object.entries(node)) {
    if (key !== '$') {
      referencedTypes(value, out);
      continue;
    }
    if (value.namespace === 'FHIR' && typeof value.name === 'string' && value['xsi:type']?.endsWith('TypeSpecifier')) out.push(value.name);
    for (const [attribute, text] of Object.entries(value)) {
      if (attribute !== 'name' && typeof text === 'string' && text.startsWith('FHIR.')) out.push(text.slice('FHIR.'.length));
    }
  }
  return out;
}

function parseXml(xml) {
  let result;
  xml2js.parseString(xml, { async: false }, (error, parsed) => {
    if (error) throw error;
    result = parsed;
  });
  return result;
}

/**
 * Writes the cut model for the ELM in `elmDir` unless the one there was cut from the same ELM and
 * the same cql-exec-fhir. Returns the number of types kept.
 */
export function writeFhirModel(elmDir) {
  const elmFiles = fs.readdirSync(elmDir).filter((f) => f.endsWith('.json')).sort();
  const elmTexts = elmFiles.map((f) => fs.readFileSync(path.join(elmDir, f), 'utf8'));
  const { version } = require('cql-exec-fhir/package.json');
  const hash = crypto.createHash('sha256').update(`cql-exec-fhir ${version}\n`);
  elmFiles.forEach((f, i) => hash.update(`${f}\n${elmTexts[i]}\n`));
  const source = hash.digest('hex');
  const file = path.join(elmDir, 'model', 'fhir-modelinfo.json');
  if (fs.existsSync(file)) {
    const existing = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (existing.source === source) return existing.types.length;
  }

  const fullXml = require('cql-exec-fhir/lib/modelInfos/fhir-modelinfo-4.0.1.xml.js');
  const model = parseXml(fullXml);
  const byName = new Map(model.modelInfo.typeInfo.map((t) => [t.$.name, t]));
  const wanted = new Set(['Patient']);
  for (const text of elmTexts) for (const name of typesNamedIn(text)) if (byName.has(name)) wanted.add(name);
  const queue = [...wanted];
  while (queue.length > 0) {
    for (const name of referencedTypes(byName.get(queue.pop()), [])) {
      if (!wanted.has(name) && byName.has(name)) {
        wanted.add(name);
        queue.push(name);
      }
    }
  }
  model.modelInfo.typeInfo = model.modelInfo.typeInfo.filter((t) => wanted.has(t.$.name));
  const xml = new xml2js.Builder({ renderOpts: { pretty: false } }).buildObject(model);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}`;
  fs.writeFileSync(partial, JSON.stringify({ source, types: [...wanted].sort(), xml }));
  fs.renameSync(partial, file);
  return wanted.size;
}
