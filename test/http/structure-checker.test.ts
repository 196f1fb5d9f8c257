/**
 * The R4 structure check on worker threads (src/fhir/structure-checker.ts) answers as the in-process
 * check does: the same errors and warnings, the same elements removed from the caller's copy (the
 * worker parses its own copy from the raw bytes), and, for a PAS Bundle, the content hash of the
 * cleaned request, so a resend is still recognised.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { Bundle, Claim, ClaimResponse, Condition, OperationOutcome } from 'fhir/r4';
import { loadConfig, REPO_ROOT } from '../../src/config';
import { DEFAULT_LIMITS } from '../../src/fhir/structure';
import { checkBody, createStructureChecker, inProcessStructureChecker, type StructureChecker } from '../../src/fhir/structure-checker';
import { isOperationOutcomeError } from '../../src/fhir/outcomes';
import { readEngineSources } from '../../src/engine/sources';
import { createWorkerThreads, type WorkerThreads } from '../../src/engine/threads';
import { contentHashOf } from '../../src/pas/lifecycle';
import { createApp } from '../../src/http/app';
import { allRoutes } from '../../src/http/routes';
import { createTestApp, type TestApp } from '../support/app';

const limits = { ...DEFAULT_LIMITS, maxBundleEntries: 50, maxClaimItems: 60, maxArrayItems: 40 };

function pasRequest(edit: (bundle: Bundle, claim: Claim) => void = () => undefined): Bundle {
  const bundle = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'fixtures', 'pas', 'kineret-request-base.json'), 'utf8')) as Bundle;
  bundle.identifier = { system: 'urn:example:structure-checker', value: crypto.randomUUID() };
  const claim = bundle.entry?.[0]?.resource as Claim;
  claim.identifier = [{ system: 'urn:example:structure-checker', value: crypto.randomUUID() }];
  edit(bundle, claim);
  return bundle;
}

/** STU3 string statuses and empty values in two entries: removed with warnings. */
const imperfect = () =>
  pasRequest((bundle) => {
    const conditions = (bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'Condition');
    for (const e of conditions) Object.assign(e.resource as Condition, { clinicalStatus: 'active', note: [] });
    (bundle.entry?.[1]?.resource as unknown as Record<string, unknown>).extension = [];
  });
const bad = () =>
  pasRequest((bundle) => {
    (bundle.entry?.[1]?.resource as unknown as Record<string, unknown>).meta = 7;
  });
const tooManyItems = () =>
  pasRequest((_bundle, claim) => {
    const first = claim.item?.[0];
    if (first) claim.item = Array.from({ length: 61 }, (_, i) => ({ ...first, sequence: i + 1 }));
  });

type Answer = { warnings: unknown; contentHash?: string; value: unknown } | { status: number; outcome: OperationOutcome };

async function answer(checker: StructureChecker, body: Bundle, raw: boolean): Promise<Answer> {
  const bytes = raw ? Buffer.from(JSON.stringify(body)) : undefined;
  try {
    const checked = await checkBody(checker, body, limits, { contentHash: true, ...(bytes ? { raw: bytes } : {}) });
    return { warnings: checked.warnings, ...(checked.contentHash ? { contentHash: checked.contentHash } : {}), value: body };
  } catch (error) {
    if (!isOperationOutcomeError(error)) throw error;
    return { status: error.status, outcome: error.outcome };
  }
}

let threads: WorkerThreads;
let pool: StructureChecker;
beforeAll(() => {
  threads = createWorkerThreads({ ...loadConfig({}), evaluation: { workers: 1, timeoutMs: 60_000 } }, readEngineSources(loadConfig({}).paths).policies);
  pool = createStructureChecker(threads);
});
afterAll(async () => {
  await threads?.close();
});

describe('structure check on a worker thread', () => {
  test.each([
    ['imperfect R4 (removed with warnings)', imperfect],
    ['a wrong JSON type (400)', bad],
    ['more Claim items than the limit (413)', tooManyItems],
  ])('%s: the same answer as in-process, from the raw bytes and from the value', async (_name, make) => {
    const body = make();
    const expected = await answer(inProcessStructureChecker(), structuredClone(body), false);
    for (const raw of [true, false]) {
      const got = await answer(pool, structuredClone(body), raw);
      if ('value' in expected) {
        // The worker also hashes the cleaned request, as submitClaim would on the main thread.
        expect(got).toEqual({ ...expected, contentHash: contentHashOf(expected.value as Bundle) });
      } else {
        expect(got).toEqual(expected);
      }
    }
    if ('value' in expected) expect(JSON.stringify(expected.value)).not.toContain('"clinicalStatus":"active"');
    else expect([400, 413]).toContain(expected.status);
  }, 60_000);
});

describe('PAS $submit with the structure check on a worker thread', () => {
  let t: TestApp;
  let app: ReturnType<typeof createApp>;
  beforeAll(async () => {
    t = await createTestApp({ limits });
    app = createApp({ ...t.ctx, structure: pool }, allRoutes);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });
  const submit = (body: Bundle) => request(app).post('/fhir/Claim/$submit').set('Content-Type', 'application/fhir+json').send(JSON.stringify(body));

  test('imperfect R4 is answered, and its resend gets the same answer (the worker hashed the cleaned request)', async () => {
    const body = imperfect();
    const first = await submit(body);
    expect(first.status).toBe(200);
    const response = first.body as Bundle;
    expect(response.entry?.[0]?.resource?.resourceType).toBe('ClaimResponse');
    const again = await submit(body);
    expect(again.status).toBe(200);
    expect(((again.body as Bundle).entry?.[0]?.resource as ClaimResponse).id).toBe((response.entry?.[0]?.resource as ClaimResponse).id);
  }, 60_000);

  test('a wrong JSON type: 400 naming the element', async () => {
    const res = await submit(bad());
    expect(res.status).toBe(400);
    expect((res.body as OperationOutcome).issue.flatMap((i) => i.expression ?? [])).toContain('Bundle.entry[1].resource.meta');
  }, 60_000);

  test('a Claim with more items than MAX_ARRAY_ITEMS but within MAX_CLAIM_ITEMS is answered; above MAX_CLAIM_ITEMS 413', async () => {
    const many = pasRequest((_bundle, claim) => {
      const first = claim.item?.[0];
      if (first) claim.item = Array.from({ length: 45 }, (_, i) => ({ ...first, sequence: i + 1 }));
    });
    const res = await submit(many);
    expect(res.status).toBe(200);
    expect(((res.body as Bundle).entry?.[0]?.resource as ClaimResponse).item).toHaveLength(45);
    const over = await submit(tooManyItems());
    expect(over.status).toBe(413);
    expect((over.body as OperationOutcome).issue[0]?.diagnostics).toMatch(/at most 60 items \(MAX_CLAIM_ITEMS\)/);
  }, 120_000);
});
