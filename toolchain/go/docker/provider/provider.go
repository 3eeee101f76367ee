// Package provider maps kreuzwerker/terraform-provider-docker onto the Pulumi package `docker`
// in the shape that the @pulumi/docker 5.2.0 SDK expects: every resource and data source in the
// module `index`, with the SDK's names.
//
// Tokens are computed by the bridge (tokens.SingleModule) from the Terraform names; the maps
// below only hold the places where the SDK's names differ from what the bridge would compute.
// test/toolchain/docker-schema.test.ts checks the result against the installed SDK.
package provider

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/terraform-providers/terraform-provider-docker/pulumishim"

	"docker-overlay/toolchain/docker/version"
)

const (
	pkg = "docker"
	mod = "index"
)

// keep pins a property to the given Pulumi name, for Terraform lists that the bridge would
// otherwise pluralise (or singularise) differently from the SDK.
func keep(name string) *tfbridge.SchemaInfo {
	return &tfbridge.SchemaInfo{Name: name}
}

// Provider is the bridge's description of the provider.
func Provider() tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:           shimv2.NewProvider(pulumishim.Provider(version.Version)),
		Name:        pkg,
		Version:     version.Version,
		DisplayName: "Docker",
		Description: "A Pulumi package for interacting with Docker in Pulumi programs " +
			"(docker-overlay's own build of the Terraform bridge over kreuzwerker/docker)",
		Keywords:   []string{"pulumi", "docker"},
		License:    "Apache-2.0",
		Homepage:   "https://pulumi.io",
		Repository: "https://github.com/pulumi/pulumi-docker",
		GitHubOrg:  "kreuzwerker",

		Config: map[string]*tfbridge.SchemaInfo{
			// A Terraform list of blocks; the SDK calls it registryAuth, not registryAuths.
			"registry_auth": keep("registryAuth"),
			"host": {
				Default: &tfbridge.DefaultInfo{EnvVars: []string{"DOCKER_HOST"}},
			},
		},

		Resources: map[string]*tfbridge.ResourceInfo{
			// Terraform's docker_image pulls an image: the SDK calls it RemoteImage (the SDK's
			// Image is a build-and-push resource of upstream's own, see the docs).
			"docker_image": {Tok: tfbridge.MakeResource(pkg, mod, "RemoteImage")},
			// docker_config holds a swarm config: ServiceConfig in the SDK.
			"docker_config": {Tok: tfbridge.MakeResource(pkg, mod, "ServiceConfig")},
			"docker_container": {
				// A container name is unique per daemon, so a replacement must delete first.
				DeleteBeforeReplace: true,
				Fields: map[string]*tfbridge.SchemaInfo{
					"command":           keep("command"),          // one command as argv, not many
					"networks_advanced": keep("networksAdvanced"), // already plural in the SDK
				},
			},
		},

		DataSources: map[string]*tfbridge.DataSourceInfo{
			// The data source of docker_image, named after the resource's Pulumi name.
			"docker_image": {Tok: tfbridge.MakeDataSource(pkg, mod, "getRemoteImage")},
		},
	}

	// Everything not named above: docker_network -> docker:index/network:Network,
	// data source docker_network -> docker:index/getNetwork:getNetwork, and so on.
	info.MustComputeTokens(tokens.SingleModule("docker_", mod, tokens.MakeStandard(pkg)))
	return info
}
