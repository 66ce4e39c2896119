/**
 * Checks a constructor option that must be a finite number above 0, once at construction: returns it, or
 * throws a RangeError naming it (`name` says whose option, e.g. `'ConcurrencyReporter option periodMs'`).
 */
export function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  }
  return value;
}
