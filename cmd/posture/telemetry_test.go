package main

import (
	"io"
	"net/http"
	"testing"
)

// TestReadyz: a started server is ready (its store answers, its Resource
// Graph tables are loaded) and says so without a token.
func TestReadyz(t *testing.T) {
	s := startServer(t)
	resp, err := http.Get(s.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ready\n" {
		t.Errorf("readyz: %d %q", resp.StatusCode, b)
	}
}
