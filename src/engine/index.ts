/**
 * The policy engine's entry point: `createPolicyEngine` reads what the engine is built from
 * (./sources.ts) and builds it (./policy-engine.ts).
 */
import type { Config } from '../config';
import type { Knowledge } from '../core/knowledge';
import type { PolicyDefinition } from '../catalog/types';
import { policyEngine, type EngineOptions, type PolicyEngine } from './policy-engine';
import { readEngineSources } from './sources';

export * from './policy-engine';
export { readEngineSources } from './sources';

export interface CreateOptions extends EngineOptions {
  /** ELM and value sets already read (shared with DTR publishing); read from `paths` when absent. */
  knowledge?: Knowledge;
  /** Policies already validated; read from `paths.catalog` when absent. */
  policies?: readonly PolicyDefinition[];
}

export function createPolicyEngine(paths: Config['paths'], options: CreateOptions = {}): PolicyEngine {
  const { knowledge, policies, ...engineOptions } = options;
  return policyEngine(readEngineSources(paths, { ...(knowledge ? { knowledge } : {}), ...(policies ? { policies } : {}) }), engineOptions);
}
