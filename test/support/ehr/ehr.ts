/**
 * A test EHR on 127.0.0.1 for the DTR app tests: a FHIR R4 server (reads and searches through
 * test/support/fhir-server.ts `answer`, plus create and update) behind a SMART App Launch 2.0
 * authorization server that issues launch context.
 *
 * - `GET /fhir/.well-known/smart-configuration`, `GET /fhir/metadata`: SMART discovery;
 * - `GET /auth/authorize`: authorization code with PKCE (S256 required); the user is signed in and
 *   consents at once. EHR launch: `launch` must be one the test registered (`launch()`), `aud` the
 *   FHIR base. Standalone launch (no `launch`, scope `launch/patient`): the EHR's patient picker
 *   picks `standalonePatient`;
 * - `POST /auth/token`: `authorization_code` (the code's client, redirect_uri and PKCE verifier are
 *   checked); the answer carries `patient`, `fhirContext`, `appContext`, an `id_token` naming the
 *   user (fhirUser) and `expires_in`. No refresh token: an expired session stays expired.
 * - `POST /auth/introspect`: token introspection (RFC 7662, SMART App Launch 2.0) for the payer,
 *   with HTTP Basic `introspection` credentials: `active`, `client_id`, `scope`, `exp`, `patient`.
 * - FHIR requests need `Authorization: Bearer <token>` of an unexpired token (else 401).
 * - `failWith(status, match)` makes matching FHIR requests answer that status (an EHR that is down).
 * CORS is open: the app runs on the payer's origin.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FhirResource } from 'fhir/r4';
import { answer } from '../fhir-server';

export interface LaunchContextInput {
  patient: string;
  /** SMART 2.0 fhirContext references, e.g. `MedicationRequest/mr-1`. */
  fhirContext?: string[];
  /** The CDS Hooks link's appContext string, passed through unchanged. */
  appContext?: string;
}

export interface EhrRequest {
  method: string;
  path: string;
  status: number;
}

export interface TestEhr {
  /** `http://127.0.0.1:<port>/fhir` */
  fhirBase: string;
  introspectionUrl: string;
  /** What the payer must present at the introspection endpoint (HTTP Basic). */
  introspection: { clientId: string; secret: string };
  /** An access token as a launch would give it, without the browser (HTTP-level tests). */
  issueToken(clientId: string, patient: string | undefined, expiresInSeconds?: number): string;
  /** Introspection requests answered so far. */
  introspections: number;
  /** Registers the app: its client id and redirect URI. */
  registerClient(clientId: string, redirectUri: string): void;
  /** The EHR starts a launch (clicking a card's SMART link): the `launch` value for the app URL. */
  launch(context: LaunchContextInput): string;
  /** Patient the patient picker picks in a standalone launch. */
  standalonePatient: string | undefined;
  /** The user (fhirUser) who signs in. */
  user: string;
  /** Every token issued so far expires now. */
  expireTokens(): void;
  /** FHIR requests for which `match` is true answer `status` (null: back to normal). */
  failWith(status: number | null, match?: (method: string, path: string) => boolean): void;
  /** The resources the EHR holds now (created and updated ones included). */
  resources(): FhirResource[];
  requests: EhrRequest[];
  close(): Promise<void>;
}

interface Grant {
  clientId: string;
  redirectUri: string;
  challenge: string;
  scope: string;
  context: LaunchContextInput;
}

interface Token {
  expiresAt: number;
  scope: string;
  clientId: string;
  patient?: string;
}

const base64url = (buffer: Buffer): string => buffer.toString('base64url');

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function outcome(code: string, text: string): unknown {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics: text }] };
}

