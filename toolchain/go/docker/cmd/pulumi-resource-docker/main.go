// Command pulumi-resource-docker is the Pulumi resource provider plugin for the `docker`
// package, bridged from kreuzwerker/terraform-provider-docker.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"docker-overlay/toolchain/docker/provider"
	"docker-overlay/toolchain/docker/version"
)

// pulumiSchema is the schema.json that pulumi-tfgen-docker generated for this very build.
// The file is never in the repository: toolchain/build-docker-provider.sh writes it into its
// build directory and hands it to the compiler with `go build -overlay`, so a plain
// `go build` here fails with "pattern schema-embed.json: no matching files found".
//
//go:embed schema-embed.json
var pulumiSchema []byte

func main() {
	tfbridge.Main("docker", version.Version, provider.Provider(), pulumiSchema)
}
