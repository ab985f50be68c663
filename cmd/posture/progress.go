package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress draws a one-line progress report on a terminal and nothing
// elsewhere (so scripts and CI logs stay clean).
type progress struct {
	w     io.Writer
	on    bool
	label string
	what  string // what is counted: "documents" unless told
	start time.Time

	mu   sync.Mutex
	n    int
	note string
	last time.Time
}

func newProgress(w io.Writer, label string) *progress {
	p := &progress{w: w, label: label, what: "documents", start: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.on = true
	}
	return p
}

// unit names what is counted ("exemptions", "entries").
func (p *progress) unit(what string) *progress {
	p.what = what
	return p
}

// add counts n more items; note says what is being worked on.
func (p *progress) add(n int, note string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += n
	p.note = note
	if p.on && time.Since(p.last) > 150*time.Millisecond {
		p.last = time.Now()
		p.draw()
	}
}

func (p *progress) draw() {
	secs := time.Since(p.start).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(p.n) / secs
	}
	fmt.Fprintf(p.w, "\r\033[K%s %s %s  %s/s  %s", p.label, group(p.n), p.what, group(int(rate)), p.note)
}

// done clears the line.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// group formats n with thousands separators.
func group(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out)
}
