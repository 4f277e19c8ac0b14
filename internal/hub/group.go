package hub

import (
	"context"
	"fmt"
	"sync"
)

// group runs parts together: when the context ends or any part returns, the
// others are interrupted, and run returns the first error.
type group struct {
	parts []part
}

type part struct {
	name      string
	run       func(ctx context.Context) error
	interrupt func() // optional: stop run when cancelling its context is not enough
}

func (g *group) add(name string, run func(ctx context.Context) error, interrupt func()) {
	g.parts = append(g.parts, part{name, run, interrupt})
}

func (g *group) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(g.parts))
	var wg sync.WaitGroup
	for _, p := range g.parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.run(ctx)
			if err != nil {
				err = fmt.Errorf("%s: %w", p.name, err)
			}
			errs <- err
		}()
	}
	var first error
	select {
	case first = <-errs:
	case <-ctx.Done():
	}
	cancel()
	for _, p := range g.parts {
		if p.interrupt != nil {
			p.interrupt()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if first == nil {
			first = err
		}
	}
	return first
}
