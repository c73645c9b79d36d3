package node

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"ferry/internal/client"
	"ferry/internal/model"
	"ferry/internal/node/apply"
	"ferry/internal/wire"
)

// fakeHost is a Host that records what the agent hands it.
type fakeHost struct {
	mu      sync.Mutex
	applied []int64 // item ids
	removed []string
}

func (h *fakeHost) Apply(_ context.Context, o model.Order, it model.Item) apply.Result {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.applied = append(h.applied, it.ID)
	if it.Kind == model.KindMySQLDB {
		return apply.Result{State: model.StateSoftError, Message: "mariadb is not reachable"}
	}
	return apply.Result{State: model.StateActive, Message: "made on " + o.Host}
}

func (h *fakeHost) RemoveOrderDir(_ context.Context, o model.Order) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removed = append(h.removed, o.Identifier)
	return nil
}

func (*fakeHost) MeasureUsage(context.Context) model.HostUsage { return model.HostUsage{} }
func (*fakeHost) MembersRoot() string                          { return "/nonexistent" }

// The agent hands each item of its work to its Host and reports what came
// of it, item by item, and runs remove-order-dir on the Host too.
func TestAgentHandsWorkToItsHost(t *testing.T) {
	var mu sync.Mutex
	reports := map[string]wire.Report{}
	tasks := map[string]wire.TaskReport{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/api/v1/node/items/1/report", "/api/v1/node/items/2/report":
			var rep wire.Report
			json.NewDecoder(r.Body).Decode(&rep)
			reports[r.URL.Path] = rep
			io.WriteString(w, `{"id":1}`)
		case "/api/v1/node/tasks/9/report":
			var rep wire.TaskReport
			json.NewDecoder(r.Body).Decode(&rep)
			tasks[r.URL.Path] = rep
			io.WriteString(w, `{"id":9}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, "fy_test", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	host := &fakeHost{}
	a := NewAgent(AgentOptions{Client: c, Host: host, Log: slog.New(slog.DiscardHandler)})
	o := model.Order{ID: 3, Identifier: "example.org", Member: "ada", Host: "web1"}
	payload, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	a.do(context.Background(), wire.Work{
		Items: []wire.WorkItem{
			{Order: o, Item: model.Item{ID: 1, Kind: model.KindUserAccount, State: model.StatePendingInsert}},
			{Order: o, Item: model.Item{ID: 2, Kind: model.KindMySQLDB, State: model.StatePendingInsert}},
		},
		Tasks: []model.Task{{ID: 9, Kind: wire.TaskRemoveOrderDir, Payload: payload}},
	})

	if len(host.applied) != 2 || host.applied[0] != 1 || host.applied[1] != 2 {
		t.Errorf("host applied items %v, want [1 2]", host.applied)
	}
	if got := reports["/api/v1/node/items/1/report"]; got.State != model.StateActive || got.Message != "made on web1" {
		t.Errorf("item 1 reported %+v", got)
	}
	if got := reports["/api/v1/node/items/2/report"]; got.State != model.StateSoftError || got.Message != "mariadb is not reachable" {
		t.Errorf("item 2 reported %+v", got)
	}
	if len(host.removed) != 1 || host.removed[0] != "example.org" || !tasks["/api/v1/node/tasks/9/report"].OK {
		t.Errorf("remove-order-dir: host removed %v, task reported %+v", host.removed, tasks["/api/v1/node/tasks/9/report"])
	}
}
