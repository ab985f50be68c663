package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/posture/posture/client"
)

// ClientFlags are how a command reaches a server.
type ClientFlags struct {
	Server string `default:"http://127.0.0.1:8080" help:"posture server." env:"POSTURE_SERVER"`
	Token  string `help:"Bearer token (default: the bootstrap token in --data)." env:"POSTURE_TOKEN"`
}

// client returns a client of the server, with the token from the flags or
// from the bootstrap token file of the data directory.
func (f *ClientFlags) client(dataDir string) (*client.Client, error) {
	token := f.Token
	if token == "" {
		b, err := os.ReadFile(filepath.Join(dataDir, BootstrapTokenFile))
		if err != nil {
			return nil, usageError{fmt.Errorf("no --token / POSTURE_TOKEN given and no bootstrap token in %s", dataDir)}
		}
		token = strings.TrimSpace(string(b))
	}
	return client.New(f.Server, token), nil
}
