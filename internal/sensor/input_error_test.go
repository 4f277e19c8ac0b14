package sensor_test

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/sensor"
)

// TestInputOutlastsErrors: a followed log that cannot be read for a while
// (rotated to something unreadable: here a directory) is counted and
// logged, and matched again once a readable file is back; the input does
// not die with the first error.
func TestInputOutlastsErrors(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	org := h.Org("hospital-a", policy.Member, "")
	analyst, sensorKey := h.Key(org, policy.Analyst), h.Key(org, policy.Sensor)
	postGreen(t, h, analyst, "input-c2.example.net")
	eve := writeFile(t)
	var mu sync.Mutex
	var alerts []string
	s, _, _ := startSensor(t, sensor.Config{Hubs: []string{h.URL}, Key: sensorKey, Inputs: []sensor.Input{{Format: match.FormatEVE, Path: eve}},
		OnAlert: func(line []byte) {
			mu.Lock()
			defer mu.Unlock()
			alerts = append(alerts, string(line))
		}})
	<-s.Current()
	alerted := func(marker string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range alerts {
			if strings.Contains(a, marker) {
				return true
			}
		}
		return false
	}
	appendLine := func(line string) {
		t.Helper()
		f, err := os.OpenFile(eve, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(line + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	appendLine(strings.Replace(eveDNS(time.Now(), "input-c2.example.net"), `"flow_id":1234`, `"flow_id":1111`, 1))
	eventually(t, 30*time.Second, "the first alert", func() bool { return alerted(`"flow_id":1111`) })

	if err := os.Rename(eve, eve+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(eve, 0o700); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the unreadable input counted", func() bool { return s.Metrics().InputErrors > 0 })
	if err := os.Remove(eve); err != nil {
		t.Fatal(err)
	}
	appendLine(strings.Replace(eveDNS(time.Now(), "input-c2.example.net"), `"flow_id":1234`, `"flow_id":2222`, 1))
	eventually(t, 30*time.Second, "an alert from the file that came back", func() bool { return alerted(`"flow_id":2222`) })
}
