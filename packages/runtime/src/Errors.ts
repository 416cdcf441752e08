/**
 * What the apps read off a failure of unknown type.
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"

/**
 * The `_tag` of a tagged value (Effect's errors, `Schema.TaggedError`), or
 * `undefined` when it has no string tag.
 *
 * @since 0.1.0
 * @category getters
 */
export const tagOf = (value: unknown): string | undefined =>
  Predicate.hasProperty(value, "_tag") && Predicate.isString(value._tag) ? value._tag : undefined
