package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// providerConfig is the provider's configuration, as @pulumi/consul 3.15.1's Provider sends it
// (camelCase keys; booleans arrive JSON-encoded as strings, e.g. insecureHttps: "true").
type providerConfig struct {
	Address, Scheme, Datacenter, Token, HTTPAuth, Namespace   string
	CAFile, CAPath, CAPem, CertFile, CertPem, KeyFile, KeyPem string
	InsecureHTTPS                                             bool
	Headers                                                   [][2]string
}

// unsupportedConfig are Provider inputs this plugin refuses when set, rather than ignoring
// something that changes how it authenticates.
var unsupportedConfig = []string{"authJwt", "authLoginAws"}

// configValue returns config key k as a plain string: from the Provider resource's inputs
// (args) or, for the default provider, the stack config (variables "consul:config:<k>").
// ok is false when absent; unknown is true when not known yet (previews).
func configValue(args resource.PropertyMap, vars map[string]string, k string) (s string, ok, unknown bool, err error) {
	if args != nil {
		v, present := args[resource.PropertyKey(k)]
		if !present {
			return "", false, false, nil
		}
		v, _ = shallow(v)
		switch {
		case v.IsNull():
			return "", false, false, nil
		case containsUnknowns(v):
			return "", false, true, nil
		case v.IsString():
			return v.StringValue(), true, false, nil
		case v.IsBool():
			return strconv.FormatBool(v.BoolValue()), true, false, nil
		case v.IsNumber():
			return strconv.FormatFloat(v.NumberValue(), 'f', -1, 64), true, false, nil
		case v.IsArray() || v.IsObject():
			b, jerr := json.Marshal(unsecret(v).Mappable())
			if jerr != nil {
				return "", false, false, fmt.Errorf("%s: %v", k, jerr)
			}
			return string(b), true, false, nil
		}
		return "", false, false, fmt.Errorf("%s must be a string, got %s", k, kind(v))
	}
	s, ok = vars["consul:config:"+k]
	return s, ok, false, nil
}

// parseConfig reads the provider configuration. unknown lists keys not known yet.
func parseConfig(args resource.PropertyMap, vars map[string]string) (providerConfig, []string, failures) {
	var c providerConfig
	var fs failures
	var unknown []string
	get := func(k string) string {
		s, _, unk, err := configValue(args, vars, k)
		fs.add(k, err)
		if unk {
			unknown = append(unknown, k)
		}
		return s
	}
	c.Address = get("address")
	c.Scheme = get("scheme")
	c.Datacenter = get("datacenter")
	c.Token = get("token")
	c.HTTPAuth = get("httpAuth")
	c.Namespace = get("namespace")
	c.CAFile, c.CAPath, c.CAPem = get("caFile"), get("caPath"), get("caPem")
	c.CertFile, c.CertPem = get("certFile"), get("certPem")
	c.KeyFile, c.KeyPem = get("keyFile"), get("keyPem")
	if s := get("insecureHttps"); s != "" && s != "null" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			fs.add("insecureHttps", fmt.Errorf("must be true or false, got %q", s))
		}
		c.InsecureHTTPS = b
	}
	if c.Scheme != "" && c.Scheme != "http" && c.Scheme != "https" {
		fs.add("scheme", fmt.Errorf("must be http or https, got %q", c.Scheme))
	}
	if c.InsecureHTTPS && c.Scheme != "https" {
		fs.add("insecureHttps", errors.New("is meant to be used when scheme is https"))
	}
	// headers: the SDK sends a (secret) JSON list of {name, value}.
	if s := get("headers"); s != "" && s != "null" {
		var hs []struct{ Name, Value string }
		if err := json.Unmarshal([]byte(s), &hs); err != nil {
			fs.add("headers", errors.New("must be a list of {name, value}"))
		}
		for _, h := range hs {
			c.Headers = append(c.Headers, [2]string{h.Name, h.Value})
		}
	}
	for _, k := range unsupportedConfig {
		if s := get(k); s != "" && s != "null" {
			fs.add(k, fmt.Errorf("is not supported by docker-overlay's consul provider (docs/consul-provider.md); use token"))
		}
	}
	return c, unknown, fs
}

// consulClient is a configured Consul API client plus what messages need to name it.
type consulClient struct {
	api        *consulapi.Client
	endpoint   string // scheme://address, for messages (never holds credentials)
	datacenter string // provider-level datacenter ("" = ask the agent)
	token      string
	namespace  string
}

