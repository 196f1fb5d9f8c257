import path from 'node:path';

/** The repository (or installed package) root, from src/core or dist/src/core. */
export const REPO_ROOT = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..');
