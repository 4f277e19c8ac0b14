package cli

import (
	"github.com/hdnetwork/hdn/internal/demo"
)

func runDemo(e *env) error {
	fs := e.flags("hdn demo")
	data := fs.String("data", "", "data directory for the demo hub (default: a temporary one, removed at the end)")
	if err := e.parse(fs); err != nil {
		return err
	}
	_, err := demo.Run(e.ctx, demo.Config{DataDir: *data, Out: e.stdout})
	return err
}
