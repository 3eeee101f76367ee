// No resources, no providers: the CLI starts the Node.js language host, which runs this file
// through @pulumi/pulumi; the output proves the program ran and saw its stack config.
import * as pulumi from "@pulumi/pulumi";

const config = new pulumi.Config();

export const echo = pulumi.output(config.require("marker")).apply((m) => `ran:${m}`);
export const nodeMajor = Number(process.versions.node.split(".")[0]);
