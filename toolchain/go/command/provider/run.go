package provider

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Environment variables that carry the previous run's output (upstream's names).
const (
	envPrevStdout = "PULUMI_COMMAND_STDOUT"
	envPrevStderr = "PULUMI_COMMAND_STDERR"
)

// engineLog sends messages about one resource to the engine.
type engineLog interface {
	// status sends an ephemeral info message (upstream's InfoStatus: shown while the
	// resource is being worked on, kept in the event log).
	status(msg string)
	warn(msg string)
}

// scrubber hides secret input strings in text meant for logs and errors.
type scrubber struct{ secrets []string }

func newScrubber(secrets map[string]bool) scrubber {
	var s scrubber
	for k := range secrets {
		// Very short strings would mangle ordinary output and hide nothing of value.
		if len(strings.TrimSpace(k)) >= 4 {
			s.secrets = append(s.secrets, k)
			// Multi-line secrets (keys, scripts) are also hidden line by line, since the
			// output is logged line by line.
			for _, line := range strings.Split(k, "\n") {
				if len(strings.TrimSpace(line)) >= 8 {
					s.secrets = append(s.secrets, line)
				}
			}
		}
	}
	// Longest first, so a secret that contains another is replaced whole.
	sort.Slice(s.secrets, func(i, j int) bool { return len(s.secrets[i]) > len(s.secrets[j]) })
	return s
}

func (s scrubber) clean(text string) string {
	for _, secret := range s.secrets {
		text = strings.ReplaceAll(text, secret, "[secret]")
	}
	return text
}

// output captures a command's stdout and stderr, and streams the lines that `logging`
// selects to the engine, as they come.
type output struct {
	mu             sync.Mutex
	stdout, stderr bytes.Buffer
	combined       bytes.Buffer // both streams interleaved, for the error message
	log            engineLog
	scrub          scrubber
	logStdout      bool
	logStderr      bool
	partial        [2]bytes.Buffer // unfinished line of each stream
}

func newOutput(log engineLog, logging string, scrub scrubber) *output {
	return &output{
		log:       log,
		scrub:     scrub,
		logStdout: logging == logStdout || logging == logStdoutAndStderr,
		logStderr: logging == logStderr || logging == logStdoutAndStderr,
	}
}

type stream struct {
	o   *output
	idx int
}

func (s stream) Write(p []byte) (int, error) {
	o := s.o
	o.mu.Lock()
	defer o.mu.Unlock()
	if s.idx == 0 {
		o.stdout.Write(p)
	} else {
		o.stderr.Write(p)
	}
	o.combined.Write(p)
	if (s.idx == 0 && o.logStdout) || (s.idx == 1 && o.logStderr) {
		buf := &o.partial[s.idx]
		buf.Write(p)
		for {
			line, err := buf.ReadString('\n')
			if err != nil { // no newline yet: keep the rest for later
				rest := line
				buf.Reset()
				buf.WriteString(rest)
				break
			}
			o.emit(strings.TrimSuffix(line, "\n"))
		}
	}
	return len(p), nil
}

func (o *output) emit(line string) {
	if o.log != nil {
		o.log.status(o.scrub.clean(strings.TrimSuffix(line, "\r")))
	}
}

func (o *output) stdoutWriter() stream { return stream{o, 0} }
func (o *output) stderrWriter() stream { return stream{o, 1} }

// finish flushes unfinished lines to the log and returns stdout and stderr without their
// trailing newline (as upstream).
func (o *output) finish() (string, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.partial {
		if o.partial[i].Len() > 0 {
			o.emit(o.partial[i].String())
			o.partial[i].Reset()
		}
	}
	return strings.TrimSuffix(o.stdout.String(), "\n"), strings.TrimSuffix(o.stderr.String(), "\n")
}

// failed builds the error for a command that did not succeed: the exit status, the command
// and, unless logging is "none", its output (as upstream: "<status>: running "<cmd>":\n<out>").
// Secret inputs are hidden; a secret command is not shown at all.
func (o *output) failed(status string, cmd string, cmdSecret bool, logging string) error {
	shown := fmt.Sprintf("%q", shorten(o.scrub.clean(cmd)))
	if cmdSecret {
		shown = "[secret command]"
	}
	if logging == logNone {
		return fmt.Errorf("%s: running %s (output not shown: logging is \"none\")", status, shown)
	}
	o.mu.Lock()
	out := o.combined.String()
	o.mu.Unlock()
	return fmt.Errorf("%s: running %s:\n%s", status, shown, o.scrub.clean(out))
}

// maxShownCommand is how much of a command an error shows: a long command (e.g. a whole script
// sent as base64) would bury the command's own output, which is what says what went wrong.
const maxShownCommand = 160

// shorten cuts a long command for display, saying how long it was.
func shorten(cmd string) string {
	if len(cmd) <= maxShownCommand {
		return cmd
	}
	return fmt.Sprintf("%s... (%d characters)", cmd[:maxShownCommand], len(cmd))
}

// prevOutputs returns the stdout and stderr stored in a state (empty when absent).
func prevOutputs(state resource.PropertyMap) (string, string) {
	get := func(k string) string {
		if state == nil {
			return ""
		}
		v, ok := field{Map: state, Key: k}.Raw()
		if ok && v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	return get("stdout"), get("stderr")
}

// runSpec is one command to run for a resource.
type runSpec struct {
	ctx        context.Context
	cmd        string
	cmdSecret  bool
	in         commonInputs
	prevStdout string
	prevStderr string
	log        engineLog
}

// hostLog logs through the engine's host client for one resource.
type hostLog struct {
	p   *commandProvider
	urn resource.URN
	ctx context.Context
}

func (h hostLog) status(msg string) {
	if h.p.host != nil {
		_ = h.p.host.LogStatus(h.ctx, diag.Info, h.urn, msg)
	}
}

func (h hostLog) warn(msg string) {
	if h.p.host != nil {
		_ = h.p.host.Log(h.ctx, diag.Warning, h.urn, msg)
	}
}
