/**
 * CDS Hooks 2.0 client authentication: the JWT the CDS Client sends as `Authorization: Bearer`.
 * https://cds-hooks.hl7.org/2.0/#trusting-cds-clients
 *
 * Supports: an allow-list of issuers, each pinned to its own JWK Set (URL or local file);
 * ES384 and RS384 signatures only; `kid` required; `aud` equal to the exact service URL called
 * (string or array form); `exp` and `iat` required with a small clock tolerance; `jti` required and
 * remembered until the token expires (replay cache, in memory, bounded); `typ`, when present, is `JWT`.
 *
 * Does not support: keys announced by the token (`jku`, `jwk`, `x5u` are never followed; a `jku`
 * that differs from the issuer's pinned JWKS URL is refused), symmetric or `none` algorithms, a
 * (a replay cache shared between processes comes from `remember`, the store). Open mode (no trusted issuers) is the caller's decision.
 *
 * Never logs or echoes the token: error texts name the failed check only.
 */
import fs from 'node:fs';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { TrustedIssuer } from '../config';
import { unauthorized } from '../fhir/outcomes';

/** The only algorithms CDS Hooks 2.0 recommends; everything else is refused before any key lookup. */
export const ALLOWED_ALGORITHMS = ['ES384', 'RS384'] as const;

export interface VerifiedClaims {
  iss: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  sub?: string;
  /** Opaque id of the healthcare organization invoking the hook (CDS Hooks `tenant`). */
  tenant?: string;
  /** Key id that signed the token (for audit; not secret). */
  kid: string;
}

export interface JwtVerifierOptions {
  /** Clock for tests; defaults to the system clock. */
  now?: () => Date;
  /** Allowed clock skew for `exp`, `iat` (seconds). Default 30. */
  clockToleranceSeconds?: number;
  /** Longest accepted `exp - iat` and age (seconds). Default 3600. */
  maxTokenAgeSeconds?: number;
  /** Replay cache capacity (entries). Default 10 000; the oldest entries are dropped first. */
  replayCacheSize?: number;
  /** Timeout for fetching a remote JWKS (ms). Default 5000. */
  jwksTimeoutMs?: number;
  /**
   * Shared replay cache (the store's `jti` table, so every instance sees every jti): records the
   * key until `expiresAt`, false on a replay. Default: the in-memory cache below.
   */
  remember?: (key: string, expiresAt: Date) => Promise<boolean>;
}

export interface JwtVerifier {
  /** Verifies the `Authorization` header value for a call to `audience` (the exact service URL). */
  verify(authorizationHeader: string | undefined, audience: string): Promise<VerifiedClaims>;
}

interface PinnedIssuer {
  iss: string;
  jwksUrl?: string;
  keys: JWTVerifyGetKey;
}

function loadJwksFile(file: string, iss: string): JSONWebKeySet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`JWKS file for trusted issuer ${iss} cannot be read as JSON: ${(error as Error).message}`);
  }
  const keys = (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new Error(`JWKS file for trusted issuer ${iss} has no "keys" array`);
  }
  return parsed as JSONWebKeySet;
}

function pin(issuer: TrustedIssuer, timeoutDuration: number): PinnedIssuer {
  if (issuer.jwksUrl) {
    return {
      iss: issuer.iss,
      jwksUrl: issuer.jwksUrl,
      keys: createRemoteJWKSet(new URL(issuer.jwksUrl), { timeoutDuration }),
    };
  }
  if (issuer.jwksFile) {
    return { iss: issuer.iss, keys: createLocalJWKSet(loadJwksFile(issuer.jwksFile, issuer.iss)) };
  }
  throw new Error(`Trusted issuer ${issuer.iss} needs a jwksUrl or a jwksFile`);
}

/**
 * `jti` values seen, each kept until its token expires. Insertion order is kept by the Map, so the
 * oldest entries go first when the cache is full. Entries are added only after the signature is
 * verified, so untrusted callers cannot fill it.
 */
class ReplayCache {
  private readonly entries = new Map<string, number>();
  constructor(private readonly capacity: number) {}

  /** Records the key; false when it is already there and still live. */
  remember(key: string, expiresAtMs: number, nowMs: number): boolean {
    const seen = this.entries.get(key);
    if (seen !== undefined && seen > nowMs) return false;
    this.entries.delete(key);
    this.prune(nowMs);
    while (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, expiresAtMs);
    return true;
  }

  private prune(nowMs: number): void {
    for (const [key, expiresAt] of this.entries) {
      if (expiresAt <= nowMs) this.entries.delete(key);
    }
  }
}

