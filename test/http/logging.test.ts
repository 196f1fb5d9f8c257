/**
 * Structured logs (pino): a PAS $submit and a CDS Hooks call for a patient with a known member id,
 * name and birth date leave none of them in the log; tokens and patient fields are censored
 * wherever a caller puts them; the lines about a request carry its id.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import request from 'supertest';
import type { Bundle, ClaimResponse, Coverage, Patient } from 'fhir/r4';
import { createTestApp, type TestApp } from '../support/app';
import { fixture } from '../support/crd-client';
import { createLogger, type Logger } from '../../src/logger';

// The patient of both requests: distinctive values, so a leak cannot hide among other text.
const MEMBER_ID = 'ZK4417730925';
const FAMILY = 'Wojciechowska-Quill';
const GIVEN = 'Philippa';
const BIRTH_DATE = '1968-07-29';
const SECRETS = [MEMBER_ID, FAMILY, GIVEN, BIRTH_DATE];

/** A logger whose lines are kept, parsed, for the test to read. */
function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    logger: createLogger({ level: 'info', destination: sink }),
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

function withPatient(patient: Patient): Patient {
  return {
    ...patient,
    name: [{ use: 'official', family: FAMILY, given: [GIVEN] }],
    birthDate: BIRTH_DATE,
    identifier: [...(patient.identifier ?? []).filter((i) => i.type?.coding?.[0]?.code !== 'MB'), { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MB' }] }, value: MEMBER_ID }],
  };
}

function withMember(coverage: Coverage): Coverage {
  return { ...coverage, subscriberId: MEMBER_ID, identifier: (coverage.identifier ?? []).map((i) => ({ ...i, value: MEMBER_ID })) };
}

function pasRequest(): Bundle {
  const bundle = JSON.parse(fs.readFileSync(path.join(__dirname, '../../fixtures/pas/kineret-request-base.json'), 'utf8')) as Bundle;
  for (const entry of bundle.entry ?? []) {
    if (entry.resource?.resourceType === 'Patient') entry.resource = withPatient(entry.resource);
    if (entry.resource?.resourceType === 'Coverage') entry.resource = withMember(entry.resource);
  }
  return bundle;
}

function hookRequest() {
  const body = fixture('order-sign-kineret');
  body.prefetch.patient = withPatient(body.prefetch.patient as Patient);
  const coverages = body.prefetch.coverage as Bundle;
  for (const entry of coverages.entry ?? []) entry.resource = withMember(entry.resource as Coverage);
  return body;
}

let t: TestApp;
let log: ReturnType<typeof capturingLogger>;

beforeAll(async () => {
  log = capturingLogger();
  t = await createTestApp({}, undefined, log.logger);
}, 60_000);
afterAll(() => t.close());

test('a $submit and a CDS Hooks call leave no member id, name or birth date in the log', async () => {
  const pas = pasRequest();
  expect(JSON.stringify(pas)).toContain(MEMBER_ID);
  const submitted = await request(t.app).post('/fhir/Claim/$submit').type('application/fhir+json').send(JSON.stringify(pas));
  expect(submitted.status).toBe(200);
  // The answer is about this patient (so the request did carry the data the log must not).
  expect(JSON.stringify(submitted.body)).toContain(MEMBER_ID);
  const hook = await request(t.app).post('/cds-services/pa-order-sign').type('application/json').send(JSON.stringify(hookRequest()));
  expect(hook.status).toBe(200);
  const bad = await request(t.app).post('/fhir/Claim/$submit').type('application/fhir+json').send({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: withPatient({ resourceType: 'Patient' }) }] });
  expect(bad.status).toBeGreaterThanOrEqual(400);

  const text = log.text();
  for (const secret of SECRETS) expect(text).not.toContain(secret);
  const lines = log.lines();
  // Every line logged while handling these requests names its request.
  expect(lines.length).toBeGreaterThanOrEqual(4);
  for (const line of lines) expect(line.requestId).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
  const requests = lines.filter((l) => l.message === 'request');
  expect(requests.map((l) => l.requestId)).toEqual(expect.arrayContaining([submitted.headers['x-request-id'], hook.headers['x-request-id'], bad.headers['x-request-id']]));
  expect(requests.find((l) => l.requestId === submitted.headers['x-request-id'])).toMatchObject({ level: 'info', method: 'POST', operation: '/fhir/Claim/$submit', status: 200 });
  const items = ((submitted.body as Bundle).entry?.[0]?.resource as ClaimResponse).item?.length;
  const submitLine = lines.find((l) => l.message === 'pas.submit');
  expect(submitLine).toMatchObject({ requestId: submitted.headers['x-request-id'], policy: 'cp-phar-244' });
  // Outcomes are counted, so the line stays short whatever the number of items.
  expect(Object.values(submitLine?.outcomes as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(items);
});

test('token and patient fields are censored wherever they sit', () => {
  const own = capturingLogger();
  own.logger.warn('careless caller', {
    headers: { authorization: 'Bearer tok-123', 'set-cookie': 'sid=abc' },
    form: { client_assertion: 'eyJhbGciOiJFUzM4NCJ9.assertion.sig', access_token: 'at-456' },
    context: { fhirAuthorization: { access_token: 'at-789' } },
    patient: { name: [{ family: FAMILY, given: [GIVEN] }], birthDate: BIRTH_DATE, identifier: [{ value: MEMBER_ID }] },
    bundle: { entry: [{ resource: { resourceType: 'Coverage', subscriberId: MEMBER_ID } }] },
    memberId: MEMBER_ID,
    outcome: 'pend',
    deep: { a: { b: { c: { d: { e: { f: { g: { h: { note: MEMBER_ID } } } } } } } } },
  });
  const text = own.text();
  for (const secret of [...SECRETS, 'tok-123', 'sid=abc', 'assertion.sig', 'at-456', 'at-789']) expect(text).not.toContain(secret);
  const [line] = own.lines();
  expect(line).toMatchObject({ level: 'warn', message: 'careless caller', outcome: 'pend', memberId: '[redacted]', patient: { birthDate: '[redacted]' } });
  // Past the depth the censor walks, a value is dropped whole rather than written unchecked.
  expect(JSON.stringify(line?.deep)).toContain('[truncated]');
});

test('LOG_LEVEL drops lines below it', () => {
  const chunks: string[] = [];
  const logger = createLogger({ level: 'warn', destination: new Writable({ write: (c: Buffer, _e, done) => (chunks.push(c.toString()), done()) }) });
  logger.info('dropped');
  logger.warn('kept');
  logger.error('kept too');
  expect(chunks.map((c) => (JSON.parse(c) as { message: string }).message)).toEqual(['kept', 'kept too']);
});
