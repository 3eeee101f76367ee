package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// hostKeyMismatch is returned by the host key check; dialing is not retried after it.
type hostKeyMismatch struct{ msg string }

func (e *hostKeyMismatch) Error() string { return e.msg }

// clientConfig builds the SSH client configuration of c. Errors never contain key material.
func clientConfig(c *connection, endpoint string) (*ssh.ClientConfig, func(), error) {
	cleanup := func() {}
	cfg := &ssh.ClientConfig{User: c.User}
	if c.HostKey != nil && strings.TrimSpace(*c.HostKey) != "" {
		want, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*c.HostKey))
		if err != nil {
			return nil, cleanup, fmt.Errorf("connection.hostKey for %s is not a public key in authorized_keys format (\"<type> <base64> [comment]\"): %v", endpoint, err)
		}
		cfg.HostKeyAlgorithms = hostKeyAlgorithms(want.Type())
		cfg.HostKeyCallback = func(_ string, _ net.Addr, got ssh.PublicKey) error {
			if bytes.Equal(got.Marshal(), want.Marshal()) {
				return nil
			}
			return &hostKeyMismatch{fmt.Sprintf(
				"host key mismatch for %s: the server presented %s %s, but connection.hostKey pins %s %s; nothing was run",
				endpoint, got.Type(), ssh.FingerprintSHA256(got), want.Type(), ssh.FingerprintSHA256(want))}
		}
	} else {
		// As upstream: without hostKey, any host key is accepted.
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec
	}
	if c.PrivateKey != nil {
		var signer ssh.Signer
		var err error
		if c.PrivateKeyPassword != nil {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*c.PrivateKey), []byte(*c.PrivateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(*c.PrivateKey))
		}
		if err != nil {
			// x/crypto's parse errors name the problem, never the key's bytes.
			var missing *ssh.PassphraseMissingError
			if errors.As(err, &missing) {
				return nil, cleanup, fmt.Errorf("connection.privateKey for %s is encrypted: set connection.privateKeyPassword", endpoint)
			}
			return nil, cleanup, fmt.Errorf("connection.privateKey for %s cannot be used: %s", endpoint, safeKeyError(err))
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if c.Password != nil {
		pw := *c.Password
		cfg.Auth = append(cfg.Auth, ssh.Password(pw), ssh.KeyboardInteractive(
			func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	sock := ""
	explicit := false
	if c.AgentSocketPath != nil && *c.AgentSocketPath != "" {
		sock, explicit = *c.AgentSocketPath, true
	} else {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			if explicit {
				return nil, cleanup, fmt.Errorf("connection.agentSocketPath %q: cannot reach the SSH agent: %v", sock, err)
			}
			// SSH_AUTH_SOCK of the environment points nowhere: go on without an agent.
		} else {
			cleanup = func() { _ = conn.Close() }
			cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		}
	}
	return cfg, cleanup, nil
}

// safeKeyError keeps only the first line of a key parse error, without any quoted bytes.
func safeKeyError(err error) string {
	msg := strings.SplitN(err.Error(), "\n", 2)[0]
	if i := strings.IndexAny(msg, "\"'`"); i >= 0 {
		msg = strings.TrimSpace(msg[:i])
	}
	return msg
}

// hostKeyAlgorithms offers the algorithms that can verify a pinned key of type t (an RSA key
// can sign with SHA-2; OpenSSH refuses plain ssh-rsa signatures nowadays).
func hostKeyAlgorithms(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{t}
}

// dialOnce opens one SSH connection over conn-producing dial, with perDialTimeout bounding
// the TCP connect and the SSH handshake together.
func dialOnce(ctx context.Context, dial func(ctx context.Context) (net.Conn, error), endpoint string, cfg *ssh.ClientConfig, timeout time.Duration) (*ssh.Client, error) {
	dctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	conn, err := dial(dctx)
	if err != nil {
		return nil, err
	}
	// Bound the handshake too; a server that accepts but never speaks must not hang us.
	stop := context.AfterFunc(dctx, func() { _ = conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, endpoint, cfg)
	if !stop() {
		if c != nil {
			_ = c.Close()
		}
		_ = conn.Close()
		if err == nil || dctx.Err() != nil {
			return nil, fmt.Errorf("ssh handshake with %s timed out after %s", endpoint, timeout)
		}
		return nil, err
	}
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// dialRetry calls dial until it succeeds, up to limit failures (-1: no limit), as upstream:
// the error after the last attempt names the endpoint, the attempts and the last error.
// A host key mismatch is not retried.
func dialRetry[T any](ctx context.Context, what string, endpoint string, limit int, log engineLog, dial func() (T, error)) (T, error) {
	var zero T
	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		v, err := dial()
		if err == nil {
			return v, nil
		}
		var mismatch *hostKeyMismatch
		if errors.As(err, &mismatch) {
			return zero, err
		}
		if ctx.Err() != nil {
			return zero, fmt.Errorf("%s %s: %w (after %d attempts; last error: %v)", what, endpoint, ctx.Err(), attempt, err)
		}
		// upstream: give up once the failures exceed dialErrorLimit.
		if limit >= 0 && attempt > limit {
			return zero, fmt.Errorf("%s %s failed after %d attempts (dialErrorLimit %d): %v", what, endpoint, attempt, limit, err)
		}
		lim := "unlimited"
		if limit >= 0 {
			lim = strconv.Itoa(limit + 1)
		}
		if log != nil {
			log.status(fmt.Sprintf("%s %s: attempt %d/%s failed (%v); retrying", what, endpoint, attempt, lim, err))
		}
		select {
		case <-ctx.Done():
			return zero, fmt.Errorf("%s %s: %w (after %d attempts; last error: %v)", what, endpoint, ctx.Err(), attempt, err)
		case <-time.After(delay):
		}
		if delay < 5*time.Second {
			delay = delay * 3 / 2
		}
	}
}

func endpointOf(c *connection) string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// dialSSH connects to c, through c.Proxy when given, retrying as upstream does.
func dialSSH(ctx context.Context, c *connection, log engineLog) (*ssh.Client, func(), error) {
	endpoint := endpointOf(c)
	cfg, cleanup, err := clientConfig(c, endpoint)
	if err != nil {
		return nil, cleanup, err
	}
	timeout := time.Duration(c.PerDialTimeout) * time.Second
	if c.Proxy == nil {
		var d net.Dialer
		client, err := dialRetry(ctx, "ssh dial", endpoint, c.DialErrorLimit, log, func() (*ssh.Client, error) {
			return dialOnce(ctx, func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", endpoint) }, endpoint, cfg, timeout)
		})
		return client, cleanup, err
	}
	p := c.Proxy
	pEndpoint := endpointOf(p)
	pcfg, pcleanup, err := clientConfig(p, pEndpoint)
	both := func() { cleanup(); pcleanup() }
	if err != nil {
		return nil, both, fmt.Errorf("proxy: %w", err)
	}
	var d net.Dialer
	pclient, err := dialRetry(ctx, "ssh dial proxy", pEndpoint, p.DialErrorLimit, log, func() (*ssh.Client, error) {
		return dialOnce(ctx, func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", pEndpoint) }, pEndpoint, pcfg, time.Duration(p.PerDialTimeout)*time.Second)
	})
	if err != nil {
		return nil, both, fmt.Errorf("proxy: %w", err)
	}
	client, err := dialRetry(ctx, "ssh dial (through proxy "+pEndpoint+")", endpoint, c.DialErrorLimit, log, func() (*ssh.Client, error) {
		return dialOnce(ctx, func(ctx context.Context) (net.Conn, error) { return pclient.DialContext(ctx, "tcp", endpoint) }, endpoint, cfg, timeout)
	})
	if err != nil {
		_ = pclient.Close()
		return nil, both, fmt.Errorf("proxy: %w", err)
	}
	return client, func() { both(); _ = pclient.Close() }, nil
}

// runRemote runs spec.cmd on the host of in.Conn over SSH, as upstream's remote.Command:
// `environment` and PULUMI_COMMAND_STDOUT/STDERR through session Setenv (the server must
// AcceptEnv them), stdin, output streamed to the engine per `logging`.
func runRemote(spec runSpec, in remoteInputs) (string, string, error) {
	ctx := spec.ctx
	client, cleanup, err := dialSSH(ctx, in.Conn, spec.log)
	defer cleanup()
	if err != nil {
		return "", "", errors.New(newScrubber(in.Secrets).clean(err.Error()))
	}
	defer client.Close()
	// Closing the client ends a running command when the operation is cancelled.
	stop := context.AfterFunc(ctx, func() { _ = client.Close() })
	defer stop()

	session, err := client.NewSession()
	if err != nil {
		return "", "", fmt.Errorf("ssh %s: cannot open a session: %v", endpointOf(in.Conn), err)
	}
	defer session.Close()
	for _, kv := range in.Environment {
		if err := session.Setenv(kv[0], kv[1]); err != nil {
			return "", "", fmt.Errorf("could not set environment variable %q on %s: %v; the SSH server must accept it (AcceptEnv), or prefix the command with VAR=value",
				kv[0], endpointOf(in.Conn), err)
		}
	}
	if in.AddPreviousOutputInEnv {
		for _, kv := range [][2]string{{envPrevStdout, spec.prevStdout}, {envPrevStderr, spec.prevStderr}} {
			if kv[1] == "" {
				continue
			}
			if err := session.Setenv(kv[0], kv[1]); err != nil && spec.log != nil {
				spec.log.warn(fmt.Sprintf("Unable to set '%s'. This only works if the SSH server accepts it via AcceptEnv.", kv[0]))
			}
		}
	}
	if in.Stdin != nil && *in.Stdin != "" {
		session.Stdin = strings.NewReader(*in.Stdin)
	}
	out := newOutput(spec.log, in.Logging, newScrubber(in.Secrets))
	session.Stdout = out.stdoutWriter()
	session.Stderr = out.stderrWriter()
	err = session.Run(spec.cmd)
	stdout, stderr := out.finish()
	if err != nil {
		status := err.Error()
		var exit *ssh.ExitError
		var missing *ssh.ExitMissingError
		switch {
		case errors.As(err, &exit):
			status = exit.Error()
		case errors.As(err, &missing):
			status = fmt.Sprintf("the command on %s ended without an exit status (connection lost?)", endpointOf(in.Conn))
		}
		if ctx.Err() != nil {
			status += fmt.Sprintf(" (%v)", ctx.Err())
		}
		return "", "", out.failed(status, spec.cmd, spec.cmdSecret, in.Logging)
	}
	return stdout, stderr, nil
}
