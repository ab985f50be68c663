package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/posture/posture/audit"
	"github.com/posture/posture/ledger"
)

// AuditCmd groups the ledger subcommands.
type AuditCmd struct {
	Verify AuditVerifyCmd `cmd:"" help:"Recompute the ledger's hash chain and check its signed checkpoints; report the first broken link."`
	Export AuditExportCmd `cmd:"" help:"Write a range of the ledger with its checkpoints (JSON lines), for offline verification."`
}

// AuditVerifyCmd is `posture audit verify`. With --server it verifies what
// a running server exports; otherwise it reads the store directly
// (--data or --database-url), which works while the server is down.
type AuditVerifyCmd struct {
	StoreFlags
	Server    string `help:"Verify a running server's ledger (e.g. http://127.0.0.1:8080) instead of reading the store." env:"POSTURE_SERVER"`
	Token     string `help:"Bearer token for --server (default: the bootstrap token in --data)." env:"POSTURE_TOKEN"`
	File      string `help:"Verify an export file (from posture audit export) instead."`
	PublicKey string `help:"Base64 public key of the checkpoint signer (default: derived from the key in --data, else the key the export names)." env:"POSTURE_LEDGER_PUBLIC_KEY"`
	From      int64  `help:"First sequence number (default: the first kept)."`
	To        int64  `help:"Last sequence number (default: the head)."`
}

func (c *AuditVerifyCmd) Run(ctx context.Context, streams *IO) error {
	keys, source, err := c.keys()
	if err != nil {
		return err
	}
	start := time.Now()
	var rep ledger.Report
	switch {
	case c.File != "":
		f, err := os.Open(c.File)
		if err != nil {
			return err
		}
		defer f.Close()
		rep, err = verifyExport(f, keys)
		if err != nil {
			return err
		}
	case c.Server != "":
		rep, err = c.verifyServer(ctx, keys)
		if err != nil {
			return err
		}
	default:
		store, err := c.open(ctx, time.Now)
		if err != nil {
			return fmt.Errorf("opening the store (%s): %w", c.describe(), err)
		}
		defer store.Close()
		rep, err = audit.Verify(ctx, store, audit.Range{From: c.From, To: c.To}, keys...)
		if err != nil {
			return err
		}
	}
	d := time.Since(start)
	rate := float64(rep.Entries) / max(d.Seconds(), 1e-9)
	fmt.Fprintf(streams.Out, "entries %d (seq %d..%d), checkpoints %d, in %s (%.0f entries/s)\n", rep.Entries, rep.First, rep.Last, rep.Checkpoints, d.Round(time.Millisecond), rate)
	fmt.Fprintf(streams.Out, "head %s\n", hex.EncodeToString(rep.Head))
	if rep.ChainOnly {
		fmt.Fprintln(streams.Out, "warning: no public key: the chain was checked, the checkpoint signatures were not")
	} else {
		fmt.Fprintf(streams.Out, "checkpoints verified with %s\n", source)
	}
	if rep.Broken != nil {
		fmt.Fprintf(streams.Out, "BROKEN at seq %d: %s: %s\n", rep.Broken.Seq, rep.Broken.Reason, rep.Broken.Detail)
		return rep.Broken
	}
	fmt.Fprintln(streams.Out, "ok: the ledger verifies")
	return nil
}

// keys returns the public keys to check checkpoints with, and says where
// they came from.
func (c *AuditVerifyCmd) keys() ([]ed25519.PublicKey, string, error) {
	if c.PublicKey != "" {
		pub, err := ledger.ParsePublicKey(c.PublicKey)
		if err != nil {
			return nil, "", usageError{fmt.Errorf("--public-key: %w", err)}
		}
		return []ed25519.PublicKey{pub}, "the given public key", nil
	}
	if v := os.Getenv("POSTURE_LEDGER_KEY"); v != "" {
		key, err := ledger.ParseKey(v)
		if err != nil {
			return nil, "", fmt.Errorf("POSTURE_LEDGER_KEY: %w", err)
		}
		return []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}, "the key in POSTURE_LEDGER_KEY", nil
	}
	path := filepath.Join(c.Data, LedgerKeyFile)
	if _, err := os.Stat(path); err == nil {
		key, err := ledger.LoadOrCreateKey(path)
		if err != nil {
			return nil, "", err
		}
		return []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}, "the key in " + path, nil
	}
	return nil, "", nil
}

func verifyExport(r io.Reader, keys []ed25519.PublicKey) (ledger.Report, error) {
	rep, err := ledger.VerifyExport(r, keys...)
	if err != nil {
		return rep, fmt.Errorf("reading the export: %w", err)
	}
	return rep, nil
}

// verifyServer streams the server's export through the verifier.
func (c *AuditVerifyCmd) verifyServer(ctx context.Context, keys []ed25519.PublicKey) (ledger.Report, error) {
	body, err := fetchLedger(ctx, ClientFlags{Server: c.Server, Token: c.Token}, c.Data, c.From, c.To)
	if err != nil {
		return ledger.Report{}, err
	}
	defer body.Close()
	return verifyExport(body, keys)
}

// fetchLedger GETs the server's ledger export.
func fetchLedger(ctx context.Context, f ClientFlags, dataDir string, from, to int64) (io.ReadCloser, error) {
	cl, err := f.client(dataDir)
	if err != nil {
		return nil, err
	}
	q := url.Values{"api-version": {identityAPIVersion}}
	if from > 0 {
		q.Set("from", strconv.FormatInt(from, 10))
	}
	if to > 0 {
		q.Set("to", strconv.FormatInt(to, 10))
	}
	req, err := http.NewRequestWithContext(ctx, "GET", cl.BaseURL+"/providers/Posture.Audit/ledger/default?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+cl.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("GET the ledger: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return resp.Body, nil
}

// AuditExportCmd is `posture audit export`.
type AuditExportCmd struct {
	serverFlags
	From   int64  `help:"First sequence number (default: the first kept)."`
	To     int64  `help:"Last sequence number (default: the head)."`
	Output string `short:"o" default:"-" help:"File to write (- for standard output)."`
}

func (c *AuditExportCmd) Run(ctx context.Context, streams *IO) error {
	body, err := fetchLedger(ctx, c.ClientFlags, c.Data, c.From, c.To)
	if err != nil {
		return err
	}
	defer body.Close()
	out := streams.Out
	if c.Output != "-" {
		f, err := os.OpenFile(c.Output, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	n, err := io.Copy(out, body)
	if err != nil {
		return err
	}
	if c.Output != "-" {
		fmt.Fprintf(streams.Err, "wrote %d bytes to %s; verify with: posture audit verify --file %s --public-key …\n", n, c.Output, c.Output)
	}
	return nil
}
