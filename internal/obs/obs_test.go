package obs_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/internal/obs"
)

// Close returns only once the server is gone: nothing listens any more.
func TestMetricsServerServesUntilClosed(t *testing.T) {
	m, err := obs.ServeMetrics("127.0.0.1:0", obs.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + m.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "go_goroutines") {
		t.Fatalf("/metrics lacks the runtime metrics:\n%.300s", body)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if c, err := net.DialTimeout("tcp", m.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Close returned", m.Addr())
	}
}

func TestMetricsServerDisabled(t *testing.T) {
	m, err := obs.ServeMetrics("", obs.NewRegistry())
	if err != nil || m != nil || m.Addr() != "" || m.Close() != nil {
		t.Fatalf("disabled server: %v, %v", m, err)
	}
}

func TestMetricsServerBusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := obs.ServeMetrics(ln.Addr().String(), obs.NewRegistry()); err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("busy address: %v; want an error naming it", err)
	}
}
