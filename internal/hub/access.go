package hub

import "github.com/hdnetwork/hdn/internal/api"

// API is the hub's API server, for what runs in the same process (the web
// UI calls it as its signed-in users; tests call the jobs).
func (h *Hub) API() *api.Server { return h.api }
