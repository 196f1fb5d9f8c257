/**
 * Reads from the CDS Client's FHIR server (`fhirServer`) with the `fhirAuthorization` bearer token,
 * through fhir-kit-client. https://cds-hooks.hl7.org/2.0/#fhir-resource-access
 *
 * Supports: GET of a relative URL (read or search) or of an absolute URL on the same origin as
 * `fhirServer` (search `next` links); a per-request timeout; reads asked in the same turn of the
 * event loop sent as one FHIR batch (http.html#transaction), a hook's dozen chart searches in one
 * round trip, with single reads from then on for a server that refuses batches.
 * Does not support: writes; URLs on another origin (the token never leaves the client's server).
 * Never logs the token.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, BundleEntry, FhirResource } from 'fhir/r4';
import { withTimeout } from '../core/promises';

export interface FhirFetcher {
  /** The server base URL (no trailing slash). */
  readonly baseUrl: string;
  /** GET a URL relative to the base (`Condition?patient=1`) or absolute on the same origin. */
  get(url: string): Promise<FhirResource>;
}

export interface FhirServerAccess {
  baseUrl: string;
  accessToken?: string;
}

export type FhirFetcherFactory = (access: FhirServerAccess) => FhirFetcher;

/** Error from the client's FHIR server; `status` is the HTTP status when there was a response. */
export class FhirFetchError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FhirFetchError';
  }
}

type FhirKitModule = typeof import('fhir-kit-client');
let fhirKit: FhirKitModule | undefined;

/**
 * fhir-kit-client 2 is ESM-only and its exports map has only an `import` condition, which a
 * CommonJS `require` cannot match. Jest maps the bare name (jest.config.js); under Node (>= 20.19,
 * which can require ES modules) we load its entry file by path, found the way Node looks up packages.
 */
function loadFhirKit(): FhirKitModule {
  if (fhirKit) return fhirKit;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    fhirKit = require('fhir-kit-client') as FhirKitModule;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw error;
    const entry = (require.resolve.paths('fhir-kit-client') ?? [])
      .map((dir) => path.join(dir, 'fhir-kit-client', 'dist', 'index.js'))
      .find((file) => fs.existsSync(file));
    if (!entry) throw error;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    fhirKit = require(entry) as FhirKitModule;
  }
  return fhirKit;
}

export interface FhirKitFetcherOptions {
  /** Per-request timeout (ms). Default 4000. */
  timeoutMs?: number;
  /** Reads asked together go as one batch. Default true. */
  batch?: boolean;
}

/** Entries per batch: more reads at once go as several batches. */
const MAX_BATCH_ENTRIES = 32;
/** How long a server that refused a batch gets single reads only. */
const REFUSAL_MEMORY_MS = 60 * 60 * 1000;
const MAX_REMEMBERED = 1000;
/** Answers to a batch that say the server does not take batches (or not from this token), rather than a passing failure. */
const REFUSING_STATUSES = new Set([400, 403, 404, 405, 406, 415, 422, 501]);
/** Base URL → until when its server gets single reads. */
const refusedBatches = new Map<string, number>();

function refusesBatches(baseUrl: string): boolean {
  const until = refusedBatches.get(baseUrl);
  if (until === undefined) return false;
  if (until > Date.now()) return true;
  refusedBatches.delete(baseUrl);
  return false;
}

function rememberRefusal(baseUrl: string): void {
  refusedBatches.delete(baseUrl);
  refusedBatches.set(baseUrl, Date.now() + REFUSAL_MEMORY_MS);
  // Oldest first: a Map iterates in insertion order.
  for (const key of refusedBatches.keys()) {
    if (refusedBatches.size <= MAX_REMEMBERED) break;
    refusedBatches.delete(key);
  }
}

/** A fetcher bound to the client's server and token, from `factory` (default fhir-kit-client). */
export function fetcherFor(url: string, accessToken: string | undefined, factory: FhirFetcherFactory = createFhirKitFetcher): FhirFetcher {
  return factory({ baseUrl: url, ...(accessToken !== undefined ? { accessToken } : {}) });
}

interface Asked {
  /** Relative to the base. */
  url: string;
  resolve(resource: FhirResource): void;
  reject(error: unknown): void;
}

