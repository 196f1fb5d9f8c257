/**
 * `Claim/$submit` end to end through the real Express app, engine and store.
 */
import fs from 'node:fs';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import request from 'supertest';
import type { Bundle, ClaimResponse, OperationOutcome } from 'fhir/r4';
import { createTestApp, withSettings, type TestApp } from '../support/app';
import { readReviewAction } from '../../src/pas/response';

const FIXTURE = path.join(__dirname, '../../fixtures/pas/kineret-request-base.json');
let counter = 0;
/** The fixture with a fresh Claim identifier, so no test sees another's stored answer. */
const base = (): Bundle => {
  const bundle = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as Bundle;
  const claim = bundle.entry?.[0]?.resource as { identifier?: { system?: string; value?: string }[] };
  claim.identifier = [{ system: 'urn:example:test-claims', value: `claim-${process.pid}-${++counter}` }];
  return bundle;
};

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

function submit(body: unknown, type = 'application/fhir+json') {
  return request(t.app)
    .post('/fhir/Claim/$submit')
    .set('Content-Type', type)
    .send(typeof body === 'string' ? body : JSON.stringify(body));
}

function reviewAction(response: ClaimResponse): string | undefined {
  const item = response.item?.[0];
  return item ? readReviewAction(item)?.code : undefined;
}

