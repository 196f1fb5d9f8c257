/**
 * The R4 structure check (./structure) off the event loop, on the server's worker threads
 * (src/engine/threads.ts), which load the R4 definitions (~0.4 s of CPU) once, so neither start-up
 * nor a request pays them on the main thread. A 1,000-item Claim or an 800 KB Synthea record took
 * 0.4–0.6 s of main-thread CPU in the check alone; now the main thread only sends the body's bytes
 * and replays the few removals the check made (`replayStructureResult`).
 * Without worker threads (tests from TypeScript sources, EVALUATION_WORKERS=0) it checks in-process.
 */
import type { OperationOutcomeIssue } from 'fhir/r4';
import { checkStructure, loadR4Definitions, replayStructureResult, structureWarnings, type RequestLimits, type StructurePart } from './structure';
import type { StructureTask, StructureTaskResult } from './structure-worker';
import type { WorkerThreads } from '../engine/threads';

export interface CheckOptions {
  /** The body's JSON bytes when the one part is the whole body: the worker parses them instead of a structured clone of the value. */
  raw?: Uint8Array;
  /** Also compute a Bundle body's `contentHashOf` (src/pas/lifecycle.ts) where the check runs. */
  contentHash?: boolean;
}

export interface Checked {
  warnings: OperationOutcomeIssue[];
  /** `contentHashOf` the body, when asked and computed on a worker (else the caller computes it). */
  contentHash?: string;
}

export interface StructureChecker {
  /** Checks the parts of a request; throws the 400/413; removes from the parts' values what the check removes. */
  check(parts: StructurePart[], limits: RequestLimits, options?: CheckOptions): Promise<Checked>;
}

export function inProcessStructureChecker(): StructureChecker {
  return {
    // The check removes what it removes from these very values: nothing to replay.
    check: async (parts, limits) => ({ warnings: structureWarnings(checkStructure(parts, limits)) }),
  };
}

export function createStructureChecker(threads: WorkerThreads | undefined): StructureChecker {
  if (!threads) {
    // In-process: the definitions load now, at start-up, rather than on a first request.
    loadR4Definitions();
    return inProcessStructureChecker();
  }
  return {
    async check(parts, limits, options = {}) {
      const { raw } = options;
      const task: StructureTask = {
        limits,
        parts: parts.map((p) => (raw !== undefined && parts.length === 1 ? { at: p.at, json: raw } : { at: p.at, value: p.value })),
        ...(options.contentHash ? { contentHash: true } : {}),
      };
      const result = (await threads.run(task)) as StructureTaskResult;
      const warnings = replayStructureResult(result, parts.map((p) => p.value));
      return { warnings, ...(result.contentHash ? { contentHash: result.contentHash } : {}) };
    },
  };
}

/** Checks a request body whose root is a resource (PAS `$submit`, DTR operations); any other body passes (its handler refuses it). */
export async function checkBody(checker: StructureChecker, body: unknown, limits: RequestLimits, options: CheckOptions = {}): Promise<Checked> {
  const root = (body as { resourceType?: unknown } | null)?.resourceType;
  return typeof root === 'string' ? checker.check([{ value: body, at: root }], limits, options) : { warnings: [] };
}
