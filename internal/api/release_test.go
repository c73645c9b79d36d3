package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"ferry/internal/client"
	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
	"ferry/internal/store"
)

// A node agent that dies mid-task leaves the task leased; when it starts
// again it takes the task back at once instead of after the lease.
func TestRestartedNodeTakesBackItsLeasedTasks(t *testing.T) {
	ctx := context.Background()
	log := cptest.Quiet()
	st := cptest.SQLite(t)
	p := cptest.Panel(st, nil)
	secret, err := p.EnsureAdminToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewServer(p, log))
	t.Cleanup(srv.Close)
	admin, _ := client.New(srv.URL, secret, client.Options{})
	node := map[string]*client.Client{}
	for h, addr := range map[string]string{"web1": "192.0.2.1", "web2": "192.0.2.2"} {
		if _, err := admin.CreateHost(ctx, model.Host{Name: h, Addresses: []string{addr}, Roles: []model.Role{model.RoleWeb}}); err != nil {
			t.Fatal(err)
		}
		tok, err := admin.CreateToken(ctx, TokenInput{Name: "node-" + h, Role: model.RoleNode, Host: h})
		if err != nil {
			t.Fatal(err)
		}
		node[h], _ = client.New(srv.URL, tok.Secret, client.Options{})
	}
	for _, h := range []string{"web1", "web2"} {
		err := st.Update(ctx, func(tx store.Tx) error {
			return tx.CreateTask(ctx, &model.Task{Host: h, Kind: "move-sync-files", Payload: []byte(`{}`), State: model.TaskQueued})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []string{"web1", "web2"} {
		if w, err := node[h].NodeWork(ctx, 0); err != nil || len(w.Tasks) != 1 {
			t.Fatalf("%s: first poll got %d tasks, %v", h, len(w.Tasks), err)
		}
	}
	// web1's agent dies and starts again: its task is leased, so a poll
	// alone gets nothing until the lease ends.
	if w, _ := node["web1"].NodeWork(ctx, 0); len(w.Tasks) != 0 {
		t.Fatalf("a leased task was handed out again at once: %+v", w.Tasks)
	}
	n, err := node["web1"].ReleaseTasks(ctx)
	if err != nil || n != 1 {
		t.Fatalf("release: %d, %v; want 1 task", n, err)
	}
	w, err := node["web1"].NodeWork(ctx, 0)
	if err != nil || len(w.Tasks) != 1 || w.Tasks[0].Attempts != 2 {
		t.Fatalf("after release web1 got %+v, %v; want its task again, attempt 2", w.Tasks, err)
	}
	// web2's task stays web2's.
	if w, _ := node["web2"].NodeWork(ctx, 0); len(w.Tasks) != 0 {
		t.Errorf("web1's release handed web2's task out again: %+v", w.Tasks)
	}
	var ae *Error
	if _, err := admin.ReleaseTasks(ctx); !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		t.Errorf("an admin token releasing tasks: %v, want 403", err)
	}
}
