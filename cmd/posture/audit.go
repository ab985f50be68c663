package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
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
	OutputFlags
}

// verifyResult is the report of audit verify for json, yaml and csv.
type verifyResult struct {
	OK           bool    `json:"ok"`
	Entries      int64   `json:"entries"`
	First        int64   `json:"first"`
	Last         int64   `json:"last"`
	Checkpoints  int64   `json:"checkpoints"`
	Head         string  `json:"head"`
	ChainOnly    bool    `json:"chainOnly"`
	VerifiedWith string  `json:"verifiedWith,omitempty"`
	Seconds      float64 `json:"seconds"`
	BrokenSeq    int64   `json:"brokenSeq,omitempty"`
	BrokenReason string  `json:"brokenReason,omitempty"`
	BrokenDetail string  `json:"brokenDetail,omitempty"`
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
	res := verifyResult{OK: rep.Broken == nil, Entries: rep.Entries, First: rep.First, Last: rep.Last, Checkpoints: rep.Checkpoints,
		Head: hex.EncodeToString(rep.Head), ChainOnly: rep.ChainOnly, Seconds: d.Seconds()}
	if !rep.ChainOnly {
		res.VerifiedWith = source
	}
	if b := rep.Broken; b != nil {
		res.BrokenSeq, res.BrokenReason, res.BrokenDetail = b.Seq, string(b.Reason), b.Detail
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	v, err := docView(b)
	if err != nil {
		return err
	}
	v.Data = res
	v.Text = func(out io.Writer) error {
		rate := float64(rep.Entries) / max(d.Seconds(), 1e-9)
		fmt.Fprintf(out, "entries %d (seq %d..%d), checkpoints %d, in %s (%.0f entries/s)\n", rep.Entries, rep.First, rep.Last, rep.Checkpoints, d.Round(time.Millisecond), rate)
		fmt.Fprintf(out, "head %s\n", res.Head)
		if rep.ChainOnly {
			fmt.Fprintln(out, "warning: no public key: the chain was checked, the checkpoint signatures were not")
		} else {
			fmt.Fprintf(out, "checkpoints verified with %s\n", source)
		}
		if rep.Broken != nil {
			fmt.Fprintf(out, "BROKEN at seq %d: %s: %s\n", rep.Broken.Seq, rep.Broken.Reason, rep.Broken.Detail)
		} else {
			fmt.Fprintln(out, "ok: the ledger verifies")
		}
		return nil
	}
	if err := c.print(streams.Out, formatTable, v); err != nil {
		return err
	}
	if rep.Broken != nil {
		return rep.Broken
	}
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
	Output string `short:"o" default:"-" env:"-" help:"File to write (- for standard output)."`
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
	// The export is JSON lines: count them for the progress line.
	bar := newProgress(streams.Err, "exporting").unit("entries")
	n, err := io.Copy(io.MultiWriter(out, lineCounter{bar}), body)
	bar.done()
	if err != nil {
		return err
	}
	if c.Output != "-" {
		fmt.Fprintf(streams.Err, "wrote %d bytes to %s; verify with: posture audit verify --file %s --public-key …\n", n, c.Output, c.Output)
	}
	return nil
}

// lineCounter counts the lines written through it on a progress line.
type lineCounter struct{ bar *progress }

func (l lineCounter) Write(p []byte) (int, error) {
	if n := bytes.Count(p, []byte{'\n'}); n > 0 {
		l.bar.add(n, "")
	}
	return len(p), nil
}
