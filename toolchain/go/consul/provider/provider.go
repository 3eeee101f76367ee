// Package provider implements docker-overlay's `consul` resource provider: the resource types
// consul:index/keyPrefix:KeyPrefix, consul:index/keys:Keys, consul:index/node:Node and
// consul:index/service:Service of @pulumi/consul 3.15.1, on sdk/v3's provider gRPC interface and
// github.com/hashicorp/consul/api. Written for this project from the SDK's public interfaces and
// upstream's documented behaviour; docs/consul-provider.md says what differs from upstream.
package provider

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pprovider "github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Name is the package name the engine knows this plugin by.
const Name = "consul"

// spec describes one resource type: its inputs as the SDK sends them, how changes are applied
// (forceNew: replace; computed: optional inputs that Consul fills in when not given), and its
// operations. States are the inputs plus what Consul reports, as the bridged upstream stores.
type spec struct {
	token    string
	inputs   []string
	forceNew map[string]bool
	computed map[string]bool
	// outputs that are unknown during a preview of a create when not given as inputs.
	previewUnknown []string
	check          func(name string, news, olds resource.PropertyMap, fs *failures)
	create         func(s scope, news resource.PropertyMap) (string, resource.PropertyMap, error)
	update         func(s scope, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error)
	// read returns id "" when the object is gone from Consul.
	read   func(s scope, id string, state resource.PropertyMap) (string, resource.PropertyMap, error)
	delete func(s scope, id string, state resource.PropertyMap) error
	// norm makes an input's value comparable (defaults applied, sets sorted); may be nil.
	norm func(k string, v any) any
}

var specs = map[string]*spec{}

func register(s *spec) { specs[s.token] = s }

type consulProvider struct {
	pulumirpc.UnimplementedResourceProviderServer
	host    *pprovider.HostClient
	version string

	mu       sync.Mutex
	client   *consulClient
	notReady string // why there is no client (configuration unknown or invalid)

	base     context.Context
	cancelFn context.CancelFunc
}

// New returns the provider server; host may be nil (attach mode).
func New(host *pprovider.HostClient, version string) pulumirpc.ResourceProviderServer {
	base, cancel := context.WithCancel(context.Background())
	return &consulProvider{host: host, version: version, base: base, cancelFn: cancel,
		notReady: "the provider has not been configured"}
}

var (
	unmarshalIn = plugin.MarshalOptions{Label: "consul.inputs", KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}
	marshalOut  = plugin.MarshalOptions{Label: "consul.outputs", KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}
)

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, unmarshalIn)
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, marshalOut)
}

func typeOf(urn, t string) string {
	if t != "" {
		return t
	}
	return string(resource.URN(urn).Type())
}

func specOf(urn, t string) (*spec, error) {
	t = typeOf(urn, t)
	if s, ok := specs[t]; ok {
		return s, nil
	}
	var known []string
	for k := range specs {
		known = append(known, k)
	}
	sort.Strings(known)
	return nil, status.Errorf(codes.InvalidArgument,
		"resource type %q is not implemented by docker-overlay's consul provider, which implements only %s (docs/consul-provider.md)",
		t, strings.Join(known, ", "))
}

// label names a resource in messages: its type and name.
func label(urn, t string) string {
	return fmt.Sprintf("%s %q", typeOf(urn, t), resource.URN(urn).Name())
}

// scopeFor returns the configured client's scope for a resource with properties m.
func (p *consulProvider) scopeFor(ctx context.Context, m resource.PropertyMap) (scope, error) {
	p.mu.Lock()
	c, why := p.client, p.notReady
	p.mu.Unlock()
	if c == nil {
		return scope{}, fmt.Errorf("no Consul client: %s", why)
	}
	return c.newScope(ctx, m)
}

// opContext ends with the request, with Cancel, or after the operation's custom timeout.
func (p *consulProvider) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(p.base, cancel)
	return ctx, func() { stop(); cancel() }
}

// --- plugin metadata and configuration ---------------------------------------------------

func (p *consulProvider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: p.version}, nil
}

func (p *consulProvider) Handshake(context.Context, *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

func (p *consulProvider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: schemaJSON(p.version)}, nil
}

