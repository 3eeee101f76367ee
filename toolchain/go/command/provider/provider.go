// Package provider implements docker-overlay's `command` resource provider: the resource
// types command:local:Command and command:remote:Command of @pulumi/command 1.2.1 (and the
// command:local:run function), on sdk/v3's provider gRPC interface. Written for this project
// from the SDK's public interfaces and upstream's documented behaviour; see
// docs/command-provider.md for what differs from upstream.
package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

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
const Name = "command"

type commandProvider struct {
	pulumirpc.UnimplementedResourceProviderServer
	host    *pprovider.HostClient
	version string

	// Cancel ends every running operation.
	mu       sync.Mutex
	base     context.Context
	cancelFn context.CancelFunc
}

// New returns the provider server; host may be nil (attach mode), then nothing is logged.
func New(host *pprovider.HostClient, version string) pulumirpc.ResourceProviderServer {
	base, cancel := context.WithCancel(context.Background())
	return &commandProvider{host: host, version: version, base: base, cancelFn: cancel}
}

var (
	unmarshalIn = plugin.MarshalOptions{
		Label: "command.inputs", KeepUnknowns: true, KeepSecrets: true, SkipNulls: true,
	}
	marshalOut = plugin.MarshalOptions{
		Label: "command.outputs", KeepUnknowns: true, KeepSecrets: true, SkipNulls: true,
	}
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

// opContext joins the request's context, Cancel, and the operation's custom timeout.
func (p *commandProvider) opContext(ctx context.Context, timeoutSeconds float64) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(p.base, cancel)
	if timeoutSeconds > 0 {
		var tcancel context.CancelFunc
		ctx, tcancel = context.WithTimeout(ctx, time.Duration(timeoutSeconds*float64(time.Second)))
		return ctx, func() { tcancel(); stop(); cancel() }
	}
	return ctx, func() { stop(); cancel() }
}

func checkType(t string) error {
	switch t {
	case localCommand, remoteCommand:
		return nil
	}
	return status.Errorf(codes.InvalidArgument,
		"unknown resource type %q: docker-overlay's command provider implements only %s and %s (docs/command-provider.md)",
		t, localCommand, remoteCommand)
}

func typeOf(urn string, t string) string {
	if t != "" {
		return t
	}
	return string(resource.URN(urn).Type())
}

// --- plugin metadata and configuration ---------------------------------------------------

func (p *commandProvider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: p.version}, nil
}

func (p *commandProvider) Handshake(context.Context, *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

func (p *commandProvider) GetSchema(_ context.Context, req *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: schemaJSON(p.version)}, nil
}

