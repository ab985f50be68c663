package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// completionScript writes posture completion SHELL to a file.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	script := mustCLI(t, nil, "completion", shell)
	path := filepath.Join(t.TempDir(), "posture."+shell)
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// shellRun runs a script in a shell and returns its output lines.
func shellRun(t *testing.T, shell, script string) []string {
	t.Helper()
	cmd := exec.Command(shell, "-c", script)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", shell, err, out)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines
}

// modelPaths are the commands of posture's command line with their
// subcommands, from kong's model.
func modelPaths(t *testing.T) map[string][]string {
	t.Helper()
	var cli CLI
	k, err := kong.New(&cli, kong.Name("posture"))
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string][]string{}
	for _, n := range completionModel(k.Model) {
		var names []string
		for _, c := range n.commands {
			names = append(names, c.name)
		}
		slices.Sort(names)
		paths[n.path] = names
	}
	return paths
}

// TestCompletionBash runs the generated bash function the way bash's
// programmable completion does (COMP_WORDS, COMP_CWORD) and checks what it
// offers.
func TestCompletionBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script := completionScript(t, "bash")
	complete := func(words ...string) []string {
		t.Helper()
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = shellQuote(w)
		}
		return shellRun(t, "bash", "source "+shellQuote(script)+"\nCOMP_WORDS=(posture "+strings.Join(quoted, " ")+")\nCOMP_CWORD="+
			strconv.Itoa(len(words))+"\n_posture\nprintf '%s\\n' \"${COMPREPLY[@]}\"")
	}
	for _, tt := range []struct {
		words []string
		want  []string
	}{
		{[]string{"exem"}, []string{"exemption", "exemptions"}},
		{[]string{"rec"}, []string{"recommendation"}},
		{[]string{"exemption", "u"}, []string{"update"}},
		{[]string{"exemption", "list", "--sc"}, []string{"--scope"}},
		{[]string{"exemption", "list", "--scope", "/subscriptions/x", "--fil"}, []string{"--filter"}},
		// The value of a flag is not a command: "list" here is a scope.
		{[]string{"exemption", "create", "--scope", "list", "-e", ""}, []string{"Mitigated", "Waiver"}},
		{[]string{"query", "resources", "-o", ""}, []string{"csv", "json", "table", "yaml"}},
		{[]string{"query", "resources", "--output", "=", "y"}, []string{"yaml"}},
		{[]string{"score", "--output=json", "--con"}, []string{"--controls"}},
		{[]string{"completion", ""}, []string{"bash", "fish", "zsh"}},
		{[]string{"serve", "--no-def"}, []string{"--no-default-assignment"}},
		{[]string{"recommendation", "list", "--severity", ""}, []string{"High", "Low", "Medium"}},
		{[]string{"login", "--tok"}, []string{"--token", "--token-stdin"}},
		{[]string{"exemption", "show", "--scope", ""}, nil},
	} {
		if got := complete(tt.words...); !slices.Equal(got, tt.want) {
			t.Errorf("posture %s<TAB>: %q, want %q", strings.Join(tt.words, " "), got, tt.want)
		}
	}
	// Files where a file is wanted.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "estate.json"), []byte("{}"), 0o600)
	if got := complete("import", filepath.Join(dir, "est")); !slices.Equal(got, []string{filepath.Join(dir, "estate.json")}) {
		t.Errorf("import <file><TAB>: %q", got)
	}
	// Every command of the model offers its subcommands.
	for path, subs := range modelPaths(t) {
		if len(subs) == 0 {
			continue
		}
		words := append(strings.Fields(path), "")
		if got := complete(words...); !slices.Equal(got, subs) {
			t.Errorf("posture %s <TAB>: %q, want %q", path, got, subs)
		}
	}
}

// TestCompletionZsh sources the zsh script with zsh's completion builtins
// replaced by printers and checks what _posture offers.
func TestCompletionZsh(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("no zsh")
	}
	script := completionScript(t, "zsh")
	if out, err := exec.Command("zsh", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	complete := func(words ...string) []string {
		t.Helper()
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = shellQuote(w)
		}
		return shellRun(t, "zsh", `compdef() { :; }
_describe() { local -a items; items=("${(@P)${@[-1]}}"); print -l -- "${items[@]%%:*}"; }
compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }
_files() { print FILES; }
compset() { :; }
source `+shellQuote(script)+`
words=(posture `+strings.Join(quoted, " ")+`)
CURRENT=${#words}
_posture`)
	}
	for _, tt := range []struct {
		words []string
		want  []string
	}{
		// _describe gets the command's words; zsh matches the prefix.
		{[]string{"exem"}, modelPaths(t)[""]},
		{[]string{"exemption", ""}, modelPaths(t)["exemption"]},
		{[]string{"exemption", "list", "--sc"}, nil}, // the command's flags
		{[]string{"exemption", "create", "--scope", "list", "-e", ""}, []string{"Mitigated", "Waiver"}},
		{[]string{"query", "q", "--output=j"}, []string{"csv", "json", "table", "yaml"}},
		{[]string{"policy", "eval", "--definition", ""}, []string{"FILES"}},
	} {
		got := complete(tt.words...)
		if tt.want == nil {
			if !slices.Contains(got, "--scope") || !slices.Contains(got, "--filter") || slices.Contains(got, "list") {
				t.Errorf("zsh: posture %s<TAB>: %q", strings.Join(tt.words, " "), got)
			}
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("zsh: posture %s<TAB>: %q, want %q", strings.Join(tt.words, " "), got, tt.want)
		}
	}
}

// TestCompletionFish loads the fish script and asks fish itself what it
// completes (complete -C).
func TestCompletionFish(t *testing.T) {
	if _, err := exec.LookPath("fish"); err != nil {
		t.Skip("no fish")
	}
	script := completionScript(t, "fish")
	complete := func(line string) []string {
		t.Helper()
		var words []string
		for _, l := range shellRun(t, "fish", "source "+shellQuote(script)+"; complete -C "+shellQuote(line)) {
			words = append(words, strings.SplitN(l, "\t", 2)[0])
		}
		return words
	}
	for _, tt := range []struct {
		line string
		want []string
	}{
		{"posture exem", []string{"exemption", "exemptions"}},
		{"posture exemption u", []string{"update"}},
		{"posture exemption list --sc", []string{"--scope"}},
		{"posture exemption create --scope list -e ", []string{"Mitigated", "Waiver"}},
		{"posture query q -o ", []string{"csv", "json", "table", "yaml"}},
		{"posture completion ", []string{"bash", "fish", "zsh"}},
	} {
		if got := complete(tt.line); !slices.Equal(got, tt.want) {
			t.Errorf("fish: %s<TAB>: %q, want %q", tt.line, got, tt.want)
		}
	}
}