// newClient builds the Consul API client from the configuration. Nothing is sent to Consul.
func newClient(c providerConfig) (*consulClient, error) {
	cfg := consulapi.DefaultConfig() // honours CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, ... as upstream
	if c.Address != "" {
		cfg.Address = c.Address
	}
	if c.Scheme != "" {
		cfg.Scheme = c.Scheme
	}
	if c.Datacenter != "" {
		cfg.Datacenter = c.Datacenter
	}
	if c.Token != "" {
		cfg.Token = c.Token
	}
	if c.Namespace != "" {
		cfg.Namespace = c.Namespace
	}
	if c.HTTPAuth != "" {
		user, pass, _ := strings.Cut(c.HTTPAuth, ":")
		cfg.HttpAuth = &consulapi.HttpBasicAuth{Username: user, Password: pass}
	}
	cfg.TLSConfig.CAFile = c.CAFile
	cfg.TLSConfig.CAPath = c.CAPath
	cfg.TLSConfig.CAPem = []byte(c.CAPem)
	cfg.TLSConfig.CertFile = c.CertFile
	cfg.TLSConfig.CertPEM = []byte(c.CertPem)
	cfg.TLSConfig.KeyFile = c.KeyFile
	cfg.TLSConfig.KeyPEM = []byte(c.KeyPem)
	cfg.TLSConfig.InsecureSkipVerify = c.InsecureHTTPS
	// Bounded waits, so an unreachable Consul fails the operation instead of hanging it.
	if cfg.Transport != nil {
		cfg.Transport.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		cfg.Transport.ResponseHeaderTimeout = 60 * time.Second
		cfg.Transport.TLSHandshakeTimeout = 10 * time.Second
	}
	endpoint := cfg.Scheme + "://" + cfg.Address
	if strings.HasPrefix(cfg.Address, "unix://") {
		endpoint = cfg.Address
	}
	api, err := consulapi.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("configuring the Consul client for %s: %v", endpoint, err)
	}
	if len(c.Headers) > 0 {
		h := api.Headers()
		if h == nil {
			h = http.Header{}
		}
		for _, kv := range c.Headers {
			h.Add(kv[0], kv[1])
		}
		api.SetHeaders(h)
	}
	return &consulClient{api: api, endpoint: endpoint, datacenter: cfg.Datacenter, token: cfg.Token, namespace: cfg.Namespace}, nil
}

// scope is where one resource operation acts: datacenter, token, namespace, partition.
type scope struct {
	c          *consulClient
	ctx        context.Context
	datacenter string
	token      string
	namespace  string
	partition  string
}

func (s scope) q() *consulapi.QueryOptions {
	q := &consulapi.QueryOptions{Datacenter: s.datacenter, Token: s.token, Namespace: s.namespace, Partition: s.partition}
	return q.WithContext(s.ctx)
}

func (s scope) w() *consulapi.WriteOptions {
	w := &consulapi.WriteOptions{Datacenter: s.datacenter, Token: s.token, Namespace: s.namespace, Partition: s.partition}
	return w.WithContext(s.ctx)
}

// newScope resolves a resource's datacenter as upstream: the resource's own, else the
// provider's, else the agent's (GET /v1/agent/self). A resource-level token overrides the
// provider's.
func (c *consulClient) newScope(ctx context.Context, m resource.PropertyMap) (scope, error) {
	s := scope{c: c, ctx: ctx, datacenter: c.datacenter, token: c.token, namespace: c.namespace}
	if v := str(m, "datacenter"); v != "" {
		s.datacenter = v
	}
	if v := str(m, "token"); v != "" {
		s.token = v
	}
	if v := str(m, "namespace"); v != "" {
		s.namespace = v
	}
	s.partition = str(m, "partition")
	if s.datacenter == "" {
		self, err := c.api.Agent().Self()
		if err != nil {
			var se consulapi.StatusError
			if !errors.As(err, &se) {
				return s, c.unreachable(err)
			}
			// As upstream: an agent that does not answer (e.g. ACLs) leaves the datacenter
			// to Consul's default.
		} else if cfg, ok := self["Config"]; ok {
			if dc, ok := cfg["Datacenter"].(string); ok {
				s.datacenter = dc
			}
		}
	}
	return s, nil
}

// unreachable wraps a transport error (no HTTP answer) in a clear message.
func (c *consulClient) unreachable(err error) error {
	return fmt.Errorf("cannot reach Consul at %s: %v", c.endpoint, scrubURL(err))
}

// fail describes a failed Consul call: what was being done, where, and Consul's answer.
func (s scope) fail(what string, err error) error {
	var se consulapi.StatusError
	if errors.As(err, &se) {
		dc := ""
		if s.datacenter != "" {
			dc = " (datacenter " + s.datacenter + ")"
		}
		return fmt.Errorf("%s: Consul at %s%s answered HTTP %d: %s", what, s.c.endpoint, dc, se.Code, se.Body)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: request to Consul at %s cancelled or timed out: %v", what, s.c.endpoint, err)
	}
	return fmt.Errorf("%s: %v", what, s.c.unreachable(err))
}

// scrubURL drops the query of a *url.Error's URL (it can carry the datacenter and such, never
// the token, which goes in a header) and keeps the rest.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %v", ue.Op, strings.SplitN(ue.URL, "?", 2)[0], ue.Err)
	}
	return err
}

// str returns property k as a string ("" when absent, null, unknown or not a string).
func str(m resource.PropertyMap, k string) string {
	v, ok := field{Map: m, Key: k}.Raw()
	if !ok || !v.IsString() {
		return ""
	}
	return v.StringValue()
}
