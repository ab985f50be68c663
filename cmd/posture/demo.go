package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/posture/posture/demo"
)

// DemoCmd groups the demo subcommands.
type DemoCmd struct {
	Generate DemoGenerateCmd `cmd:"" help:"Write a synthetic estate of any size as {\"value\":[…]} files, for benchmarks."`
}

// DemoGenerateCmd writes a synthetic estate.
type DemoGenerateCmd struct {
	Resources int    `default:"1000" help:"Number of top-level resources (child resources come on top)."`
	Out       string `required:"" help:"Directory to write estate-NNNNN.json files into."`
	Seed      uint64 `default:"7" help:"Seed; the same seed gives the same estate."`
	PerFile   int    `default:"10000" help:"Documents per file."`
	Scanner   int    `default:"0" placeholder:"CHECKS" help:"Add a scanner's findings: CHECKS custom assessments on every top-level resource (and their metadata per subscription)."`
}

// Run streams the estate to files: nothing but the current document is held
// in memory, so a million resources work.
func (c *DemoGenerateCmd) Run(ctx context.Context, streams *IO) error {
	if c.Resources < 1 || c.PerFile < 1 || c.Scanner < 0 {
		return usageError{fmt.Errorf("--resources and --per-file must be positive, --scanner not negative")}
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return err
	}
	var (
		f                    *os.File
		w                    *bufio.Writer
		inFile, files, total int
	)
	closeFile := func() error {
		if f == nil {
			return nil
		}
		w.WriteString("\n]}\n")
		if err := w.Flush(); err != nil {
			return err
		}
		err := f.Close()
		f = nil
		return err
	}
	bar := newProgress(streams.Err, "generating")
	err := (&demo.Generator{Seed: c.Seed, Resources: c.Resources, ScannerChecks: c.Scanner}).Each(func(doc []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f == nil || inFile == c.PerFile {
			if err := closeFile(); err != nil {
				return err
			}
			files++
			var err error
			f, err = os.Create(filepath.Join(c.Out, fmt.Sprintf("estate-%05d.json", files)))
			if err != nil {
				return err
			}
			w = bufio.NewWriterSize(f, 1<<20)
			w.WriteString(`{"value":[` + "\n")
			inFile = 0
		}
		if inFile > 0 {
			w.WriteString(",\n")
		}
		w.Write(doc)
		inFile++
		total++
		if total%1000 == 0 {
			bar.add(1000, "")
		}
		return nil
	})
	if cerr := closeFile(); err == nil {
		err = cerr
	}
	bar.done()
	if err != nil {
		return err
	}
	fmt.Fprintf(streams.Out, "wrote %s documents (%s top-level resources) in %d file(s) to %s\n", group(total), group(c.Resources), files, c.Out)
	return nil
}
