package node

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"ferry/internal/client"
	"ferry/internal/node/apply"
	"ferry/internal/wire"
)

// renewingHost is a Host whose renewal check renews item 42 and fails
// item 43.
type renewingHost struct{ Host }

func (renewingHost) RenewCertificates(context.Context, time.Time) []apply.Renewal {
	return []apply.Renewal{{ItemID: 42, Message: "https with an ACME certificate from CN=CA, expires 2027-01-01T00:00:00Z"},
		{ItemID: 43, Err: context.DeadlineExceeded}}
}

// The agent's renewal check tells the control plane of a certificate it
// obtained: the item, reported active, with the message naming it; a
// failed renewal is not reported.
func TestAgentReportsARenewedCertificate(t *testing.T) {
	reports := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rep wire.Report
		if r.Method == http.MethodPost {
			if err := json.NewDecoder(r.Body).Decode(&rep); err == nil {
				reports <- r.URL.Path + " " + string(rep.State) + " " + rep.Message
			}
		}
		_, _ = io.WriteString(w, `{"id":42,"state":"active"}`)
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, "fy_test", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := NewAgent(AgentOptions{Client: c, Host: renewingHost{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), RenewEvery: time.Hour})
	go a.renewCertificates(ctx, renewingHost{})
	want := "/api/v1/node/items/42/report active https with an ACME certificate from CN=CA, expires 2027-01-01T00:00:00Z"
	select {
	case got := <-reports:
		if got != want {
			t.Errorf("reported %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the renewal check reported nothing")
	}
	select {
	case got := <-reports:
		t.Errorf("a failed renewal was reported too: %q", got)
	case <-time.After(200 * time.Millisecond):
	}
}