/** The default fetcher: fhir-kit-client against `fhirServer`. */
export function createFhirKitFetcher(access: FhirServerAccess, options: FhirKitFetcherOptions = {}): FhirFetcher {
  const { Client } = loadFhirKit();
  const baseUrl = access.baseUrl.replace(/\/+$/, '');
  const origin = new URL(baseUrl).origin;
  const client = new Client({ baseUrl, ...(access.accessToken ? { bearerToken: access.accessToken } : {}) });
  const timeoutMs = options.timeoutMs ?? 4000;
  const batching = options.batch ?? true;
  let pending: Asked[] = [];

  function fetchError(error: unknown): FhirFetchError {
    const status = statusOf(error);
    if (status !== undefined) return new FhirFetchError(`HTTP ${status}`, status);
    const name = (error as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError') return new FhirFetchError(`no answer within ${timeoutMs} ms`);
    return new FhirFetchError('the FHIR server could not be reached');
  }

  async function readOne(url: string): Promise<FhirResource> {
    try {
      return (await withTimeout(timeoutMs, (signal) => client.request(url, { options: { signal } }))) as unknown as FhirResource;
    } catch (error) {
      throw fetchError(error);
    }
  }

  function readEach(asked: Asked[]): void {
    for (const a of asked) readOne(a.url).then(a.resolve, a.reject);
  }

  async function readTogether(asked: Asked[]): Promise<void> {
    if (asked.length === 1 || refusesBatches(baseUrl)) return readEach(asked);
    const batch: Bundle = { resourceType: 'Bundle', type: 'batch', entry: asked.map((a) => ({ request: { method: 'GET', url: a.url } })) };
    let answer: FhirResource;
    try {
      answer = (await withTimeout(timeoutMs, (signal) =>
        client.request(baseUrl, { method: 'POST', body: batch, options: { signal, headers: { 'content-type': 'application/fhir+json' } } }),
      )) as unknown as FhirResource;
    } catch (error) {
      const status = statusOf(error);
      // No answer: the reads one by one would fare no better.
      if (status === undefined) {
        const failure = fetchError(error);
        for (const a of asked) a.reject(failure);
        return;
      }
      if (REFUSING_STATUSES.has(status)) rememberRefusal(baseUrl);
      return readEach(asked);
    }
    // A batch-response holds one entry per request entry, in order (FHIR R4 http.html#transaction-response).
    const entries = answer.resourceType === 'Bundle' && answer.type === 'batch-response' ? (answer.entry ?? []) : [];
    // Every read refused inside the batch says more about the batch than about the reads (a server
    // whose batches do not take this token's scopes, say): they are asked again one by one.
    const refusedEach = entries.every((e) => REFUSING_STATUSES.has(statusOfEntry(e)));
    if (entries.length !== asked.length || refusedEach) {
      rememberRefusal(baseUrl);
      return readEach(asked);
    }
    asked.forEach((a, i) => settleEntry(a, entries[i] as BundleEntry));
  }

  function flush(): void {
    const asked = pending;
    pending = [];
    for (let i = 0; i < asked.length; i += MAX_BATCH_ENTRIES) {
      const some = asked.slice(i, i + MAX_BATCH_ENTRIES);
      // Whatever goes wrong fails these reads, never the process (a read already settled stays so).
      readTogether(some).catch((error: unknown) => {
        for (const a of some) a.reject(error);
      });
    }
  }

  async function get(url: string): Promise<FhirResource> {
    const absolute = /^[a-z][a-z0-9+.-]*:/i.test(url);
    if (absolute && new URL(url).origin !== origin) {
      throw new FhirFetchError(`refusing to follow a link outside ${origin}`);
    }
    const relative = !absolute ? url.replace(/^\/+/, '') : url.startsWith(`${baseUrl}/`) ? url.slice(baseUrl.length + 1) : undefined;
    if (!batching || relative === undefined || refusesBatches(baseUrl)) return readOne(url);
    return new Promise((resolve, reject) => {
      pending.push({ url: relative, resolve, reject });
      // Reads asked until the event loop's next check phase go together.
      if (pending.length === 1) setImmediate(flush);
    });
  }

  return { baseUrl, get };
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { response?: { status?: unknown } } | null)?.response?.status;
  return typeof status === 'number' ? status : undefined;
}

/** A batch-response entry's HTTP status ("200 OK" → 200), NaN when it has none. */
function statusOfEntry(entry: BundleEntry): number {
  return Number(/^\s*(\d{3})/.exec(entry.response?.status ?? '')?.[1]);
}

/** One batch-response entry as its read would have answered: the resource, or the error of its status. */
function settleEntry(asked: Asked, entry: BundleEntry): void {
  const status = statusOfEntry(entry);
  if (status >= 200 && status < 300 && entry.resource) asked.resolve(entry.resource);
  else if (status >= 200 && status < 300) asked.reject(new FhirFetchError('the FHIR server answered a read in its batch without a resource'));
  else asked.reject(new FhirFetchError(Number.isNaN(status) ? 'the FHIR server answered a read in its batch without a status' : `HTTP ${status}`, Number.isNaN(status) ? undefined : status));
}
