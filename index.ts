// Entry point for the Pulumi CLI: the stack's outputs are what `main` returns.
import { main } from "./program";

const outputs = main();
// The engine reports a failure of `main` itself (with the message that says what to fix); this
// only keeps Node from warning that the rejection was "handled asynchronously".
outputs.catch(() => undefined);

export = outputs;
