/**
 * The app's token for the payer's /fhir when the payer requires one (config.json `payerTokenUrl`):
 * a token exchange (RFC 8693) of the EHR launch's access token at the payer's token endpoint, which
 * checks it with the EHR (src/auth/token-exchange.ts). Kept in memory only, renewed before it
 * expires and after a 401.
 */
import { AppError } from './io';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** Renew this long before the payer token expires. */
const MARGIN_MS = 20_000;

export interface PayerAuth {
  /** The `Authorization` header value for a payer request. */
  header(doing: string): Promise<string>;
  /** Forgets the token (the payer answered 401): the next `header` exchanges again. */
  reset(): void;
}

export interface ExchangeInput {
  tokenUrl: string;
  clientId: string;
  /** The EHR's FHIR base: the launch `iss`. */
  ehrBase: string;
  /** The EHR access token now (fhirclient's token response). */
  ehrToken: () => string | undefined;
  fetchImpl?: typeof fetch;
}

export function payerAuth(input: ExchangeInput): PayerAuth {
  let current: { token: string; expiresAt: number } | undefined;
  const fetchImpl = input.fetchImpl ?? ((...args: Parameters<typeof fetch>) => fetch(...args));

  async function exchange(doing: string): Promise<{ token: string; expiresAt: number }> {
    const subject = input.ehrToken();
    if (!subject) throw new AppError('expired', `The EHR gave the app no access token, so the app could not ${doing}.`);
    let response: Response;
    try {
      response = await fetchImpl(input.tokenUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body: new URLSearchParams({
          grant_type: TOKEN_EXCHANGE_GRANT,
          subject_token: subject,
          subject_token_type: ACCESS_TOKEN_TYPE,
          subject_issuer: input.ehrBase,
          requested_token_type: ACCESS_TOKEN_TYPE,
          client_id: input.clientId,
        }).toString(),
      });
    } catch {
      throw new AppError('network', `The health plan could not be reached to ${doing}.`);
    }
    const body = (await response.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
    if (response.ok && typeof body.access_token === 'string') {
      const seconds = typeof body.expires_in === 'number' ? body.expires_in : 60;
      return { token: body.access_token, expiresAt: Date.now() + seconds * 1000 };
    }
    const why = typeof body.error_description === 'string' ? body.error_description : `HTTP ${response.status}`;
    // invalid_grant: the EHR no longer vouches for the launch (expired or revoked session).
    if (body.error === 'invalid_grant' && /not active|expired/.test(why)) throw new AppError('expired', `Your EHR session has expired, so the app could not ${doing}.`);
    throw new AppError('payer', `The health plan did not give the app access, so it could not ${doing}: ${why}.`);
  }

  return {
    async header(doing) {
      if (!current || current.expiresAt - MARGIN_MS <= Date.now()) current = await exchange(doing);
      return `Bearer ${current.token}`;
    },
    reset() {
      current = undefined;
    },
  };
}
