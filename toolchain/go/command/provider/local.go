package provider

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// runLocal runs spec.cmd on this machine as upstream's local.Command does: through the
// interpreter (default /bin/sh -c), in dir (default the plugin's working directory, which
// the engine sets to the program's directory), with the plugin's environment plus
// `environment` plus PULUMI_COMMAND_STDOUT/STDERR of the previous run.
func runLocal(spec runSpec, in localInputs) (string, string, error) {
	args := []string{"/bin/sh", "-c"}
	if len(in.Interpreter) > 0 {
		args = append([]string(nil), in.Interpreter...)
	}
	args = append(args, spec.cmd)
	cmd := exec.CommandContext(spec.ctx, args[0], args[1:]...)
	if in.Dir != nil {
		cmd.Dir = *in.Dir
	} else {
		wd, err := os.Getwd()
		if err != nil {
			return "", "", err
		}
		cmd.Dir = wd
	}
	cmd.Env = os.Environ()
	for _, kv := range in.Environment {
		cmd.Env = append(cmd.Env, kv[0]+"="+kv[1])
	}
	if in.AddPreviousOutputInEnv {
		if spec.prevStdout != "" {
			cmd.Env = append(cmd.Env, envPrevStdout+"="+spec.prevStdout)
		}
		if spec.prevStderr != "" {
			cmd.Env = append(cmd.Env, envPrevStderr+"="+spec.prevStderr)
		}
	}
	if in.Stdin != nil && *in.Stdin != "" {
		cmd.Stdin = strings.NewReader(*in.Stdin)
	}
	out := newOutput(spec.log, in.Logging, newScrubber(in.Secrets))
	cmd.Stdout = out.stdoutWriter()
	cmd.Stderr = out.stderrWriter()
	err := cmd.Run()
	stdout, stderr := out.finish()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if spec.ctx.Err() != nil {
				return "", "", fmt.Errorf("%s (%v)", out.failed(exit.Error(), spec.cmd, spec.cmdSecret, in.Logging), spec.ctx.Err())
			}
			return "", "", out.failed(exit.Error(), spec.cmd, spec.cmdSecret, in.Logging)
		}
		// The interpreter could not be started (missing program, bad dir, ...).
		return "", "", out.failed(newScrubber(in.Secrets).clean(err.Error()), spec.cmd, spec.cmdSecret, in.Logging)
	}
	return stdout, stderr, nil
}
