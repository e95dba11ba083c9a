/**
 * Property tests over random operation sequences, with `check()` after every
 * step.
 *
 * A {@link Step} is one operation on a stateful structure with a readable
 * label. {@link checkSequences} draws sequences of steps with fast-check,
 * runs each on a fresh state, calls `check` after setup and after every step,
 * and on failure lets fast-check shrink the sequence; the thrown error names
 * the failing step, and fast-check's report gives the seed, the path and the
 * shrunk sequence, which replay the failure as a regression test:
 *
 *     checkSequences({ ..., seed: 1234, path: "5:2:1" })
 *
 * Environment: MEMSTACK_RUNS overrides `numRuns` (for long fuzzing runs),
 * MEMSTACK_SEED overrides `seed`.
 */
import fc from "fast-check";

/** One operation of a sequence: a label for reports and the action. */
export interface Step<S> {
  /** What the step does, as shown in a shrunk counterexample (`alloc(order=3)`). */
  readonly label: string;
  /** Performs the step on the state; may throw to fail the property. */
  run(state: S): void;
}

/** Makes a step whose label is shown when fast-check prints a counterexample. */
export function step<S>(label: string, run: (state: S) => void): Step<S> {
  return { label, run, toString: () => label } as Step<S>;
}

/** Options of {@link checkSequences}. */
export interface SequenceOptions<S> {
  /** Creates a fresh state for each sequence. */
  setup: () => S;
  /** Draws one step. Combine several with `fc.oneof`. */
  steps: fc.Arbitrary<Step<S>>;
  /** Verifies every invariant; called after setup and after each step. */
  check: (state: S) => void;
  /** Longest sequence drawn. @defaultValue 60 */
  maxSteps?: number;
  /** Number of sequences. @defaultValue 100, or MEMSTACK_RUNS */
  numRuns?: number;
  /** Seed to replay a reported failure. @defaultValue random, or MEMSTACK_SEED */
  seed?: number;
  /** Path of a reported failure, with its seed. */
  path?: string;
}

/**
 * Runs random step sequences on fresh states, calling `check` after every
 * step, and fails with fast-check's report (seed, path, shrunk sequence) and
 * the index and label of the failing step.
 */
export function checkSequences<S>(options: SequenceOptions<S>): void {
  const envRuns = process.env.MEMSTACK_RUNS ? Number(process.env.MEMSTACK_RUNS) : undefined;
  const envSeed = process.env.MEMSTACK_SEED ? Number(process.env.MEMSTACK_SEED) : undefined;
  const params: fc.Parameters<[Step<S>[]]> = {
    numRuns: envRuns ?? options.numRuns ?? 100,
    includeErrorInReport: true,
  };
  const seed = envSeed ?? options.seed;
  if (seed !== undefined) params.seed = seed;
  if (options.path !== undefined) params.path = options.path;
  fc.assert(
    fc.property(fc.array(options.steps, { maxLength: options.maxSteps ?? 60, size: "max" }), (sequence) => {
      const state = options.setup();
      options.check(state);
      sequence.forEach((s, i) => {
        try {
          s.run(state);
          options.check(state);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          throw new Error(`step ${i} (${s.label}) failed: ${message}`, { cause: error });
        }
      });
    }),
    params,
  );
}
