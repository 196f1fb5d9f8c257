/**
 * The app's two partners: the EHR (through fhirclient, with the user's SMART token) and the payer
 * (this server's /fhir, same origin). Failures become an `AppError` whose text says what happened
 * and what the user can do; answers are never dropped on the way.
 */
import type Client from 'fhirclient/lib/Client';
import type { Bundle, FhirResource, OperationOutcome, Parameters } from 'fhir/r4';

export type ErrorKind = 'expired' | 'ehr-down' | 'ehr-refused' | 'network' | 'payer' | 'app';

export class AppError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

const statusOf = (error: unknown): number | undefined => {
  const e = error as { status?: unknown; statusCode?: unknown };
  return typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
};

/** What went wrong talking to the EHR, as a sentence for the user (`doing`: "save the draft"). */
export function ehrError(error: unknown, doing: string): AppError {
  if (error instanceof AppError) return error;
  const status = statusOf(error);
  if (status === 401) return new AppError('expired', `Your EHR session has expired, so the app could not ${doing}.`);
  if (status === 403) return new AppError('ehr-refused', `The EHR did not allow the app to ${doing} (HTTP 403).`);
  if (status !== undefined && status >= 500) return new AppError('ehr-down', `The EHR had an error and could not ${doing} (HTTP ${status}).`);
  if (status !== undefined) return new AppError('ehr-refused', `The EHR refused to ${doing} (HTTP ${status}).`);
  if (error instanceof TypeError) return new AppError('network', `The EHR could not be reached to ${doing}.`);
  return new AppError('app', `The app could not ${doing}: ${error instanceof Error ? error.message : String(error)}`);
}

export async function ehrRead<T extends FhirResource>(client: Client, reference: string, doing: string): Promise<T> {
  try {
    return (await client.request<T>(reference)) as T;
  } catch (error) {
    throw ehrError(error, doing);
  }
}

/** Every resource of a search, all pages. A search the EHR refuses (4xx but 401) gives `null`. */
export async function ehrSearch(client: Client, query: string, doing: string): Promise<FhirResource[] | null> {
  try {
    const found = await client.request<FhirResource[]>(query, { pageLimit: 0, flat: true });
    return (Array.isArray(found) ? found : [found]).filter((r): r is FhirResource => typeof r?.resourceType === 'string');
  } catch (error) {
    const status = statusOf(error);
    if (status !== undefined && status >= 400 && status < 500 && status !== 401) return null;
    throw ehrError(error, doing);
  }
}

/** Creates (no id) or updates the resource in the EHR; the EHR's copy (with its id) comes back. */
export async function ehrSave<T extends FhirResource>(client: Client, resource: T, doing: string): Promise<T> {
  try {
    const saved = resource.id ? await client.update(resource as never) : await client.create(resource as never);
    // A server may answer 201/200 without a body: keep the id from Location then.
    return (saved && typeof saved === 'object' && 'resourceType' in saved ? saved : resource) as T;
  } catch (error) {
    throw ehrError(error, doing);
  }
}

function outcomeText(body: unknown): string | undefined {
  const outcome = body as OperationOutcome | undefined;
  if (outcome?.resourceType !== 'OperationOutcome') return undefined;
  return outcome.issue.map((i) => i.diagnostics ?? i.details?.text ?? i.code).join('; ');
}

/** Gives the payer's `Authorization` header (src/payer-auth.ts); absent when the payer is open. */
export interface PayerCredentials {
  header(doing: string): Promise<string>;
  reset(): void;
}

/**
 * POSTs a FHIR operation to the payer; 4xx/5xx become an AppError with the OperationOutcome's text.
 * With `auth`, a 401 gets one new token and one retry.
 */
export async function payerPost<T>(url: string, body: unknown, doing: string, auth?: PayerCredentials): Promise<T> {
  const send = async (): Promise<Response> => {
    const headers: Record<string, string> = { 'Content-Type': 'application/fhir+json', Accept: 'application/fhir+json' };
    if (auth) headers.Authorization = await auth.header(doing);
    try {
      return await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
    } catch {
      throw new AppError('network', `The health plan could not be reached to ${doing}.`);
    }
  };
  let response = await send();
  if (response.status === 401 && auth) {
    auth.reset();
    response = await send();
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) throw new AppError('payer', `The health plan could not ${doing} (HTTP ${response.status}): ${outcomeText(parsed) ?? response.statusText}`);
  return parsed as T;
}

export interface PackageAnswer {
  bundles: Bundle[];
  /** Warnings and information the payer sent with the package. */
  notes: string[];
}

/** `$questionnaire-package` answers a bare Bundle, or a Parameters of PackageBundle(s) and an outcome. */
export function readPackage(body: Bundle | Parameters): PackageAnswer {
  if (body.resourceType === 'Bundle') return { bundles: [body], notes: [] };
  const bundles = (body.parameter ?? []).filter((p) => p.name === 'PackageBundle' && p.resource?.resourceType === 'Bundle').map((p) => p.resource as Bundle);
  const notes = (body.parameter ?? [])
    .filter((p) => (p.name === 'operationOutcome' || p.name === 'outcome') && p.resource?.resourceType === 'OperationOutcome')
    .flatMap((p) => (p.resource as OperationOutcome).issue)
    .map((i) => i.diagnostics ?? i.details?.text ?? i.code);
  return { bundles, notes };
}
