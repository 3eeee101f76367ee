package provider

import "encoding/json"

// schemaJSON is a small Pulumi package schema of our own describing what this plugin
// implements (enough for `pulumi package get-schema`); it is not upstream's schema.
func schemaJSON(version string) string {
	str := func(d string) map[string]any { return map[string]any{"type": "string", "description": d} }
	secret := func(d string) map[string]any {
		return map[string]any{"type": "string", "secret": true, "description": d}
	}
	strMap := func(d string) map[string]any {
		return map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}, "description": d}
	}
	common := map[string]any{
		"datacenter": str("The datacenter; defaults to the provider's, else the agent's."),
		"token":      secret("Deprecated: an ACL token for this resource instead of the provider's."),
		"namespace":  str("Consul Enterprise namespace."),
		"partition":  str("Consul Enterprise admin partition."),
	}
	with := func(extra map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range common {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	res := func(desc string, in map[string]any, required []string, outs map[string]any) map[string]any {
		props := map[string]any{}
		for k, v := range in {
			props[k] = v
		}
		for k, v := range outs {
			props[k] = v
		}
		return map[string]any{"description": desc, "inputProperties": in, "requiredInputs": required,
			"properties": props}
	}
	keyPrefixIn := with(map[string]any{
		"pathPrefix":       str("The prefix; every key under it is managed by this resource."),
		"subkeys":          strMap("Keys under pathPrefix (relative paths) and their values."),
		"subkeyCollection": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/types/consul:index/KeyPrefixSubkeyCollection:KeyPrefixSubkeyCollection"}},
	})
	keysIn := with(map[string]any{
		"keys": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/types/consul:index/KeysKey:KeysKey"}},
	})
	nodeIn := with(map[string]any{
		"name":    str("The node's name; defaults to the resource's name and a random suffix."),
		"address": str("The node's address."),
		"meta":    strMap("Node metadata."),
	})
	delete(nodeIn, "namespace")
	serviceIn := with(map[string]any{
		"name":              str("The service's name."),
		"node":              str("The (existing) node to register the service under."),
		"address":           str("The service's address; defaults to the node's."),
		"port":              map[string]any{"type": "integer"},
		"tags":              map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		"serviceId":         str("The service's ID; defaults to its name."),
		"meta":              strMap("Service metadata."),
		"enableTagOverride": map[string]any{"type": "boolean"},
		"external":          map[string]any{"type": "boolean", "description": "Deprecated; does nothing."},
		"weights":           map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "integer"}},
		"checks":            map[string]any{"type": "array", "items": map[string]any{"$ref": "pulumi.json#/Any"}, "description": "Not supported by this provider: must be empty."},
	})
	delete(serviceIn, "token")
	spec := map[string]any{
		"name":        Name,
		"displayName": "HashiCorp Consul",
		"version":     version,
		"description": "docker-overlay's own implementation of the Consul KeyPrefix, Keys, Node and Service resources (wire-compatible with @pulumi/consul " + version + "; see docs/consul-provider.md).",
		"keywords":    []string{"pulumi", "consul"},
		"license":     "Apache-2.0",
		"meta":        map[string]any{"moduleFormat": "(.*)(?:/[^/]*)"},
		"config": map[string]any{"variables": map[string]any{
			"address": str("host:port of the Consul HTTP API."), "scheme": str("http or https."),
			"token": secret("The ACL token (sent as X-Consul-Token)."), "datacenter": str("The datacenter."),
			"httpAuth": secret("user[:password] for HTTP basic auth."), "namespace": str("Consul Enterprise namespace."),
			"caFile": str("CA certificate file."), "caPath": str("CA certificate directory."), "caPem": str("CA certificate (PEM)."),
			"certFile": str("Client certificate file."), "certPem": str("Client certificate (PEM)."),
			"keyFile": str("Client key file."), "keyPem": secret("Client key (PEM)."),
			"insecureHttps": map[string]any{"type": "boolean"},
		}},
		"provider": map[string]any{"description": "The provider type for the consul package."},
		"types": map[string]any{
			"consul:index/KeyPrefixSubkeyCollection:KeyPrefixSubkeyCollection": map[string]any{"type": "object",
				"properties": map[string]any{"path": str(""), "value": str(""), "flags": map[string]any{"type": "integer"}},
				"required":   []string{"path", "value"}},
			"consul:index/KeysKey:KeysKey": map[string]any{"type": "object",
				"properties": map[string]any{"path": str(""), "value": str(""), "flags": map[string]any{"type": "integer"},
					"default": str(""), "delete": map[string]any{"type": "boolean"}, "name": str("Deprecated: read into var.")},
				"required": []string{"path"}},
		},
		"resources": map[string]any{
			keyPrefixType: res("Every key under a prefix.", keyPrefixIn, []string{"pathPrefix"}, nil),
			keysType:      res("A set of keys.", keysIn, nil, map[string]any{"var": strMap("Values of keys with a name.")}),
			nodeType:      res("A catalog node.", nodeIn, []string{"address"}, nil),
			serviceType:   res("A service of a catalog node.", serviceIn, []string{"node"}, nil),
		},
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b)
}
