package main

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// closed runs one closed-loop step: n clients, each sending its next
// request as soon as the last is answered, for warmup then duration.
// Requests that start in the measured window count, whenever they end.
func (r *loadRun) closed(ctx context.Context, n int, warmup, duration time.Duration) (loadStep, error) {
	clients := make([]*loadClient, n)
	for i := range clients {
		c, err := r.client(ctx, i)
		if err != nil {
			return loadStep{}, err
		}
		clients[i] = c
	}
	stats := make([]loadStats, n)
	sent := make([]int, n) // every request, warmup included: what the server's CPU served
	cpu0, server0 := cpuTime(), r.serverCPUOrZero()
	start := time.Now()
	from, end := start.Add(warmup), start.Add(warmup+duration)
	var wg sync.WaitGroup
	for i, c := range clients {
		st := loadStats{}
		stats[i] = st
		// Each client has its own sequence: the same seed gives the same
		// choices per client whatever the scheduling.
		rng := rand.New(rand.NewPCG(r.seed, uint64(i)))
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				op := pick(r.ops, rng)
				res := op.run(c, ctx)
				sent[i]++
				if !t0.Before(from) && ctx.Err() == nil {
					st.record(op, res, time.Since(t0))
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return loadStep{}, err
	}
	all := loadStats{}
	for _, st := range stats {
		all.merge(st)
	}
	step := all.summarize(duration)
	step.Clients = n
	total := 0
	for _, k := range sent {
		total += k
	}
	r.cpuFigures(&step, start, cpu0, server0, total)
	return step, nil
}

// open runs the open-loop step: requests due at a fixed rate, each sent
// when due (or at once when the generator is behind) on the clients in
// turn, at most maxInFlight at a time (the others are counted as not
// sent). A request's latency counts from when it was due, so a server
// that stalls is charged for the requests that queued behind the stall.
func (r *loadRun) open(ctx context.Context, rate int, warmup, duration time.Duration) (loadStep, error) {
	var clients []*loadClient
	for i := range r.urls {
		c, err := r.client(ctx, i)
		if err != nil {
			return loadStep{}, err
		}
		clients = append(clients, c)
	}
	var (
		mu      sync.Mutex
		st      = loadStats{}
		sent    int
		wg      sync.WaitGroup
		sem     = make(chan struct{}, maxInFlight)
		notSent int
		rng     = rand.New(rand.NewPCG(r.seed, 0))
		timer   = time.NewTimer(time.Hour)
	)
	defer timer.Stop()
	cpu0, server0 := cpuTime(), r.serverCPUOrZero()
	start := time.Now()
	from, end := start.Add(warmup), start.Add(warmup+duration)
	for k := 0; ctx.Err() == nil; k++ {
		due := start.Add(time.Duration(k) * time.Second / time.Duration(rate))
		if !due.Before(end) {
			break
		}
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				continue
			case <-timer.C:
			}
		}
		measured := !due.Before(from)
		select {
		case sem <- struct{}{}:
		default:
			if measured {
				notSent++
			}
			continue
		}
		op, c := pick(r.ops, rng), clients[k%len(clients)]
		wg.Go(func() {
			defer func() { <-sem }()
			res := op.run(c, ctx)
			d := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			sent++
			if measured && ctx.Err() == nil {
				st.record(op, res, d)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return loadStep{}, err
	}
	step := st.summarize(duration)
	step.Rate, step.NotSent = rate, notSent
	r.cpuFigures(&step, start, cpu0, server0, sent)
	return step, nil
}

func (r *loadRun) serverCPUOrZero() time.Duration {
	d, _ := r.serverCPU() // checked when the flags were read
	return d
}

// cpuFigures sets the CPU the generator and the servers used in a step
// that began at start, in cores, and the servers' per request sent.
func (r *loadRun) cpuFigures(step *loadStep, start time.Time, cpu0, server0 time.Duration, sent int) {
	wall := time.Since(start).Seconds()
	step.GeneratorCores = (cpuTime() - cpu0).Seconds() / wall
	if len(r.serverPIDs) > 0 {
		used := r.serverCPUOrZero() - server0
		step.ServerCores = used.Seconds() / wall
		if sent > 0 {
			step.ServerCPUPerRequestUs = float64((used / time.Duration(sent)).Microseconds())
		}
	}
}
