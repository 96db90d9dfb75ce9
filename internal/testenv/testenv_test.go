package testenv_test

import (
	"os"
	"strings"
	"testing"

	"github.com/inbond/inbond/internal/testenv"
)

// The broker settings the burst tests run with are the ones documented for
// production; this keeps the two from drifting apart.
func TestProductionMosquittoConfHasTestedLimits(t *testing.T) {
	b, err := os.ReadFile("../../deploy/mosquitto/mosquitto.conf")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, want := range strings.Split(strings.TrimSpace(testenv.BurstMosquittoConf), "\n") {
		if !lines[want] {
			t.Errorf("deploy/mosquitto/mosquitto.conf lacks %q, which the burst tests depend on", want)
		}
	}
	if !lines["persistence true"] {
		t.Error("deploy/mosquitto/mosquitto.conf must keep sessions across restarts (persistence true)")
	}
}