describe('POST /fhir/Claim/$submit', () => {
  test('a Kineret request missing step-therapy documentation is pended (A4) with each criterion cited', async () => {
    const res = await submit(base());
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
    const bundle = res.body as Bundle;
    expect(bundle.resourceType).toBe('Bundle');
    const claimResponse = bundle.entry?.[0]?.resource as ClaimResponse;
    expect(claimResponse.resourceType).toBe('ClaimResponse');
    expect(claimResponse.outcome).toBe('complete');
    expect(reviewAction(claimResponse)).toBe('A4');
    expect(claimResponse.preAuthRef).toBeUndefined();
    const notes = (claimResponse.processNote ?? []).map((n) => n.text).join('\n');
    expect(notes).toContain('CP.PHAR.244 I.A.4');
    expect(notes).toContain('CP.PHAR.244 I.A.5.b');

    const stored = await request(t.app).get(`/fhir/ClaimResponse/${claimResponse.id}`);
    expect(stored.status).toBe(200);
    expect((stored.body as ClaimResponse).id).toBe(claimResponse.id);
  });

  test('the approvable request (fixtures/pas/kineret-request-approvable.json, the ra-approvable chart) is certified (A1) with a number and period', async () => {
    const bundle = JSON.parse(fs.readFileSync(path.join(__dirname, '../../fixtures/pas/kineret-request-approvable.json'), 'utf8')) as Bundle;
    (bundle.entry?.[0]?.resource as { identifier?: unknown[] }).identifier = [{ system: 'urn:example:test-claims', value: `claim-${process.pid}-${++counter}` }];
    const res = await submit(bundle);
    expect(res.status).toBe(200);
    const claimResponse = (res.body as Bundle).entry?.[0]?.resource as ClaimResponse;
    expect(reviewAction(claimResponse)).toBe('A1');
    expect(claimResponse.preAuthRef).toMatch(/^PA-/);
    expect(claimResponse.preAuthPeriod?.start).toBeDefined();
    expect((claimResponse.processNote ?? []).map((n) => n.text).join('\n')).toContain('certified under CP.PHAR.244');
  });

  test('fullUrls and identifier systems use PUBLIC_BASE_URL; ClaimResponse.request resolves to the stored Claim (profile-claimresponse request 1..1)', async () => {
    const body = base();
    const res = await submit(body);
    const bundle = res.body as Bundle;
    const claimResponse = bundle.entry?.[0]?.resource as ClaimResponse;
    expect(bundle.entry?.[0]?.fullUrl).toBe(`http://pa.test/fhir/ClaimResponse/${claimResponse.id}`);
    expect(bundle.identifier?.system).toMatch(/^http:\/\/pa\.test\/fhir\//);
    expect(claimResponse.identifier?.[0]?.system).toMatch(/^http:\/\/pa\.test\/fhir\//);
    expect(JSON.stringify(bundle)).not.toContain('pa.example.org');
    const reference = claimResponse.request?.reference ?? '';
    expect(reference.startsWith('http://pa.test/fhir/Claim/')).toBe(true);
    const claim = await request(t.app).get(reference.slice('http://pa.test'.length));
    expect(claim.status).toBe(200);
    expect(claim.body.resourceType).toBe('Claim');
    expect(claimResponse.request?.identifier).toEqual((body.entry?.[0]?.resource as { identifier?: unknown[] }).identifier?.[0]);
  });

  test('a resubmission of the same Claim identifier returns the stored answer', async () => {
    const body = base();
    const claim = body.entry?.[0]?.resource as { identifier?: { system?: string; value?: string }[] };
    claim.identifier = [{ system: 'urn:example:claims', value: 'resubmit-1' }];
    const first = await submit(body);
    const second = await submit(body);
    expect(second.status).toBe(200);
    expect((second.body as Bundle).entry?.[0]?.resource?.id).toBe((first.body as Bundle).entry?.[0]?.resource?.id);
  });

  test('the answer is the stored response bundle, byte for byte (sent as the text the store wrote)', async () => {
    const res = await submit(base());
    expect(res.status).toBe(200);
    const claimResponse = (res.body as Bundle).entry?.[0]?.resource as ClaimResponse;
    const record = await t.ctx.store.getClaimByResponseId(claimResponse.id ?? '');
    expect(record).not.toBeNull();
    expect(res.text).toBe(JSON.stringify(record?.responseBundle));
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
  });

  test('a long answer is sent as the bytes the store wrote, with their Content-Length', async () => {
    const body = base();
    const claim = body.entry?.[0]?.resource as { item?: { sequence: number }[] };
    const first = claim.item?.[0];
    if (first) claim.item = Array.from({ length: 25 }, (_, i) => ({ ...first, sequence: i + 1 }));
    const res = await submit(body);
    expect(res.status).toBe(200);
    const record = await t.ctx.store.getClaimByResponseId(((res.body as Bundle).entry?.[0]?.resource as ClaimResponse).id ?? '');
    expect(res.text).toBe(JSON.stringify(record?.responseBundle));
    expect(Buffer.byteLength(res.text)).toBeGreaterThan(64 * 1024);
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
    expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    // No hash of the text for an ETag: an operation's answer has no version.
    expect(res.headers.etag).toBeUndefined();
  }, 60_000);

  test('a client that hangs up while a long answer goes out: the answer is stored and the server goes on', async () => {
    const body = base();
    const claim = body.entry?.[0]?.resource as { item?: { sequence: number }[]; identifier?: { system?: string; value?: string }[] };
    const first = claim.item?.[0];
    if (first) claim.item = Array.from({ length: 1000 }, (_, i) => ({ ...first, sequence: i + 1 }));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const server = http.createServer(t.app).listen(0, '127.0.0.1');
    try {
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      const text = JSON.stringify(body);
      // Read the status line and the first bytes of the answer, then hang up.
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/fhir/Claim/$submit', headers: { 'content-type': 'application/fhir+json', 'content-length': Buffer.byteLength(text) } }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve(res.statusCode ?? 0);
          });
        });
        req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
        req.end(text);
      });
      expect(status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const stored = await t.ctx.store.findClaimByIdentifier(claim.identifier?.[0]?.system ?? null, claim.identifier?.[0]?.value ?? '');
      expect(stored?.claimResponse.item).toHaveLength(1000);
      expect((await submit(base())).status).toBe(200);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      server.close();
    }
  }, 60_000);

  test('a ClaimResponse read carries its version: meta.versionId and the weak ETag W/"1"', async () => {
    const res = await submit(base());
    const id = ((res.body as Bundle).entry?.[0]?.resource as ClaimResponse).id ?? '';
    const read = await request(t.app).get(`/fhir/ClaimResponse/${id}`);
    expect(read.status).toBe(200);
    expect((read.body as ClaimResponse).meta?.versionId).toBe('1');
    expect(read.headers.etag).toBe('W/"1"');
    const version = await request(t.app).get(`/fhir/ClaimResponse/${id}/_history/1`);
    expect(version.headers.etag).toBe('W/"1"');
  });

  test('a payer the catalog does not serve is pended with a note that says so', async () => {
    const body = base();
    for (const entry of body.entry ?? []) {
      const r = entry.resource as { resourceType: string; identifier?: { system?: string; value?: string }[] };
      if (r.resourceType === 'Organization') {
        for (const id of r.identifier ?? []) if (id.system === 'urn:oid:2.16.840.1.113883.6.300') id.value = '99999';
      }
    }
    const res = await submit(body);
    expect(res.status).toBe(200);
    const claimResponse = (res.body as Bundle).entry?.[0]?.resource as ClaimResponse;
    expect(reviewAction(claimResponse)).toBe('A4');
    expect((claimResponse.processNote ?? []).map((n) => n.text).join(' ')).toMatch(/not served|no policy/i);
  });

  const bad: [string, () => unknown, string, number][] = [
    ['not JSON', () => '{"resourceType": "Bundle",', 'structure', 400],
    ['wrong resourceType', () => ({ resourceType: 'Patient' }), 'invalid', 400],
    ['an empty Bundle', () => ({ resourceType: 'Bundle', type: 'collection', entry: [] }), 'required', 400],
  ];
  test.each(bad)('%s gets a 4xx OperationOutcome', async (_name, body, _code, status) => {
    const res = await submit(body());
    expect(res.status).toBe(status);
    const outcome = res.body as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0]?.severity).toBe('error');
  });

  test('the Claim not first: 400 naming Bundle.entry[0]', async () => {
    const body = base();
    body.entry = [...(body.entry ?? []).slice(1), ...(body.entry ?? []).slice(0, 1)];
    const res = await submit(body);
    expect(res.status).toBe(400);
    const expressions = (res.body as OperationOutcome).issue.flatMap((i) => i.expression ?? []);
    expect(expressions.some((e) => e.startsWith('Bundle.entry[0]'))).toBe(true);
  });

  test('use other than preauthorization: 400 naming Claim.use', async () => {
    const body = base();
    (body.entry?.[0]?.resource as { use: string }).use = 'claim';
    const res = await submit(body);
    expect(res.status).toBe(400);
    const expressions = (res.body as OperationOutcome).issue.flatMap((i) => i.expression ?? []);
    expect(expressions.some((e) => e.endsWith('.use'))).toBe(true);
  });

  test('a dangling reference: 400 naming the reference', async () => {
    const body = base();
    (body.entry?.[0]?.resource as { patient: { reference: string } }).patient = { reference: 'Patient/does-not-exist' };
    const res = await submit(body);
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('patient');
  });

  test('a body over the size limit: 413 OperationOutcome', async () => {
    const small = withSettings(t, { maxBodyBytes: 1024 });
    try {
      const res = await request(small.app)
        .post('/fhir/Claim/$submit')
        .set('Content-Type', 'application/fhir+json')
        .send(JSON.stringify(base()));
      expect(res.status).toBe(413);
      expect((res.body as OperationOutcome).issue[0]?.code).toBe('too-costly');
    } finally {
      await small.close();
    }
  });

  test('a non-JSON content type: 415 OperationOutcome', async () => {
    const res = await request(t.app).post('/fhir/Claim/$submit').set('Content-Type', 'text/plain').send('hello');
    expect(res.status).toBe(415);
    expect((res.body as OperationOutcome).resourceType).toBe('OperationOutcome');
  });

  test('unknown Claim and ClaimResponse ids: 404 OperationOutcome', async () => {
    for (const url of ['/fhir/Claim/nope', '/fhir/ClaimResponse/nope']) {
      const res = await request(t.app).get(url);
      expect(res.status).toBe(404);
      expect((res.body as OperationOutcome).issue[0]?.code).toBe('not-found');
    }
  });

  test('GET /fhir/metadata is a CapabilityStatement declaring $submit', async () => {
    const res = await request(t.app).get('/fhir/metadata');
    expect(res.status).toBe(200);
    expect(res.body.resourceType).toBe('CapabilityStatement');
    expect(JSON.stringify(res.body)).toContain('Claim-submit');
  });
});
