package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/term"

	"github.com/posture/posture/client"
)

// defaultProfile is the profile used when none is named.
const defaultProfile = "default"

// config is the profile file:
//
//	profiles:
//	  default:
//	    server: https://posture.example.com
//	    token: pst_…
type config struct {
	Profiles map[string]*profile `yaml:"profiles"`
}

// profile is one server and the token to reach it with.
type profile struct {
	Server string `yaml:"server"`
	Token  string `yaml:"token"`
}

// readConfig reads the profile file; a missing file is an empty config.
func readConfig(path string) (*config, error) {
	cfg := &config{Profiles: map[string]*profile{}}
	b, err := os.ReadFile(path)
	if isNotExist(err) {
		return cfg, nil
	}
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(b, cfg); err != nil {
		// yaml's message quotes no values, but say only where it is.
		return nil, fmt.Errorf("reading the profile file %s: not a posture config (%v)", path, yamlLine(err))
	}
	if cfg.Profiles == nil {
		cfg.Profiles = map[string]*profile{}
	}
	for name, p := range cfg.Profiles {
		if p == nil || p.Server == "" || p.Token == "" {
			return nil, fmt.Errorf("reading the profile file %s: profile %q needs a server and a token", path, name)
		}
	}
	return cfg, nil
}

// yamlLine keeps the position of a YAML error, not the text it quotes
// (which could be a token).
func yamlLine(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		end := i + 5
		for end < len(msg) && msg[end] >= '0' && msg[end] <= '9' {
			end++
		}
		return msg[i:end]
	}
	return "unreadable YAML"
}

// writeConfig replaces the profile file atomically: mode 0600 in a
// directory of mode 0700, or no file when no profile is left.
func writeConfig(path string, cfg *config) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// The directory is posture's own: keep others out even if it existed.
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	if len(cfg.Profiles) == 0 {
		if err := os.Remove(path); err != nil && !isNotExist(err) {
			return err
		}
		return nil
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".config-*.yaml") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename, a no-op
	if _, err := f.Write(append([]byte("# posture CLI profiles, written by posture login. Keep this file private.\n"), b...)); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// LoginCmd is `posture login`: it checks a token against a server and
// saves both as a profile.
type LoginCmd struct {
	Server     string `help:"posture server (default: the profile's server, else http://127.0.0.1:8080)." env:"POSTURE_SERVER"`
	Token      string `help:"Bearer token (prefer --token-stdin: a flag is seen in the process list and shell history)." env:"POSTURE_TOKEN" xor:"token"`
	TokenStdin bool   `help:"Read the token from standard input (typed without echo on a terminal)." env:"-" xor:"token"`
	Profile    string `help:"Profile to save (default: default)." env:"POSTURE_PROFILE"`
}

// loginAPIVersion is the roleDefinitions version of login's check.
const loginAPIVersion = roleAPIVersion

// Run checks the token and writes the profile; nothing is written when
// the server refuses the token.
func (c *LoginCmd) Run(ctx context.Context, streams *IO) error {
	name := c.Profile
	if name == "" {
		name = defaultProfile
	}
	path, err := configPath()
	if err != nil {
		return usageError{err}
	}
	cfg, err := readConfig(path)
	if err != nil {
		return err
	}
	server := c.Server
	if server == "" {
		if p := cfg.Profiles[name]; p != nil {
			server = p.Server
		} else {
			server = defaultServer
		}
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Errorf("--server %q: give an http:// or https:// URL", server)}
	}
	server = strings.TrimRight(server, "/")
	token := c.Token
	if token == "" {
		if token, err = readToken(streams, c.TokenStdin); err != nil {
			return err
		}
	}
	noteSecret(token)
	// A cheap authenticated GET every signed-in caller may make: the
	// definition of the Reader role.
	cl := client.New(server, token)
	q := url.Values{"$filter": {"roleName eq 'Reader'"}}
	if _, err := cl.Do(ctx, "GET", "/providers/Microsoft.Authorization/roleDefinitions", loginAPIVersion, q, nil, nil); err != nil {
		return fmt.Errorf("checking the token with %s (no profile written): %w", server, err)
	}
	cfg.Profiles[name] = &profile{Server: server, Token: token}
	if err := writeConfig(path, cfg); err != nil {
		return err
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		fmt.Fprintf(streams.Err, "warning: %s is plain http: the token crosses the network unencrypted\n", server)
	}
	fmt.Fprintf(streams.Out, "logged in to %s; profile %q saved in %s\n", server, name, path)
	return nil
}

// readToken reads a token from standard input: without echo on a
// terminal, else its first line.
func readToken(streams *IO, fromStdin bool) (string, error) {
	f, isFile := streams.In.(*os.File)
	tty := isFile && term.IsTerminal(int(f.Fd()))
	if !fromStdin && !tty {
		return "", usageError{fmt.Errorf("no token: give --token-stdin (with the token on standard input) or --token")}
	}
	var token string
	if tty {
		fmt.Fprint(streams.Err, "Token: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(streams.Err)
		if err != nil {
			return "", err
		}
		token = string(b)
	} else if streams.In != nil {
		line, err := bufio.NewReader(io.LimitReader(streams.In, 64<<10)).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", err
		}
		token = line
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", usageError{fmt.Errorf("no token on standard input")}
	}
	return token, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LogoutCmd is `posture logout`: it removes a profile.
type LogoutCmd struct {
	Profile string `help:"Profile to remove (default: default)." env:"POSTURE_PROFILE"`
}

// Run removes the profile from the file (the file when it was the last).
// The token itself stays valid: revoke it with posture token revoke.
func (c *LogoutCmd) Run(streams *IO) error {
	name := c.Profile
	if name == "" {
		name = defaultProfile
	}
	path, err := configPath()
	if err != nil {
		return usageError{err}
	}
	cfg, err := readConfig(path)
	if err != nil {
		return err
	}
	p := cfg.Profiles[name]
	if p == nil {
		fmt.Fprintf(streams.Out, "no profile %q in %s; nothing removed\n", name, path)
		return nil
	}
	delete(cfg.Profiles, name)
	if err := writeConfig(path, cfg); err != nil {
		return err
	}
	fmt.Fprintf(streams.Out, "removed profile %q (%s) from %s\n", name, p.Server, path)
	return nil
}
