package provider

import (
	"errors"
	"fmt"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

const (
	nodeType    = "consul:index/node:Node"
	serviceType = "consul:index/service:Service"
	// Upstream marks the services it registers with this meta entry (and hides it on read).
	externalSourceKey   = "external-source"
	externalSourceValue = "terraform"
)

// --- consul:index/node:Node -----------------------------------------------------------------
//
// A node in the catalog (PUT /v1/catalog/register without a service). ID "<name>-<address>".

func init() {
	register(&spec{
		token:          nodeType,
		inputs:         []string{"address", "datacenter", "meta", "name", "partition", "token"},
		forceNew:       map[string]bool{"address": true, "datacenter": true, "name": true, "partition": true},
		computed:       map[string]bool{"datacenter": true},
		previewUnknown: []string{"datacenter"},
		check: func(name string, news, olds resource.PropertyMap, fs *failures) {
			autoName(name, news, olds, fs)
			checkRequired(news, "address", fs)
			checkStrings(news, fs, "datacenter", "name", "partition", "token")
			checkStringMap(news, "meta", fs)
		},
		create: nodeRegister,
		update: func(s scope, _ string, _, news resource.PropertyMap) (resource.PropertyMap, error) {
			_, state, err := nodeRegister(s, news)
			return state, err
		},
		read:   nodeRead,
		delete: nodeDeregister,
	})
}

// catalogNode returns the node, or nil when Consul does not know it.
func catalogNode(s scope, name string) (*consulapi.CatalogNode, error) {
	n, _, err := s.c.api.Catalog().Node(name, s.q())
	if err != nil {
		var se consulapi.StatusError
		if errors.As(err, &se) && se.Code == 404 {
			return nil, nil
		}
		return nil, s.fail(fmt.Sprintf("reading node %q from the catalog", name), err)
	}
	if n == nil || n.Node == nil {
		return nil, nil
	}
	return n, nil
}

func nodeRegister(s scope, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	name, address := str(news, "name"), str(news, "address")
	reg := &consulapi.CatalogRegistration{Node: name, Address: address, Datacenter: s.datacenter,
		NodeMeta: mapOf(news, "meta"), Partition: s.partition}
	if _, err := s.c.api.Catalog().Register(reg, s.w()); err != nil {
		return "", nil, s.fail(fmt.Sprintf("registering node %q at %s in the catalog", name, address), err)
	}
	n, err := catalogNode(s, name)
	if err != nil {
		return "", nil, err
	}
	if n == nil {
		return "", nil, fmt.Errorf("node %q is not in the catalog of Consul at %s after registering it", name, s.c.endpoint)
	}
	state := news.Copy()
	state["datacenter"] = resource.NewStringProperty(s.datacenter)
	return name + "-" + address, state, nil
}

func nodeRead(s scope, id string, state resource.PropertyMap) (string, resource.PropertyMap, error) {
	name := str(state, "name")
	if name == "" { // import: the ID is the node's name
		name = id
		state["name"] = resource.NewStringProperty(name)
	}
	n, err := catalogNode(s, name)
	if err != nil || n == nil {
		return "", nil, err
	}
	setKeepSecret(state, "address", resource.NewStringProperty(n.Node.Address))
	if _, had := state["meta"]; had || len(n.Node.Meta) > 0 {
		setKeepSecret(state, "meta", stringMapValue(n.Node.Meta))
	}
	if n.Node.Datacenter != "" {
		state["datacenter"] = resource.NewStringProperty(n.Node.Datacenter)
	} else {
		state["datacenter"] = resource.NewStringProperty(s.datacenter)
	}
	return n.Node.Node + "-" + n.Node.Address, state, nil
}

func nodeDeregister(s scope, _ string, state resource.PropertyMap) error {
	name, address := str(state, "name"), str(state, "address")
	dereg := &consulapi.CatalogDeregistration{Node: name, Address: address, Datacenter: s.datacenter, Partition: s.partition}
	if _, err := s.c.api.Catalog().Deregister(dereg, s.w()); err != nil {
		return s.fail(fmt.Sprintf("deregistering node %q from the catalog", name), err)
	}
	return nil
}

// --- consul:index/service:Service -----------------------------------------------------------
//
// A service of an existing catalog node (PUT /v1/catalog/register with SkipNodeUpdate). ID
// the service's ID (serviceId, else its name). Health checks (`checks`) are refused.

func init() {
	register(&spec{
		token: serviceType,
		inputs: []string{"address", "checks", "datacenter", "enableTagOverride", "external", "meta", "name",
			"namespace", "node", "partition", "port", "serviceId", "tags", "weights"},
		forceNew: map[string]bool{"datacenter": true, "name": true, "namespace": true, "node": true,
			"partition": true, "serviceId": true},
		computed:       map[string]bool{"address": true, "datacenter": true, "serviceId": true},
		previewUnknown: []string{"address", "datacenter", "serviceId"},
		check: func(name string, news, olds resource.PropertyMap, fs *failures) {
			autoName(name, news, olds, fs)
			checkRequired(news, "node", fs)
			checkStrings(news, fs, "address", "datacenter", "name", "namespace", "partition", "serviceId")
			checkStringMap(news, "meta", fs)
			numberOf(news, "port", "port", 0, fs)
			boolOf(news, "enableTagOverride", "enableTagOverride", fs)
			boolOf(news, "external", "external", fs)
			if _, err := (field{Map: news, Key: "tags"}).Strings("tags"); err != nil {
				fs.add("tags", err)
			}
			if v, ok := (field{Map: news, Key: "weights"}).Raw(); ok {
				if !v.IsObject() {
					fs.add("weights", fmt.Errorf("must be a map of numbers, got %s", kind(v)))
				} else {
					for k := range v.ObjectValue() {
						numberOf(v.ObjectValue(), string(k), "weights."+string(k), 0, fs)
					}
				}
			}
			if v, ok := news["checks"]; ok && !v.IsNull() {
				if inner, _ := shallow(v); !inner.IsArray() || len(inner.ArrayValue()) > 0 {
					fs.add("checks", errors.New("health checks are not supported by docker-overlay's consul provider (docs/consul-provider.md); register the service without checks"))
				}
			}
		},
		create: func(s scope, news resource.PropertyMap) (string, resource.PropertyMap, error) {
			return serviceRegister(s, news)
		},
		update: func(s scope, _ string, _, news resource.PropertyMap) (resource.PropertyMap, error) {
			_, state, err := serviceRegister(s, news)
			return state, err
		},
		read: func(s scope, id string, state resource.PropertyMap) (string, resource.PropertyMap, error) {
			return serviceRead(s, id, state)
		},
		delete: func(s scope, id string, state resource.PropertyMap) error {
			node := str(state, "node")
			if sid := str(state, "serviceId"); sid != "" {
				id = sid
			}
			dereg := &consulapi.CatalogDeregistration{Node: node, ServiceID: id, Datacenter: s.datacenter,
				Namespace: s.namespace, Partition: s.partition}
			if _, err := s.c.api.Catalog().Deregister(dereg, s.w()); err != nil {
				return s.fail(fmt.Sprintf("deregistering service %q from node %q", id, node), err)
			}
			return nil
		},
	})
}

func serviceRegister(s scope, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	name, node := str(news, "name"), str(news, "node")
	// As upstream: the node must exist (Consul would create it, and Pulumi would not know).
	n, err := catalogNode(s, node)
	if err != nil {
		return "", nil, err
	}
	if n == nil {
		return "", nil, fmt.Errorf("node %q does not exist in the catalog of Consul at %s (datacenter %s); register it first, e.g. with consul.Node",
			node, s.c.endpoint, s.datacenter)
	}
	ident := name
	svc := &consulapi.AgentService{Service: name, Namespace: s.namespace, Partition: s.partition}
	if sid := str(news, "serviceId"); sid != "" {
		svc.ID, ident = sid, sid
	}
	svc.Address = str(news, "address")
	if svc.Address == "" {
		svc.Address = n.Node.Address
	}
	var fs failures
	svc.Port = numberOf(news, "port", "port", 0, &fs)
	svc.Tags, _ = field{Map: news, Key: "tags"}.Strings("tags")
	svc.EnableTagOverride = boolOf(news, "enableTagOverride", "enableTagOverride", &fs)
	svc.Meta = map[string]string{externalSourceKey: externalSourceValue}
	for k, v := range mapOf(news, "meta") {
		svc.Meta[k] = v
	}
	if w, ok := (field{Map: news, Key: "weights"}).Raw(); ok && w.IsObject() {
		svc.Weights = consulapi.AgentWeights{Passing: 1, Warning: 1}
		svc.Weights.Passing = numberOf(w.ObjectValue(), "passing", "weights.passing", 1, &fs)
		svc.Weights.Warning = numberOf(w.ObjectValue(), "warning", "weights.warning", 1, &fs)
	}
	if err := fs.err(); err != nil {
		return "", nil, err
	}
	reg := &consulapi.CatalogRegistration{Node: node, Address: svc.Address, Datacenter: s.datacenter,
		Service: svc, SkipNodeUpdate: true, Partition: s.partition}
	if _, err := s.c.api.Catalog().Register(reg, s.w()); err != nil {
		return "", nil, s.fail(fmt.Sprintf("registering service %q on node %q in the catalog", ident, node), err)
	}
	id, state, err := serviceRead(s, ident, news.Copy())
	if err != nil {
		return "", nil, err
	}
	if id == "" {
		return "", nil, fmt.Errorf("service %q is not on node %q in the catalog of Consul at %s after registering it; it may have to be deregistered by hand",
			ident, node, s.c.endpoint)
	}
	return id, state, nil
}

// serviceRead finds service id of node `node` in the catalog; id "" when it is gone.
func serviceRead(s scope, id string, state resource.PropertyMap) (string, resource.PropertyMap, error) {
	name, node := str(state, "name"), str(state, "node")
	if name == "" || node == "" {
		return "", nil, fmt.Errorf("cannot read service %q without its name and node in the state (import is not supported)", id)
	}
	services, _, err := s.c.api.Catalog().Service(name, "", s.q())
	if err != nil {
		return "", nil, s.fail(fmt.Sprintf("reading service %q from the catalog", name), err)
	}
	var svc *consulapi.CatalogService
	for _, c := range services {
		if c.ServiceID == id && c.Node == node {
			svc = c
		}
	}
	if svc == nil {
		return "", nil, nil
	}
	setKeepSecret(state, "address", resource.NewStringProperty(svc.ServiceAddress))
	state["serviceId"] = resource.NewStringProperty(svc.ServiceID)
	dc := svc.Datacenter
	if dc == "" {
		dc = s.datacenter
	}
	state["datacenter"] = resource.NewStringProperty(dc)
	state["name"] = resource.NewStringProperty(svc.ServiceName)
	state["node"] = resource.NewStringProperty(svc.Node)
	setKeepSecret(state, "port", resource.NewNumberProperty(float64(svc.ServicePort)))
	tags := []resource.PropertyValue{}
	for _, t := range svc.ServiceTags {
		tags = append(tags, resource.NewStringProperty(t))
	}
	setKeepSecret(state, "tags", resource.NewArrayProperty(tags))
	meta := map[string]string{}
	for k, v := range svc.ServiceMeta {
		if k != externalSourceKey {
			meta[k] = v
		}
	}
	setKeepSecret(state, "meta", stringMapValue(meta))
	state["enableTagOverride"] = resource.NewBoolProperty(svc.ServiceEnableTagOverride)
	// weights: reported when not Consul's default (1, 1) or when given.
	given := map[string]resource.PropertyValue{}
	if w, ok := (field{Map: state, Key: "weights"}).Raw(); ok && w.IsObject() {
		for k, v := range w.ObjectValue() {
			given[string(k)] = v
		}
	}
	weights := resource.PropertyMap{}
	if _, ok := given["passing"]; ok || svc.ServiceWeights.Passing != 1 {
		weights["passing"] = resource.NewNumberProperty(float64(svc.ServiceWeights.Passing))
	}
	if _, ok := given["warning"]; ok || svc.ServiceWeights.Warning != 1 {
		weights["warning"] = resource.NewNumberProperty(float64(svc.ServiceWeights.Warning))
	}
	state["weights"] = resource.NewObjectProperty(weights)
	// namespace and partition (Consul Enterprise) are kept as given: OSS reports none, and
	// Enterprise reports "default" for inputs that were never set.
	return svc.ServiceID, state, nil
}
