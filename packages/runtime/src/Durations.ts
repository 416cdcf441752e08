/**
 * How the apps read a duration from a flag or the environment.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/**
 * `10`, `0.5` (seconds), or an Effect duration: `500 millis`, `2 minutes`.
 * Negative and infinite durations are not durations here.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (text: string): Option.Option<Duration.Duration> => {
  const trimmed = text.trim()
  const duration = /^\d+(\.\d+)?$/.test(trimmed)
    ? Option.some(Duration.seconds(Number(trimmed)))
    : Duration.fromInput(trimmed as Duration.Input)
  return Option.filter(duration, (d) => Duration.isFinite(d) && Duration.isGreaterThanOrEqualTo(d, Duration.zero))
}

/**
 * The message for a value `parse` rejects.
 *
 * @since 0.1.0
 * @category parsing
 */
export const invalid = (text: string): string => `Expected a duration in seconds (or like "500 millis"), got ${text}`
