// Package pgtest runs a private PostgreSQL cluster for tests that stop,
// crash and restart the database under a running posture: the shared
// cluster of the other PostgreSQL tests (POSTURE_TEST_POSTGRES_URL) must
// never go down. It uses the server binaries of the machine (Debian's
// /usr/lib/postgresql/N/bin, or initdb and pg_ctl on the PATH); as root it
// runs them as the postgres user, since PostgreSQL refuses to run as root.
// When that is impossible the test is skipped with the reason.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Cluster is a private PostgreSQL cluster in a temporary directory.
type Cluster struct {
	Dir  string // data directory (also holds the socket and the log)
	Port int
	// URL reaches the cluster's postgres database as the superuser
	// posture (trust authentication, loopback only).
	URL string

	bin string // directory of initdb, pg_ctl, postgres
	as  []string
}

// Start creates and starts a cluster for the test, skipping the test when
// PostgreSQL's binaries cannot be found or run. The cluster is removed when
// the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin, err := findBin()
	if err != nil {
		t.Skipf("no private PostgreSQL cluster: %v", err)
	}
	c := &Cluster{bin: bin}
	dir, err := os.MkdirTemp("", "posture-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c.Dir = filepath.Join(dir, "data")
	if os.Geteuid() == 0 {
		// initdb refuses root: run the cluster as postgres, in a directory
		// it owns (the temporary directory is root's, 0700).
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("no private PostgreSQL cluster: running as root and there is no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(c.Dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(c.Dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			t.Skipf("no private PostgreSQL cluster: running as root without runuser: %v", err)
		}
		c.as = []string{runuser, "-u", "postgres", "--"}
	}
	if out, err := c.run("initdb", "-D", c.Dir, "-U", "posture", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		t.Skipf("no private PostgreSQL cluster: initdb: %v\n%s", err, out)
	}
	if c.Port, err = freePort(); err != nil {
		t.Fatal(err)
	}
	c.URL = fmt.Sprintf("postgres://posture@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
	t.Cleanup(func() {
		if _, err := c.run("pg_ctl", "-D", c.Dir, "stop", "-m", "immediate", "-w", "-t", "30"); err != nil {
			c.KillAll()
		}
	})
	if err := c.StartServer(); err != nil {
		t.Fatalf("starting the private PostgreSQL cluster: %v", err)
	}
	return c
}

// StartServer starts the cluster and waits until it accepts connections.
func (c *Cluster) StartServer() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on -c synchronous_commit=on", c.Port, c.Dir)
	var last error
	// A crashed cluster's processes may hold its shared memory for a
	// moment after the postmaster died: try again until they are gone.
	for range 20 {
		out, err := c.run("pg_ctl", "-D", c.Dir, "-l", filepath.Join(c.Dir, "server.log"), "-o", opts, "-w", "-t", "60", "start")
		if err == nil {
			return nil
		}
		last = fmt.Errorf("%v\n%s\n%s", err, out, c.Log())
		time.Sleep(250 * time.Millisecond)
	}
	return last
}

// Stop stops the cluster with a pg_ctl shutdown mode: "fast" (roll back
// and disconnect clients, checkpoint) or "immediate" (quit at once, as a
// crash: recovery at the next start).
func (c *Cluster) Stop(mode string) error {
	out, err := c.run("pg_ctl", "-D", c.Dir, "stop", "-m", mode, "-w", "-t", "60")
	if err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
	return nil
}

// KillAll sends SIGKILL to the postmaster and every process of the cluster,
// as a power cut would end them (without losing the page cache), and waits
// until they are gone.
func (c *Cluster) KillAll() error {
	pid, err := c.postmaster()
	if err != nil {
		return err
	}
	pids := append([]int{pid}, children(pid)...)
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range pids {
		for syscall.Kill(p, 0) == nil {
			if time.Now().After(deadline) {
				return fmt.Errorf("process %d of the cluster outlived SIGKILL", p)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// Log returns the end of the cluster's server log.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "server.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// postmaster reads the postmaster's pid from postmaster.pid.
func (c *Cluster) postmaster() (int, error) {
	b, err := os.ReadFile(filepath.Join(c.Dir, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("the cluster is not running: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}

// children lists the processes whose parent is pid (the backends and
// workers of a postmaster).
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so read after
		// the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// run runs one of the cluster's binaries (as postgres when root).
func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	argv := append(append(append([]string(nil), c.as...), filepath.Join(c.bin, name)), args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// pg_ctl start leaves the postmaster running: it must not hold our
	// output pipes open, so its output goes to a file, not to us.
	f, err := os.CreateTemp("", "pgtest-out-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return out, err
}

// findBin finds the directory of initdb and pg_ctl: the newest of Debian's
// /usr/lib/postgresql/N/bin, else the PATH's.
func findBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", errors.New("no initdb and pg_ctl (install Debian's postgresql package)")
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// freePort returns a loopback port nothing listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
