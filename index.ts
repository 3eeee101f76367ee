// Entry point for the Pulumi CLI: the stack's outputs are what `main` returns.
import { main } from "./program";

export = main();