// CheckConfig validates the configuration and keeps the token (and httpAuth, headers) secret.
func (p *consulProvider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	_, _, fs := parseConfig(news, nil)
	for _, k := range []resource.PropertyKey{"token", "httpAuth", "headers", "keyPem"} {
		if v, ok := news[k]; ok && !v.IsNull() && !v.IsSecret() {
			news[k] = resource.MakeSecret(v)
		}
	}
	inputs, err := marshal(news)
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.CheckResponse{Inputs: inputs}
	for _, f := range fs {
		resp.Failures = append(resp.Failures, &pulumirpc.CheckFailure{Property: f.property, Reason: f.reason})
	}
	return resp, nil
}

// DiffConfig reports changed configuration as an update of the provider (never a replace, as
// the bridged upstream): resources are then handled with the new configuration.
func (p *consulProvider) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	if req.GetOldInputs() == nil {
		if olds, err = unmarshal(req.GetOlds()); err != nil {
			return nil, err
		}
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}
	keys := map[resource.PropertyKey]bool{}
	for k := range olds {
		keys[k] = true
	}
	for k := range news {
		keys[k] = true
	}
	for k := range keys {
		if k == "version" || strings.HasPrefix(string(k), "__") {
			continue
		}
		o, n := olds[k], news[k]
		if containsUnknowns(n) || !reflect.DeepEqual(comparable(o), comparable(n)) {
			resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
			resp.Diffs = append(resp.Diffs, string(k))
		}
	}
	sort.Strings(resp.Diffs)
	return resp, nil
}

func comparable(v resource.PropertyValue) any {
	v = unsecret(v)
	if v.IsNull() {
		return nil
	}
	return v.Mappable()
}

