#!/usr/bin/env node
// Rebuilds the `expansion` of every non-drug ValueSet in catalog/valuesets/ from its `compose`.
// The compose (hand-maintained, with the verification sources in `description`) is the source of truth;
// the expansion is derived so that the server never needs a terminology service at run time.
//
//   node scripts/valuesets/nondrug.mjs          rewrite expansions
//   node scripts/valuesets/nondrug.mjs --check  exit 1 if any committed expansion is stale
//
// Only the value sets listed in scripts/valuesets/nondrug-ids.json are touched: drug-*.json have their own
// generator (scripts/valuesets/drugs.mjs) and other files (e.g. questionnaire answer sets) belong to their authors.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIR = join(ROOT, 'catalog', 'valuesets');
const check = process.argv.includes('--check');

/** Deterministic (name-based, RFC 4122 version 5 layout) UUID, so a rebuild with unchanged codes is a no-op. */
function stableUuid(text) {
  const h = createHash('sha1').update(text).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

function expansionOf(vs) {
  const contains = [];
  for (const inc of vs.compose?.include ?? []) {
    if (!inc.system || !Array.isArray(inc.concept) || inc.concept.length === 0) {
      throw new Error(`${vs.id}: every compose.include needs a system and an explicit concept list`);
    }
    for (const c of inc.concept) contains.push({ system: inc.system, code: c.code, display: c.display });
  }
  const key = contains.map((c) => `${c.system}|${c.code}`).join('\n');
  return {
    identifier: `urn:uuid:${stableUuid(`${vs.url}|${vs.version}\n${key}`)}`,
    timestamp: `${vs.date}T00:00:00Z`,
    total: contains.length,
    contains,
  };
}

let stale = 0;
const { ids } = JSON.parse(readFileSync(join(ROOT, 'scripts', 'valuesets', 'nondrug-ids.json'), 'utf8'));
const present = new Set(readdirSync(DIR));
const files = ids.map((id) => `${id}.json`);
for (const f of files) if (!present.has(f)) throw new Error(`listed in nondrug-ids.json but missing: catalog/valuesets/${f}`);
for (const f of files) {
  const path = join(DIR, f);
  const before = readFileSync(path, 'utf8');
  const vs = JSON.parse(before);
  const { expansion: _old, ...rest } = vs;
  const after = `${JSON.stringify({ ...rest, expansion: expansionOf(vs) }, null, 2)}\n`;
  if (after === before) continue;
  stale += 1;
  if (check) console.error(`stale expansion: catalog/valuesets/${f}`);
  else writeFileSync(path, after);
}
if (check && stale > 0) {
  console.error(`${stale} value set(s) out of date: run node scripts/valuesets/nondrug.mjs`);
  process.exit(1);
}
console.log(`${files.length} non-drug value sets ${check ? 'checked' : `built (${stale} rewritten)`}`);
