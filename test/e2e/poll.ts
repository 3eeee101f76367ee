// Waiting for a condition on the lab: one loop for every end-to-end test that asks a host, a
// store or a container again until it answers as expected or a time limit passes. Pure: no lab.

export interface Polled<T> {
    /** DONE held of the last answer. */
    ok: boolean;
    /** The last answer (the one DONE held of, when ok). */
    value: T;
    /** How many times PROBE was asked. */
    tries: number;
    /** Seconds from the first ask to the last answer. */
    seconds: number;
}

/**
 * Asks PROBE until DONE holds of its answer, or until `withinMs` have passed since the first ask,
 * waiting `everyMs` between asks. PROBE is asked at least once, at once. Never throws for an
 * answer that is not done: the caller asserts on the result, with the last answer in its message.
 */
export async function poll<T>(probe: () => T | Promise<T>, done: (value: T) => boolean, o: { withinMs: number; everyMs: number }): Promise<Polled<T>> {
    const t0 = Date.now();
    let tries = 0;
    for (;;) {
        const value = await probe();
        tries++;
        const ok = done(value);
        if (ok || Date.now() - t0 >= o.withinMs) return { ok, value, tries, seconds: (Date.now() - t0) / 1000 };
        await new Promise((r) => setTimeout(r, o.everyMs));
    }
}
