// pulumi-resource-consul: docker-overlay's provider plugin for the resource types of
// @pulumi/consul 3.15.1 that the project uses. See docs/consul-provider.md.
package main

import (
	"fmt"
	"os"

	pprovider "github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"docker-overlay/toolchain/consul/provider"
	"docker-overlay/toolchain/consul/version"
)

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "-version" || os.Args[1] == "--version") {
		fmt.Println(version.Version)
		return
	}
	err := pprovider.Main(provider.Name, func(host *pprovider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return provider.New(host, version.Version), nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-consul: %v\n", err)
		os.Exit(1)
	}
}
