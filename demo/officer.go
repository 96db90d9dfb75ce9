package demo

import (
	"context"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/alerts/desk"
	"go.uber.org/zap"
)

// dutyOfficer plays the officer on duty so that a demo left alone shows the
// whole life of an alert: an alert still open `after` (wall time) since it was
// first seen is acknowledged, and one still active after twice that is
// resolved, both through the desk, so the commands travel the log like an
// officer's from the dashboard. Alerts a rule clears by itself are left to it.
func dutyOfficer(ctx context.Context, d *desk.Desk, after time.Duration, log *zap.Logger) {
	const name = "demo duty officer"
	seen := map[string]time.Time{}
	t := time.NewTicker(after / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		active, err := d.List(ctx, desk.Filter{ActiveOnly: true})
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("duty officer: list alerts", zap.Error(err))
			}
			continue
		}
		now := time.Now()
		for _, a := range active {
			first, ok := seen[a.ID]
			if !ok {
				seen[a.ID] = now
				continue
			}
			var err error
			switch age := now.Sub(first); {
			case a.Status == alerts.StatusOpen && age >= after:
				_, err = d.Acknowledge(ctx, a.ID, name, "looking into it with the carrier")
			case a.Status == alerts.StatusAcknowledged && age >= 2*after:
				_, err = d.Resolve(ctx, a.ID, name, "explained by the carrier; no further action")
			}
			if err != nil && ctx.Err() == nil {
				log.Warn("duty officer", zap.String("alert", a.ID), zap.Error(err))
			}
		}
	}
}
