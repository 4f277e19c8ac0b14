package cli

import (
	"github.com/hdnetwork/hdn/internal/hub"
)

func runHub(e *env) error {
	fs := e.flags("hdn hub")
	data := fs.String("data", "", "data directory (created on first start)")
	listen := fs.String("listen", "127.0.0.1:8443", "address to serve on")
	natsURL := fs.String("nats", "", "NATS JetStream URL, to run several hub replicas (default: in-process bus)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := e.parse(fs); err != nil {
		return err
	}
	if err := required(fs, "data"); err != nil {
		return err
	}
	log, err := newLogger(e.stderr, *logLevel)
	if err != nil {
		return err
	}
	h, err := hub.New(e.ctx, hub.Config{DataDir: *data, Listen: *listen, Logger: log, NATS: *natsURL})
	if err != nil {
		return err
	}
	return h.Run(e.ctx)
}
