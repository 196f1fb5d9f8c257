/**
 * A small but real FHIR R4 server for tests: node http on 127.0.0.1, serving one set of resources
 * for reads (`Type/id`) and the searches our CRD prefetch templates and data lookups make.
 * It plays the EHR's FHIR server behind `fhirServer`, so the product reads it through its real
 * fhir-kit-client path.
 *
 * Supports: read; search by `_id`, `patient` (subject / patient / beneficiary), `subject`,
 * `status`, `code` (system|code tokens), `category`, `practitioner`, `_count` (with `next` links),
 * `_include` / `_include:iterate` / `_revinclude:iterate` for the references the CRD templates name; comma-separated values (OR). A search parameter it does not know is a
 * 400 OperationOutcome, so a query the product was not meant to make fails the test instead of
 * silently returning everything. Optional bearer token check (401 otherwise). A batch of reads
 * (POST of a `batch` Bundle to the base), unless `batch: false` (then 405, as servers that do not
 * take batches answer).
 * Records every read with its Authorization header, each read of a batch as its own.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bundle, FhirResource } from 'fhir/r4';

export interface RecordedRequest {
  method: string;
  /** Path and query after the base, e.g. `Condition?patient=pt-1`. */
  url: string;
  authorization?: string;
  /** The read came in a batch. */
  batch?: true;
}

export interface LocalFhirServer {
  /** `http://127.0.0.1:<port>/fhir` */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Replaces the served resources. */
  setResources(resources: FhirResource[]): void;
  close(): Promise<void>;
}

export interface LocalFhirServerOptions {
  /** When set, every request must carry `Authorization: Bearer <token>` (else 401). */
  token?: string;
  /** Default page size of searches (`_count` overrides); default 50. */
  pageSize?: number;
  /** Whether batches of reads are answered; default true. */
  batch?: boolean;
}

type Json = Record<string, unknown>;

const SEARCH_PARAMS = new Set(['_id', 'patient', 'subject', 'status', 'code', 'category', 'practitioner', '_count', '_include', '_include:iterate', '_revinclude:iterate', '_page']);

function referenceOf(resource: FhirResource, field: string): string | undefined {
  const value = (resource as unknown as Json)[field];
  if (typeof value === 'object' && value !== null && typeof (value as Json).reference === 'string') return (value as Json).reference as string;
  return undefined;
}

function refersTo(reference: string | undefined, type: string, id: string): boolean {
  if (!reference) return false;
  return reference === `${type}/${id}` || reference.endsWith(`/${type}/${id}`);
}

function codingsOf(value: unknown): { system?: string; code?: string }[] {
  const concepts = Array.isArray(value) ? value : [value];
  return concepts.flatMap((c) => (typeof c === 'object' && c !== null && Array.isArray((c as Json).coding) ? ((c as Json).coding as Json[]) : [])) as {
    system?: string;
    code?: string;
  }[];
}

function tokenMatches(codings: { system?: string; code?: string }[], token: string): boolean {
  const bar = token.indexOf('|');
  if (bar < 0) return codings.some((c) => c.code === token);
  const system = token.slice(0, bar);
  const code = token.slice(bar + 1);
  return codings.some((c) => (system === '' ? !c.system : c.system === system) && c.code === code);
}

