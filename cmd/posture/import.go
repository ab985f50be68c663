package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/estate"
)

// ImportCmd imports ARM documents from files.
type ImportCmd struct {
	Paths []string `arg:"" help:"Files or directories (read recursively: *.json, *.jsonl, *.ndjson)."`
	ClientFlags
	Direct bool `help:"Write into the store (--data / --database-url) directly instead of through a server; the server must not be running on SQLite."`
	StoreFlags
	Batch int `default:"5000" help:"Documents per write (one transaction)."`
}

// importer writes batches of documents. prepare runs in the goroutine that
// reads the file, write in another, so that on two cores decoding and
// normalising overlap with the database's work.
type importer struct {
	prepare func(docs []json.RawMessage) any
	write   func(ctx context.Context, prepared any) (posture.ImportSummary, error)
	close   func()
}

// Run imports the files. Exit status 1 when anything was rejected.
func (c *ImportCmd) Run(ctx context.Context, streams *IO) error {
	files, err := importFiles(c.Paths)
	if err != nil {
		return usageError{err}
	}
	if c.Batch < 1 || c.Batch > 20000 {
		return usageError{fmt.Errorf("--batch must be between 1 and 20000")}
	}
	imp, err := c.importer(ctx)
	if err != nil {
		return err
	}
	defer imp.close()

	start := time.Now()
	bar := newProgress(streams.Err, "importing")
	var total posture.ImportSummary
	// Files are checked for JSON syntax one ahead of the one importing, so
	// that the check overlaps with the database's work.
	checks := make([]chan error, len(files))
	for i := range checks {
		checks[i] = make(chan error, 1)
	}
	go func() {
		for i, f := range files {
			if ctx.Err() != nil {
				return
			}
			checks[i] <- checkJSON(f)
		}
	}()
	for i, f := range files {
		var checked error
		select {
		case checked = <-checks[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		sum, err := importFile(ctx, f, checked, c.Batch, imp, bar)
		if err != nil {
			bar.done()
			return fmt.Errorf("%s: %w", f, err)
		}
		total.Add(sum)
	}
	bar.done()
	secs := time.Since(start).Seconds()
	fmt.Fprintf(streams.Out, "imported %d file(s) in %.1fs (%s documents/s): %s\n", len(files), secs, group(int(float64(total.Read)/max(secs, 1e-9))), estate.Describe(total))
	for i, r := range total.Rejected {
		if i == 50 {
			fmt.Fprintf(streams.Out, "  … and %d more rejected\n", len(total.Rejected)-50)
			break
		}
		where := r.Source
		if r.Index >= 0 {
			where = fmt.Sprintf("%s document %d", r.Source, r.Index+1)
		}
		fmt.Fprintf(streams.Out, "  rejected %s (%s): %s: %s\n", where, r.ID, r.Code, r.Message)
	}
	if len(total.Rejected) > 0 {
		return errors.New("some documents were rejected; the others were imported")
	}
	return nil
}

// importer returns how batches are written: through the server's import
// API or straight into the store.
func (c *ImportCmd) importer(ctx context.Context) (*importer, error) {
	if !c.Direct {
		cl, err := c.client(c.Data)
		if err != nil {
			return nil, err
		}
		return &importer{
			prepare: func(docs []json.RawMessage) any { return docs },
			write: func(ctx context.Context, p any) (posture.ImportSummary, error) {
				return cl.Import(ctx, p.([]json.RawMessage))
			},
			close: func() {},
		}, nil
	}
	store, err := c.open(ctx, time.Now)
	if err != nil {
		return nil, fmt.Errorf("opening the store (%s): %w", c.describe(), err)
	}
	svc := &estate.Service{Store: store, Now: time.Now}
	if _, err := svc.EnsureTenant(ctx, ""); err != nil {
		store.Close()
		return nil, err
	}
	type normalized struct {
		rs       []*posture.Resource
		rejected []*posture.ImportRejected
	}
	return &importer{
		prepare: func(docs []json.RawMessage) any {
			var n normalized
			for i, d := range docs {
				r, err := armdoc.Normalize(d)
				if err != nil {
					n.rejected = append(n.rejected, &posture.ImportRejected{Index: i, ID: armdoc.Describe(d), Code: posture.ErrorCode(err), Message: message(err)})
					continue
				}
				n.rs = append(n.rs, r)
			}
			return n
		},
		write: func(ctx context.Context, p any) (posture.ImportSummary, error) {
			n := p.(normalized)
			sum, err := svc.ImportResources(ctx, n.rs)
			sum.Read += len(n.rejected)
			sum.Rejected = n.rejected
			return sum, err
		},
		close: func() { store.Close() },
	}, nil
}

// importFile writes the documents of a file, checked to be JSON throughout
// (checked is the outcome), in batches while the next batch is being read. A file that is
// not valid JSON is rejected whole: none of its documents is written.
func importFile(ctx context.Context, path string, checked error, batchSize int, imp *importer, bar *progress) (posture.ImportSummary, error) {
	if err := checked; err != nil {
		return posture.ImportSummary{Rejected: []*posture.ImportRejected{{
			Index: -1, Source: path, Code: "InvalidRequestContent", Message: "the file is not valid JSON, none of it was imported: " + err.Error(),
		}}}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return posture.ImportSummary{}, err
	}
	defer f.Close()
	type batch struct {
		prepared any
		n, first int
	}
	batches := make(chan batch, 2)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		dec := armdoc.NewDecoder(f)
		var docs []json.RawMessage
		first := 0
		send := func() bool {
			b := batch{prepared: imp.prepare(docs), n: len(docs), first: first}
			docs, first = nil, dec.Index()
			select {
			case batches <- b:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for {
			raw, err := dec.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					readErr <- err
				}
				break
			}
			docs = append(docs, raw)
			if len(docs) == batchSize && !send() {
				return
			}
		}
		if len(docs) > 0 {
			send()
		}
	}()
	var sum posture.ImportSummary
	for b := range batches {
		part, err := imp.write(ctx, b.prepared)
		if err != nil {
			for range batches { // let the reader finish
			}
			return sum, err
		}
		for _, r := range part.Rejected {
			r.Index += b.first
			r.Source = path
		}
		sum.Add(part)
		bar.add(b.n, filepath.Base(path))
	}
	select {
	case err := <-readErr:
		return sum, err
	default:
	}
	return sum, ctx.Err()
}

// checkJSON reads a file through once to find syntax errors.
func checkJSON(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := armdoc.NewDecoder(f)
	for {
		if _, err := dec.Next(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// importFiles expands directories into the JSON files under them.
func importFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".json", ".jsonl", ".ndjson":
				if !d.IsDir() {
					found = append(found, path)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		slices.Sort(found)
		files = append(files, found...)
	}
	if len(files) == 0 {
		return nil, errors.New("no JSON files to import")
	}
	return files, nil
}
