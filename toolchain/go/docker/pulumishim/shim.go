// Package pulumishim hands the kreuzwerker Terraform provider's SDKv2 provider to the Pulumi
// bridge. It is the only code that touches the provider's internal package, and it does not
// change it: it only calls the constructor that the provider's own main.go calls.
package pulumishim

import (
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	"github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// Provider returns the SDKv2 part of terraform-provider-docker (every resource and data source
// that @pulumi/docker 5.2.0 wraps). The plugin-framework part (docker_compose, the
// docker_containers data source and the actions) is not in @pulumi/docker and is left out.
func Provider(version string) *schema.Provider {
	return provider.New(version)()
}
