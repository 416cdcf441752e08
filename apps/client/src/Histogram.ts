/**
 * Latency histograms: HdrHistogram (its JS implementation), in microseconds,
 * 3 significant digits, encoded as compressed base64 to travel between
 * processes and be merged exactly.
 *
 * @since 0.1.0
 */
import hdr from "hdr-histogram-js"
import type { Histogram } from "hdr-histogram-js"

export type { Histogram }

/**
 * An empty histogram of microseconds (1 µs to 1 hour, auto-resizing beyond).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (): Histogram =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 32,
    autoResize: true,
    useWebAssembly: false
  })

/**
 * @since 0.1.0
 * @category encoding
 */
export const encode = (histogram: Histogram): string => hdr.encodeIntoCompressedBase64(histogram)

/**
 * @since 0.1.0
 * @category encoding
 */
export const decode = (base64: string): Histogram => hdr.decodeFromCompressedBase64(base64, 32, false)

/**
 * Adds every histogram into a new one.
 *
 * @since 0.1.0
 * @category combinators
 */
export const merge = (histograms: Iterable<Histogram>): Histogram => {
  const merged = make()
  for (const histogram of histograms) merged.add(histogram)
  return merged
}

/**
 * Latency percentiles in microseconds, as in the bench summary.
 *
 * @since 0.1.0
 * @category models
 */
export interface Latency {
  readonly min: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly p999: number
  readonly max: number
}

/**
 * The summary's percentiles (all 0 for an empty histogram). A percentile is
 * its bucket's highest equivalent value, so it is clamped to the recorded
 * min and max: the numbers never contradict each other.
 *
 * @since 0.1.0
 * @category getters
 */
export const latency = (histogram: Histogram): Latency => {
  if (histogram.totalCount === 0) return { min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 }
  const min = histogram.minNonZeroValue
  const max = Math.max(min, histogram.maxValue)
  const at = (percentile: number) => Math.min(max, Math.max(min, histogram.getValueAtPercentile(percentile)))
  return { min, p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max }
}