function reasonFor(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return `token claim "${error.claim}" is missing`;
    if (error.claim === 'aud') return 'token audience does not match the service URL';
    if (error.claim === 'iss') return 'token issuer is not trusted';
    if (error.claim === 'iat') return 'token issue time is not acceptable';
    if (error.claim === 'nbf') return 'token is not yet valid';
    return `token claim "${error.claim}" is missing or invalid`;
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm is not allowed';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'no trusted key matches the token kid';
  if (error instanceof joseErrors.JWKSMultipleMatchingKeys) return 'several trusted keys match the token kid';
  if (error instanceof joseErrors.JWKSTimeout) return 'the issuer key set could not be retrieved in time';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature is invalid';
  if (error instanceof joseErrors.JOSEError) return 'token is malformed or cannot be verified';
  return 'token cannot be verified';
}

export function createJwtVerifier(issuers: TrustedIssuer[], options: JwtVerifierOptions = {}): JwtVerifier {
  const now = options.now ?? (() => new Date());
  const tolerance = options.clockToleranceSeconds ?? 30;
  const maxAge = options.maxTokenAgeSeconds ?? 3600;
  const pinned = new Map<string, PinnedIssuer>();
  for (const issuer of issuers) pinned.set(issuer.iss, pin(issuer, options.jwksTimeoutMs ?? 5000));
  const memory = new ReplayCache(options.replayCacheSize ?? 10_000);
  const remember =
    options.remember ?? (async (key: string, expiresAt: Date) => memory.remember(key, expiresAt.getTime(), now().getTime()));

  async function verify(authorizationHeader: string | undefined, audience: string): Promise<VerifiedClaims> {
    const match = /^Bearer[ ]+([A-Za-z0-9\-_.]+)$/i.exec(authorizationHeader?.trim() ?? '');
    const token = match?.[1];
    if (!token) throw unauthorized('CDS Hooks requests must carry "Authorization: Bearer <JWT>"');

    // Header and payload are read unverified only to refuse early and to pick the pinned issuer.
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      throw unauthorized('JWT is malformed');
    }
    if (!ALLOWED_ALGORITHMS.includes(header.alg as (typeof ALLOWED_ALGORITHMS)[number])) {
      throw unauthorized(`JWT algorithm must be one of ${ALLOWED_ALGORITHMS.join(', ')}`);
    }
    if (typeof header.kid !== 'string' || header.kid === '') throw unauthorized('JWT header must carry a "kid"');
    if (header.typ !== undefined && String(header.typ).toUpperCase() !== 'JWT') {
      throw unauthorized('JWT header "typ" must be "JWT"');
    }
    const issuer = typeof unverified.iss === 'string' ? pinned.get(unverified.iss) : undefined;
    if (!issuer) throw unauthorized('JWT issuer is not trusted');
    if (header.jku !== undefined && issuer.jwksUrl !== undefined && header.jku !== issuer.jwksUrl) {
      throw unauthorized('JWT "jku" does not match the key set pinned for this issuer');
    }

    let payload: JWTPayload;
    const current = now();
    try {
      ({ payload } = await jwtVerify(token, issuer.keys, {
        algorithms: [...ALLOWED_ALGORITHMS],
        issuer: issuer.iss,
        audience,
        clockTolerance: tolerance,
        maxTokenAge: maxAge,
        requiredClaims: ['iss', 'aud', 'exp', 'iat', 'jti'],
        currentDate: current,
      }));
    } catch (error) {
      throw unauthorized(`JWT rejected: ${reasonFor(error)}`);
    }

    const nowSeconds = Math.floor(current.getTime() / 1000);
    const { exp, iat, jti } = payload;
    if (typeof exp !== 'number' || typeof iat !== 'number') throw unauthorized('JWT "exp" and "iat" are required');
    if (iat > nowSeconds + tolerance) throw unauthorized('JWT rejected: token issue time is in the future');
    if (exp - iat > maxAge) throw unauthorized('JWT rejected: token lifetime is too long');
    if (typeof jti !== 'string' || jti === '') throw unauthorized('JWT "jti" is required');
    if (!(await remember(`${issuer.iss}|${jti}`, new Date((exp + tolerance) * 1000)))) {
      throw unauthorized('JWT rejected: token has already been used (jti replay)');
    }

    const claims: VerifiedClaims = { iss: issuer.iss, aud: payload.aud as string | string[], exp, iat, jti, kid: header.kid };
    if (typeof payload.sub === 'string') claims.sub = payload.sub;
    if (typeof payload.tenant === 'string') claims.tenant = payload.tenant;
    return claims;
  }

  return { verify };
}
