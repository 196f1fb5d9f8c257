/**
 * A worker thread of the server's pool (./threads.ts): builds the policy engine once (catalog,
 * value sets, ELM, FHIR model info) and indexes the R4 definitions, then decides the requests and
 * checks the bodies the main thread sends it as plain data.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config';
import { policyEngine } from './policy-engine';
import { readKnowledgeSources } from './knowledge-sources';
import type { PolicyDefinition } from '../catalog/types';
import type { Decision } from './decision';
import type { EvaluationRequest } from './request';
import type { CqlInputs } from './evaluate';
import { toPortable, type PortableResult } from './portable';
import { nameThread } from '../ops/thread-name';
import { collectGarbage, collectWhenIdle } from '../ops/collect-garbage';
import { loadR4Definitions } from '../fhir/structure';
import { check, type StructureTask, type StructureTaskResult } from '../fhir/structure-worker';
import { LOADED } from './threads';
import type { Bundle } from 'fhir/r4';

export interface WorkerData {
  paths: Config['paths'];
  /** The catalog as the main thread read and validated it: the worker decides with the same policies. */
  policies: readonly PolicyDefinition[];
  timeoutMs: number;
  timeZone: string;
}

/** A decision: a catalog policy (absent: select it by payer and drug) on one request. */
export interface DecisionTask {
  policyId?: string;
  request: EvaluationRequest;
}

/** Named definitions of one library on prepared data (DTR pre-population). */
export interface DefinitionsTask {
  library: string;
  definitions: readonly string[];
  data: Bundle;
  inputs: CqlInputs;
}

export type EvaluationTask = DecisionTask | DefinitionsTask;

/** What the pool's workers do: evaluate, or check a body's R4 structure (`limits` tells it apart). */
export type ThreadTask = EvaluationTask | StructureTask;

nameThread('pa-cql');
const { paths, policies, timeoutMs, timeZone } = workerData as WorkerData;
const engine = policyEngine({ ...readKnowledgeSources(paths), policies }, { timeoutMs, timeZone, ownsRequests: true });
// Load what the first request would otherwise pay for: the model info and every policy library.
engine.libraries.wrapper.load();
for (const policy of engine.catalog.policies) engine.libraries.executable(policy.library.name);
loadR4Definitions();
collectGarbage();
parentPort?.postMessage({ [LOADED]: true });

// A worker too keeps a large request's garbage until its next major GC: collected once it is idle.
const collector = collectWhenIdle();

export default async function run(task: ThreadTask): Promise<Decision | PortableResult[] | StructureTaskResult> {
  const end = collector.begin();
  try {
    return await runTask(task);
  } finally {
    end();
  }
}

async function runTask(task: ThreadTask): Promise<Decision | PortableResult[] | StructureTaskResult> {
  if ('limits' in task) return check(task);
  if ('library' in task) return toPortable(await engine.evaluateDefinitions(task.library, task.definitions, task.data, task.inputs));
  if (!task.policyId) return engine.evaluate(task.request);
  const policy = engine.catalog.get(task.policyId);
  if (!policy) throw new Error(`policy ${task.policyId} is not in the worker's catalog`);
  return engine.evaluatePolicy(policy, task.request);
}
