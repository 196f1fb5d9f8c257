/**
 * Reads from the CDS Client's FHIR server (`fhirServer`) with the `fhirAuthorization` bearer token,
 * through fhir-kit-client. https://cds-hooks.hl7.org/2.0/#fhir-resource-access
 *
 * Supports: GET of a relative URL (read or search) or of an absolute URL on the same origin as
 * `fhirServer` (search `next` links); a per-request timeout.
 * Does not support: writes; URLs on another origin (the token never leaves the client's server).
 * Never logs the token.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FhirResource } from 'fhir/r4';
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
}

/** A fetcher bound to the client's server and token, from `factory` (default fhir-kit-client). */
export function fetcherFor(url: string, accessToken: string | undefined, factory: FhirFetcherFactory = createFhirKitFetcher): FhirFetcher {
  return factory({ baseUrl: url, ...(accessToken !== undefined ? { accessToken } : {}) });
}

/** The default fetcher: fhir-kit-client against `fhirServer`. */
export function createFhirKitFetcher(access: FhirServerAccess, options: FhirKitFetcherOptions = {}): FhirFetcher {
  const { Client } = loadFhirKit();
  const baseUrl = access.baseUrl.replace(/\/+$/, '');
  const origin = new URL(baseUrl).origin;
  const client = new Client({ baseUrl, ...(access.accessToken ? { bearerToken: access.accessToken } : {}) });
  const timeoutMs = options.timeoutMs ?? 4000;

  async function get(url: string): Promise<FhirResource> {
    if (/^[a-z][a-z0-9+.-]*:/i.test(url) && new URL(url).origin !== origin) {
      throw new FhirFetchError(`refusing to follow a link outside ${origin}`);
    }
    try {
      return (await withTimeout(timeoutMs, (signal) => client.request(url, { options: { signal } }))) as unknown as FhirResource;
    } catch (error) {
      const status = (error as { response?: { status?: unknown } }).response?.status;
      if (typeof status === 'number') throw new FhirFetchError(`HTTP ${status}`, status);
      const name = (error as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') throw new FhirFetchError(`no answer within ${timeoutMs} ms`);
      throw new FhirFetchError('the FHIR server could not be reached');
    }
  }

  return { baseUrl, get };
}
