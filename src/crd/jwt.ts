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
import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { TrustedIssuer } from '../config';
import { unauthorized } from '../fhir/outcomes';
import { joseReason, pinKeys } from '../auth/keys';

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

function pin(issuer: TrustedIssuer, timeoutMs: number): PinnedIssuer {
  if (!issuer.jwksUrl && !issuer.jwksFile) throw new Error(`Trusted issuer ${issuer.iss} needs a jwksUrl or a jwksFile`);
  // Only the URL or file: an issuer's keys never come inline from CDS_TRUSTED_ISSUERS.
  const source = issuer.jwksUrl ? { jwksUrl: issuer.jwksUrl } : { jwksFile: issuer.jwksFile! };
  return { iss: issuer.iss, ...pinKeys(source, `trusted issuer ${issuer.iss}`, timeoutMs) };
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
  return joseReason(error, 'token', {
    aud: 'token audience does not match the service URL',
    iss: 'token issuer is not trusted',
    iat: 'token issue time is not acceptable',
    nbf: 'token is not yet valid',
  });
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
