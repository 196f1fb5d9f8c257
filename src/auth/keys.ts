/**
 * Key sets pinned from configuration, for every JWT this server verifies: SMART Backend Services
 * client assertions (src/auth/smart.ts) and CDS Hooks client JWTs (src/crd/jwt.ts).
 *
 * A party's keys come only from what the operator configured for it: a JWKS URL, a JWKS file or an
 * inline JWK Set. Keys a token announces (`jku`, `jwk`, `x5u`) are never followed.
 * `joseReason` turns jose's errors into a short reason that names the failed check, never the token.
 */
import fs from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

/** Exactly one of these, as configured for the party. */
export interface KeySource {
  jwksUrl?: string;
  jwksFile?: string;
  jwks?: unknown;
}

export interface PinnedKeys {
  keys: JWTVerifyGetKey;
  /** Set when the keys come from a URL (a token's `jku`, if any, must equal it). */
  jwksUrl?: string;
}

/** Default time allowed to fetch a remote JWK Set. */
export const JWKS_TIMEOUT_MS = 5000;

function checkedSet(parsed: unknown, where: string): JSONWebKeySet {
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${where} has no "keys" array`);
  return parsed as JSONWebKeySet;
}

/**
 * Pins the key set of one party. `owner` names it in start-up errors ("SMART client ehr-1",
 * "trusted issuer https://ehr.example.org"). A URL is fetched lazily and cached by jose; a file or an
 * inline set is read and checked now, so a bad configuration stops the start.
 */
export function pinKeys(source: KeySource, owner: string, timeoutMs: number = JWKS_TIMEOUT_MS): PinnedKeys {
  if (source.jwksUrl) return { keys: createRemoteJWKSet(new URL(source.jwksUrl), { timeoutDuration: timeoutMs }), jwksUrl: source.jwksUrl };
  if (source.jwks !== undefined) return { keys: createLocalJWKSet(checkedSet(source.jwks, `The JWK Set of ${owner}`)) };
  if (source.jwksFile) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(source.jwksFile, 'utf8'));
    } catch (error) {
      throw new Error(`JWKS file for ${owner} cannot be read as JSON: ${(error as Error).message}`);
    }
    return { keys: createLocalJWKSet(checkedSet(parsed, `JWKS file for ${owner}`)) };
  }
  throw new Error(`${owner} needs a jwksUrl, a jwksFile or a jwks`);
}

/**
 * Why jose refused a JWT, as a reason for the caller (401 text or OAuth error description).
 * `subject` names the JWT ("token", "client assertion"); `claims` overrides the text for a claim
 * whose check failed (e.g. `aud` → "must be the token endpoint URL").
 */
export function joseReason(error: unknown, subject: string, claims: Partial<Record<string, string>> = {}): string {
  if (error instanceof joseErrors.JWTExpired) return `${subject} has expired`;
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return `${subject} claim "${error.claim}" is missing`;
    return claims[error.claim] ?? `${subject} claim "${error.claim}" is missing or invalid`;
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return `${subject} algorithm is not allowed`;
  if (error instanceof joseErrors.JWKSNoMatchingKey) return `no trusted key matches the ${subject} kid`;
  if (error instanceof joseErrors.JWKSMultipleMatchingKeys) return `several trusted keys match the ${subject} kid`;
  if (error instanceof joseErrors.JWKSTimeout) return 'the key set could not be retrieved in time';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return `${subject} signature is invalid`;
  if (error instanceof joseErrors.JOSEError) return `${subject} is malformed or cannot be verified`;
  return `${subject} cannot be verified`;
}
