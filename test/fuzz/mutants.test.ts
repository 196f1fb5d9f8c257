/**
 * Property-based fuzzing (issue 9 item 8) over HTTP against the real app: mutants of a valid PAS
 * request Bundle (fixtures/pas) and of the CDS Hooks order hooks (fixtures/crd).
 * For every mutant: never a 5xx, an answer within a bound, and never an approval (PAS A1 / CRD
 * `satisfied`) when the unmutated request is not approved.
 *
 * Reproduce a run with FUZZ_SEED=<seed printed below> (FUZZ_SEED=random draws a new one); FUZZ_RUNS sets the runs per property;
 * FUZZ_SECONDS bounds each property (default 18 s: the suite stays under a minute); FUZZ_TALLY=1
 * only counts (no assertion), to measure a branch's behaviour; FUZZ_DEBUG=1 logs every mutant.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import request from 'supertest';
import type { Bundle, ClaimResponse } from 'fhir/r4';
import { REPO_ROOT } from '../../src/config';
import { readReviewAction } from '../../src/pas/response';
import { createTestApp, type TestApp } from '../support/app';
import { applyMutations, mutationsArb, type Mutation } from './mutate';

// A fixed seed keeps `npm test` repeatable; FUZZ_SEED=random explores (and prints the seed it drew).
const SEED = process.env.FUZZ_SEED === 'random' ? Date.now() % 2 ** 31 : Number(process.env.FUZZ_SEED ?? 1232898834);
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const TALLY_ONLY = process.env.FUZZ_TALLY === '1';
const HUGE = Number(process.env.FUZZ_HUGE ?? 3000);
/** No request may take longer than this (the hang bound). */
const BOUND_MS = 15_000;

const read = (file: string): unknown => JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'fixtures', file), 'utf8'));

interface Tally {
  cases: number;
  byStatus: Record<string, number>;
  failures: string[];
  slowestMs: number;
}
const tally: Tally = { cases: 0, byStatus: {}, failures: [], slowestMs: 0 };

let t: TestApp;
beforeAll(async () => {
  console.log(`fuzz seed ${SEED} (FUZZ_SEED=${SEED} to reproduce), ${RUNS} runs per property`);
  t = await createTestApp();
}, 120_000);
afterAll(async () => {
  console.log(`fuzz tally: ${JSON.stringify({ seed: SEED, ...tally, failures: tally.failures.slice(0, 40) }, null, 1)}`);
  await t?.close();
});

function approvedPas(body: unknown): boolean {
  const response = (body as Bundle | undefined)?.entry?.[0]?.resource as ClaimResponse | undefined;
  if (response?.resourceType !== 'ClaimResponse') return false;
  return response.preAuthRef !== undefined || (response.item ?? []).some((item) => readReviewAction(item)?.code === 'A1');
}

