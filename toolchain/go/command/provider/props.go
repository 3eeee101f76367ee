package provider

import "docker-overlay/toolchain/propkit"

// The property-map helpers live in toolchain/go/propkit, shared with our other provider plugin.
type field = propkit.Field

var (
	unsecret         = propkit.Unsecret
	unsecretMap      = propkit.UnsecretMap
	shallow          = propkit.Shallow
	containsUnknowns = propkit.ContainsUnknowns
	secretStrings    = propkit.SecretStrings
	kind             = propkit.Kind
)
