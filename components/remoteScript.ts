import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { scriptBundle, scriptCommand, type ScriptPhase } from "./hostScripts";

/** The rendered scripts of one remote command, by phase (each may be an Output, or secret). */
export type PhaseScripts = { create: pulumi.Input<string> } & Partial<Record<Exclude<ScriptPhase, "create">, pulumi.Input<string>>>;

/**
 * The arguments of a `remote.Command` that runs host scripts: fixed, short command lines (one per
 * phase given) and every script on stdin (see scriptCommand). A secret script (one that holds a
 * join token) makes stdin secret, so it is encrypted in the state; pulumi-command never logs stdin
 * nor puts it in an error.
 *
 * `addPreviousOutputInEnv: false`: pulumi-command would otherwise send the previous run's stdout
 * and stderr to the host as environment variables on every update (refused by sshd without
 * AcceptEnv, with a warning each time), and the previous stdout can be a secret (the join tokens).
 */
export function scriptedCommandArgs(
    connection: command.types.input.remote.ConnectionArgs,
    label: string,
    scripts: PhaseScripts,
    logging: "stdout" | "stderr" | "stdoutAndStderr" | "none",
): command.remote.CommandArgs {
    // An update that runs the very script of create (the same value, not only equal text) reads
    // create's line of stdin: the script travels, and is kept in the state, once instead of twice.
    const updateIsCreate = scripts.update !== undefined && scripts.update === scripts.create;
    const carried: PhaseScripts = updateIsCreate ? { ...scripts, update: undefined } : scripts;
    const phases = (Object.keys(carried) as ScriptPhase[]).filter((p) => carried[p] !== undefined);
    return {
        connection,
        create: scriptCommand("create", label),
        ...(updateIsCreate ? { update: scriptCommand("create", label) } : phases.includes("update") ? { update: scriptCommand("update", label) } : {}),
        ...(phases.includes("delete") ? { delete: scriptCommand("delete", label) } : {}),
        stdin: pulumi.all(Object.fromEntries(phases.map((p) => [p, carried[p]!])) as Record<string, pulumi.Input<string>>).apply((s) => scriptBundle(s)),
        logging,
        addPreviousOutputInEnv: false,
    };
}
