// A one-package module whose import path lies under the Terraform provider's own module path,
// so that Go's "internal" rule (checked on import paths) lets it import
// github.com/terraform-providers/terraform-provider-docker/internal/provider without patching
// the upstream code. See docs/docker-provider.md.
module github.com/terraform-providers/terraform-provider-docker/pulumishim

go 1.25.8

require (
	github.com/hashicorp/terraform-plugin-sdk/v2 v2.40.1
	github.com/terraform-providers/terraform-provider-docker v0.0.0
)
