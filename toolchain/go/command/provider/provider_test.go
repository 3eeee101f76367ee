package provider

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

func mustMarshal(t *testing.T, m resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func diff(t *testing.T, olds, news resource.PropertyMap) *pulumirpc.DiffResponse {
	t.Helper()
	p := New(nil, "1.2.1")
	resp, err := p.Diff(context.Background(), &pulumirpc.DiffRequest{
		Urn:       "urn:pulumi:s::p::command:local:Command::c",
		Type:      localCommand,
		Olds:      mustMarshal(t, olds),
		OldInputs: mustMarshal(t, olds),
		News:      mustMarshal(t, news),
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestDiffTriggersReplaceOtherInputsUpdate(t *testing.T) {
	base := resource.NewPropertyMapFromMap(map[string]any{"create": "a", "triggers": []any{"x"}})

	same := diff(t, base, base.Copy())
	if same.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("no change: got %v", same.Changes)
	}

	trig := base.Copy()
	trig["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("y")})
	d := diff(t, base, trig)
	if d.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(d.Replaces) != 1 || d.Replaces[0] != "triggers" {
		t.Fatalf("triggers: want a replace, got %v replaces=%v", d.Changes, d.Replaces)
	}

	create := base.Copy()
	create["create"] = resource.NewStringProperty("b")
	d = diff(t, base, create)
	if d.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(d.Replaces) != 0 {
		t.Fatalf("create: want an update, got %v replaces=%v", d.Changes, d.Replaces)
	}
	if k := d.DetailedDiff["create"].GetKind(); k != pulumirpc.PropertyDiff_UPDATE {
		t.Fatalf("create: detailed diff kind %v", k)
	}

	// Only the secretness changed: not a change.
	secret := base.Copy()
	secret["create"] = resource.MakeSecret(resource.NewStringProperty("a"))
	if d := diff(t, base, secret); d.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("secretness only: got %v %v", d.Changes, d.Diffs)
	}

	// An unknown value is a change.
	unk := base.Copy()
	unk["create"] = resource.MakeComputed(resource.NewStringProperty(""))
	if d := diff(t, base, unk); d.Changes != pulumirpc.DiffResponse_DIFF_SOME {
		t.Fatalf("unknown: got %v", d.Changes)
	}
}

func TestCheckAppliesConnectionDefaultsAndSecret(t *testing.T) {
	p := New(nil, "1.2.1")
	news := resource.NewPropertyMapFromMap(map[string]any{
		"connection": map[string]any{"host": "10.0.0.1", "proxy": map[string]any{"host": "10.0.0.2"}},
		"create":     "true",
		"logging":    "loud",
	})
	resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{
		Urn: "urn:pulumi:s::p::command:remote:Command::c", Type: remoteCommand, News: mustMarshal(t, news),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Failures) != 1 || resp.Failures[0].Property != "logging" {
		t.Fatalf("want one failure for logging, got %v", resp.Failures)
	}
	got, err := unmarshal(resp.Inputs)
	if err != nil {
		t.Fatal(err)
	}
	conn := got["connection"]
	if !conn.IsSecret() {
		t.Fatalf("connection is not secret: %v", conn)
	}
	c := conn.SecretValue().Element.ObjectValue()
	if c["port"].NumberValue() != 22 || c["user"].StringValue() != "root" ||
		c["dialErrorLimit"].NumberValue() != 10 || c["perDialTimeout"].NumberValue() != 15 {
		t.Fatalf("defaults not applied: %v", c)
	}
	if c["proxy"].ObjectValue()["port"].NumberValue() != 22 {
		t.Fatalf("proxy defaults not applied: %v", c["proxy"])
	}
}

func TestOutputScrubsSecretsAndHonoursLoggingNone(t *testing.T) {
	var lines []string
	log := logFunc(func(s string) { lines = append(lines, s) })
	o := newOutput(log, logStdoutAndStderr, newScrubber(map[string]bool{"hunter22": true, "ab": true}))
	_, _ = o.stdoutWriter().Write([]byte("pw=hunter22\npart"))
	_, _ = o.stderrWriter().Write([]byte("ab err\n"))
	stdout, stderr := o.finish()
	if stdout != "pw=hunter22\npart" || stderr != "ab err" {
		t.Fatalf("captured %q %q", stdout, stderr)
	}
	joined := strings.Join(lines, "|")
	if joined != "pw=[secret]|ab err|part" {
		t.Fatalf("logged %q", joined)
	}
	err := o.failed("exit status 1", "echo hunter22", false, logStdoutAndStderr)
	if strings.Contains(err.Error(), "hunter22") || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("error %q", err)
	}

	lines = nil
	quiet := newOutput(log, logNone, newScrubber(nil))
	_, _ = quiet.stdoutWriter().Write([]byte("hidden\n"))
	quiet.finish()
	if len(lines) != 0 {
		t.Fatalf("logging none logged %v", lines)
	}
	if err := quiet.failed("exit status 2", "x", true, logNone); strings.Contains(err.Error(), "hidden") ||
		!strings.Contains(err.Error(), "[secret command]") {
		t.Fatalf("error %q", err)
	}
}

func TestDialRetryCountsLikeUpstream(t *testing.T) {
	calls := 0
	_, err := dialRetry(context.Background(), "ssh dial", "h:1", 0, nil, func() (int, error) {
		calls++
		return 0, errors.New("refused")
	})
	if calls != 1 || err == nil || !strings.Contains(err.Error(), "h:1 failed after 1 attempts (dialErrorLimit 0): refused") {
		t.Fatalf("limit 0: %d calls, %v", calls, err)
	}
	calls = 0
	_, err = dialRetry(context.Background(), "ssh dial", "h:1", 5, nil, func() (int, error) {
		calls++
		return 0, &hostKeyMismatch{"mismatch"}
	})
	if calls != 1 || err == nil {
		t.Fatalf("host key mismatch retried: %d calls", calls)
	}
}

type logFunc func(string)

func (f logFunc) status(s string) { f(s) }
func (f logFunc) warn(s string)   { f(s) }

func TestShortenKeepsShortCommandsAndCutsLongOnes(t *testing.T) {
	if got := shorten("echo hi"); got != "echo hi" {
		t.Fatalf("short command changed: %q", got)
	}
	long := strings.Repeat("x", 1000)
	got := shorten(long)
	if !strings.HasSuffix(got, "... (1000 characters)") || len(got) > maxShownCommand+40 {
		t.Fatalf("long command not shortened: %q", got)
	}
}
