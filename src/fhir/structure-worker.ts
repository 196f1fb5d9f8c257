/**
 * The structure check as the server's worker threads run it (src/engine/worker.ts, which loads the
 * R4 definitions once): the request comes as raw JSON bytes (parsed here, not cloned) or plain values.
 */
import type { Bundle } from 'fhir/r4';
import { checkStructure, type RequestLimits, type StructureResult } from './structure';
import { contentHashOf } from '../pas/lifecycle';

export interface StructureTask {
  limits: RequestLimits;
  parts: { at: string; value?: unknown; json?: Uint8Array }[];
  /** Also hash a Bundle body's content (PAS resend detection) here: 0.1 s of CPU for a 1,000-item Claim. */
  contentHash?: boolean;
}

export type StructureTaskResult = StructureResult & { contentHash?: string };

const utf8 = new TextDecoder();

export function check(task: StructureTask): StructureTaskResult {
  const parts = task.parts.map((p) => ({ at: p.at, value: p.json ? (JSON.parse(utf8.decode(p.json)) as unknown) : p.value }));
  const result = checkStructure(parts, task.limits);
  // Hashed after the check removed what it removes, as the main thread's copy will be.
  const body = parts[0]?.value as Bundle | undefined;
  if (!result.ok || !task.contentHash || body?.resourceType !== 'Bundle') return result;
  return { ...result, contentHash: contentHashOf(body) };
}
