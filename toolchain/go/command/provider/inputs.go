package provider

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Resource type tokens, as @pulumi/command 1.2.1 registers them.
const (
	localCommand  = "command:local:Command"
	remoteCommand = "command:remote:Command"
	localRun      = "command:local:run"
)

// Logging modes (the Logging enum of @pulumi/command).
const (
	logStdout          = "stdout"
	logStderr          = "stderr"
	logStdoutAndStderr = "stdoutAndStderr"
	logNone            = "none"
)

// Connection defaults, as the SDK's connectionArgsProvideDefaults and upstream's schema.
const (
	defaultPort           = 22
	defaultUser           = "root"
	defaultDialErrorLimit = 10
	defaultPerDialTimeout = 15
)

// commonInputs are the inputs both Command types share.
type commonInputs struct {
	Create, Update, Delete *string
	// Which of the three commands are secrets (so their text never appears in an error).
	CreateSecret, UpdateSecret, DeleteSecret bool
	Stdin                                    *string
	Environment                              [][2]string
	Logging                                  string
	AddPreviousOutputInEnv                   bool
	// Strings from secret inputs, kept out of logs and errors.
	Secrets map[string]bool
}

type localInputs struct {
	commonInputs
	Dir         *string
	Interpreter []string
}

type connection struct {
	Host, User                                string
	Port                                      int
	Password, PrivateKey, PrivateKeyPassword *string
	AgentSocketPath, HostKey                  *string
	DialErrorLimit, PerDialTimeout            int
	Proxy                                     *connection
}

type remoteInputs struct {
	commonInputs
	Conn *connection
}

// failure is one problem with an input, for CheckFailure.
type failure struct{ property, reason string }

type failures []failure

func (fs *failures) add(property string, err error) {
	if err != nil {
		*fs = append(*fs, failure{property, err.Error()})
	}
}

func (fs failures) err() error {
	if len(fs) == 0 {
		return nil
	}
	msg := "invalid inputs:"
	for _, f := range fs {
		msg += fmt.Sprintf("\n  %s: %s", f.property, f.reason)
	}
	return fmt.Errorf("%s", msg)
}

func isSecret(m resource.PropertyMap, key string) bool {
	v, ok := m[resource.PropertyKey(key)]
	return ok && v.IsSecret()
}

func parseCommon(m resource.PropertyMap, fs *failures) commonInputs {
	var c commonInputs
	var err error
	c.Create, err = field{Map: m, Key: "create"}.Str("create")
	fs.add("create", err)
	c.Update, err = field{Map: m, Key: "update"}.Str("update")
	fs.add("update", err)
	c.Delete, err = field{Map: m, Key: "delete"}.Str("delete")
	fs.add("delete", err)
	c.CreateSecret, c.UpdateSecret, c.DeleteSecret = isSecret(m, "create"), isSecret(m, "update"), isSecret(m, "delete")
	c.Stdin, err = field{Map: m, Key: "stdin"}.Str("stdin")
	fs.add("stdin", err)
	c.Environment, err = field{Map: m, Key: "environment"}.StringMap("environment")
	fs.add("environment", err)
	lg, err := field{Map: m, Key: "logging"}.Str("logging")
	fs.add("logging", err)
	c.Logging = logStdoutAndStderr
	if lg != nil {
		switch *lg {
		case logStdout, logStderr, logStdoutAndStderr, logNone:
			c.Logging = *lg
		default:
			fs.add("logging", fmt.Errorf("must be one of stdout, stderr, stdoutAndStderr, none; got %q", *lg))
		}
	}
	add, err := field{Map: m, Key: "addPreviousOutputInEnv"}.Bool("addPreviousOutputInEnv")
	fs.add("addPreviousOutputInEnv", err)
	c.AddPreviousOutputInEnv = add == nil || *add
	if v, ok := m["triggers"]; ok && !v.IsNull() {
		if inner, _ := shallow(v); !inner.IsArray() && !inner.IsComputed() {
			fs.add("triggers", fmt.Errorf("must be a list, got %s", kind(inner)))
		}
	}
	c.Secrets = map[string]bool{}
	for k, v := range m {
		if k == "connection" {
			continue // host, user and port are not secret in spirit; see connectionSecrets
		}
		secretStrings(v, false, c.Secrets)
	}
	return c
}

func parseLocal(m resource.PropertyMap) (localInputs, failures) {
	var fs failures
	in := localInputs{commonInputs: parseCommon(m, &fs)}
	var err error
	in.Dir, err = field{Map: m, Key: "dir"}.Str("dir")
	fs.add("dir", err)
	in.Interpreter, err = field{Map: m, Key: "interpreter"}.Strings("interpreter")
	fs.add("interpreter", err)
	for _, k := range []string{"assetPaths", "archivePaths"} {
		if v, ok := (field{Map: m, Key: k}).Raw(); ok && !(v.IsArray() && len(v.ArrayValue()) == 0) {
			fs.add(k, fmt.Errorf("not supported by docker-overlay's command provider (docs/command-provider.md); remove it"))
		}
	}
	return in, fs
}

