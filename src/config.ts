/**
 * Every configuration knob, read from the environment once. Other modules receive a `Config`
 * (or the part they need) as an argument; nothing else reads `process.env`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_LIMITS, type RequestLimits } from './fhir/structure';
import { isReviewerRole, REVIEWER_ROLES, type ReviewerRole } from './review/roles';
import { DEFAULT_PAYER_TIME_ZONE, isTimeZone } from './core/dates';
import { REPO_ROOT } from './core/paths';

/** Canonical base of every artifact this server publishes (Questionnaire, Library, ValueSet). */
export const CANONICAL_BASE = 'http://pa.example.org/fhir';

export { REPO_ROOT };

export interface Config {
  port: number;
  /** Public URL of this server, used in links (policy pages, card URLs, `aud` checks). */
  publicBaseUrl: string;
  /** PostgreSQL connection string; when absent the embedded store (PGlite) is used. */
  databaseUrl?: string;
  /** Folder of the embedded store; `memory://` keeps it in memory (tests). */
  dataDir: string;
  production: boolean;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** Bounds on one request's shape (src/fhir/structure.ts): JSON depth, Bundle entries, Claim items, array lengths. */
  limits: RequestLimits;
  /** CDS Hooks JWT: trusted issuers, each pinned to a JWKS URL or file. Empty = open (dev only). */
  trustedIssuers: TrustedIssuer[];
  /** SMART Backend Services clients allowed on /fhir. Empty (and no CDS issuers) = open mode (dev only). */
  smartClients: SmartClientConfig[];
  /** Lifetime of the access tokens the token endpoint issues (seconds). */
  accessTokenTtlSeconds: number;
  /** The DTR SMART app at /dtr/: the client id EHRs register it under. */
  dtrAppClientId: string;
  /** EHRs whose launch of the DTR app may be exchanged for a payer token (`DTR_EHRS`, src/auth/token-exchange.ts). */
  dtrEhrs: DtrEhrConfig[];
  /** PAS Subscriptions: outbox dispatcher and rest-hook delivery. */
  subscriptions: SubscriptionSettings;
  /** Operations: logs, limits, shutdown, metrics (README "Operations"). */
  ops: OpsConfig;
  /** Reviewer sign-in for /review (README "Reviewer sign-in"): OIDC, sessions, API tokens. */
  reviewAuth: ReviewAuthConfig;
  /** Policy evaluation: worker threads (0 = on the main thread) and the time budget of one evaluation. */
  evaluation: { workers: number; timeoutMs: number };
  /** The payer's IANA time zone: "today" (approval starts, validity of authorizations, CQL Today()) is the date there. */
  payerTimeZone: string;
  /** Folders the server loads its policy content from. */
  paths: { cql: string; elm: string; catalog: string; valueSets: string; questionnaires: string };
}

