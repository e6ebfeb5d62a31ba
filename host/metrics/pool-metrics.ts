// Upstream pool queues, per direction and endpoint: requests waiting for a connection with room
// now (skiff_pool_queue_depth), how many ever waited and how long (skiff_pool_queued_total,
// skiff_pool_queue_wait_ms), and how many were refused with 503 because the queue was full
// (skiff_pool_queue_rejected_total). The pools count into QueueStats; the exposition reads them.
import { QueueStats } from '../transport/pool-queue.js';
import type { Labels } from './http-metrics.js';

/** Distinct label sets kept at most; beyond, queues share one overflow set (endpoints churn with the config). */
const MAX_SETS = 5000;

export class PoolMetrics {
  private readonly sets = new Map<string, { labels: Labels; stats: QueueStats }>();
  private overflow: { labels: Labels; stats: QueueStats } | null = null;

  /** The stats of the queues to `targetAddr` in `direction` (shared by its HTTP/1.1 and HTTP/2 pools). */
  stats(direction: 'inbound' | 'outbound', targetAddr: string): QueueStats {
    const key = `${direction} ${targetAddr}`;
    let s = this.sets.get(key);
    if (!s) {
      if (this.sets.size >= MAX_SETS) return (this.overflow ??= { labels: { direction, overflow: 'true' }, stats: new QueueStats() }).stats;
      this.sets.set(key, s = { labels: { direction, target_addr: targetAddr }, stats: new QueueStats() });
    }
    return s.stats;
  }

  all(): { labels: Labels; stats: QueueStats }[] {
    const out = [...this.sets.values()];
    if (this.overflow) out.push(this.overflow);
    return out;
  }
}
