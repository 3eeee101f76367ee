/**
 * One stack per host. Every script that changes a host records the stack that did it
 * (`$STATE_DIR/owner`, lib/owner.sh) and refuses another; preflight reads the record and says so
 * in `preview`, before any resource is registered. Pure.
 */
import type { ProbeOutcome } from "./preflight";

/** How a stack is named on the hosts: "<project>/<stack>". */
export function ownerOf(project: string, stack: string): string {
    return `${project}/${stack}`;
}

/** One problem per host that another stack configured, with the fix. */
export function ownershipProblems(owner: string, outcomes: readonly ProbeOutcome[]): string[] {
    return outcomes.flatMap((o) =>
        o.kind === "facts" && o.facts.owner !== "" && o.facts.owner !== owner
            ? [
                  `host ${o.host} is configured by the stack ${o.facts.owner}, not by this one (${owner}): two stacks on one host would adopt each other's backup and swarm membership, and one's destroy would undo the other's work. ` +
                      `Fix: manage ${o.host} from ${o.facts.owner}, or run \`pulumi destroy --run-program\` there first; if that stack is gone for good, remove /var/lib/docker-overlay/owner on ${o.host}`,
              ]
            : [],
    );
}
