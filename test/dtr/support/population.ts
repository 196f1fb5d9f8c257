/**
 * Test support for `$populate` and `$next-question`: the real engine and published artifacts, the
 * CP.PHAR.244 chart fixtures, answer reading, and a small FHIR server on 127.0.0.1 that serves a
 * chart (reads, searches by patient and `_id`, paged) behind a bearer token.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  Bundle,
  FhirResource,
  OperationOutcome,
  Parameters,
  ParametersParameter,
  QuestionnaireResponse,
  QuestionnaireResponseItem,
  QuestionnaireResponseItemAnswer,
} from 'fhir/r4';
import { loadConfig } from '../../../src/config';
import { loadArtifacts, type ArtifactRepository } from '../../../src/dtr/artifacts';
import { EXT } from '../../../src/dtr/urls';
import { isOperationOutcomeError } from '../../../src/fhir/outcomes';
import { EVALUATION_DATE, getEngine } from '../../cp-phar-244/helpers';

export { EVALUATION_DATE, load, resources, remove, patientOf } from '../../cp-phar-244/helpers';
export const KINERET_Q = 'http://pa.example.org/fhir/Questionnaire/cp-phar-244-kineret';

let artifacts: ArtifactRepository | undefined;
export function deps() {
  artifacts ??= loadArtifacts(loadConfig().paths);
  return { engine: getEngine(), artifacts, now: () => EVALUATION_DATE };
}

/** `name` → a Parameters parameter: a resource, a reference (`Type/id`), or an explicit parameter body. */
export function param(name: string, value: FhirResource | { reference: string } | Omit<ParametersParameter, 'name'>): ParametersParameter {
  if ('resourceType' in value) return { name, resource: value };
  if ('reference' in value && typeof value.reference === 'string') return { name, valueReference: { reference: value.reference } };
  return { name, ...(value as Omit<ParametersParameter, 'name'>) };
}

export function context(name: string, content: FhirResource | { reference: string }): ParametersParameter {
  return { name: 'context', part: [{ name: 'name', valueString: name }, param('content', content)] };
}

export function parameters(...parameter: ParametersParameter[]): Parameters {
  return { resourceType: 'Parameters', parameter };
}

/** The plain value of an answer (a Coding as its code). */
export function valueOf(answer: QuestionnaireResponseItemAnswer): unknown {
  const key = Object.keys(answer).find((k) => k.startsWith('value')) as keyof QuestionnaireResponseItemAnswer | undefined;
  if (!key) return undefined;
  const value = answer[key] as unknown;
  return key === 'valueCoding' ? (value as { code?: string }).code : value;
}

/** Every item of a response, depth first (under answers too). */
export function itemsOf(items: QuestionnaireResponseItem[] | undefined, out: QuestionnaireResponseItem[] = []): QuestionnaireResponseItem[] {
  for (const item of items ?? []) {
    out.push(item);
    for (const answer of item.answer ?? []) itemsOf(answer.item, out);
    itemsOf(item.item, out);
  }
  return out;
}

/** linkId → the answers' plain values, for the items that have answers. */
export function answerValues(response: QuestionnaireResponse): Record<string, unknown[]> {
  return Object.fromEntries(itemsOf(response.item).filter((i) => i.answer?.length).map((i) => [i.linkId, i.answer!.map(valueOf)]));
}

export function originOf(answer: QuestionnaireResponseItemAnswer): string | undefined {
  return answer.extension?.find((e) => e.url === EXT.informationOrigin)?.extension?.find((e) => e.url === 'source')?.valueCode;
}

export function responseOf(body: Parameters): QuestionnaireResponse {
  return body.parameter?.find((p) => p.name === 'response')?.resource as QuestionnaireResponse;
}

export function issuesOf(body: Parameters): OperationOutcome['issue'] {
  return (body.parameter?.find((p) => p.name === 'issues')?.resource as OperationOutcome | undefined)?.issue ?? [];
}

/** Awaits an operation expected to fail; its status and first issue. */
export async function failure(run: () => Promise<unknown>): Promise<{ status: number; code?: string; expression?: string[]; diagnostics?: string }> {
  try {
    await run();
  } catch (error) {
    if (!isOperationOutcomeError(error)) throw error;
    const first = error.outcome.issue[0];
    return {
      status: error.status,
      ...(first?.code ? { code: first.code } : {}),
      ...(first?.expression ? { expression: first.expression } : {}),
      ...(first?.diagnostics ? { diagnostics: first.diagnostics } : {}),
    };
  }
  throw new Error('expected an OperationOutcomeError, the operation succeeded');
}

// ---------------------------------------------------------------------------------------------
// A chart behind a FHIR server

export interface ChartServer {
  baseUrl: string;
  requests: { url: string; authorization?: string }[];
  close(): Promise<void>;
}

function patientOfResource(resource: FhirResource): string | undefined {
  const r = resource as unknown as Record<string, { reference?: string } | undefined>;
  for (const field of ['subject', 'patient', 'beneficiary']) {
    const ref = r[field]?.reference;
    if (ref) return ref.split('/').pop();
  }
  return undefined;
}

/**
 * Serves the resources of `chart`: `Type/id` reads; `Type?patient=&_id=&status=` searches (other
 * parameters ignored: the CQL filters codes itself), `pageSize` entries a page with `next` links.
 * Every request needs `Authorization: Bearer <token>`.
 */
export async function serveChart(chart: Bundle, token: string, pageSize = 4): Promise<ChartServer> {
  const all = (chart.entry ?? []).map((e) => e.resource).filter((r): r is FhirResource => r !== undefined);
  const requests: ChartServer['requests'] = [];
  let baseUrl = '';
  const send = (res: http.ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/fhir+json' }).end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/^\/fhir\/?/, '');
    requests.push({ url: `${path}${url.search}`, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    if (req.headers.authorization !== `Bearer ${token}`) {
      send(res, 401, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login', diagnostics: 'bearer token required' }] });
      return;
    }
    const [type, id] = path.split('/');
    if (id) {
      const found = all.find((r) => r.resourceType === type && r.id === id);
      if (found) send(res, 200, found);
      else send(res, 404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found', diagnostics: path }] });
      return;
    }
    const patient = url.searchParams.get('patient');
    const ids = url.searchParams.get('_id')?.split(',');
    const status = url.searchParams.get('status');
    const matches = all.filter(
      (r) =>
        r.resourceType === type &&
        (!patient || patientOfResource(r) === patient) &&
        (!ids || ids.includes(r.id ?? '')) &&
        (!status || (r as { status?: string }).status === status),
    );
    const offset = Number(url.searchParams.get('_offset') ?? 0);
    const page = matches.slice(offset, offset + pageSize);
    const next = new URL(url.toString().replace('http://localhost', baseUrl.replace(/\/fhir$/, '')));
    next.searchParams.set('_offset', String(offset + pageSize));
    send(res, 200, {
      resourceType: 'Bundle',
      type: 'searchset',
      total: matches.length,
      ...(offset + pageSize < matches.length ? { link: [{ relation: 'next', url: next.toString() }] } : {}),
      entry: page.map((resource) => ({ fullUrl: `${baseUrl}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'match' } })),
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
  return { baseUrl, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
