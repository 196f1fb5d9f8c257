/**
 * How the review side is reached, from the configuration alone: start-up checks it before any
 * other module loads (src/server.ts), so it lives apart from the sign-in code.
 */
import type { Config } from '../config';

/**
 * How the review side is reached: `open` (development: neither reviewer sign-in, API tokens, SMART
 * clients nor CDS Hooks issuers configured), `protected` (sign-in or API tokens configured), or
 * `closed` (the rest of the server authenticates but the review side has no way in: 401).
 */
export function reviewAccess(config: Pick<Config, 'reviewAuth' | 'smartClients' | 'trustedIssuers'>): 'open' | 'closed' | 'protected' {
  if (config.reviewAuth.oidc || config.reviewAuth.apiTokens.length > 0) return 'protected';
  return config.smartClients.length === 0 && config.trustedIssuers.length === 0 ? 'open' : 'closed';
}
