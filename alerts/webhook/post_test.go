package webhook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts/webhook"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func delivery(t *testing.T, url, raw string) *webhook.Delivery {
	t.Helper()
	s, err := webhook.ParseSecret(raw)
	if err != nil {
		t.Fatal(err)
	}
	return &webhook.Delivery{
		Target: webhook.Target{Name: "t", URL: url, Timeout: time.Second, Attempts: 3},
		Secret: s,
		Event:  webhook.Event{ID: "alert-1-1", Body: []byte(`{"id":"alert-1-1","specversion":"1.0"}`)},
	}
}

func TestPostSignedRequest(t *testing.T) {
	raw := newSecret(t)
	lib, _ := standardwebhooks.NewWebhook(raw)
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r, must(io.ReadAll(r.Body))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	d := delivery(t, srv.URL+"/hook", raw)
	now := time.Unix(1_790_000_000, 0)
	if err := webhook.Post(webhook.NewHTTPClient(), func() time.Time { return now })(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/hook" || string(body) != string(d.Event.Body) {
		t.Fatalf("request %s %s body %q", got.Method, got.URL, body)
	}
	for k, want := range map[string]string{
		"Content-Type": "application/cloudevents+json", "webhook-id": "alert-1-1", "webhook-timestamp": "1790000000",
		"webhook-signature": webhook.Sign(d.Secret, "alert-1-1", 1_790_000_000, d.Event.Body),
	} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
	if err := lib.VerifyIgnoringTimestamp(body, got.Header); err != nil {
		t.Errorf("official library refuses the request: %v", err)
	}
}

func TestPostFailures(t *testing.T) {
	var redirected atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/busy":
			w.Header().Set("Retry-After", "7")
			http.Error(w, "come back later", http.StatusServiceUnavailable)
		case "/gone":
			http.Error(w, "no such hook", http.StatusGone)
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		case "/elsewhere":
			redirected.Store(true)
		case "/slow":
			_, _ = io.ReadAll(r.Body) // so the server notices the client hanging up
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	post := webhook.Post(webhook.NewHTTPClient(), nil)
	for _, tc := range []struct {
		path   string
		reason webhook.Reason
		status int
		after  time.Duration
		resp   string
	}{
		{"/busy", webhook.ReasonStatus, 503, 7 * time.Second, "come back later\n"},
		{"/gone", webhook.ReasonStatus, 410, 0, "no such hook\n"},
		{"/redirect", webhook.ReasonStatus, 307, 0, ""},
		{"/slow", webhook.ReasonTimeout, 0, 0, ""},
	} {
		d := delivery(t, srv.URL+tc.path, newSecret(t))
		d.Target.Timeout = 100 * time.Millisecond
		err := post(context.Background(), d)
		var ae *webhook.AttemptError
		if !errors.As(err, &ae) || ae.Reason != tc.reason || ae.StatusCode != tc.status || ae.RetryAfter != tc.after || ae.Response != tc.resp {
			t.Errorf("%s: %#v (%v)", tc.path, ae, err)
		}
	}
	if redirected.Load() {
		t.Error("a redirect was followed")
	}
	srv.Close()
	d := delivery(t, srv.URL, newSecret(t))
	var ae *webhook.AttemptError
	if err := post(context.Background(), d); !errors.As(err, &ae) || ae.Reason != webhook.ReasonTransport {
		t.Errorf("closed server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := post(ctx, d); !errors.Is(err, context.Canceled) || errors.As(err, &ae) {
		t.Errorf("cancelled: %v, want context.Canceled and no AttemptError", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
