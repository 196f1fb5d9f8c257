/**
 * `npm run evaluate -- <bundle.json> [--date YYYY-MM-DD] [--json]`
 *
 * For policy authors: decides a bundle with the policies in this repository and prints the
 * criteria table. The bundle is either a PAS request (Claim first) or a patient chart holding a
 * Coverage and the drug order (a draft or active MedicationRequest).
 */
import fs from 'node:fs';
import type { Bundle, MedicationRequest } from 'fhir/r4';
import { loadConfig } from '../src/config';
import { createPolicyEngine } from '../src/engine';
import type { Decision } from '../src/engine/decision';
import { chartRequest } from '../src/engine/chart-request';
import { parsePasRequest } from '../src/pas/validate';
import { extractPasContext, toEvaluationRequest } from '../src/pas/context';
import { isOperationOutcomeError } from '../src/fhir/outcomes';

function usage(message?: string): never {
  if (message) process.stderr.write(`${message}\n`);
  process.stderr.write('usage: npm run evaluate -- <bundle.json> [--date YYYY-MM-DD] [--json]\n');
  process.exit(2);
}

function table(decision: Decision): string {
  const rows = decision.criteria.map((c) => [c.citation, c.status, c.text, c.evidence.join(' ') || '-']);
  const header = ['citation', 'status', 'criterion', 'evidence'];
  const widths = header.map((h, i) => Math.min(70, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))));
  const line = (cells: string[]) => cells.map((c, i) => (c.length > (widths[i] ?? 0) ? `${c.slice(0, (widths[i] ?? 1) - 1)}…` : c.padEnd(widths[i] ?? 0))).join(' | ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  if (!file) usage();
  const dateIndex = args.indexOf('--date');
  const date = dateIndex >= 0 ? new Date(`${args[dateIndex + 1] ?? ''}T12:00:00Z`) : new Date();
  if (Number.isNaN(date.getTime())) usage('--date must be YYYY-MM-DD');
  const bundle = JSON.parse(fs.readFileSync(file, 'utf8')) as Bundle;
  if (bundle.resourceType !== 'Bundle') usage(`${file} is not a FHIR Bundle`);

  const engine = createPolicyEngine(loadConfig().paths);
  const decisions: Decision[] = [];
  if (bundle.entry?.[0]?.resource?.resourceType === 'Claim') {
    const ctx = extractPasContext(parsePasRequest(bundle));
    for (const item of ctx.items) decisions.push(await engine.evaluate(toEvaluationRequest(ctx, item, [], date)));
  } else {
    const orders = (bundle.entry ?? [])
      .map((e) => e.resource)
      .filter((r): r is MedicationRequest => r?.resourceType === 'MedicationRequest' && (r.status === 'draft' || r.status === 'active'));
    const order = orders.find((o) => o.status === 'draft') ?? orders[0];
    if (!order) usage('the bundle has no draft or active MedicationRequest to decide');
    decisions.push(await engine.evaluate(chartRequest({ bundle, order, evaluationDate: date })));
  }

  if (args.includes('--json')) {
    process.stdout.write(`${JSON.stringify(decisions, null, 2)}\n`);
    return;
  }
  for (const d of decisions) {
    process.stdout.write(`\nPolicy:     ${d.policy ? `${d.policy.citationPrefix} ${d.policy.title}` : '(none)'}\n`);
    process.stdout.write(`Indication: ${d.indication?.title ?? '(none)'} — ${d.phase} therapy\n`);
    process.stdout.write(`Outcome:    ${d.outcome.toUpperCase()} (review route: ${d.reviewRoute})\n`);
    if (d.approvalPeriod) process.stdout.write(`Approved:   ${d.approvalPeriod.start} to ${d.approvalPeriod.end}\n`);
    if (d.criteria.length > 0) process.stdout.write(`\n${table(d)}\n`);
    process.stdout.write('\nReasons:\n');
    for (const r of d.reasons) process.stdout.write(`  - [${r.code}] ${r.text}${r.citation ? ` (${r.citation})` : ''}\n`);
    for (const w of d.warnings) process.stdout.write(`  ! ${w.diagnostics ?? ''}\n`);
  }
}

main().catch((error: unknown) => {
  if (isOperationOutcomeError(error)) {
    process.stderr.write(`${JSON.stringify(error.outcome, null, 2)}\n`);
    process.exit(1);
  }
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
