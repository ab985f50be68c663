package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// runWithInput is runCLI with standard input.
func runWithInput(t *testing.T, in string, args ...string) (int, string, string) {
	t.Helper()
	out, errOut := &safeBuffer{}, &safeBuffer{}
	code := Main(context.Background(), args, &IO{In: strings.NewReader(in), Out: out, Err: errOut})
	return code, out.String(), errOut.String()
}

// TestLoginProfile: posture login checks the token, writes the profile
// file (0600 in a 0700 directory) that later commands use without flags;
// a refused token writes nothing; flags and environment win over the
// profile, whose token never goes to another server; logout removes it.
func TestLoginProfile(t *testing.T) {
	cfgDir := isolateConfig(t)
	path := filepath.Join(cfgDir, "posture", "config.yaml")
	s := startServer(t, "--demo")
	noData := t.TempDir() // no bootstrap token: only the profile can help

	// A refused token: exit 4, nothing written, the token nowhere.
	const bogus = "pst_not-a-real-token-0123456789"
	code, out, errOut := runWithInput(t, bogus+"\n", "login", "--server", s.url, "--token-stdin")
	if code != exitUnauthorized || !strings.Contains(errOut, "AuthenticationFailed") || !strings.Contains(errOut, "no profile written") {
		t.Errorf("login with a bad token: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, bogus) {
		t.Errorf("the refused token was printed:\n%s%s", out, errOut)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a refused login wrote %s (%v)", path, err)
	}
	// No token at all (stdin is not a terminal): a usage error.
	if code, _, errOut := runWithInput(t, "", "login", "--server", s.url); code != exitUsage || !strings.Contains(errOut, "--token-stdin") {
		t.Errorf("login without a token: exit %d %s", code, errOut)
	}
	if code, _, _ := runWithInput(t, "", "login", "--server", "ftp://x", "--token", s.token); code != exitUsage {
		t.Errorf("login to a non-http server: exit %d", code)
	}

	// The bootstrap token from stdin: the profile is written.
	code, out, errOut = runWithInput(t, s.token+"\n", "login", "--server", s.url+"/", "--token-stdin")
	if code != 0 || !strings.Contains(out, `profile "default" saved in `+path) {
		t.Fatalf("login: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, s.token) {
		t.Errorf("login printed the token:\n%s%s", out, errOut)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("profile file mode: %v %v", st, err)
	}
	if dst, err := os.Stat(filepath.Dir(path)); err != nil || dst.Mode().Perm() != 0o700 {
		t.Errorf("profile directory mode: %v %v", dst, err)
	}
	b, _ := os.ReadFile(path)
	var cfg config
	if err := yaml.Unmarshal(b, &cfg); err != nil || cfg.Profiles["default"] == nil || cfg.Profiles["default"].Server != s.url || cfg.Profiles["default"].Token != s.token {
		t.Fatalf("profile file: %v\n%s", err, b)
	}

	// A later command needs no flags.
	if code, out, errOut := runCLI(t, nil, "score", "--data", noData, "-o", "json"); code != 0 || !strings.Contains(out, "ascScore") {
		t.Errorf("score with the profile: exit %d\n%s%s", code, out, errOut)
	}
	// Flags win over the profile, and so does the environment.
	if code, _, _ := runCLI(t, nil, "score", "--data", noData, "--token", bogus); code != exitUnauthorized {
		t.Errorf("--token over the profile: exit %d, want 4", code)
	}
	t.Setenv("POSTURE_TOKEN", bogus)
	if code, _, _ := runCLI(t, nil, "score", "--data", noData); code != exitUnauthorized {
		t.Errorf("POSTURE_TOKEN over the profile: exit %d, want 4", code)
	}
	os.Unsetenv("POSTURE_TOKEN")
	// Another server: the profile's token is not sent there, and with no
	// other token that is a usage error.
	if code, _, errOut := runCLI(t, nil, "score", "--data", noData, "--server", "http://127.0.0.1:9"); code != exitUsage || !strings.Contains(errOut, "no token") {
		t.Errorf("--server of another server: exit %d %s", code, errOut)
	}
	// The bootstrap token of --data is the last resort.
	if code, _, errOut := runCLI(t, nil, "score", "--data", s.data, "--server", s.url, "-o", "json"); code != 0 {
		t.Errorf("bootstrap token with --server: exit %d %s", code, errOut)
	}

	// A second profile: a principal without roles, chosen by --profile or
	// POSTURE_PROFILE.
	mustCLI(t, s, "principal", "create", "--id", "nobody", "--name", "Nobody")
	secret := strings.TrimSpace(mustCLI(t, s, "token", "create", "--principal", "nobody"))
	if code, out, errOut := runWithInput(t, secret, "login", "--server", s.url, "--profile", "nobody", "--token-stdin"); code != 0 || strings.Contains(out+errOut, secret) {
		t.Fatalf("login --profile nobody: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, nil, "score", "--data", noData, "--profile", "nobody"); code != exitUnauthorized || !strings.Contains(errOut, "AuthorizationFailed") {
		t.Errorf("score as nobody: exit %d %s", code, errOut)
	}
	t.Setenv("POSTURE_PROFILE", "nobody")
	if code, _, _ := runCLI(t, nil, "score", "--data", noData); code != exitUnauthorized {
		t.Errorf("POSTURE_PROFILE=nobody: exit %d, want 4", code)
	}
	os.Unsetenv("POSTURE_PROFILE")
	if code, _, _ := runCLI(t, nil, "score", "--data", noData); code != 0 {
		t.Errorf("the default profile after adding another: exit %d", code)
	}
	if code, _, errOut := runCLI(t, nil, "score", "--data", noData, "--profile", "missing"); code != exitUsage || !strings.Contains(errOut, "posture login --profile missing") {
		t.Errorf("a missing profile: exit %d %s", code, errOut)
	}
	// Re-login keeps the server: only the token is asked for.
	if code, out, errOut := runWithInput(t, s.token, "login", "--token-stdin"); code != 0 || !strings.Contains(out, s.url) {
		t.Errorf("re-login: exit %d\n%s%s", code, out, errOut)
	}

	// Logout removes one profile, then the file with the last.
	if code, out, _ := runCLI(t, nil, "logout", "--profile", "nobody"); code != 0 || !strings.Contains(out, `removed profile "nobody"`) {
		t.Errorf("logout nobody: exit %d %s", code, out)
	}
	b, _ = os.ReadFile(path)
	if strings.Contains(string(b), "nobody") || strings.Contains(string(b), secret) || !strings.Contains(string(b), s.token) {
		t.Errorf("after logout of nobody:\n%s", b)
	}
	if code, out, _ := runCLI(t, nil, "logout"); code != 0 || !strings.Contains(out, `removed profile "default"`) {
		t.Errorf("logout: exit %d %s", code, out)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the profile file outlived its last profile: %v", err)
	}
	if code, out, _ := runCLI(t, nil, "logout"); code != 0 || !strings.Contains(out, "nothing removed") {
		t.Errorf("logout again: exit %d %s", code, out)
	}
	if code, _, _ := runCLI(t, nil, "score", "--data", noData); code != exitUsage {
		t.Errorf("score after logout: exit %d, want 2", code)
	}
}

// TestRedact: tokens this process sent never reach what Main prints.
func TestRedact(t *testing.T) {
	noteSecret("pst_secret-value-for-redaction")
	noteSecret("short")
	if got := redact("bad pst_secret-value-for-redaction here; short"); got != "bad [redacted] here; short" {
		t.Errorf("redact: %q", got)
	}
}
