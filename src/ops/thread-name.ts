import fs from 'node:fs';

/**
 * Names the calling thread (Linux: up to 15 bytes), so `top -H`, `ps -L` and `npm run bench` tell
 * the PGlite thread and the evaluation workers from the main thread. Elsewhere it does nothing.
 */
export function nameThread(name: string): void {
  try {
    fs.writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
  } catch {
    // Not Linux, or /proc not mounted: the name is only a convenience.
  }
}
