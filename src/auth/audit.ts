/**
 * Audit of reads of stored PHI (Claim, ClaimResponse, inquire results, review screens): who, what
 * (`Type/id`), when and with what status, never the content. Call it for every such read, found or
 * not (a 404 records a probe).
 */
import type { Store } from '../store';
import type { AuthenticatedClient } from './smart';

export interface ReadAudit {
  requestId: string;
  /** The authenticated caller; null in open mode. A reviewer's id goes in `actor`. */
  client?: Pick<AuthenticatedClient, 'clientId'> | null;
  actor?: string | null;
  /** e.g. `pas.read`, `pas.inquire`, `review.read`. */
  action: string;
  /** `ClaimResponse/123`. */
  target: string;
  status: number;
}

export function auditRead(store: Store, read: ReadAudit): Promise<void> {
  return store.audit({
    requestId: read.requestId,
    action: read.action,
    actor: read.actor ?? read.client?.clientId ?? 'anonymous',
    // The `Type/id` read goes in `outcome` (opaque ids, never PHI).
    outcome: read.target,
    status: read.status,
  });
}
