/**
 * The EHR reads of src/fhir/fetcher.ts against the local FHIR server: reads asked together go as one
 * batch and answer as their single reads would; a server that refuses batches is read one by one,
 * and remembered.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bundle, FhirResource } from 'fhir/r4';
import { createFhirKitFetcher, FhirFetchError } from '../../src/fhir/fetcher';
import { startLocalFhirServer, type LocalFhirServer } from '../support/fhir-server';

const TOKEN = 'fetcher-token';
const RESOURCES: FhirResource[] = [
  { resourceType: 'Patient', id: 'p1' },
  { resourceType: 'Condition', id: 'c1', subject: { reference: 'Patient/p1' }, code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M05.79' }] } },
  { resourceType: 'Condition', id: 'c2', subject: { reference: 'Patient/p1' }, code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M06.9' }] } },
  { resourceType: 'AllergyIntolerance', id: 'a1', patient: { reference: 'Patient/p1' } },
] as FhirResource[];
const READS = ['Patient/p1', 'Condition?patient=p1', 'AllergyIntolerance?patient=p1'];

const ids = (resource: FhirResource) =>
  resource.resourceType === 'Bundle' ? (resource as Bundle).entry?.map((e) => e.resource?.id) : [resource.id];

let servers: LocalFhirServer[] = [];
async function server(options: { batch?: boolean; pageSize?: number } = {}): Promise<LocalFhirServer> {
  const s = await startLocalFhirServer(RESOURCES, { token: TOKEN, ...options });
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

test('reads asked together go as one batch and answer as their single reads do', async () => {
  const ehr = await server();
  const single = createFhirKitFetcher({ baseUrl: ehr.baseUrl, accessToken: TOKEN }, { batch: false });
  const expected = [];
  for (const url of READS) expected.push(ids(await single.get(url)));
  expect(ehr.requests.every((r) => !r.batch)).toBe(true);

  ehr.requests.length = 0;
  const fetcher = createFhirKitFetcher({ baseUrl: ehr.baseUrl, accessToken: TOKEN });
  const answers = await Promise.all(READS.map((url) => fetcher.get(url)));
  expect(answers.map(ids)).toEqual(expected);
  expect(ehr.requests).toEqual(READS.map((url) => ({ method: 'GET', url, authorization: `Bearer ${TOKEN}`, batch: true })));
});

test('a read that fails inside a batch fails alone, with its status', async () => {
  const ehr = await server();
  const fetcher = createFhirKitFetcher({ baseUrl: ehr.baseUrl, accessToken: TOKEN });
  const [patient, missing] = await Promise.allSettled([fetcher.get('Patient/p1'), fetcher.get('Patient/nobody')]);
  expect(patient).toMatchObject({ status: 'fulfilled', value: { id: 'p1' } });
  expect(missing).toMatchObject({ status: 'rejected', reason: { status: 404, message: 'HTTP 404' } });
  expect((missing as PromiseRejectedResult).reason).toBeInstanceOf(FhirFetchError);
  expect(ehr.requests.every((r) => r.batch)).toBe(true);
});

test('next links on the server go into the batch as relative reads', async () => {
  const ehr = await server({ pageSize: 1 });
  const fetcher = createFhirKitFetcher({ baseUrl: ehr.baseUrl, accessToken: TOKEN });
  const first = (await fetcher.get('Condition?patient=p1')) as Bundle;
  const next = first.link?.find((l) => l.relation === 'next')?.url as string;
  expect(next.startsWith(`${ehr.baseUrl}/`)).toBe(true);
  const [page2, patient] = await Promise.all([fetcher.get(next), fetcher.get('Patient/p1')]);
  expect(ids(page2)).toEqual(['c2']);
  expect(patient.id).toBe('p1');
  expect(ehr.requests.slice(-2)).toEqual([
    expect.objectContaining({ url: next.slice(ehr.baseUrl.length + 1), batch: true }),
    expect.objectContaining({ url: 'Patient/p1', batch: true }),
  ]);
});

test('a server that refuses batches is read one by one, and is not asked for a batch again', async () => {
  const ehr = await server({ batch: false });
  const fetcher = createFhirKitFetcher({ baseUrl: ehr.baseUrl, accessToken: TOKEN });
  const answers = await Promise.all(READS.map((url) => fetcher.get(url)));
  expect(answers.map(ids)).toEqual([['p1'], ['c1', 'c2'], ['a1']]);
  expect(ehr.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  expect(ehr.requests.filter((r) => r.method === 'GET').map((r) => r.url)).toEqual(READS);

  // A later hook's fetcher for the same server reads one by one straight away.
  ehr.requests.length = 0;
  const later = createFhirKitFetcher({ baseUrl: ehr.baseUrl, accessToken: TOKEN });
  await Promise.all(READS.map((url) => later.get(url)));
  expect(ehr.requests.map((r) => r.method)).toEqual(['GET', 'GET', 'GET']);
});

let oddServers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(oddServers.map((close) => close()));
  oddServers = [];
});

/** A bare HTTP server playing an odd FHIR server; `close` also ends requests it holds unanswered. */
async function oddServer(handle: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void) {
  const asked: string[] = [];
  const server = http.createServer((req, res) => {
    asked.push(`${req.method} ${req.url}`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  oddServers.push(close);
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`, asked };
}
const sendJson = (res: http.ServerResponse, body: unknown) => res.writeHead(200, { 'content-type': 'application/fhir+json' }).end(JSON.stringify(body));

test('an answer to a batch that is not its batch-response is not trusted: the reads go one by one', async () => {
  const odd = await oddServer((req, res) =>
    sendJson(res, req.method === 'POST' ? { resourceType: 'Bundle', type: 'batch-response', entry: [] } : { resourceType: 'Patient', id: req.url?.split('/').pop() }),
  );
  const fetcher = createFhirKitFetcher({ baseUrl: odd.baseUrl });
  const answers = await Promise.all([fetcher.get('Patient/a'), fetcher.get('Patient/b')]);
  expect(answers.map((r) => r.id)).toEqual(['a', 'b']);
  expect(odd.asked).toEqual(['POST /fhir', 'GET /fhir/Patient/a', 'GET /fhir/Patient/b']);
});

test('a batch whose every read is refused is read again one by one, and not asked for a batch again', async () => {
  const picky = await oddServer((req, res, body) =>
    sendJson(
      res,
      req.method === 'POST'
        ? { resourceType: 'Bundle', type: 'batch-response', entry: (JSON.parse(body) as Bundle).entry?.map(() => ({ response: { status: '403 Forbidden' } })) }
        : { resourceType: 'Patient', id: req.url?.split('/').pop() },
    ),
  );
  const fetcher = createFhirKitFetcher({ baseUrl: picky.baseUrl });
  expect((await Promise.all([fetcher.get('Patient/c'), fetcher.get('Patient/d')])).map((r) => r.id)).toEqual(['c', 'd']);
  expect((await Promise.all([fetcher.get('Patient/e'), fetcher.get('Patient/f')])).map((r) => r.id)).toEqual(['e', 'f']);
  expect(picky.asked).toEqual(['POST /fhir', 'GET /fhir/Patient/c', 'GET /fhir/Patient/d', 'GET /fhir/Patient/e', 'GET /fhir/Patient/f']);
});

test('a read that is never answered fails at its time limit, naming it', async () => {
  const silent = await oddServer(() => undefined);
  const read = createFhirKitFetcher({ baseUrl: silent.baseUrl }, { timeoutMs: 150 }).get('Patient/p1');
  await expect(read).rejects.toBeInstanceOf(FhirFetchError);
  await expect(read).rejects.toThrow('no answer within 150 ms');
});

test('a batch that gets no answer fails each of its reads at the time limit', async () => {
  const silent = await oddServer(() => undefined);
  const fetcher = createFhirKitFetcher({ baseUrl: silent.baseUrl }, { timeoutMs: 150 });
  const reads = await Promise.allSettled([fetcher.get('Patient/a'), fetcher.get('Patient/b')]);
  expect(reads.map((r) => (r as PromiseRejectedResult).reason?.message)).toEqual(['no answer within 150 ms', 'no answer within 150 ms']);
  // One request: the batch; the reads were not retried one by one.
  expect(silent.asked).toEqual(['POST /fhir']);
});
