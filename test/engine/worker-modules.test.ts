/**
 * What the server's threads load at start: every module imported costs CPU while the server starts.
 * - A worker thread (zod alone was ~65 ms per worker): the catalog is validated on the main thread
 *   and the workers are given its policies (src/engine/threads.ts), so the workers' module graph
 *   must not reach the schema library.
 * - The main thread before its store opens: PGlite's start is the longest part, so it must not wait
 *   for the CQL engine or the HTTP layer to load.
 * The graph is read from the sources: value imports and re-exports (`import type` is erased by the
 * compiler).
 */
import fs from 'node:fs';
import path from 'node:path';

const SRC = path.join(__dirname, '..', '..', 'src');

function resolveSource(from: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(from), specifier);
  return [`${base}.ts`, path.join(base, 'index.ts')].find((file) => fs.existsSync(file));
}

/** The packages and source files `entry` loads at run time, transitively. */
function runtimeGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    const text = fs.readFileSync(file, 'utf8');
    for (const match of text.matchAll(/^(?:import|export)\s+(?!type\b)(?:[^;'"]*?\sfrom\s+)?'([^']+)';/gm)) {
      const specifier = match[1] as string;
      if (specifier.startsWith('.')) {
        const resolved = resolveSource(file, specifier);
        if (resolved) pending.push(resolved);
      } else if (!specifier.startsWith('node:')) {
        packages.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] as string));
      }
    }
  }
  return { files, packages };
}

describe("the worker threads' modules", () => {
  const worker = runtimeGraph(path.join(SRC, 'engine', 'worker.ts'));

  test('reach the CQL engine, and neither the schema library nor the catalog loader', () => {
    expect(worker.packages).toContain('cql-execution');
    expect(worker.packages).toContain('cql-exec-fhir');
    expect(worker.packages).not.toContain('zod');
    expect(worker.files).not.toContain(path.join(SRC, 'catalog', 'load.ts'));
  });

  test('the walk sees what the main thread loads: the catalog loader and zod', () => {
    const main = runtimeGraph(path.join(SRC, 'engine', 'sources.ts'));
    expect(main.files).toContain(path.join(SRC, 'catalog', 'load.ts'));
    expect(main.packages).toContain('zod');
  });
});

describe("the server's modules before its store opens", () => {
  // src/server.ts opens the store once its static imports have loaded, and loads the rest while
  // PGlite starts on its thread: the longest part of the server's start. Its static imports are
  // what the walk sees (the rest are `import()`s).
  const beforeStore = runtimeGraph(path.join(SRC, 'server.ts'));

  test('reach the store and the catalog, and neither the CQL engine nor the HTTP layer', () => {
    expect(beforeStore.files).toContain(path.join(SRC, 'store', 'index.ts'));
    expect(beforeStore.files).toContain(path.join(SRC, 'catalog', 'load.ts'));
    for (const heavy of ['cql-execution', 'cql-exec-fhir', 'express']) expect(beforeStore.packages).not.toContain(heavy);
  });
});
