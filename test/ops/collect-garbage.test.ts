/**
 * The idle collector: a full collection only once no work is in flight, the thread has been idle
 * for a while, and the heap grew by the threshold since the last one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { collectWhenIdle } from '../../src/ops/collect-garbage';

const MB = 1024 * 1024;

function harness() {
  let heap = 10 * MB;
  const collections: number[] = [];
  const collector = collectWhenIdle({
    idleMs: 20,
    growthBytes: 64 * MB,
    heapUsed: () => heap,
    collect: () => {
      collections.push(heap);
      heap = 12 * MB;
    },
  });
  return { collector, collections, grow: (mb: number) => (heap += mb * MB) };
}

describe('collectWhenIdle', () => {
  it('collects after work that grew the heap, once the thread is idle', async () => {
    const { collector, collections, grow } = harness();
    try {
      const end = collector.begin();
      grow(150);
      await sleep(120);
      expect(collections).toEqual([]); // work in flight
      end();
      await sleep(500);
      expect(collections).toEqual([160 * MB]);
      await sleep(100);
      expect(collections).toHaveLength(1); // nothing grew since
    } finally {
      collector.stop();
    }
  });

  it('leaves a heap that grew less than the threshold to V8', async () => {
    const { collector, collections, grow } = harness();
    try {
      collector.begin()();
      grow(40);
      await sleep(200);
      expect(collections).toEqual([]);
    } finally {
      collector.stop();
    }
  });

  it('waits while any of several requests is in flight; ending one twice counts once', async () => {
    const { collector, collections, grow } = harness();
    try {
      const first = collector.begin();
      const second = collector.begin();
      grow(100);
      first();
      first();
      await sleep(150);
      expect(collections).toEqual([]);
      second();
      await sleep(500);
      expect(collections).toHaveLength(1);
    } finally {
      collector.stop();
    }
  });
});
