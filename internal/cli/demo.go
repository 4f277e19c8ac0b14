package cli

import (
	"github.com/hdnetwork/hdn/internal/demo"
)

func runDemo(e *env) error {
	fs := e.flags("hdn demo")
	data := fs.String("data", "", "data directory for the demo (default: a temporary one, removed at the end)")
	serve := fs.Bool("serve", false, "keep the hub running after the story and print each organisation's keys")
	listen := fs.String("listen", "", "the hub's address (default: a free port; 127.0.0.1:8443 with --serve)")
	if err := e.parse(fs); err != nil {
		return err
	}
	_, err := demo.Run(e.ctx, demo.Config{DataDir: *data, Out: e.stdout, Serve: *serve, Listen: *listen})
	return err
}
