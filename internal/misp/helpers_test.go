package misp

import (
	"time"

	"github.com/google/uuid"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// testIndicator is a stored indicator as the hub would hand it to an export.
func testIndicator(t indicator.Type, value string) model.Indicator {
	created := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	return model.Indicator{
		ID:         uuid.NewSHA1(uuid.NameSpaceOID, []byte(string(t)+value)).String(),
		Type:       t,
		Value:      value,
		TLP:        policy.Green,
		Audience:   policy.NetworkAudience(),
		Confidence: DefaultConfidence,
		ValidFrom:  created,
		FirstSeen:  created,
		LastSeen:   created.Add(time.Hour),
		Source:     srcOrg,
		Created:    created,
		Modified:   created.Add(2 * time.Hour),
	}
}
