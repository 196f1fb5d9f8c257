/**
 * The server's worker threads: one piscina pool, sized by EVALUATION_WORKERS (default: the CPUs),
 * whose workers (./worker.ts) both evaluate CQL and run the R4 structure check
 * (src/fhir/structure-checker.ts). One pool rather than one per job: every V8 isolate costs its own
 * young generation (32 MB), heap slack and loaded code, and a second pool of structure workers was
 * ~220 MB of the server's RSS for work the evaluation workers can do between evaluations.
 *
 * Every worker starts with the pool and loads its engine and the R4 definitions at once, so no
 * request pays for a worker's start; `loaded` counts the workers that have, for /health/ready.
 */
import path from 'node:path';
import { Piscina } from 'piscina';
import type { Config } from '../config';
import type { PolicyDefinition } from '../catalog/types';
import type { ThreadTask, WorkerData } from './worker';

const YOUNG_GENERATION_MB = 24;

/** The key of the message a worker posts once it has loaded (piscina passes it on as a 'message' event). */
export const LOADED = 'paWorkerLoaded';

export interface WorkerThreads {
  /** Runs a task on the first free worker (queued while all are busy); an aborted task's worker is replaced. */
  run(task: ThreadTask, signal?: AbortSignal): Promise<unknown>;
  /** How many workers the pool keeps. */
  readonly size: number;
  /** How many workers have loaded their engine since the pool started (replacements count too). */
  loaded(): number;
  /** Resolves once `size` workers have loaded. */
  readonly warm: Promise<void>;
  close(): Promise<void>;
}

/** Starts the workers; each builds its engine from `policies`, the catalog the main thread validated (./sources.ts). */
export function createWorkerThreads(config: Pick<Config, 'paths' | 'evaluation' | 'payerTimeZone'>, policies: readonly PolicyDefinition[]): WorkerThreads {
  const size = Math.max(1, config.evaluation.workers);
  const workerData: WorkerData = { paths: config.paths, policies, timeoutMs: config.evaluation.timeoutMs, timeZone: config.payerTimeZone };
  // From TypeScript sources (tests, tsx) the worker compiles its module with tsx.
  const fromSource = __filename.endsWith('.ts');
  const pool = new Piscina<ThreadTask, unknown>({
    filename: path.join(__dirname, fromSource ? 'worker.ts' : 'worker.js'),
    ...(fromSource ? { execArgv: [...process.execArgv, '--require', 'tsx/cjs'] } : {}),
    // All of them now, beside the store opening, rather than the second one on a first burst of requests.
    minThreads: size,
    maxThreads: size,
    idleTimeout: Infinity,
    // Idle workers wait on their event loop, not blocked in Atomics.wait: only then does V8's memory
    // reducer run in them and give back what a large request grew (measured: 772 → 592 MB RSS
    // within 12 s of idling after 1,000-item Claims and 3,000-resource charts; 864 stayed 864).
    atomics: 'disabled',
    // A young generation of 24 MB (8 MB semi-spaces) rather than V8's 48: ~20 MB less resident per
    // worker; an evaluation's garbage is short-lived, so the more frequent scavenges cost no measurable CPU.
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    workerData,
  });
  let loaded = 0;
  let warmed!: () => void;
  const warm = new Promise<void>((resolve) => (warmed = resolve));
  pool.on('message', (message: unknown) => {
    if (typeof message !== 'object' || message === null || !(LOADED in message)) return;
    loaded += 1;
    if (loaded >= size) warmed();
  });
  return {
    run: (task, signal) => pool.run(task, signal ? { signal } : {}),
    size,
    loaded: () => loaded,
    warm,
    close: () => pool.destroy(),
  };
}
