/**
 * Schema migrations: plain PostgreSQL files in `src/store/migrations/`, applied in file-name order,
 * each recorded (with a checksum) in `schema_migrations`. Running it again applies nothing; two
 * processes starting at once serialize on an advisory lock, and the second finds the work done.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../config';
import { StoreError, type SqlClient } from './sql';

/** Read from the source tree so ts-jest (src/) and the compiled server (dist/src/) find the same files. */
export const MIGRATIONS_DIR = path.join(REPO_ROOT, 'src', 'store', 'migrations');

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.sql'));
  } catch (error) {
    throw new StoreError(`cannot read migrations folder ${dir}`, { cause: error });
  }
  if (names.length === 0) throw new StoreError(`no .sql migrations in ${dir}`);
  return names.sort().map((name) => {
    const sql = fs.readFileSync(path.join(dir, name), 'utf8');
    return { name, sql, checksum: crypto.createHash('sha256').update(sql).digest('hex') };
  });
}

/**
 * Applies every migration not yet recorded, all in one transaction, and returns the names applied.
 * The lock is per schema, so test runs in separate schemas do not wait for each other.
 */
export async function migrate(client: SqlClient, migrations: Migration[] = loadMigrations()): Promise<string[]> {
  return client.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(7402, hashtext(coalesce(current_schema(), '')))`);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name        text PRIMARY KEY,
      checksum    text NOT NULL,
      applied_at  timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ name: string; checksum: string }>('SELECT name, checksum FROM schema_migrations');
    const applied = new Map(rows.map((r) => [r.name, r.checksum]));
    const done: string[] = [];
    for (const m of migrations) {
      const recorded = applied.get(m.name);
      if (recorded !== undefined) {
        // An applied migration is history: editing it would leave databases that disagree.
        if (recorded !== m.checksum) {
          throw new StoreError(`migration ${m.name} was changed after it was applied; add a new migration instead`);
        }
        continue;
      }
      try {
        await tx.exec(m.sql);
      } catch (error) {
        throw new StoreError(`migration ${m.name} failed: ${(error as Error).message}`, { cause: error });
      }
      await tx.query('INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)', [m.name, m.checksum]);
      done.push(m.name);
    }
    return done;
  });
}