/** Whether `resource` matches one search parameter (values OR-ed). */
function matches(resource: FhirResource, name: string, values: string[]): boolean {
  const r = resource as unknown as Json;
  switch (name) {
    case '_id':
      return values.includes(resource.id ?? '');
    case 'patient':
    case 'subject': {
      const fields = name === 'subject' ? ['subject'] : ['subject', 'patient', 'beneficiary'];
      const ids = values.map((v) => v.replace(/^Patient\//, ''));
      return fields.some((f) => ids.some((id) => refersTo(referenceOf(resource, f), 'Patient', id)));
    }
    case 'practitioner':
      return values.some((v) => refersTo(referenceOf(resource, 'practitioner'), 'Practitioner', v.replace(/^Practitioner\//, '')));
    case 'status':
      return typeof r.status === 'string' && values.includes(r.status);
    case 'code': {
      const codings = resource.resourceType === 'MedicationRequest' || resource.resourceType === 'MedicationStatement' || resource.resourceType === 'MedicationDispense'
        ? codingsOf(r.medicationCodeableConcept)
        : codingsOf(r.code);
      return values.some((v) => tokenMatches(codings, v));
    }
    case 'category':
      return values.some((v) => tokenMatches(codingsOf(r.category), v));
    default:
      return true;
  }
}

/** Runs a read or search against `resources`; `{ status, body }` as the server answers it. */
export function answer(resources: FhirResource[], pathAndQuery: string, baseUrl: string, pageSize = 50): { status: number; body: unknown } {
  const [pathPart = '', query = ''] = pathAndQuery.split('?', 2) as [string, string?];
  const segments = pathPart.split('/').filter(Boolean);
  const type = segments[0] ?? '';
  if (segments.length === 2) {
    const found = resources.find((r) => r.resourceType === type && r.id === decodeURIComponent(segments[1] ?? ''));
    return found ? { status: 200, body: found } : outcome(404, 'not-found', `${type}/${segments[1]} is not known`);
  }
  if (segments.length !== 1 || !/^[A-Z][A-Za-z]+$/.test(type)) return outcome(400, 'not-supported', `Unsupported URL ${pathPart}`);

  const params = new URLSearchParams(query);
  for (const name of params.keys()) {
    if (!SEARCH_PARAMS.has(name)) return outcome(400, 'not-supported', `Search parameter ${name} is not supported`);
  }
  let found = resources.filter((r) => r.resourceType === type);
  for (const [name, raw] of params) {
    if (name.startsWith('_') && name !== '_id') continue;
    found = found.filter((r) => matches(r, name, raw.split(',')));
  }
  const count = Number(params.get('_count') ?? pageSize);
  const page = Number(params.get('_page') ?? '1');
  const slice = found.slice((page - 1) * count, page * count);
  const entries: Bundle['entry'] = slice.map((resource) => ({ fullUrl: `${baseUrl}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'match' } }));
  // _include (and _include:iterate over what was included) for the references CRD queries name.
  const includes: Record<string, { field: string; type?: string }> = {
    'Coverage:payor': { field: 'payor' },
    'MedicationRequest:requester': { field: 'requester' },
    'MedicationRequest:medication': { field: 'medicationReference', type: 'Medication' },
    'PractitionerRole:organization': { field: 'organization', type: 'Organization' },
    'PractitionerRole:practitioner': { field: 'practitioner', type: 'Practitioner' },
  };
  const wanted = [...params.getAll('_include').map((i) => ({ i, iterate: false })), ...params.getAll('_include:iterate').map((i) => ({ i, iterate: true }))];
  for (const { i } of wanted) if (!includes[i]) return outcome(400, 'not-supported', `_include=${i} is not supported`);
  const add = (from: FhirResource[], name: string): FhirResource[] => {
    const [sourceType] = name.split(':');
    const spec = includes[name]!;
    const added: FhirResource[] = [];
    for (const source of from.filter((r) => r.resourceType === sourceType)) {
      const value = (source as unknown as Json)[spec.field];
      for (const ref of (Array.isArray(value) ? value : [value]) as ({ reference?: string } | undefined)[]) {
        const target = resources.find((r) => (!spec.type || r.resourceType === spec.type) && refersTo(ref?.reference, r.resourceType, r.id ?? ''));
        if (target && !entries.some((e) => e.resource === target)) {
          entries.push({ fullUrl: `${baseUrl}/${target.resourceType}/${target.id}`, resource: target, search: { mode: 'include' } });
          added.push(target);
        }
      }
    }
    return added;
  };
  const included: FhirResource[] = [];
  for (const { i } of wanted.filter((w) => !w.iterate)) included.push(...add(slice, i));
  const reverse = params.getAll('_revinclude:iterate');
  for (const r of reverse) {
    if (r !== 'PractitionerRole:practitioner') return outcome(400, 'not-supported', `_revinclude:iterate=${r} is not supported`);
    for (const practitioner of [...slice, ...included].filter((p) => p.resourceType === 'Practitioner')) {
      for (const role of resources.filter((x) => x.resourceType === 'PractitionerRole' && refersTo(referenceOf(x, 'practitioner'), 'Practitioner', practitioner.id ?? ''))) {
        if (!entries.some((e) => e.resource === role)) {
          entries.push({ fullUrl: `${baseUrl}/PractitionerRole/${role.id}`, resource: role, search: { mode: 'include' } });
          included.push(role);
        }
      }
    }
  }
  for (const { i } of wanted.filter((w) => w.iterate)) add(included, i);
  const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', total: found.length, entry: entries };
  if (page * count < found.length) {
    const next = new URLSearchParams(params);
    next.set('_page', String(page + 1));
    next.set('_count', String(count));
    bundle.link = [{ relation: 'next', url: `${baseUrl}/${type}?${next.toString()}` }];
  }
  return { status: 200, body: bundle };
}

function outcome(status: number, code: string, diagnostics: string): { status: number; body: unknown } {
  return { status, body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] } };
}

export async function startLocalFhirServer(resources: FhirResource[], options: LocalFhirServerOptions = {}): Promise<LocalFhirServer> {
  let served = resources;
  const requests: RecordedRequest[] = [];
  let baseUrl = '';
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '').replace(/^\/fhir\/?/, '');
    const authorization = req.headers.authorization ? { authorization: req.headers.authorization } : {};
    const send = ({ status, body }: { status: number; body: unknown }) =>
      res.writeHead(status, { 'content-type': 'application/fhir+json' }).end(JSON.stringify(body));
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      requests.push({ method: req.method ?? 'GET', url, ...authorization });
      send(outcome(401, 'login', 'bearer token required'));
    } else if (req.method === 'GET') {
      requests.push({ method: 'GET', url, ...authorization });
      send(answer(served, url, baseUrl, options.pageSize));
    } else if (req.method === 'POST' && url === '' && options.batch !== false) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const bundle = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Bundle;
        if (bundle.resourceType !== 'Bundle' || bundle.type !== 'batch') {
          send(outcome(400, 'invalid', 'only batch Bundles are taken'));
          return;
        }
        const entry = (bundle.entry ?? []).map((e) => {
          const read = e.request?.method === 'GET' ? e.request.url : undefined;
          if (read === undefined) return { response: { status: '405 Method Not Allowed' } };
          requests.push({ method: 'GET', url: read, ...authorization, batch: true });
          const { status, body } = answer(served, read, baseUrl, options.pageSize);
          return { resource: body as FhirResource, response: { status: String(status) } };
        });
        send({ status: 200, body: { resourceType: 'Bundle', type: 'batch-response', entry } });
      });
    } else {
      requests.push({ method: req.method ?? 'GET', url, ...authorization });
      send(outcome(405, 'not-supported', 'read-only test server'));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
  return {
    baseUrl,
    requests,
    setResources: (next) => {
      served = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
