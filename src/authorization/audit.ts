/**
 * One audit row per protocol call (CRD hooks, DTR operations and reads), written by the domain call
 * itself whatever happens: who called, what the call was, how it ended, how long it took. Only the
 * operational facts of `AuditEvent`: no resource bodies, no patient or member ids (the audit table
 * has no column for them; a patient is reachable only through the opaque ids other tables keep).
 */
import type { AuditEvent, Store } from '../store';

export interface AuditCall {
  requestId: string;
  /** e.g. `crd.order-sign`, `dtr.populate`. */
  action: string;
  /** The authenticated client (client id, or JWT `iss|sub`); null in open mode. */
  actor?: string | null;
  /** CDS Hooks `hookInstance`, or another opaque id of the call (at most 64 characters kept). */
  hookInstance?: string | null;
}

/** What a successful call adds to its row. */
export interface AuditFacts {
  payerId?: string | null;
  policyId?: string | null;
  outcome: string | null;
  /** Default 200. */
  status?: number;
}

/** Lets a call name its actor once it has authenticated (a refused token is audited with none). */
export interface AuditScope {
  actor: string | null;
}

/**
 * Runs `run` and writes its audit row: `facts(result)` on success; outcome `error` with the error's
 * HTTP status (500 when it has none) when it throws, and the error is rethrown.
 */
export async function audited<T>(store: Store, call: AuditCall, run: (scope: AuditScope) => Promise<T>, facts: (result: T) => AuditFacts): Promise<T> {
  const started = Date.now();
  const scope: AuditScope = { actor: call.actor ?? null };
  let row: Omit<AuditEvent, 'requestId' | 'action'> = {};
  try {
    const result = await run(scope);
    const { status, ...rest } = facts(result);
    row = { ...rest, status: status ?? 200 };
    return result;
  } catch (error) {
    row = { outcome: 'error', status: (error as { status?: number }).status ?? 500 };
    throw error;
  } finally {
    await store.audit({
      requestId: call.requestId,
      action: call.action,
      actor: scope.actor,
      hookInstance: call.hookInstance?.slice(0, 64) ?? null,
      ...row,
      latencyMs: Date.now() - started,
    });
  }
}
