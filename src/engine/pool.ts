/**
 * The policy engine on the server's worker threads (./threads.ts), one per CPU: evaluations leave
 * the event loop, so the server keeps answering while they run, and every core is used.
 *
 * The main thread keeps its own engine for the catalog and the value sets (its CQL libraries and
 * model info load only if a policy from outside the catalog is evaluated); DTR pre-population
 * runs its definitions on the pool too, the values coming back as plain data (./portable). Requests go to a worker as plain
 * data (structured clone). Each evaluation has a time budget: the worker stops evaluating at the
 * budget (remaining criteria unknown, with a warning); a worker still busy a grace period later
 * (stuck inside one CQL expression) is terminated and replaced, and the request is pended.
 */
import type { Config } from '../config';
import { noPolicyDecision, policyEngine, timedOutDecision, type PolicyEngine } from './policy-engine';
import type { EngineSources } from './knowledge-sources';
import { readEngineSources } from './sources';
import type { Decision } from './decision';
import type { PolicyDefinition } from '../catalog/types';
import type { EvaluationRequest } from './request';
import type { DecisionTask, DefinitionsTask } from './worker';
import { createWorkerThreads, type WorkerThreads } from './threads';
import { ExpressionError } from './evaluate';
import { EvaluationTimeout } from './data-provider';
import { fromPortable, type PortableResult } from './portable';
import { withTimeout } from '../core/promises';
import { deepFreeze } from '../core/freeze';
import { chartRequirements } from './data-requirements';
import { retrievableOnly } from './patient-data';

export interface PoolOptions {
  /**
   * How long past its budget a task may take before its worker is terminated: the worker stops
   * on its own at the budget, and the wait in the queue counts too. Default: the budget + 1 s.
   */
  graceMs?: number;
  /** What the main thread has read (./sources.ts); read from `config.paths` when absent. The workers are given its policies and read the rest in their own isolates. */
  sources?: EngineSources;
  /** The server's worker threads, shared with the structure check (absent: the engine starts its own and closes them). */
  threads?: WorkerThreads;
}

export function createPooledEngine(config: Pick<Config, 'paths' | 'evaluation' | 'payerTimeZone'>, options: PoolOptions = {}): PolicyEngine {
  const { timeoutMs } = config.evaluation;
  const graceMs = options.graceMs ?? timeoutMs + 1000;
  const timeZone = config.payerTimeZone;
  const sources = options.sources ?? readEngineSources(config.paths);
  const local = policyEngine(sources, { timeoutMs, timeZone });
  const pool = options.threads ?? createWorkerThreads(config, sources.policies);
  // Only what some library retrieves goes to a worker: a 1,000-line Claim was ~1.3 MB to copy there.
  const retrieved = new Set(chartRequirements(local.libraries, local.valueSets).map((r) => r.type));
  const decisionTask = (policy: PolicyDefinition, request: EvaluationRequest): DecisionTask => ({ policyId: policy.id, request: { ...request, bundle: retrievableOnly(request.bundle, retrieved) } });

  // piscina terminates the worker of an aborted task and starts a new one.
  const aborted = (error: unknown) => error instanceof Error && error.name === 'AbortError';
  // A task still running at the budget plus the grace period is aborted.
  const onPool = (task: DecisionTask | DefinitionsTask) => withTimeout(timeoutMs + graceMs, (signal) => pool.run(task, signal));
  async function run(policy: PolicyDefinition, request: EvaluationRequest, task: DecisionTask): Promise<Decision> {
    try {
      return (await onPool(task)) as Decision;
    } catch (error) {
      if (aborted(error)) return timedOutDecision(policy, request, local.valueSets, timeZone, timeoutMs);
      throw error;
    }
  }

  return {
    catalog: local.catalog,
    valueSets: local.valueSets,
    libraries: local.libraries,
    codeService: local.codeService,
    timeZone,
    async evaluate(request) {
      const selection = local.catalog.select(request.payer, request.drug);
      if (!selection.policy) return noPolicyDecision(selection.text, request.evaluationDate);
      return run(selection.policy, request, decisionTask(selection.policy, request));
    },
    async evaluatePolicy(policy, request) {
      // A policy from elsewhere than the catalog cannot be named to a worker.
      if (local.catalog.get(policy.id) !== policy) return local.evaluatePolicy(policy, request);
      return run(policy, request, decisionTask(policy, request));
    },
    async evaluateDefinitions(library, definitions, data, inputs) {
      const task: DefinitionsTask = { library, definitions, data, inputs };
      try {
        return fromPortable((await onPool(task)) as PortableResult[]);
      } catch (error) {
        if (!aborted(error)) throw error;
        const timedOut = new EvaluationTimeout().message;
        return new Map(definitions.map((d) => [d, { error: new ExpressionError(library, d, undefined, timedOut) }]));
      }
    },
    // Threads given by the caller are the caller's to close.
    close: async () => (options.threads ? undefined : pool.close()),
  };
}

/**
 * Evaluates identical requests about one bundle once. A PAS Claim repeats its item for each
 * line (1,000 lines of one drug and order were 1,000 evaluations of the same chart); the answer
 * depends only on the request, so the same content gets the same decision. The memo lives as long
 * as the caller's bundle object; its key is the rest of the request plus the bundle's entry count,
 * so a bundle given more (or fewer) resources is evaluated again. The bundle's content is not part
 * of the key: serializing a 1,000-item Claim's bundle for each of its items was 9.5 s of main-thread
 * CPU per request. Callers treat a bundle as read-only once evaluated (an edited copy is a new key).
 */
export function evaluateSameRequestOnce(engine: PolicyEngine): PolicyEngine {
  const memo = new WeakMap<object, Map<string, Promise<Decision>>>();
  const once = (policyId: string, request: EvaluationRequest, evaluate: () => Promise<Decision>): Promise<Decision> => {
    let byKey = memo.get(request.bundle);
    if (!byKey) memo.set(request.bundle, (byKey = new Map()));
    const key = JSON.stringify([policyId, { ...request, bundle: request.bundle.entry?.length ?? 0 }]);
    let decision = byKey.get(key);
    if (!decision) {
      decision = evaluate().then(deepFreeze);
      byKey.set(key, decision);
      decision.catch(() => byKey.delete(key));
    }
    return decision.then(ownCopy);
  };
  return {
    ...engine,
    evaluate: (request) => once('', request, () => engine.evaluate(request)),
    evaluatePolicy: (policy, request) => once(policy.id, request, () => engine.evaluatePolicy(policy, request)),
  };
}

/**
 * A caller's own decision: its fields and lists are its own to set or extend (CRD adds warnings),
 * what they hold is shared and frozen. A deep copy per line was 15–50 ms of main-thread CPU and
 * ~15 MB of garbage for a 1,000-line Claim.
 */
function ownCopy(decision: Decision): Decision {
  return { ...decision, criteria: [...decision.criteria], reasons: [...decision.reasons], warnings: [...decision.warnings] };
}

/** The engine the configuration asks for: on the given worker threads, or in-process when there are none. */
export function createEngine(config: Pick<Config, 'paths' | 'evaluation' | 'payerTimeZone'>, sources: EngineSources, threads?: WorkerThreads): PolicyEngine {
  const engine = threads
    ? createPooledEngine(config, { sources, threads })
    : policyEngine(sources, { timeoutMs: config.evaluation.timeoutMs, timeZone: config.payerTimeZone });
  return evaluateSameRequestOnce(engine);
}
