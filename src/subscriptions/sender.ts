/**
 * Posts one notification Bundle to a rest-hook endpoint: `application/fhir+json`, the
 * subscription's `channel.header` lines as headers, a hard timeout, redirects not followed (an
 * endpoint is verified by its handshake; a redirect could point anywhere). 2xx is delivered;
 * anything else, a timeout or a refused connection is a failure with a short reason for the log.
 */
import type { Bundle } from 'fhir/r4';

export interface SendResult {
  ok: boolean;
  /** HTTP status, when the endpoint answered. */
  status?: number;
  /** Why it failed (no response bodies: they may echo PHI). */
  error?: string;
  ms: number;
}

export type Sender = (endpoint: string, headers: readonly string[], bundle: Bundle, timeoutMs: number) => Promise<SendResult>;

export function headerObject(lines: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

export const sendNotification: Sender = async (endpoint, headers, bundle, timeoutMs) => {
  const started = Date.now();
  try {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: { ...headerObject(headers), 'Content-Type': 'application/fhir+json', Accept: 'application/fhir+json' },
      body: JSON.stringify(bundle),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    // The body is not needed; drain it so the connection is released.
    await response.arrayBuffer().catch(() => undefined);
    const ms = Date.now() - started;
    if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status, ms };
    return { ok: false, status: response.status, error: `endpoint answered HTTP ${response.status}`, ms };
  } catch (error) {
    const ms = Date.now() - started;
    const name = (error as Error)?.name;
    if (name === 'TimeoutError' || name === 'AbortError') return { ok: false, error: `no answer within ${timeoutMs} ms`, ms };
    const cause = (error as { cause?: { code?: string } })?.cause?.code;
    return { ok: false, error: `cannot reach the endpoint${cause ? ` (${cause})` : ''}`, ms };
  }
};
