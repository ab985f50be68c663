package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/posture/posture/client"
)

// defaultServer is the server a command reaches when neither a flag, the
// environment nor a profile names one.
const defaultServer = "http://127.0.0.1:8080"

// ClientFlags are how a command reaches a server. Each setting comes from,
// in order: the flag, its environment variable, the profile (written by
// posture login), and for the token the bootstrap token of --data.
type ClientFlags struct {
	Server  string `help:"posture server (default: the profile's, else http://127.0.0.1:8080)." env:"POSTURE_SERVER"`
	Token   string `help:"Bearer token (default: the profile's, else the bootstrap token in --data)." env:"POSTURE_TOKEN"`
	Profile string `help:"Profile of the config file written by posture login (default: default)." env:"POSTURE_PROFILE"`
}

// client returns a client of the server. A profile's token goes only to
// the profile's own server: with --server naming another one, the profile
// is not used at all.
func (f *ClientFlags) client(dataDir string) (*client.Client, error) {
	server, token := f.Server, f.Token
	if server == "" || token == "" {
		p, err := f.profile()
		if err != nil {
			return nil, err
		}
		if p != nil && (server == "" || sameServer(server, p.Server)) {
			if server == "" {
				server = p.Server
			}
			if token == "" {
				token = p.Token
			}
		}
	}
	if server == "" {
		server = defaultServer
	}
	if token == "" {
		b, err := os.ReadFile(filepath.Join(dataDir, BootstrapTokenFile))
		if err != nil {
			return nil, usageError{fmt.Errorf("no token: give --token (or POSTURE_TOKEN), run posture login, or point --data at a data directory with a bootstrap token (none in %s)", dataDir)}
		}
		token = strings.TrimSpace(string(b))
	}
	noteSecret(token)
	return client.New(server, token), nil
}

// profile returns the chosen profile: nil when the default one is not
// there, a usage error when a named one is not.
func (f *ClientFlags) profile() (*profile, error) {
	path, err := configPath()
	if err != nil {
		if f.Profile != "" {
			return nil, usageError{err}
		}
		return nil, nil
	}
	cfg, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	name := f.Profile
	if name == "" {
		name = defaultProfile
	}
	p := cfg.Profiles[name]
	if p == nil && f.Profile != "" {
		return nil, usageError{fmt.Errorf("no profile %q in %s: run posture login --profile %s", name, path, name)}
	}
	return p, nil
}

// sameServer compares server URLs, ignoring a trailing slash and case.
func sameServer(a, b string) bool {
	return strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(b, "/"))
}

// secrets are the tokens this process sends; Main removes them from what
// it prints, should an error ever quote one.
var secrets struct {
	sync.Mutex
	list []string
}

func noteSecret(s string) {
	if len(s) < 8 {
		return // too short to be a token, and would redact ordinary words
	}
	secrets.Lock()
	defer secrets.Unlock()
	for _, t := range secrets.list {
		if t == s {
			return
		}
	}
	secrets.list = append(secrets.list, s)
}

// redact replaces the tokens of this process in s.
func redact(s string) string {
	secrets.Lock()
	defer secrets.Unlock()
	for _, t := range secrets.list {
		s = strings.ReplaceAll(s, t, "[redacted]")
	}
	return s
}

// errNoConfigDir is returned when neither XDG_CONFIG_HOME nor HOME is set.
var errNoConfigDir = errors.New("no configuration directory: set XDG_CONFIG_HOME or HOME")

// configPath is the profile file: $XDG_CONFIG_HOME/posture/config.yaml, or
// ~/.config/posture/config.yaml.
func configPath() (string, error) {
	if dir := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "posture", "config.yaml"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return "", errNoConfigDir
	}
	return filepath.Join(home, ".config", "posture", "config.yaml"), nil
}

// isNotExist reports a missing file.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
