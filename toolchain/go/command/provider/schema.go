package provider

import (
	"encoding/json"
)

// schemaJSON is a small Pulumi package schema of our own describing what this plugin
// implements (enough for `pulumi package get-schema`); it is not upstream's schema.
func schemaJSON(version string) string {
	str := map[string]any{"type": "string"}
	strSecret := map[string]any{"type": "string", "secret": true}
	num := func(desc string, def int) map[string]any {
		return map[string]any{"type": "integer", "description": desc, "default": def}
	}
	ref := func(r string) map[string]any { return map[string]any{"$ref": "#/types/" + r} }
	withDesc := func(m map[string]any, d string) map[string]any {
		out := map[string]any{"description": d}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	connProps := func(proxy bool) map[string]any {
		props := map[string]any{
			"host":               withDesc(str, "The address of the host to connect to."),
			"port":               withDesc(map[string]any{"type": "number", "default": defaultPort}, "The SSH port. Defaults to 22."),
			"user":               withDesc(map[string]any{"type": "string", "default": defaultUser}, "The user to log in as. Defaults to root."),
			"password":           withDesc(strSecret, "The password for password or keyboard-interactive authentication."),
			"privateKey":         withDesc(strSecret, "The private key (OpenSSH or PEM) to authenticate with."),
			"privateKeyPassword": withDesc(strSecret, "The passphrase of an encrypted privateKey."),
			"agentSocketPath":    withDesc(str, "The SSH agent socket; defaults to SSH_AUTH_SOCK when set."),
			"dialErrorLimit":     num("Failed dial attempts allowed before giving up; -1 means no limit. Defaults to 10.", defaultDialErrorLimit),
			"perDialTimeout":     num("Seconds for each dial attempt (TCP connect and SSH handshake); 0 means no limit. Defaults to 15.", defaultPerDialTimeout),
			"hostKey":            withDesc(str, "The host's public key in authorized_keys format; when set, any other key is refused. When not set, any host key is accepted."),
		}
		if proxy {
			props["proxy"] = withDesc(ref("command:remote:ProxyConnection"), "A bastion host to connect through.")
		}
		return props
	}
	loggingEnum := func(tok string) map[string]any {
		return map[string]any{
			"type":        "string",
			"description": "Which of the command's output streams are logged to the engine.",
			"enum": []map[string]any{
				{"name": "Stdout", "value": logStdout, "description": "Capture stdout in logs but not stderr"},
				{"name": "Stderr", "value": logStderr, "description": "Capture stderr in logs but not stdout"},
				{"name": "StdoutAndStderr", "value": logStdoutAndStderr, "description": "Capture stdout and stderr in logs"},
				{"name": "None", "value": logNone, "description": "Capture no logs"},
			},
		}
	}
	common := func(ns string) map[string]any {
		return map[string]any{
			"create":                 withDesc(str, "The command to run on creation (and on update when there is no update command)."),
			"update":                 withDesc(str, "The command to run when inputs other than triggers change; defaults to create."),
			"delete":                 withDesc(str, "The command to run on deletion, with the inputs of the last create or update."),
			"triggers":               map[string]any{"type": "array", "items": map[string]any{"$ref": "pulumi.json#/Any"}, "replaceOnChanges": true, "description": "Changing any of these values replaces the resource."},
			"stdin":                  withDesc(str, "Passed to the command's standard input."),
			"environment":            map[string]any{"type": "object", "additionalProperties": str, "description": "Additional environment variables for the command."},
			"logging":                withDesc(ref("command:"+ns+":Logging"), "Which output streams are logged. Defaults to stdoutAndStderr."),
			"addPreviousOutputInEnv": map[string]any{"type": "boolean", "description": "Whether PULUMI_COMMAND_STDOUT and PULUMI_COMMAND_STDERR hold the previous run's output. Defaults to true."},
		}
	}
	merge := func(ms ...map[string]any) map[string]any {
		out := map[string]any{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	outputs := map[string]any{
		"stdout": withDesc(str, "The command's standard output, without its trailing newline."),
		"stderr": withDesc(str, "The command's standard error, without its trailing newline."),
	}
	remoteIn := merge(common("remote"), map[string]any{
		"connection": map[string]any{"$ref": "#/types/command:remote:Connection", "secret": true, "description": "How to reach the host."},
	})
	localIn := merge(common("local"), map[string]any{
		"dir":         withDesc(str, "The directory to run the command in; defaults to the program's directory."),
		"interpreter": map[string]any{"type": "array", "items": str, "description": "The program and arguments that run the command; defaults to [\"/bin/sh\", \"-c\"]."},
	})
	localRunIn := merge(localIn, map[string]any{"command": withDesc(str, "The command to run.")})
	delete(localRunIn, "create")
	delete(localRunIn, "update")
	delete(localRunIn, "delete")
	delete(localRunIn, "triggers")
	spec := map[string]any{
		"name":        Name,
		"displayName": "Command",
		"version":     version,
		"description": "docker-overlay's own implementation of the command provider's local and remote Command resources (wire-compatible with @pulumi/command " + version + "; see docs/command-provider.md).",
		"keywords":    []string{"pulumi", "command", "category/utility", "kind/native"},
		"license":     "Apache-2.0",
		"meta":        map[string]any{"moduleFormat": "(.*)"},
		"config":      map[string]any{},
		"provider":    map[string]any{"description": "The provider type for the command package."},
		"types": map[string]any{
			"command:remote:Connection":      map[string]any{"type": "object", "description": "Instructions for how to connect to a remote endpoint.", "properties": connProps(true), "required": []string{"host"}},
			"command:remote:ProxyConnection": map[string]any{"type": "object", "description": "Instructions for how to connect to a bastion host.", "properties": connProps(false), "required": []string{"host"}},
			"command:remote:Logging":         loggingEnum("remote"),
			"command:local:Logging":          loggingEnum("local"),
		},
		"resources": map[string]any{
			remoteCommand: map[string]any{
				"description":     "Runs commands on a host over SSH on create, update and delete.",
				"inputProperties": remoteIn,
				"requiredInputs":  []string{"connection"},
				"properties":      merge(remoteIn, outputs),
				"required":        []string{"connection", "stdout", "stderr"},
			},
			localCommand: map[string]any{
				"description":     "Runs commands on the machine that runs Pulumi on create, update and delete.",
				"inputProperties": localIn,
				"properties":      merge(localIn, outputs),
				"required":        []string{"stdout", "stderr"},
			},
		},
		"functions": map[string]any{
			localRun: map[string]any{
				"description": "Runs a command on the machine that runs Pulumi, on every run of the program.",
				"inputs":      map[string]any{"properties": localRunIn, "required": []string{"command"}, "type": "object"},
				"outputs": map[string]any{
					"properties": merge(localRunIn, outputs),
					"required":   []string{"command", "stdout", "stderr"},
					"type":       "object",
				},
			},
		},
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b)
}