/** Any coverage-information `pa-needed` = satisfied in the CDS Hooks answer. */
function satisfiedCrd(body: unknown): boolean {
  let found = false;
  const walk = (node: unknown): void => {
    if (found || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(walk);
    const record = node as Record<string, unknown>;
    if (record.url === 'pa-needed' && record.valueCode === 'satisfied') found = true;
    Object.values(record).forEach(walk);
  };
  walk(body);
  return found;
}

async function send(url: string, body: string): Promise<{ status: number; body: unknown; ms: number }> {
  const started = Date.now();
  const res = await request(t.app).post(url).set('Content-Type', 'application/json').timeout({ response: BOUND_MS, deadline: BOUND_MS * 2 }).send(body);
  return { status: res.status, body: res.body as unknown, ms: Date.now() - started };
}

/** Sends a mutant and records every broken property (asserted per property unless FUZZ_TALLY=1). */
async function check(label: string, url: string, body: string, described: string[], baseApproved: boolean, approved: (b: unknown) => boolean): Promise<string[]> {
  tally.cases++;
  if (process.env.FUZZ_DEBUG === '1') console.log(`sending ${label} [${described.join('; ')}]`);
  let res: { status: number; body: unknown; ms: number };
  try {
    res = await send(url, body);
  } catch (error) {
    tally.byStatus.timeout = (tally.byStatus.timeout ?? 0) + 1;
    const problem = `${label} [${described.join('; ')}]: no answer within ${BOUND_MS} ms (${String(error)})`;
    tally.failures.push(problem);
    return [problem];
  }
  if (process.env.FUZZ_DEBUG === '1') console.log(`${label} ${res.status} ${res.ms} ms [${described.join('; ')}]`);
  const klass = `${Math.floor(res.status / 100)}xx`;
  tally.byStatus[klass] = (tally.byStatus[klass] ?? 0) + 1;
  tally.slowestMs = Math.max(tally.slowestMs, res.ms);
  const problems: string[] = [];
  if (res.status >= 500) problems.push(`${label} [${described.join('; ')}]: HTTP ${res.status}`);
  if (res.ms > BOUND_MS) problems.push(`${label} [${described.join('; ')}]: ${res.ms} ms`);
  if (!baseApproved && res.status === 200 && approved(res.body)) problems.push(`${label} [${described.join('; ')}]: approved, the unmutated request is not`);
  if (res.status >= 400 && res.status < 500) {
    const outcome = res.body as { resourceType?: string; issue?: unknown[] };
    if (outcome?.resourceType !== 'OperationOutcome' || !Array.isArray(outcome.issue)) problems.push(`${label} [${described.join('; ')}]: ${res.status} without an OperationOutcome`);
  }
  tally.failures.push(...problems);
  return problems;
}

async function runProperty(name: string, seedOffset: number, probe: (mutations: Mutation[]) => Promise<string[]>): Promise<void> {
  await fc.assert(
    fc.asyncProperty(mutationsArb, async (mutations) => {
      const problems = await probe(mutations);
      if (!TALLY_ONLY && problems.length > 0) throw new Error(problems.join('\n'));
    }),
    // Shrinking re-sends slow mutants many times; the failing mutation list is already short and printed.
    { seed: SEED + seedOffset, numRuns: RUNS, endOnFailure: true, interruptAfterTimeLimit: Number(process.env.FUZZ_SECONDS ?? 18) * 1000 },
  );
  if (TALLY_ONLY) return;
  expect(name).toBeTruthy();
}

const PAS_BASE = read('pas/kineret-request-base.json') as Bundle;

/** The base request with fresh business identifiers, so no mutant is answered as a resubmission. */
function freshPas(): Bundle {
  const bundle = structuredClone(PAS_BASE);
  bundle.identifier = { ...(bundle.identifier ?? {}), value: crypto.randomUUID() };
  const claim = bundle.entry?.[0]?.resource;
  if (claim?.resourceType === 'Claim') claim.identifier = [{ system: 'urn:example:fuzz', value: crypto.randomUUID() }];
  return bundle;
}

const CRD_BASES = [
  { file: 'crd/order-sign-kineret.json', service: 'pa-order-sign' },
  { file: 'crd/order-sign-not-covered.json', service: 'pa-order-sign' },
  { file: 'crd/order-select-kineret.json', service: 'pa-order-select' },
  { file: 'crd/order-dispatch-kineret.json', service: 'pa-order-dispatch' },
].map((b) => ({ ...b, body: read(b.file) as Record<string, unknown> }));

describe('fuzzed PAS Claim/$submit', () => {
  let baseApproved = true;
  test('the unmutated request is answered and not approved', async () => {
    const res = await send('/fhir/Claim/$submit', JSON.stringify(freshPas()));
    expect(res.status).toBe(200);
    baseApproved = approvedPas(res.body);
    expect(baseApproved).toBe(false);
  });

  test('no mutant gets a 5xx, hangs, or is approved', async () => {
    await runProperty('pas', 0, async (mutations) => {
      const { body, described } = applyMutations(freshPas(), mutations, { hugeArray: HUGE });
      return check('$submit', '/fhir/Claim/$submit', body, described, baseApproved, approvedPas);
    });
  }, 120_000);
});

describe('fuzzed CDS Hooks order hooks', () => {
  const baseSatisfied = new Map<string, boolean>();
  test('the unmutated requests are answered and none is satisfied', async () => {
    for (const base of CRD_BASES) {
      const res = await send(`/cds-services/${base.service}`, JSON.stringify({ ...base.body, hookInstance: crypto.randomUUID() }));
      expect(res.status).toBe(200);
      baseSatisfied.set(base.file, satisfiedCrd(res.body));
      expect(baseSatisfied.get(base.file)).toBe(false);
    }
  });

  test('no mutant gets a 5xx, hangs, or is granted', async () => {
    let n = 0;
    await runProperty('crd', 1, async (mutations) => {
      const base = CRD_BASES[n++ % CRD_BASES.length] as (typeof CRD_BASES)[number];
      const { body, described } = applyMutations({ ...base.body, hookInstance: crypto.randomUUID() }, mutations, { hugeArray: HUGE });
      return check(base.service, `/cds-services/${base.service}`, body, described, baseSatisfied.get(base.file) ?? true, satisfiedCrd);
    });
  }, 120_000);
});
