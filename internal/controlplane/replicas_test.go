package controlplane_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/internal/controlplane"
	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store/storetest"
)

var root = panel.Caller{Name: "root", Role: model.RoleAdmin}

func startReplica(t *testing.T, url, id string) *controlplane.ControlPlane {
	t.Helper()
	cp, err := controlplane.Start(t.Context(), controlplane.Config{StoreURL: url, Log: cptest.Quiet(), Rebalance: true,
		ReplicaID: id, LeaderPoll: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Close() })
	return cp
}

// leaders waits until exactly one of cps leads and returns it.
func leader(t *testing.T, cps ...*controlplane.ControlPlane) *controlplane.ControlPlane {
	t.Helper()
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		var lead []*controlplane.ControlPlane
		for _, cp := range cps {
			if cp.Leading() {
				lead = append(lead, cp)
			}
		}
		if len(lead) == 1 {
			return lead[0]
		}
		if len(lead) > 1 {
			t.Fatalf("%d replicas lead at once", len(lead))
		}
	}
	t.Fatal("no replica leads after 60 s")
	return nil
}

// Two replicas on one PostgreSQL store: one leads; when it goes, the other
// takes the lead; a second replica of the same name is refused.
func TestReplicasElectOneLeader(t *testing.T) {
	url := storetest.PostgresURL(t)
	a, b := startReplica(t, url, "a"), startReplica(t, url, "b")
	first := leader(t, a, b)
	if _, err := controlplane.Start(t.Context(), controlplane.Config{StoreURL: url, Log: cptest.Quiet(), ReplicaID: first.ReplicaID}); err == nil {
		t.Fatal("a second replica took a live replica's name")
	}
	other := map[*controlplane.ControlPlane]*controlplane.ControlPlane{a: b, b: a}[first]
	went := time.Now()
	first.Close()
	if got := leader(t, other); got != other {
		t.Fatal("the remaining replica does not lead")
	}
	t.Logf("the lead passed from %s to %s in %v (leader poll 100 ms)", first.ReplicaID, other.ReplicaID, time.Since(went).Round(time.Millisecond))

	// The first starts again under its name: the job queue sees a new
	// client, so the jobs the dead start held are not taken for live.
	again := startReplica(t, url, first.ReplicaID)
	if again.Instance == first.Instance || !strings.HasPrefix(again.Instance, first.ReplicaID+"-") {
		t.Errorf("a restart of %s runs as %q, the dead start ran as %q; want a new instance of the same name", first.ReplicaID, again.Instance, first.Instance)
	}
}

// A change made through one replica wakes a node's long poll held by the
// other, through the store (LISTEN/NOTIFY), well before the poll's wait.
func TestReplicasWakeEachOthersNodes(t *testing.T) {
	url := storetest.PostgresURL(t)
	a, b := startReplica(t, url, "a"), startReplica(t, url, "b")
	ctx := t.Context()
	if _, err := a.Panel.CreateMember(ctx, root, model.Member{Name: "ada"}); err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := range n {
		h := fmt.Sprintf("web%d", i)
		if _, err := a.Panel.CreateHost(ctx, root, model.Host{Name: h, Addresses: []string{fmt.Sprintf("192.0.2.%d", i+1)}, Roles: []model.Role{model.RoleWeb}}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Panel.CreateOrder(ctx, root, model.Order{Identifier: fmt.Sprintf("site%d.example", i), Member: "ada", Host: h}); err != nil {
			t.Fatal(err)
		}
	}
	const wait = 30 * time.Second
	var lat []time.Duration
	for i := range n {
		node := panel.Caller{Name: "node", Role: model.RoleNode, Host: fmt.Sprintf("web%d", i)}
		got := make(chan time.Time, 1)
		go func() {
			w, err := b.Panel.NodeWork(ctx, node, wait)
			if err != nil || len(w.Items) == 0 {
				t.Errorf("node %s: %d items, %v", node.Host, len(w.Items), err)
			}
			got <- time.Now()
		}()
		time.Sleep(200 * time.Millisecond) // the poll is waiting
		made := time.Now()
		if _, err := a.Panel.CreateItem(ctx, root, panel.ItemInput{Order: fmt.Sprintf("site%d.example", i), Kind: model.KindMySQLDB,
			Spec: model.Spec{Name: fmt.Sprintf("db%d", i)}}); err != nil {
			t.Fatal(err)
		}
		lat = append(lat, (<-got).Sub(made))
	}
	slices.Sort(lat)
	t.Logf("item change asked of one replica → node's long poll on the other returns: p50 %v, max %v (%d changes)", lat[n/2], lat[n-1], n)
	if lat[n-1] > wait/2 {
		t.Errorf("a long poll on the other replica woke after %v: the wake-up did not cross replicas", lat[n-1])
	}
}