func (p *commandProvider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *commandProvider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *commandProvider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func (p *commandProvider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	p.cancelFn()
	return &emptypb.Empty{}, nil
}

func (p *commandProvider) Attach(_ context.Context, req *pulumirpc.PluginAttach) (*emptypb.Empty, error) {
	host, err := pprovider.NewHostClient(req.GetAddress())
	if err != nil {
		return nil, err
	}
	p.host = host
	return &emptypb.Empty{}, nil
}

// --- Check --------------------------------------------------------------------------------

func (p *commandProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	t := typeOf(req.GetUrn(), req.GetType())
	if err := checkType(t); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var fs failures
	if t == remoteCommand {
		if c, ok := news["connection"]; ok && !c.IsNull() {
			c = withConnectionDefaults(c, true)
			// The connection holds credentials: always a secret (upstream's schema says so).
			if !c.IsSecret() && !c.IsComputed() {
				c = resource.MakeSecret(c)
			}
			news["connection"] = c
		}
		_, fs = parseRemote(news)
	} else {
		_, fs = parseLocal(news)
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

// --- Diff ---------------------------------------------------------------------------------

// inputKeys are the input properties of each type (to tell old inputs from outputs in a
// state when the engine sends no old inputs).
var inputKeys = map[string][]string{
	localCommand: {"create", "update", "delete", "triggers", "stdin", "environment", "dir", "interpreter",
		"logging", "addPreviousOutputInEnv", "assetPaths", "archivePaths"},
	remoteCommand: {"connection", "create", "update", "delete", "triggers", "stdin", "environment",
		"logging", "addPreviousOutputInEnv"},
}

// Diff compares old and new inputs as upstream (pulumi-go-provider's default diff for a
// resource with an Update): a change of `triggers` replaces the resource; a change of any
// other input is an update (which runs `update`, or `create` when there is no `update`).
// Only secretness changing is not a change.
func (p *commandProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	t := typeOf(req.GetUrn(), req.GetType())
	if err := checkType(t); err != nil {
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
	var oldInputs resource.PropertyMap
	if req.GetOldInputs() != nil {
		if oldInputs, err = unmarshal(req.GetOldInputs()); err != nil {
			return nil, err
		}
	} else {
		oldInputs = resource.PropertyMap{}
		for _, k := range inputKeys[t] {
			if v, ok := olds[resource.PropertyKey(k)]; ok {
				oldInputs[resource.PropertyKey(k)] = v
			}
		}
	}
	// ignoreChanges: keep the old value at each ignored path.
	for _, ign := range req.GetIgnoreChanges() {
		path, err := resource.ParsePropertyPath(ign)
		if err != nil {
			continue
		}
		if v, ok := path.Get(resource.NewObjectProperty(oldInputs)); ok {
			path.Set(resource.NewObjectProperty(news), v)
		} else {
			path.Delete(resource.NewObjectProperty(news))
		}
	}
	for k := range news {
		if strings.HasPrefix(string(k), "__") {
			delete(news, k)
		}
	}
	objDiff := unsecretMap(oldInputs).Diff(unsecretMap(news))
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true,
		DetailedDiff: map[string]*pulumirpc.PropertyDiff{}}
	if objDiff == nil || !objDiff.AnyChanges() {
		return resp, nil
	}
	resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	replaces := map[string]bool{}
	for path, d := range plugin.NewDetailedDiffFromObjectDiff(objDiff, false) {
		kind := d.Kind
		root := path
		if i := strings.IndexAny(root, ".["); i >= 0 {
			root = root[:i]
		}
		if root == "triggers" {
			kind = kind.AsReplace()
			replaces[root] = true
		}
		resp.DetailedDiff[path] = &pulumirpc.PropertyDiff{Kind: diffKind(kind), InputDiff: true}
		if !contains(resp.Diffs, root) {
			resp.Diffs = append(resp.Diffs, root)
		}
	}
	for k := range replaces {
		resp.Replaces = append(resp.Replaces, k)
	}
	return resp, nil
}

func contains(xs []string, x string) bool {
	for _, e := range xs {
		if e == x {
			return true
		}
	}
	return false
}

func diffKind(k plugin.DiffKind) pulumirpc.PropertyDiff_Kind {
	switch k {
	case plugin.DiffAdd:
		return pulumirpc.PropertyDiff_ADD
	case plugin.DiffAddReplace:
		return pulumirpc.PropertyDiff_ADD_REPLACE
	case plugin.DiffDelete:
		return pulumirpc.PropertyDiff_DELETE
	case plugin.DiffDeleteReplace:
		return pulumirpc.PropertyDiff_DELETE_REPLACE
	case plugin.DiffUpdateReplace:
		return pulumirpc.PropertyDiff_UPDATE_REPLACE
	}
	return pulumirpc.PropertyDiff_UPDATE
}

// --- running commands ---------------------------------------------------------------------

// run runs cmd for a resource of type t with inputs m; prev* are the previous run's outputs.
func (p *commandProvider) run(ctx context.Context, urn string, t string, m resource.PropertyMap,
	which string, prevStdout, prevStderr string,
) (stdout, stderr string, err error) {
	log := hostLog{p: p, urn: resource.URN(urn), ctx: ctx}
	if t == remoteCommand {
		in, fs := parseRemote(m)
		if err := fs.err(); err != nil {
			return "", "", err
		}
		cmd, secret := pick(in.commonInputs, which)
		if cmd == nil {
			return "", "", nil
		}
		return runRemote(runSpec{ctx: ctx, cmd: *cmd, cmdSecret: secret, in: in.commonInputs,
			prevStdout: prevStdout, prevStderr: prevStderr, log: log}, in)
	}
	in, fs := parseLocal(m)
	if err := fs.err(); err != nil {
		return "", "", err
	}
	cmd, secret := pick(in.commonInputs, which)
	if cmd == nil {
		return "", "", nil
	}
	return runLocal(runSpec{ctx: ctx, cmd: *cmd, cmdSecret: secret, in: in.commonInputs,
		prevStdout: prevStdout, prevStderr: prevStderr, log: log}, in)
}

// pick returns the command to run for an operation: "create", "update" (which falls back to
// create, as upstream), or "delete"; nil if there is none.
func pick(c commonInputs, which string) (*string, bool) {
	switch which {
	case "create":
		return c.Create, c.CreateSecret
	case "update":
		if c.Update != nil {
			return c.Update, c.UpdateSecret
		}
		return c.Create, c.CreateSecret
	case "delete":
		return c.Delete, c.DeleteSecret
	}
	return nil, false
}

// state is the inputs plus stdout and stderr: what upstream stores for a Command.
func state(inputs resource.PropertyMap, stdout, stderr resource.PropertyValue) resource.PropertyMap {
	out := inputs.Copy()
	for k := range out {
		if strings.HasPrefix(string(k), "__") {
			delete(out, k)
		}
	}
	out["stdout"] = stdout
	out["stderr"] = stderr
	return out
}

func unknown() resource.PropertyValue {
	return resource.MakeComputed(resource.NewStringProperty(""))
}

func (p *commandProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	t := typeOf(req.GetUrn(), req.GetType())
	if err := checkType(t); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	name := req.GetName()
	if name == "" {
		name = resource.URN(req.GetUrn()).Name()
	}
	id, err := resource.NewUniqueHex(name, 8, 0)
	if err != nil {
		return nil, err
	}
	hasCreate := false
	if v, ok := news["create"]; ok && !v.IsNull() {
		hasCreate = true
	}
	if req.GetPreview() {
		out := resource.NewStringProperty("")
		if hasCreate {
			out = unknown()
		}
		props, err := marshal(state(news, out, out))
		if err != nil {
			return nil, err
		}
		return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
	}
	ctx, cancel := p.opContext(ctx, req.GetTimeout())
	defer cancel()
	stdout, stderr, err := p.run(ctx, req.GetUrn(), t, news, "create", "", "")
	if err != nil {
		return nil, err
	}
	props, err := marshal(state(news, resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func (p *commandProvider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	t := typeOf(req.GetUrn(), req.GetType())
	if err := checkType(t); err != nil {
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
	prevStdout, prevStderr := prevOutputs(olds)
	keep := func(k string) resource.PropertyValue {
		if v, ok := olds[resource.PropertyKey(k)]; ok {
			return v
		}
		return resource.NewStringProperty("")
	}
	willRun := false
	for _, k := range []string{"update", "create"} {
		if v, ok := news[resource.PropertyKey(k)]; ok && !v.IsNull() {
			willRun = true
		}
	}
	if req.GetPreview() || !willRun {
		so, se := keep("stdout"), keep("stderr")
		if willRun {
			so, se = unknown(), unknown()
		}
		props, err := marshal(state(news, so, se))
		if err != nil {
			return nil, err
		}
		return &pulumirpc.UpdateResponse{Properties: props}, nil
	}
	ctx, cancel := p.opContext(ctx, req.GetTimeout())
	defer cancel()
	stdout, stderr, err := p.run(ctx, req.GetUrn(), t, news, "update", prevStdout, prevStderr)
	if err != nil {
		return nil, err
	}
	// stdout/stderr stay secret if they were (e.g. through additionalSecretOutputs).
	so, se := resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)
	if keep("stdout").IsSecret() {
		so = resource.MakeSecret(so)
	}
	if keep("stderr").IsSecret() {
		se = resource.MakeSecret(se)
	}
	props, err := marshal(state(news, so, se))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (p *commandProvider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	t := typeOf(req.GetUrn(), req.GetType())
	if err := checkType(t); err != nil {
		return nil, err
	}
	// As upstream: the state (inputs of the last create/update plus its outputs) says what
	// to run and where.
	olds, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	if v, ok := olds["delete"]; !ok || v.IsNull() {
		return &emptypb.Empty{}, nil
	}
	prevStdout, prevStderr := prevOutputs(olds)
	ctx, cancel := p.opContext(ctx, req.GetTimeout())
	defer cancel()
	if _, _, err := p.run(ctx, req.GetUrn(), t, olds, "delete", prevStdout, prevStderr); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// Read returns the state as it is: a command has nothing to read back (as upstream).
func (p *commandProvider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	t := typeOf(req.GetUrn(), req.GetType())
	if err := checkType(t); err != nil {
		return nil, err
	}
	inputs := req.GetInputs()
	if inputs == nil && req.GetProperties() != nil {
		// An import (`get`) has no inputs: take them from the state.
		props, err := unmarshal(req.GetProperties())
		if err != nil {
			return nil, err
		}
		in := resource.PropertyMap{}
		for _, k := range inputKeys[t] {
			if v, ok := props[resource.PropertyKey(k)]; ok {
				in[resource.PropertyKey(k)] = v
			}
		}
		if inputs, err = marshal(in); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: inputs}, nil
}

// --- command:local:run --------------------------------------------------------------------

func (p *commandProvider) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	if req.GetTok() != localRun {
		return nil, status.Errorf(codes.InvalidArgument,
			"unknown function %q: docker-overlay's command provider implements only %s (docs/command-provider.md)",
			req.GetTok(), localRun)
	}
	args, err := unmarshal(req.GetArgs())
	if err != nil {
		return nil, err
	}
	cmdV, ok := field{Map: args, Key: "command"}.Raw()
	if !ok || !cmdV.IsString() {
		return &pulumirpc.InvokeResponse{Failures: []*pulumirpc.CheckFailure{{Property: "command", Reason: "is required and must be a string"}}}, nil
	}
	in, fs := parseLocal(args)
	if len(fs) > 0 {
		resp := &pulumirpc.InvokeResponse{}
		for _, f := range fs {
			resp.Failures = append(resp.Failures, &pulumirpc.CheckFailure{Property: f.property, Reason: f.reason})
		}
		return resp, nil
	}
	cmd := cmdV.StringValue()
	octx, cancel := p.opContext(ctx, 0)
	defer cancel()
	stdout, stderr, err := runLocal(runSpec{ctx: octx, cmd: cmd, cmdSecret: isSecret(args, "command"),
		in: in.commonInputs, log: hostLog{p: p, ctx: octx}}, in)
	if err != nil {
		return nil, err
	}
	ret := unsecretMap(args)
	ret["stdout"] = resource.NewStringProperty(stdout)
	ret["stderr"] = resource.NewStringProperty(stderr)
	out, err := plugin.MarshalProperties(ret, plugin.MarshalOptions{Label: "command.run", SkipNulls: true})
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: out}, nil
}

// For messages that must name a type without a URN.
var _ = fmt.Sprintf