export async function startTestEhr(initial: FhirResource[]): Promise<TestEhr> {
  const resources = structuredClone(initial);
  const clients = new Map<string, string>();
  const launches = new Map<string, LaunchContextInput>();
  const codes = new Map<string, Grant>();
  const tokens = new Map<string, Token>();
  const requests: EhrRequest[] = [];
  let failure: { status: number; match: (method: string, path: string) => boolean } | null = null;
  let origin = '';
  const state = { standalonePatient: undefined as string | undefined, user: 'Practitioner/pract-marquez' };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, body: unknown, type = 'application/fhir+json', headers: Record<string, string> = {}): void => {
      requests.push({ method: req.method ?? 'GET', path: `${url.pathname}${url.search}`, status });
      res.writeHead(status, {
        'content-type': type,
        'access-control-allow-origin': '*',
        'access-control-allow-headers': 'Authorization, Content-Type, Accept',
        'access-control-allow-methods': 'GET, POST, PUT, OPTIONS',
        'access-control-expose-headers': 'Location, ETag',
        'cache-control': 'no-store',
        ...headers,
      });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    const handle = async (): Promise<void> => {
      if (req.method === 'OPTIONS') return send(204, '');
      const path = url.pathname;
      if (path === '/fhir/.well-known/smart-configuration') {
        return send(
          200,
          {
            issuer: `${origin}/fhir`,
            authorization_endpoint: `${origin}/auth/authorize`,
            token_endpoint: `${origin}/auth/token`,
            grant_types_supported: ['authorization_code'],
            code_challenge_methods_supported: ['S256'],
            scopes_supported: ['openid', 'fhirUser', 'launch', 'launch/patient', 'patient/*.rs', 'patient/QuestionnaireResponse.cru'],
            response_types_supported: ['code'],
            capabilities: ['launch-ehr', 'launch-standalone', 'client-public', 'context-ehr-patient', 'context-standalone-patient', 'sso-openid-connect', 'permission-v2'],
          },
          'application/json',
        );
      }
      if (path === '/fhir/metadata') {
        return send(200, { resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '4.0.1', format: ['json'], date: '2026-11-01' });
      }
      if (path === '/auth/authorize') return authorize(url, send);
      if (path === '/auth/token' && req.method === 'POST') return token(await readBody(req), send);
      if (path === '/auth/introspect' && req.method === 'POST') return introspect(req.headers.authorization, await readBody(req), send);
      if (!path.startsWith('/fhir/')) return send(404, outcome('not-found', `no route ${path}`));

      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const granted = bearer ? tokens.get(bearer) : undefined;
      if (!granted) return send(401, outcome('login', 'a bearer token is required'), 'application/fhir+json', { 'www-authenticate': 'Bearer' });
      if (granted.expiresAt <= Date.now()) return send(401, outcome('expired', 'the access token has expired'), 'application/fhir+json', { 'www-authenticate': 'Bearer error="invalid_token"' });
      const relative = `${path.slice('/fhir/'.length)}${url.search}`;
      if (failure?.match(req.method ?? 'GET', relative)) return send(failure.status, outcome('exception', 'the EHR is having problems'));

      if (req.method === 'GET') {
        const { status, body } = answer(resources, relative, `${origin}/fhir`);
        return send(status, body);
      }
      if (req.method === 'POST' || req.method === 'PUT') {
        const [type = '', id] = path.slice('/fhir/'.length).split('/');
        let resource: FhirResource;
        try {
          resource = JSON.parse(await readBody(req)) as FhirResource;
        } catch {
          return send(400, outcome('structure', 'the body is not JSON'));
        }
        if (resource.resourceType !== type) return send(400, outcome('invalid', `the body is a ${resource.resourceType}, not a ${type}`));
        if (req.method === 'PUT' && resource.id !== id) return send(400, outcome('invalid', 'the resource id differs from the URL'));
        if (req.method === 'POST') resource.id = crypto.randomUUID();
        const existing = resources.findIndex((r) => r.resourceType === type && r.id === resource.id);
        const version = existing >= 0 ? Number(resources[existing]!.meta?.versionId ?? '1') + 1 : 1;
        resource.meta = { ...(resource.meta ?? {}), versionId: String(version), lastUpdated: new Date().toISOString() };
        if (existing >= 0) resources[existing] = resource;
        else resources.push(resource);
        return send(existing >= 0 ? 200 : 201, resource, 'application/fhir+json', { location: `${origin}/fhir/${type}/${resource.id}/_history/${version}` });
      }
      return send(405, outcome('not-supported', `${req.method} is not supported`));
    };
    handle().catch((error: unknown) => send(500, outcome('exception', String(error))));
  });

  function authorize(url: URL, send: (status: number, body: unknown, type?: string, headers?: Record<string, string>) => void): void {
    const p = url.searchParams;
    const redirectUri = p.get('redirect_uri') ?? '';
    const clientId = p.get('client_id') ?? '';
    if (!clientId || clients.get(clientId) !== redirectUri) return send(400, { error: 'invalid_client', error_description: 'unknown client or redirect_uri' }, 'application/json');
    const fail = (error: string, description: string) => {
      const target = new URL(redirectUri);
      target.searchParams.set('error', error);
      target.searchParams.set('error_description', description);
      if (p.get('state')) target.searchParams.set('state', p.get('state')!);
      send(302, '', 'text/plain', { location: target.toString() });
    };
    if (p.get('response_type') !== 'code') return fail('unsupported_response_type', 'response_type must be code');
    if (p.get('code_challenge_method') !== 'S256' || !p.get('code_challenge')) return fail('invalid_request', 'PKCE with S256 is required');
    if (p.get('aud') !== `${origin}/fhir`) return fail('invalid_request', `aud must be ${origin}/fhir`);
    const scope = p.get('scope') ?? '';
    let context: LaunchContextInput | undefined;
    const launch = p.get('launch');
    if (launch) {
      context = launches.get(launch);
      if (!context) return fail('invalid_request', 'unknown launch');
    } else if (scope.split(' ').includes('launch/patient') && state.standalonePatient) {
      context = { patient: state.standalonePatient };
    } else {
      return fail('invalid_request', 'no launch and no patient chosen');
    }
    const code = base64url(crypto.randomBytes(24));
    codes.set(code, { clientId, redirectUri, challenge: p.get('code_challenge')!, scope, context });
    const target = new URL(redirectUri);
    target.searchParams.set('code', code);
    if (p.get('state')) target.searchParams.set('state', p.get('state')!);
    send(302, '', 'text/plain', { location: target.toString() });
  }

  function token(raw: string, send: (status: number, body: unknown, type?: string) => void): void {
    const p = new URLSearchParams(raw);
    const error = (description: string) => send(400, { error: 'invalid_grant', error_description: description }, 'application/json');
    if (p.get('grant_type') !== 'authorization_code') return send(400, { error: 'unsupported_grant_type' }, 'application/json');
    const grant = codes.get(p.get('code') ?? '');
    codes.delete(p.get('code') ?? '');
    if (!grant) return error('unknown or used code');
    if (p.get('client_id') !== grant.clientId || p.get('redirect_uri') !== grant.redirectUri) return error('client or redirect_uri differ from the authorization request');
    const verifier = p.get('code_verifier') ?? '';
    if (base64url(crypto.createHash('sha256').update(verifier).digest()) !== grant.challenge) return error('PKCE verification failed');
    const accessToken = base64url(crypto.randomBytes(32));
    tokens.set(accessToken, { expiresAt: Date.now() + 3600_000, scope: grant.scope, clientId: grant.clientId, patient: grant.context.patient });
    // The app only reads fhirUser from the id_token; a real EHR signs it (RS256), this one does not need to.
    const idToken = [
      base64url(Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' }))),
      base64url(Buffer.from(JSON.stringify({ iss: `${origin}/fhir`, sub: state.user, aud: grant.clientId, fhirUser: `${origin}/fhir/${state.user}`, exp: Math.floor(Date.now() / 1000) + 3600, iat: Math.floor(Date.now() / 1000) }))),
      '',
    ].join('.');
    send(
      200,
      {
        access_token: accessToken,
        token_type: 'Bearer',
        expires_in: 3600,
        scope: grant.scope,
        id_token: idToken,
        patient: grant.context.patient,
        need_patient_banner: false,
        ...(grant.context.fhirContext ? { fhirContext: grant.context.fhirContext.map((reference) => ({ reference })) } : {}),
        ...(grant.context.appContext !== undefined ? { appContext: grant.context.appContext } : {}),
      },
      'application/json',
    );
  }

  const introspection = { clientId: 'payer-introspection', secret: base64url(crypto.randomBytes(18)) };
  let introspections = 0;
  function introspect(authorization: string | undefined, raw: string, send: (status: number, body: unknown, type?: string) => void): void {
    const expected = `Basic ${Buffer.from(`${introspection.clientId}:${introspection.secret}`).toString('base64')}`;
    if (authorization !== expected) return send(401, { error: 'invalid_client' }, 'application/json');
    introspections++;
    const found = tokens.get(new URLSearchParams(raw).get('token') ?? '');
    if (!found || found.expiresAt <= Date.now()) return send(200, { active: false }, 'application/json');
    send(
      200,
      { active: true, client_id: found.clientId, scope: found.scope, exp: Math.floor(found.expiresAt / 1000), iss: `${origin}/fhir`, ...(found.patient ? { patient: found.patient } : {}) },
      'application/json',
    );
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    fhirBase: `${origin}/fhir`,
    introspectionUrl: `${origin}/auth/introspect`,
    introspection,
    issueToken: (clientId, patient, expiresInSeconds = 3600) => {
      const accessToken = base64url(crypto.randomBytes(32));
      tokens.set(accessToken, { expiresAt: Date.now() + expiresInSeconds * 1000, scope: 'launch patient/*.rs', clientId, ...(patient ? { patient } : {}) });
      return accessToken;
    },
    get introspections() {
      return introspections;
    },
    registerClient: (clientId, redirectUri) => {
      clients.set(clientId, redirectUri);
    },
    launch: (context) => {
      const id = base64url(crypto.randomBytes(12));
      launches.set(id, context);
      return id;
    },
    get standalonePatient() {
      return state.standalonePatient;
    },
    set standalonePatient(value) {
      state.standalonePatient = value;
    },
    get user() {
      return state.user;
    },
    set user(value) {
      state.user = value;
    },
    expireTokens: () => {
      for (const t of tokens.values()) t.expiresAt = 0;
    },
    failWith: (status, match = () => true) => {
      failure = status === null ? null : { status, match };
    },
    resources: () => structuredClone(resources),
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
