/**
 * Figures shared by the load benchmark and the scale-out simulation: percentiles, and Cosmos DB request
 * units estimated from a document's size. The sandbox's Cosmos DB charges 1 RU for everything, so
 * real charges are estimated from Microsoft's published RU-by-item-size table (session consistency, no
 * indexing: https://learn.microsoft.com/azure/cosmos-db/optimize-cost-reads-writes, "request units by item
 * size"), interpolated linearly between its points. Always shown as estimates.
 */

const KIB = 1024;
const READ_RU: readonly (readonly [number, number])[] = [
  [1 * KIB, 1.0],
  [4 * KIB, 1.14],
  [16 * KIB, 1.67],
  [64 * KIB, 4.76],
];
const WRITE_RU: readonly (readonly [number, number])[] = [
  [1 * KIB, 4.95],
  [4 * KIB, 6.67],
  [16 * KIB, 9.52],
  [64 * KIB, 22.67],
];

function interpolate(table: readonly (readonly [number, number])[], bytes: number): number {
  const [first] = table;
  if (first === undefined || bytes <= first[0]) return first?.[1] ?? 0;
  for (let i = 1; i < table.length; i++) {
    const low = table[i - 1];
    const high = table[i];
    if (low === undefined || high === undefined) break;
    if (bytes <= high[0] || i === table.length - 1) {
      // Past the last point the last segment's slope continues (Cosmos DB charges grow with size).
      return low[1] + ((bytes - low[0]) * (high[1] - low[1])) / (high[0] - low[0]);
    }
  }
  return first[1];
}

/** Estimated RU of a point read of an item of `bytes`. */
export function estimatedReadRu(bytes: number): number {
  return interpolate(READ_RU, bytes);
}

/** Estimated RU of a write (create, replace or upsert) of an item of `bytes`. */
export function estimatedWriteRu(bytes: number): number {
  return interpolate(WRITE_RU, bytes);
}

/** The value below which `fraction` of the sorted samples lie (nearest rank). */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** Prices assumed for the capacity note (USD, single region, pay-as-you-go list prices). */
export const COSMOS_PRICES = {
  /** Serverless: per million RU consumed. */
  serverlessPerMillionRu: 0.25,
  /** Provisioned throughput (manual): per 100 RU/s per hour. */
  provisionedPer100RuSecondHour: 0.008,
  /** Autoscale: per 100 RU/s (of the hour's highest) per hour. */
  autoscalePer100RuSecondHour: 0.012,
  /** Provisioned throughput has a floor of 400 RU/s per container (manual). */
  provisionedMinimumRuSecond: 400,
} as const;