func (p *consulProvider) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	var args resource.PropertyMap
	if req.GetArgs() != nil {
		var err error
		if args, err = unmarshal(req.GetArgs()); err != nil {
			return nil, err
		}
	}
	c, unknown, fs := parseConfig(args, req.GetVariables())
	if err := fs.err(); err != nil {
		return nil, fmt.Errorf("consul provider configuration: %v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.client = nil
	if len(unknown) > 0 {
		// Previews need no client; an update with such a provider is not possible anyway.
		p.notReady = "the provider's configuration is not known yet (" + strings.Join(unknown, ", ") + ")"
	} else {
		client, err := newClient(c)
		if err != nil {
			return nil, err
		}
		p.client = client
	}
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func (p *consulProvider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	p.cancelFn()
	return &emptypb.Empty{}, nil
}

func (p *consulProvider) Attach(_ context.Context, req *pulumirpc.PluginAttach) (*emptypb.Empty, error) {
	host, err := pprovider.NewHostClient(req.GetAddress())
	if err != nil {
		return nil, err
	}
	p.host = host
	return &emptypb.Empty{}, nil
}

func (p *consulProvider) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	return nil, status.Errorf(codes.Unimplemented,
		"function %q is not implemented by docker-overlay's consul provider (docs/consul-provider.md)", req.GetTok())
}

func (p *consulProvider) Call(_ context.Context, req *pulumirpc.CallRequest) (*pulumirpc.CallResponse, error) {
	return nil, status.Errorf(codes.Unimplemented,
		"method %q is not implemented by docker-overlay's consul provider (docs/consul-provider.md)", req.GetTok())
}

// --- Check ----------------------------------------------------------------------------------

func (p *consulProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	sp, err := specOf(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	// token: a secret wherever it comes from (the SDK marks it; plain values are wrapped).
	if v, ok := news["token"]; ok && !v.IsNull() && !v.IsSecret() {
		news["token"] = resource.MakeSecret(v)
	}
	var fs failures
	name := req.GetName()
	if name == "" {
		name = resource.URN(req.GetUrn()).Name()
	}
	sp.check(name, news, olds, &fs)
	inputs, err := marshal(news)
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.CheckResponse{Inputs: inputs}
	for _, f := range fs {
		resp.Failures = append(resp.Failures, &pulumirpc.CheckFailure{Property: f.property, Reason: f.reason})
	}
	return resp, nil
}

// --- Diff -----------------------------------------------------------------------------------

// isEmpty: absent, null, "", 0, false, empty list or map: what the upstream (Terraform) schema
// treats as "not set" for optional attributes.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case float64:
		return x == 0
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// normalized returns the comparable form of property k's value.
func (sp *spec) normalized(k string, v resource.PropertyValue) any {
	var out any
	if v = unsecret(v); !v.IsNull() {
		out = v.Mappable()
	}
	if sp.norm != nil {
		out = sp.norm(k, out)
	}
	if isEmpty(out) {
		return nil
	}
	return out
}

// Diff compares the new inputs with the current state (the outputs of the last create, update
// or refresh), as the bridged upstream does: what a refresh found in Consul shows as a change.
func (p *consulProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	sp, err := specOf(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	for _, ign := range req.GetIgnoreChanges() {
		path, err := resource.ParsePropertyPath(ign)
		if err != nil {
			continue
		}
		if v, ok := path.Get(resource.NewObjectProperty(olds)); ok {
			path.Set(resource.NewObjectProperty(news), v)
		} else {
			path.Delete(resource.NewObjectProperty(news))
		}
	}
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true,
		DetailedDiff: map[string]*pulumirpc.PropertyDiff{}}
	for _, k := range sp.inputs {
		key := resource.PropertyKey(k)
		nv, inNew := news[key]
		if inNew && nv.IsNull() {
			inNew = false
		}
		if !inNew && sp.computed[k] {
			continue // optional and computed: not given means "whatever Consul has"
		}
		var kind pulumirpc.PropertyDiff_Kind
		if inNew && containsUnknowns(nv) {
			kind = pulumirpc.PropertyDiff_UPDATE
		} else {
			o, n := sp.normalized(k, olds[key]), sp.normalized(k, nv)
			if reflect.DeepEqual(o, n) {
				continue
			}
			switch {
			case o == nil:
				kind = pulumirpc.PropertyDiff_ADD
			case n == nil:
				kind = pulumirpc.PropertyDiff_DELETE
			default:
				kind = pulumirpc.PropertyDiff_UPDATE
			}
		}
		if sp.forceNew[k] {
			kind = map[pulumirpc.PropertyDiff_Kind]pulumirpc.PropertyDiff_Kind{
				pulumirpc.PropertyDiff_ADD:    pulumirpc.PropertyDiff_ADD_REPLACE,
				pulumirpc.PropertyDiff_DELETE: pulumirpc.PropertyDiff_DELETE_REPLACE,
				pulumirpc.PropertyDiff_UPDATE: pulumirpc.PropertyDiff_UPDATE_REPLACE,
			}[kind]
			resp.Replaces = append(resp.Replaces, k)
		}
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
		resp.Diffs = append(resp.Diffs, k)
		resp.DetailedDiff[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	return resp, nil
}

// --- Create, Update, Read, Delete -----------------------------------------------------------

// baseState is the inputs without engine-internal keys.
func baseState(inputs resource.PropertyMap) resource.PropertyMap {
	out := inputs.Copy()
	for k := range out {
		if strings.HasPrefix(string(k), "__") {
			delete(out, k)
		}
	}
	return out
}

// setKeepSecret sets state[k] = v, secret if the value there was.
func setKeepSecret(state resource.PropertyMap, k string, v resource.PropertyValue) {
	if old, ok := state[resource.PropertyKey(k)]; ok && old.IsSecret() && !v.IsSecret() {
		v = resource.MakeSecret(v)
	}
	state[resource.PropertyKey(k)] = v
}

func unknownValue() resource.PropertyValue {
	return resource.MakeComputed(resource.NewStringProperty(""))
}

func (p *consulProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	sp, err := specOf(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		state := baseState(news)
		for _, k := range sp.previewUnknown {
			if v, ok := state[resource.PropertyKey(k)]; !ok || v.IsNull() {
				state[resource.PropertyKey(k)] = unknownValue()
			}
		}
		props, err := marshal(state)
		if err != nil {
			return nil, err
		}
		return &pulumirpc.CreateResponse{Properties: props}, nil
	}
	ctx, cancel := p.opContext(ctx)
	defer cancel()
	s, err := p.scopeFor(ctx, news)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %v", label(req.GetUrn(), req.GetType()), err)
	}
	id, state, err := sp.create(s, baseState(news))
	if err != nil {
		err = fmt.Errorf("creating %s: %w", label(req.GetUrn(), req.GetType()), err)
		var pe *partialError
		if errors.As(err, &pe) {
			// The object exists in part: the engine records it, and the next update completes it.
			props, merr := marshal(pe.state)
			if merr != nil {
				return nil, err
			}
			st, serr := status.New(codes.Unknown, err.Error()).WithDetails(&pulumirpc.ErrorResourceInitFailed{
				Id: pe.id, Properties: props, Inputs: req.GetProperties(), Reasons: []string{err.Error()}})
			if serr != nil {
				return nil, err
			}
			return nil, st.Err()
		}
		return nil, err
	}
	props, err := marshal(state)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func (p *consulProvider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	sp, err := specOf(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		state := baseState(news)
		for _, k := range sp.previewUnknown {
			if v, ok := state[resource.PropertyKey(k)]; !ok || v.IsNull() {
				if old, ok := olds[resource.PropertyKey(k)]; ok && k != "var" {
					state[resource.PropertyKey(k)] = old
				} else {
					state[resource.PropertyKey(k)] = unknownValue()
				}
			}
		}
		props, err := marshal(state)
		if err != nil {
			return nil, err
		}
		return &pulumirpc.UpdateResponse{Properties: props}, nil
	}
	ctx, cancel := p.opContext(ctx)
	defer cancel()
	s, err := p.scopeFor(ctx, news)
	if err != nil {
		return nil, fmt.Errorf("updating %s: %v", label(req.GetUrn(), req.GetType()), err)
	}
	state, err := sp.update(s, req.GetId(), olds, baseState(news))
	if err != nil {
		return nil, fmt.Errorf("updating %s: %v", label(req.GetUrn(), req.GetType()), err)
	}
	props, err := marshal(state)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (p *consulProvider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	sp, err := specOf(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	ctx, cancel := p.opContext(ctx)
	defer cancel()
	s, err := p.scopeFor(ctx, olds)
	if err == nil {
		err = sp.delete(s, req.GetId(), olds)
	}
	if err != nil {
		return nil, fmt.Errorf("deleting %s: %v", label(req.GetUrn(), req.GetType()), err)
	}
	return &emptypb.Empty{}, nil
}

// Read reads the object back from Consul (refresh, import): the new state, and new inputs
// taken from it for the inputs the old ones had.
func (p *consulProvider) Read(ctx context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	sp, err := specOf(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	state, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	inputs, err := unmarshal(req.GetInputs())
	if err != nil {
		return nil, err
	}
	ctx, cancel := p.opContext(ctx)
	defer cancel()
	s, err := p.scopeFor(ctx, state)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %v", label(req.GetUrn(), req.GetType()), err)
	}
	id, newState, err := sp.read(s, req.GetId(), baseState(state))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %v", label(req.GetUrn(), req.GetType()), err)
	}
	if id == "" {
		return &pulumirpc.ReadResponse{}, nil
	}
	newInputs := resource.PropertyMap{}
	for _, k := range sp.inputs {
		key := resource.PropertyKey(k)
		_, wasInput := inputs[key]
		if req.GetInputs() == nil {
			// import: everything readable is an input, except computed-only values
			wasInput = !sp.computed[k]
		}
		if v, ok := newState[key]; ok && wasInput && !v.IsNull() {
			newInputs[key] = v
		}
	}
	props, err := marshal(newState)
	if err != nil {
		return nil, err
	}
	ins, err := marshal(newInputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: id, Properties: props, Inputs: ins}, nil
}

// partialError is a create that failed after creating part of the object.
type partialError struct {
	id    string
	state resource.PropertyMap
	err   error
}

func (e *partialError) Error() string { return e.err.Error() }
func (e *partialError) Unwrap() error { return e.err }

func partial(id string, state resource.PropertyMap, err error) error {
	return &partialError{id: id, state: state, err: err}
}
