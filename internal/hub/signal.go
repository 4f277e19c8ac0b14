package hub

import (
	"context"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
)

// signalLoop looks for campaigns and expires indicators whose score decayed
// under the floor, every SignalEvery.
func (h *Hub) signalLoop(ctx context.Context) error {
	t := time.NewTicker(h.cfg.SignalEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		h.RunSignalJobs(ctx)
	}
}

// RunSignalJobs runs the signal-quality jobs once: campaign alerts, the
// hold of quarantined values, then expiry by decay. Failures are logged and tried again next time.
func (h *Hub) RunSignalJobs(ctx context.Context) (alerts []model.Alert, expired int) {
	alerts, err := h.api.RaiseCampaignAlerts(ctx, h.cfg.CampaignOrgs, h.cfg.CampaignWindow)
	if err != nil && ctx.Err() == nil {
		h.log.Error("signal: campaign alerts", "err", err)
	}
	for _, a := range alerts {
		h.log.Info("signal: campaign alert", "by", a.By, "key", a.Key, "organisations", len(a.Orgs), "indicators", len(a.Indicators))
	}
	// Values held quarantined hold every source's live indicator of them
	// (the store sees to it as they are quarantined and submitted; this
	// catches the values held by the upgrade that introduced the hold).
	if n, err := h.api.HoldQuarantinedValues(ctx); err != nil && ctx.Err() == nil {
		h.log.Error("signal: quarantined values", "err", err)
	} else if n > 0 {
		h.log.Info("signal: indicators of quarantined values quarantined", "count", n)
	}
	expired, err = h.api.ExpireDecayed(ctx)
	if err != nil && ctx.Err() == nil {
		h.log.Error("signal: expiry by decay", "err", err)
	}
	if expired > 0 {
		h.log.Info("signal: indicators expired by decay", "count", expired)
	}
	return alerts, expired
}
