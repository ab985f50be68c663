package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/posture/posture"
	"github.com/posture/posture/client"
	"github.com/posture/posture/exemptplan"
)

// codeApplySummary is what an apply did.
type codeApplySummary struct {
	Done   map[exemptplan.Kind]int
	Failed []codeApplyFailure
}

type codeApplyFailure struct {
	Kind   exemptplan.Kind
	ID     string
	Reason string
}

func (s *codeApplySummary) print(w io.Writer) {
	fmt.Fprintf(w, "\nApplied: %d created, %d updated, %d re-bound, %d deleted; %d failed.\n",
		s.Done[exemptplan.Create], s.Done[exemptplan.Update], s.Done[exemptplan.Rebind], s.Done[exemptplan.Delete], len(s.Failed))
	for _, f := range s.Failed {
		fmt.Fprintf(w, "  failed: %s %s: %s\n", f.Kind, f.ID, f.Reason)
	}
}

// codeApplyPlan performs the plan's actions, concurrency at a time. Each is
// one request the server does atomically; a failing one does not stop the
// others. Results are reported in the plan's order.
func codeApplyPlan(ctx context.Context, cl *client.Client, r *exemptplan.Result, concurrency int, streams *IO) *codeApplySummary {
	var actions []exemptplan.Action
	for _, a := range r.Actions {
		if a.Kind != exemptplan.NoChange {
			actions = append(actions, a)
		}
	}
	errs := make([]error, len(actions))
	prog := newProgress(streams.Err, "applying")
	work := make(chan int)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for i := range work {
				errs[i] = codeApplyOne(ctx, cl, actions[i])
				prog.add(1, actions[i].ID)
			}
		})
	}
	for i := range actions {
		work <- i
	}
	close(work)
	wg.Wait()
	prog.done()
	sum := &codeApplySummary{Done: map[exemptplan.Kind]int{}}
	for i, a := range actions {
		if errs[i] != nil {
			sum.Failed = append(sum.Failed, codeApplyFailure{a.Kind, a.ID, message(errs[i])})
		} else {
			sum.Done[a.Kind]++
		}
	}
	return sum
}

// errCodeChanged is the failure of an action whose exemption is no longer
// what the plan was made from.
var errCodeChanged = errors.New("it changed since the plan was made; plan again")

// codeApplyOne performs one action. The plan read exemptions from Resource
// Graph, which gives no ETag: the exemption is read again, compared with
// what was codePlan, and written with that reading's ETag as If-Match, so
// that a change made in between is refused (412) rather than overwritten.
// A create checks that the exemption is still absent (the API has no
// If-None-Match).
func codeApplyOne(ctx context.Context, cl *client.Client, a exemptplan.Action) error {
	var raw []byte
	_, hdr, err := cl.Send(ctx, http.MethodGet, a.ID, codeExemptionVersion, nil, nil, nil, &raw)
	switch {
	case a.Kind == exemptplan.Create && err == nil:
		return fmt.Errorf("it was created since the plan was made; plan again")
	case a.Kind == exemptplan.Create && posture.ErrorKind(err) == posture.ENOTFOUND:
		_, err = cl.Do(ctx, http.MethodPut, a.ID, codeExemptionVersion, nil, map[string]any{"properties": a.Desired.Properties()}, nil)
		return err
	case posture.ErrorKind(err) == posture.ENOTFOUND:
		return fmt.Errorf("it was deleted since the plan was made; plan again")
	case err != nil:
		return err
	}
	got, err := codeDecodeExemption(raw)
	if err != nil {
		return err
	}
	if !exemptplan.Same(a.Current, &got) {
		return errCodeChanged
	}
	ifMatch := http.Header{"If-Match": {hdr.Get("ETag")}}
	if a.Kind == exemptplan.Delete {
		_, _, err = cl.Send(ctx, http.MethodDelete, a.ID, codeExemptionVersion, nil, ifMatch, nil, nil)
		return err
	}
	_, _, err = cl.Send(ctx, http.MethodPut, a.ID, codeExemptionVersion, nil, ifMatch, map[string]any{"properties": a.Desired.Properties()}, nil)
	return err
}