func parseConnection(m resource.PropertyMap, path string, fs *failures, proxyAllowed bool) *connection {
	c := &connection{Port: defaultPort, User: defaultUser, DialErrorLimit: defaultDialErrorLimit, PerDialTimeout: defaultPerDialTimeout}
	host, err := field{Map: m, Key: "host"}.Str(path + ".host")
	fs.add(path+".host", err)
	if host == nil || *host == "" {
		if err == nil && !(field{Map: m, Key: "host"}).Unknown() {
			fs.add(path+".host", fmt.Errorf("is required"))
		}
	} else {
		c.Host = *host
	}
	if user, err := (field{Map: m, Key: "user"}).Str(path + ".user"); err != nil {
		fs.add(path+".user", err)
	} else if user != nil {
		c.User = *user
	}
	if port, err := (field{Map: m, Key: "port"}).Num(path + ".port"); err != nil {
		fs.add(path+".port", err)
	} else if port != nil {
		if *port < 1 || *port > 65535 {
			fs.add(path+".port", fmt.Errorf("must be between 1 and 65535, got %d", *port))
		}
		c.Port = *port
	}
	if n, err := (field{Map: m, Key: "dialErrorLimit"}).Num(path + ".dialErrorLimit"); err != nil {
		fs.add(path+".dialErrorLimit", err)
	} else if n != nil {
		if *n < -1 {
			fs.add(path+".dialErrorLimit", fmt.Errorf("must be -1 (unlimited) or more, got %d", *n))
		}
		c.DialErrorLimit = *n
	}
	if n, err := (field{Map: m, Key: "perDialTimeout"}).Num(path + ".perDialTimeout"); err != nil {
		fs.add(path+".perDialTimeout", err)
	} else if n != nil {
		if *n < 0 {
			fs.add(path+".perDialTimeout", fmt.Errorf("must be 0 (no limit) or more seconds, got %d", *n))
		}
		c.PerDialTimeout = *n
	}
	for _, p := range []struct {
		key string
		dst **string
	}{
		{"password", &c.Password}, {"privateKey", &c.PrivateKey}, {"privateKeyPassword", &c.PrivateKeyPassword},
		{"agentSocketPath", &c.AgentSocketPath}, {"hostKey", &c.HostKey},
	} {
		s, err := field{Map: m, Key: p.key}.Str(path + "." + p.key)
		fs.add(path+"."+p.key, err)
		*p.dst = s
	}
	proxy, err := field{Map: m, Key: "proxy"}.Object(path + ".proxy")
	fs.add(path+".proxy", err)
	if proxy != nil {
		if !proxyAllowed {
			fs.add(path+".proxy", fmt.Errorf("a proxy connection cannot have a proxy of its own"))
		} else {
			c.Proxy = parseConnection(proxy, path+".proxy", fs, false)
		}
	}
	return c
}

func parseRemote(m resource.PropertyMap) (remoteInputs, failures) {
	var fs failures
	in := remoteInputs{commonInputs: parseCommon(m, &fs)}
	conn, err := field{Map: m, Key: "connection"}.Object("connection")
	fs.add("connection", err)
	if conn == nil && err == nil && !(field{Map: m, Key: "connection"}).Unknown() {
		fs.add("connection", fmt.Errorf("is required"))
	}
	if conn != nil {
		in.Conn = parseConnection(conn, "connection", &fs, true)
		connectionSecrets(in.Conn, in.Secrets)
	}
	return in, fs
}

// connectionSecrets adds the connection's credentials to the strings kept out of logs.
func connectionSecrets(c *connection, out map[string]bool) {
	for c != nil {
		for _, s := range []*string{c.Password, c.PrivateKey, c.PrivateKeyPassword} {
			if s != nil {
				out[*s] = true
			}
		}
		c = c.Proxy
	}
}

// withConnectionDefaults returns the connection input with the defaults of
// connectionArgsProvideDefaults filled in (port 22, user root, dialErrorLimit 10,
// perDialTimeout 15, also inside proxy), keeping secret wrappers and unknowns as they are.
func withConnectionDefaults(v resource.PropertyValue, proxyAllowed bool) resource.PropertyValue {
	inner, secret := shallow(v)
	if !inner.IsObject() {
		return v
	}
	m := inner.ObjectValue().Copy()
	def := func(k string, d resource.PropertyValue) {
		if cur, ok := m[resource.PropertyKey(k)]; !ok || cur.IsNull() {
			m[resource.PropertyKey(k)] = d
		}
	}
	def("port", resource.NewNumberProperty(defaultPort))
	def("user", resource.NewStringProperty(defaultUser))
	def("dialErrorLimit", resource.NewNumberProperty(defaultDialErrorLimit))
	def("perDialTimeout", resource.NewNumberProperty(defaultPerDialTimeout))
	if p, ok := m["proxy"]; ok && proxyAllowed && !p.IsNull() {
		m["proxy"] = withConnectionDefaults(p, false)
	}
	out := resource.NewObjectProperty(m)
	if secret {
		out = resource.MakeSecret(out)
	}
	return out
}
