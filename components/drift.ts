/**
 * Drift: what changed on a host since the last `up`, outside the stack, that `refresh` cannot see
 * (a remote command has nothing to read back). Preflight reads it on every run that runs the
 * program (`preview`, `up`, `refresh --run-program`); each kind is said in the run's output, and
 * the next `up` puts it right by running the step again: the daemon configuration of a host whose
 * daemon.json was edited by hand (docker-overlay's keys written again, the rest kept as edited),
 * and the join of a host that left the swarm. A counter per host and kind, recorded on the host
 * by the step that ran, makes the step's input change once per drift: the same pattern as the
 * rejoin's epochs. Pure.
 */
import type { ProbeOutcome } from "./preflight";

/** What the host scripts recorded about their last run there (host-facts.sh's `applied`). */
export interface AppliedFacts {
    /** daemon.json is not the file the last daemon-config-apply wrote ($STATE_DIR/daemon.json.ours exists and differs). */
    daemonJsonChanged: boolean;
    /** How many times daemon-config-apply ran again for drift (its APPLY_EPOCH, recorded on the host). */
    applyEpoch: number;
    /** docker-overlay made this node join (or create) a swarm: the marker swarm-leave undoes. */
    swarmMarker: "" | "swarm-created" | "swarm-joined";
    /** How many times swarm-join ran again for drift (its JOIN_EPOCH). */
    joinEpoch: number;
}

export const NO_APPLIED: AppliedFacts = { daemonJsonChanged: false, applyEpoch: 0, swarmMarker: "", joinEpoch: 0 };

export interface Drift {
    /** Per host: the epoch the daemon configuration must run with (one more than recorded when daemon.json drifted). */
    applyEpochs: Record<string, number>;
    /** Per host: the epoch the swarm join must run with (one more when the host left the swarm). */
    joinEpochs: Record<string, number>;
    /** What a person reads in the run's output, one line per drift. */
    messages: string[];
}

/**
 * The drift each host shows. kv mode: daemon.json edited since the last up (only on hosts this
 * stack owns). swarm mode: a node docker-overlay joined that is no longer in a swarm; the first
 * manager leaving is said, not healed (its swarm, and every token, are gone with it).
 */
export function findDrift(mode: "kv" | "swarm", owner: string, firstManager: string, outcomes: readonly ProbeOutcome[]): Drift {
    const drift: Drift = { applyEpochs: {}, joinEpochs: {}, messages: [] };
    for (const o of outcomes) {
        if (o.kind !== "facts") continue;
        const f = o.facts;
        const a = f.applied;
        drift.applyEpochs[o.host] = a.applyEpoch;
        drift.joinEpochs[o.host] = a.joinEpoch;
        if (f.owner !== owner) continue;
        if (mode === "kv" && a.daemonJsonChanged) {
            drift.applyEpochs[o.host] = a.applyEpoch + 1;
            drift.messages.push(
                `docker-overlay: drift on ${o.host}: /etc/docker/daemon.json is not the file the last up wrote (edited by hand?); up writes docker-overlay's keys again (cluster-store, cluster-advertise, cluster-store-opts), keeps every other key as it is now, and restarts Docker there`,
            );
        }
        const state = f.docker.ok ? f.docker.swarm.state : "";
        if (mode === "swarm" && a.swarmMarker !== "" && state === "inactive") {
            if (o.host === firstManager)
                drift.messages.push(
                    `docker-overlay: drift on ${o.host}: the first manager left the swarm docker-overlay created (its swarm, and every join token, went with it); up cannot join the others to it again: run pulumi destroy --run-program, then pulumi up`,
                );
            else {
                drift.joinEpochs[o.host] = a.joinEpoch + 1;
                drift.messages.push(`docker-overlay: drift on ${o.host}: it left the swarm since the last up (docker swarm leave by hand?); up joins it again`);
            }
        }
    }
    return drift;
}
