/**
 * `npm run policies:compare`: writes the side-by-side comparison of every policy in the catalog
 * to docs/policies-compare.md and docs/policies-compare.html (the server serves the HTML at /policies).
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, REPO_ROOT } from '../src/config';
import { buildValueSetIndex, loadValueSets } from '../src/catalog/terminology';
import { loadPolicies } from '../src/catalog/load';
import { renderComparisonHtml, renderComparisonMarkdown } from '../src/catalog/pages';

const { paths } = loadConfig();
const policies = loadPolicies(paths.catalog, buildValueSetIndex(loadValueSets(paths.valueSets)));
const out = path.join(REPO_ROOT, 'docs');
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'policies-compare.md'), `${renderComparisonMarkdown(policies)}\n`);
fs.writeFileSync(path.join(out, 'policies-compare.html'), renderComparisonHtml(policies));
process.stdout.write(`policies:compare: ${policies.length} policies → docs/policies-compare.md, docs/policies-compare.html\n`);
