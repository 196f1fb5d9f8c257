#!/usr/bin/env node
// Bundles the DTR SMART app (app/dtr) for the browser with esbuild into build/dtr-app/: the two
// pages, their scripts (fhirclient, cql-execution, cql-exec-fhir and the server's own
// pre-population code) and the stylesheet. No network: everything comes from node_modules.
// The LHC-Forms renderer is not bundled (it is a prebuilt web component, scripts/fetch-lforms.sh).
//
// Usage: node scripts/build-dtr-app.mjs [--watch]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(ROOT, 'app', 'dtr');
const OUT = path.join(ROOT, 'build', 'dtr-app');

// Node built-ins that modules reach for but the app never uses in the browser: cql-exec-fhir's
// model-info loader reads files only when given a path (the app passes the bundled XML), and
// xml2js/sax touch streams and timers only for streaming parses.
const shims = {
  name: 'node-shims',
  setup(build) {
    // node:fs and node:path: src/engine/libraries.ts reads ELM files on the server; the app gives it ELM in memory.
    build.onResolve({ filter: /^(node:)?(fs|path|stream|string_decoder)$/ }, (args) => ({ path: args.path, namespace: 'empty' }));
    build.onResolve({ filter: /^timers$/ }, () => ({ path: 'timers', namespace: 'timers' }));
    build.onResolve({ filter: /^events$/ }, () => ({ path: 'events', namespace: 'events' }));
    build.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
    build.onLoad({ filter: /.*/, namespace: 'timers' }, () => ({
      contents: 'module.exports = { setImmediate: (f, ...a) => setTimeout(() => f(...a), 0), clearImmediate: (t) => clearTimeout(t) };',
      loader: 'js',
    }));
    // xml2js's Parser extends EventEmitter and uses on/emit/removeAllListeners.
    build.onLoad({ filter: /.*/, namespace: 'events' }, () => ({
      contents: `class EventEmitter {
  on(name, f) { ((this._events ??= {})[name] ??= []).push(f); return this; }
  addListener(name, f) { return this.on(name, f); }
  once(name, f) { const g = (...a) => { this.removeListener(name, g); f(...a); }; return this.on(name, g); }
  removeListener(name, f) { const l = this._events?.[name]; if (l) this._events[name] = l.filter((x) => x !== f); return this; }
  removeAllListeners(name) { if (!this._events) return this; if (name === undefined) this._events = {}; else delete this._events[name]; return this; }
  emit(name, ...a) { const l = this._events?.[name]; if (!l || l.length === 0) { if (name === 'error') throw a[0]; return false; } for (const f of [...l]) f.apply(this, a); return true; }
  listeners(name) { return [...(this._events?.[name] ?? [])]; }
}
module.exports = EventEmitter; module.exports.EventEmitter = EventEmitter;`,
      loader: 'js',
    }));
  },
};

fs.rmSync(OUT, { recursive: true, force: true });
fs.mkdirSync(OUT, { recursive: true });
const options = {
  absWorkingDir: ROOT,
  entryPoints: { launch: path.join(SRC, 'src', 'launch.ts'), app: path.join(SRC, 'src', 'main.ts') },
  outdir: OUT,
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
  plugins: [shims],
  logLevel: 'warning',
};

for (const file of ['index.html', 'launch.html', 'app.css']) fs.copyFileSync(path.join(SRC, file), path.join(OUT, file));
if (process.argv.includes('--watch')) {
  const context = await esbuild.context(options);
  await context.watch();
  console.log('DTR app: watching app/dtr');
} else {
  const started = Date.now();
  await esbuild.build(options);
  console.log(`DTR app built into build/dtr-app (${Date.now() - started} ms)`);
}