export interface SubscriptionSettings {
  /** How often the dispatcher polls the outbox (ms); 0 = no dispatcher in this process. */
  pollMs: number;
  /** Timeout of one notification POST or handshake (ms). */
  timeoutMs: number;
  /** Attempts per notification before the Subscription goes to `error`. */
  maxAttempts: number;
  /** First retry delay (ms); doubled per attempt up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
}

/** Reviewer sign-in through the payer's OpenID Connect provider (authorization code + PKCE). */
export interface ReviewOidcConfig {
  /** `REVIEW_OIDC_ISSUER`: the provider's issuer URL; its `/.well-known/openid-configuration` is read at the first sign-in. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** `REVIEW_OIDC_REDIRECT_URL`, default `${PUBLIC_BASE_URL}/review/callback`; register it with the provider. */
  redirectUrl: string;
  /** `REVIEW_OIDC_SCOPE`, default `openid profile`. */
  scope: string;
  /** `REVIEW_OIDC_ROLE_CLAIM`: the ID token / userinfo claim holding the roles; a dotted path reaches nested claims (`realm_access.roles`). */
  roleClaim: string;
  /** `REVIEW_OIDC_ROLE_MAP`: claim value → reviewer role; default each role code maps to itself. */
  roleMap: Record<string, ReviewerRole>;
}

/** An automation token (`REVIEW_API_TOKENS`), kept only as the SHA-256 of its value. */
export interface ReviewApiToken {
  name: string;
  role: ReviewerRole;
  /** Hex SHA-256 of the token. */
  sha256: string;
}

export interface ReviewAuthConfig {
  oidc?: ReviewOidcConfig;
  apiTokens: ReviewApiToken[];
  /** A session not used for this long ends (`REVIEW_SESSION_IDLE_SECONDS`, default 30 minutes). */
  sessionIdleSeconds: number;
  /** A session ends this long after sign-in whatever its use (`REVIEW_SESSION_MAX_SECONDS`, default 12 hours). */
  sessionMaxSeconds: number;
}

/** `@path/to/file.json` or the JSON itself. */
function jsonSetting(raw: string): unknown {
  const text = raw.trim().startsWith('@') ? fs.readFileSync(path.resolve(raw.trim().slice(1)), 'utf8') : raw;
  return JSON.parse(text);
}

function parseRoleMap(raw: string | undefined): Record<string, ReviewerRole> {
  if (!raw || raw.trim() === '') return Object.fromEntries(REVIEWER_ROLES.map((r) => [r, r]));
  const parsed = jsonSetting(raw);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('REVIEW_OIDC_ROLE_MAP must be a JSON object of {"<claim value>": "<reviewer role>"}');
  for (const [value, role] of Object.entries(parsed)) {
    if (!isReviewerRole(role)) throw new Error(`REVIEW_OIDC_ROLE_MAP["${value}"] must be one of ${REVIEWER_ROLES.join(', ')}`);
  }
  return parsed as Record<string, ReviewerRole>;
}

/** `REVIEW_API_TOKENS`: a JSON array (or `@file`) of {name, role, sha256}; a plaintext token is never configured. */
export function parseReviewApiTokens(raw: string | undefined): ReviewApiToken[] {
  if (!raw || raw.trim() === '') return [];
  const parsed = jsonSetting(raw);
  if (!Array.isArray(parsed)) throw new Error('REVIEW_API_TOKENS must be a JSON array of {name, role, sha256}');
  const names = new Set<string>();
  return parsed.map((entry: unknown, index) => {
    const e = (entry ?? {}) as Partial<ReviewApiToken>;
    const at = `REVIEW_API_TOKENS[${index}]`;
    if (typeof e.name !== 'string' || e.name.trim() === '') throw new Error(`${at} needs a "name"`);
    if (names.has(e.name)) throw new Error(`${at}: name ${e.name} is listed twice`);
    names.add(e.name);
    if (!isReviewerRole(e.role)) throw new Error(`${at}.role must be one of ${REVIEWER_ROLES.join(', ')}`);
    if (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(e.sha256)) throw new Error(`${at}.sha256 must be the hex SHA-256 of the token (64 hex digits)`);
    return { name: e.name.trim(), role: e.role, sha256: e.sha256.toLowerCase() };
  });
}

export function loadReviewAuthConfig(env: NodeJS.ProcessEnv, publicBaseUrl: string): ReviewAuthConfig {
  const issuer = env.REVIEW_OIDC_ISSUER?.trim();
  let oidc: ReviewOidcConfig | undefined;
  if (issuer) {
    const clientId = env.REVIEW_OIDC_CLIENT_ID?.trim();
    const clientSecret = env.REVIEW_OIDC_CLIENT_SECRET;
    if (!clientId || !clientSecret) throw new Error('REVIEW_OIDC_ISSUER needs REVIEW_OIDC_CLIENT_ID and REVIEW_OIDC_CLIENT_SECRET');
    oidc = {
      issuer,
      clientId,
      clientSecret,
      redirectUrl: env.REVIEW_OIDC_REDIRECT_URL?.trim() || `${publicBaseUrl}/review/callback`,
      scope: env.REVIEW_OIDC_SCOPE?.trim() || 'openid profile',
      roleClaim: env.REVIEW_OIDC_ROLE_CLAIM?.trim() || 'roles',
      roleMap: parseRoleMap(env.REVIEW_OIDC_ROLE_MAP),
    };
  }
  return {
    ...(oidc ? { oidc } : {}),
    apiTokens: parseReviewApiTokens(env.REVIEW_API_TOKENS),
    sessionIdleSeconds: positiveInteger(env.REVIEW_SESSION_IDLE_SECONDS, 1800, 'REVIEW_SESSION_IDLE_SECONDS'),
    sessionMaxSeconds: positiveInteger(env.REVIEW_SESSION_MAX_SECONDS, 12 * 3600, 'REVIEW_SESSION_MAX_SECONDS'),
  };
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface OpsConfig {
  logLevel: LogLevel;
  /** Body limit (bytes) per route family; each is also capped by `maxBodyBytes`. */
  bodyLimits: { cdsHooks: number; submit: number; dtr: number; token: number; other: number };
  rateLimit: {
    windowSeconds: number;
    /** Requests per window from one IP address (every route); 0 turns the limit off. */
    perIp: number;
    /** Requests per window from one authenticated SMART client (/fhir); 0 turns the limit off. */
    perClient: number;
    /** `database`: counters in the store, shared by every instance; `memory`: per instance. */
    store: 'memory' | 'database';
  };
  /** Express `trust proxy`: hops (or addresses) whose X-Forwarded-For is believed; false = none. */
  trustProxy: boolean | number | string;
  /** How long in-flight requests may run after SIGTERM/SIGINT before connections are cut. */
  shutdownGraceMs: number;
  /** When set, GET /metrics needs `Authorization: Bearer <this>`. */
  metricsToken?: string;
}

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** A non-negative integer from the environment, or the default; anything else stops the start. */
function count(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

function trustProxy(raw: string | undefined): boolean | number | string {
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  return /^\d+$/.test(raw) ? Number(raw) : raw;
}

export function loadOpsConfig(env: NodeJS.ProcessEnv = process.env): OpsConfig {
  const level = (env.LOG_LEVEL ?? 'info').toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  const store = env.RATE_LIMIT_STORE ?? (env.DATABASE_URL ? 'database' : 'memory');
  if (store !== 'memory' && store !== 'database') throw new Error('RATE_LIMIT_STORE must be "memory" or "database"');
  const mb = 1024 * 1024;
  return {
    logLevel: level,
    bodyLimits: {
      cdsHooks: count(env, 'BODY_LIMIT_CDS_HOOKS', 5 * mb),
      submit: count(env, 'BODY_LIMIT_SUBMIT', 20 * mb),
      dtr: count(env, 'BODY_LIMIT_DTR', 5 * mb),
      token: count(env, 'BODY_LIMIT_TOKEN', 16 * 1024),
      other: count(env, 'BODY_LIMIT_OTHER', mb),
    },
    rateLimit: {
      windowSeconds: Math.max(1, count(env, 'RATE_LIMIT_WINDOW_SECONDS', 60)),
      perIp: count(env, 'RATE_LIMIT_PER_IP', 120_000),
      perClient: count(env, 'RATE_LIMIT_PER_CLIENT', 60_000),
      store,
    },
    trustProxy: trustProxy(env.TRUST_PROXY),
    shutdownGraceMs: count(env, 'SHUTDOWN_GRACE_MS', 10_000),
    ...(env.METRICS_TOKEN ? { metricsToken: env.METRICS_TOKEN } : {}),
  };
}

export interface TrustedIssuer {
  iss: string;
  jwksUrl?: string;
  jwksFile?: string;
  /** FHIR servers (base URLs) this issuer's hooks may have the server read; anything else is refused. */
  fhirServers?: string[];
}

/** One SMART Backend Services client (`SMART_CLIENTS`). */
export interface SmartClientConfig {
  clientId: string;
  jwksFile?: string;
  jwksUrl?: string;
  jwks?: { keys: unknown[] };
  /** The provider organization the client submits for, e.g. an NPI. */
  organization: { system: string; value: string };
  /** The most the client may be granted (space-separated SMART scopes). */
  scope: string;
  /** FHIR servers (base URLs) `$populate` / `$next-question` may read for this client. */
  fhirServers?: string[];
}

/**
 * One EHR that launches the payer's DTR app (`DTR_EHRS`): the app's EHR access token is checked
 * with this EHR's token introspection endpoint (RFC 7662) before a payer token is issued.
 */
export interface DtrEhrConfig {
  /** The EHR's FHIR base URL, the `iss` it launches the app with. */
  issuer: string;
  introspectionUrl: string;
  /** The payer's credentials at the introspection endpoint (HTTP Basic, RFC 7662 §2.1). */
  introspectionClientId: string;
  introspectionClientSecret: string;
  /** The client id the EHR gave the DTR app; tokens of other apps are refused. Default DTR_APP_CLIENT_ID. */
  appClientId?: string;
  /** The provider organization this EHR submits for (PAS isolation, like a SMART client's). */
  organization: { system: string; value: string };
  /** The most an exchanged token may carry; default the DTR operations and Claim/$submit. */
  scope?: string;
}

/** https, or http on loopback (a test EHR): an EHR token is never sent in clear over a network. */
function secureUrl(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new Error(`${where} must be a URL`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${where} must be a URL, got "${value}"`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) throw new Error(`${where} must be an https URL`);
  return value.replace(/\/+$/, '');
}

/** A variable holding a JSON array, or `@path/to/file.json` naming a file that holds one; unset = []. */
function jsonArray(raw: string | undefined, name: string, shape: string): unknown[] {
  if (!raw || raw.trim() === '') return [];
  const text = raw.trim().startsWith('@') ? fs.readFileSync(path.resolve(raw.trim().slice(1)), 'utf8') : raw;
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) throw new Error(`${name} must be a JSON array of ${shape}`);
  return parsed;
}

/** `DTR_EHRS`: a JSON array, or `@path/to/file.json` holding one. */
export function parseDtrEhrs(raw: string | undefined): DtrEhrConfig[] {
  const parsed = jsonArray(raw, 'DTR_EHRS', '{issuer, introspectionUrl, introspectionClientId, introspectionClientSecret, organization}');
  const issuers = new Set<string>();
  return parsed.map((entry: unknown, index) => {
    const at = `DTR_EHRS[${index}]`;
    const e = (entry ?? {}) as Partial<DtrEhrConfig>;
    const issuer = secureUrl(e.issuer, `${at}.issuer`);
    if (issuers.has(issuer)) throw new Error(`${at}: issuer ${issuer} is listed twice`);
    issuers.add(issuer);
    for (const field of ['introspectionClientId', 'introspectionClientSecret'] as const) {
      if (typeof e[field] !== 'string' || e[field] === '') throw new Error(`${at} needs "${field}"`);
    }
    if (typeof e.organization?.system !== 'string' || typeof e.organization?.value !== 'string') {
      throw new Error(`${at} needs "organization": {"system", "value"} (the provider it submits for, e.g. an NPI)`);
    }
    if (e.appClientId !== undefined && (typeof e.appClientId !== 'string' || e.appClientId === '')) throw new Error(`${at}.appClientId must be a string`);
    if (e.scope !== undefined && (typeof e.scope !== 'string' || e.scope.trim() === '')) throw new Error(`${at}.scope must be a space-separated scope list`);
    return {
      issuer,
      introspectionUrl: secureUrl(e.introspectionUrl, `${at}.introspectionUrl`),
      introspectionClientId: e.introspectionClientId!,
      introspectionClientSecret: e.introspectionClientSecret!,
      ...(e.appClientId ? { appClientId: e.appClientId } : {}),
      organization: { system: e.organization.system, value: e.organization.value },
      ...(e.scope ? { scope: e.scope.trim() } : {}),
    };
  });
}

function parseIssuers(raw: string | undefined): TrustedIssuer[] {
  if (!raw) return [];
  const parsed: unknown = JSON.parse(raw);
  if (!Array.isArray(parsed)) throw new Error('CDS_TRUSTED_ISSUERS must be a JSON array of {iss, jwksUrl|jwksFile}');
  return parsed.map((entry: unknown, index) => {
    const e = entry as Partial<TrustedIssuer>;
    if (typeof e.iss !== 'string' || (typeof e.jwksUrl !== 'string' && typeof e.jwksFile !== 'string')) {
      throw new Error(`CDS_TRUSTED_ISSUERS[${index}] needs "iss" and one of "jwksUrl" or "jwksFile"`);
    }
    return {
      iss: e.iss,
      ...(e.jwksUrl ? { jwksUrl: e.jwksUrl } : {}),
      ...(e.jwksFile ? { jwksFile: e.jwksFile } : {}),
      ...(e.fhirServers !== undefined ? { fhirServers: stringList(e.fhirServers, `CDS_TRUSTED_ISSUERS[${index}].fhirServers`) } : {}),
    };
  });
}

function stringList(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new Error(`${where} must be an array of URLs`);
  return value as string[];
}

/** `SMART_CLIENTS`: a JSON array, or `@path/to/file.json` holding one. */
export function parseSmartClients(raw: string | undefined): SmartClientConfig[] {
  const parsed = jsonArray(raw, 'SMART_CLIENTS', '{clientId, jwksFile|jwksUrl|jwks, organization, scope}');
  const ids = new Set<string>();
  return parsed.map((entry: unknown, index) => {
    const at = `SMART_CLIENTS[${index}]`;
    const e = (entry ?? {}) as Partial<SmartClientConfig>;
    if (typeof e.clientId !== 'string' || e.clientId === '') throw new Error(`${at} needs a "clientId"`);
    if (ids.has(e.clientId)) throw new Error(`${at}: clientId ${e.clientId} is listed twice`);
    ids.add(e.clientId);
    const keySources = [e.jwksFile, e.jwksUrl, e.jwks].filter((v) => v !== undefined);
    if (keySources.length !== 1) throw new Error(`${at} needs exactly one of "jwksFile", "jwksUrl" or "jwks"`);
    if (typeof e.organization?.system !== 'string' || typeof e.organization?.value !== 'string') {
      throw new Error(`${at} needs "organization": {"system", "value"} (the provider it submits for, e.g. an NPI)`);
    }
    if (typeof e.scope !== 'string' || e.scope.trim() === '') throw new Error(`${at} needs a "scope"`);
    return {
      clientId: e.clientId,
      ...(typeof e.jwksFile === 'string' ? { jwksFile: e.jwksFile } : {}),
      ...(typeof e.jwksUrl === 'string' ? { jwksUrl: e.jwksUrl } : {}),
      ...(e.jwks !== undefined ? { jwks: e.jwks } : {}),
      organization: { system: e.organization.system, value: e.organization.value },
      scope: e.scope.trim(),
      ...(e.fhirServers !== undefined ? { fhirServers: stringList(e.fhirServers, `${at}.fhirServers`) } : {}),
    };
  });
}

function timeZone(raw: string | undefined): string {
  if (raw === undefined || raw.trim() === '') return DEFAULT_PAYER_TIME_ZONE;
  if (!isTimeZone(raw.trim())) throw new Error(`PAYER_TIME_ZONE must be an IANA time zone such as America/Chicago, got "${raw}"`);
  return raw.trim();
}

function positiveInteger(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env.PORT ?? 8080);
  const root = REPO_ROOT;
  const publicBaseUrl = (env.PUBLIC_BASE_URL ?? `http://localhost:${port}`).replace(/\/$/, '');
  return {
    port,
    publicBaseUrl,
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    dataDir: env.DATA_DIR ?? path.join(root, 'data', 'pglite'),
    production: env.NODE_ENV === 'production',
    maxBodyBytes: Number(env.MAX_BODY_BYTES ?? 25 * 1024 * 1024),
    limits: {
      maxJsonDepth: positiveInteger(env.MAX_JSON_DEPTH, DEFAULT_LIMITS.maxJsonDepth, 'MAX_JSON_DEPTH'),
      maxBundleEntries: positiveInteger(env.MAX_BUNDLE_ENTRIES, DEFAULT_LIMITS.maxBundleEntries, 'MAX_BUNDLE_ENTRIES'),
      maxClaimItems: positiveInteger(env.MAX_CLAIM_ITEMS, DEFAULT_LIMITS.maxClaimItems, 'MAX_CLAIM_ITEMS'),
      maxArrayItems: positiveInteger(env.MAX_ARRAY_ITEMS, DEFAULT_LIMITS.maxArrayItems, 'MAX_ARRAY_ITEMS'),
    },
    trustedIssuers: parseIssuers(env.CDS_TRUSTED_ISSUERS),
    smartClients: parseSmartClients(env.SMART_CLIENTS),
    accessTokenTtlSeconds: Number(env.ACCESS_TOKEN_TTL_SECONDS ?? 300),
    dtrAppClientId: env.DTR_APP_CLIENT_ID ?? 'pa-dtr-app',
    dtrEhrs: parseDtrEhrs(env.DTR_EHRS),
    subscriptions: {
      pollMs: Number(env.SUBSCRIPTION_POLL_MS ?? 1000),
      timeoutMs: Number(env.SUBSCRIPTION_TIMEOUT_MS ?? 10000),
      maxAttempts: Number(env.SUBSCRIPTION_MAX_ATTEMPTS ?? 8),
      retryBaseMs: Number(env.SUBSCRIPTION_RETRY_BASE_MS ?? 5000),
      retryMaxMs: Number(env.SUBSCRIPTION_RETRY_MAX_MS ?? 600000),
    },
    ops: loadOpsConfig(env),
    reviewAuth: loadReviewAuthConfig(env, publicBaseUrl),
    evaluation: {
      // Workers load compiled JavaScript: from TypeScript sources (tests, tsx) evaluate in-process.
      workers: Number(env.EVALUATION_WORKERS ?? (__filename.endsWith('.js') ? os.availableParallelism() : 0)),
      timeoutMs: Number(env.EVALUATION_TIMEOUT_MS ?? 5000),
    },
    payerTimeZone: timeZone(env.PAYER_TIME_ZONE),
    paths: {
      cql: path.join(root, 'cql'),
      elm: path.join(root, 'dist', 'elm'),
      catalog: path.join(root, 'catalog', 'policies'),
      valueSets: path.join(root, 'catalog', 'valuesets'),
      questionnaires: path.join(root, 'questionnaires'),
    },
  };
}
