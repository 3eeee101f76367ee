// Command pulumi-tfgen-docker generates the Pulumi schema of our bridged docker provider.
// The build only needs `pulumi-tfgen-docker schema --out DIR` (schema.json).
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	"docker-overlay/toolchain/docker/provider"
	"docker-overlay/toolchain/docker/version"
)

func main() {
	tfgen.Main("docker", version.Version, provider.Provider())
}
