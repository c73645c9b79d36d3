package move_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/panel"
	"ferry/internal/store"
	"ferry/internal/wire"
)

func (e *env) start(to string) move.View {
	e.t.Helper()
	v, err := e.eng.StartMove(e.ctx, admin, move.StartInput{Order: "example.org", To: to})
	if err != nil {
		e.t.Fatalf("start: %v", err)
	}
	return v
}

func (e *env) phase(id int64, p model.MovePhase, force bool) move.View {
	e.t.Helper()
	if _, err := e.eng.RunPhase(e.ctx, admin, id, p, move.PhaseInput{SkipTTLWait: force}); err != nil {
		e.t.Fatalf("%s: %v", p, err)
	}
	return e.waitPhase(id)
}

func byHost(items []model.Item, host string, kinds ...model.Kind) []model.Item {
	var out []model.Item
	for _, it := range items {
		if it.Host == host && (len(kinds) == 0 || slices.Contains(kinds, it.Kind)) {
			out = append(out, it)
		}
	}
	return out
}

func hostBound(items []model.Item) []model.Item {
	return slices.DeleteFunc(slices.Clone(items), func(it model.Item) bool { return it.Kind == model.KindDNS })
}

func TestPrepare(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		originals := e.items(store.ItemFilter{OrderID: e.order.ID})
		v := e.start("web2")

		// Right after start: the seed's first script, in one transaction.
		o := e.getOrder(e.order.ID)
		if o.Host != "web2" || o.State != model.OrderActive {
			t.Fatalf("order after prepare: host %s, %s; want web2, active", o.Host, o.State)
		}
		limbo := e.getOrder(v.LimboOrderID)
		if limbo.State != model.OrderTransferLimbo || limbo.Host != "web1" || limbo.Identifier != o.Identifier || limbo.Member != o.Member {
			t.Fatalf("limbo order = %+v", limbo)
		}
		limboItems := e.items(store.ItemFilter{OrderID: limbo.ID})
		if len(limboItems) != len(hostBound(originals)) {
			t.Fatalf("limbo order holds %d items, want the %d host-bound ones", len(limboItems), len(hostBound(originals)))
		}
		for _, it := range limboItems {
			if it.State != model.StateTransferLimbo || it.Host != "web1" {
				t.Errorf("%s item %d in limbo: %s on %s", it.Kind, it.ID, it.State, it.Host)
			}
		}
		items := e.items(store.ItemFilter{OrderID: o.ID})
		copies := byHost(items, "web2")
		if len(copies) != len(limboItems) {
			t.Fatalf("%d copies on web2, want %d", len(copies), len(limboItems))
		}
		for i, cp := range copies {
			orig := limboItems[i]
			if cp.Kind != orig.Kind || cp.Spec.PasswordHash != orig.Spec.PasswordHash || cp.Spec.Login != orig.Spec.Login || cp.Spec.Name != orig.Spec.Name {
				t.Errorf("copy %d of item %d differs: %+v vs %+v", cp.ID, orig.ID, cp.Spec, orig.Spec)
			}
			if cp.State != model.StatePendingInsert && cp.State != model.StateActive {
				t.Errorf("copy %d is %s", cp.ID, cp.State)
			}
		}
		for _, it := range byHost(items, "dns1") {
			if it.Spec.TTL != move.LoweredTTL {
				t.Errorf("dns %s %s ttl %d, want %d", it.Spec.FQDN, it.Spec.Type, it.Spec.TTL, move.LoweredTTL)
			}
		}

		d := e.mustSucceed(e.waitPhase(v.ID), model.PhasePrepare)
		if d.PublicKey == "" || d.HostKey == "" {
			t.Errorf("key not recorded: %+v", d)
		}
		if d.OldTTL != 7200 || len(d.TTLs) != 3 {
			t.Errorf("old ttl %d, %d ttls remembered; want 7200, 3", d.OldTTL, len(d.TTLs))
		}
		if n := e.nodes["web1"].Ran(model.TaskMoveKeygen); n != 1 {
			t.Errorf("keygen ran %d times", n)
		}
		if n := e.nodes["web2"].Ran(model.TaskMoveAuthorize); n != 1 {
			t.Errorf("authorize ran %d times", n)
		}
		// Limbo items can only be deleted, not changed.
		_, err := e.p.UpdateItem(e.ctx, admin, limboItems[0].ID, limboItems[0].Spec)
		if err == nil || !strings.Contains(err.Error(), "transfer-limbo") {
			t.Errorf("changing a limbo item: %v", err)
		}
		// Nor can the limbo order be deleted by hand.
		if _, err := e.p.DeleteOrder(e.ctx, admin, fmt.Sprint(v.LimboOrderID)); err == nil {
			t.Error("deleting the limbo order by hand was allowed")
		}
	})
}

func TestGuards(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		start := func(order, to string) func() error {
			return func() error {
				_, err := e.eng.StartMove(e.ctx, admin, move.StartInput{Order: order, To: to})
				return err
			}
		}
		e.refused(start("example.org", "web1"), panel.ErrRefused, "already lives on web1")
		e.refused(start("example.org", "web9"), store.ErrNotFound, `host "web9" does not exist`)
		e.refused(start("nope.example", "web2"), store.ErrNotFound, `order "nope.example" does not exist`)
		e.refused(start("example.org", "web3"), panel.ErrRefused, "web3's node has never reported")
		e.refused(start("example.org", "dns1"), panel.ErrRefused, "no web role")
		e.refused(func() error {
			_, err := e.eng.StartMove(e.ctx, panel.Caller{Name: "ada", Role: model.RoleMember, Member: "ada"}, move.StartInput{Order: "example.org", To: "web2"})
			return err
		}, panel.ErrForbidden, "only admins")

		draining := model.HostDraining
		if _, err := e.p.UpdateHost(e.ctx, admin, "web2", panel.HostPatch{State: &draining}); err != nil {
			t.Fatal(err)
		}
		e.refused(start("example.org", "web2"), panel.ErrRefused, "web2 is draining")
		active := model.HostActive
		if _, err := e.p.UpdateHost(e.ctx, admin, "web2", panel.HostPatch{State: &active}); err != nil {
			t.Fatal(err)
		}

		// Offline: web2's node stops, and a minute and more passes.
		e.nodes["web2"].SetOffline(true)
		time.Sleep(150 * time.Millisecond)
		e.clock.Advance(2 * time.Minute)
		e.refused(start("example.org", "web2"), panel.ErrRefused, "web2's node is offline")
		e.nodes["web2"].SetOffline(false)

		// An item a node has not applied yet.
		e.nodes["web1"].SetOffline(true)
		time.Sleep(150 * time.Millisecond)
		db := byHost(e.items(store.ItemFilter{OrderID: e.order.ID, Kind: model.KindMySQLDB}), "web1")[0]
		if _, err := e.p.SetItemState(e.ctx, admin, db.ID, model.StatePendingDisable); err != nil {
			t.Fatal(err)
		}
		e.refused(start("example.org", "web2"), panel.ErrRefused, "is pending-disable; every item must be active")
		e.nodes["web1"].SetOffline(false)
		e.eventually("the database disabled", func() bool {
			it := byHost(e.items(store.ItemFilter{OrderID: e.order.ID, Kind: model.KindMySQLDB}), "web1")[0]
			return it.State == model.StateDisabled
		})
		if _, err := e.p.SetItemState(e.ctx, admin, db.ID, model.StatePendingUpdate); err != nil {
			t.Fatal(err)
		}
		e.eventually("the order's items active", func() bool { return e.allActive(e.order.ID) })

		// Not enough disk: an earlier move measured the order at 1 GiB.
		e.nodes["web2"].SetDiskFree(1 << 30)
		err := e.st.Update(e.ctx, func(tx store.Tx) error {
			raw, _ := json.Marshal(move.Data{MoveInfo: wire.MoveInfo{Syncs: []move.SyncReport{{Files: model.MoveSyncFilesResult{TotalBytes: 1 << 30}}}}})
			return tx.CreateMove(e.ctx, &model.Move{OrderID: e.order.ID, From: "web2", To: "web1", Phase: model.PhaseDone, Status: model.MoveSucceeded, Data: raw})
		})
		if err != nil {
			t.Fatal(err)
		}
		e.eventually("web2's heartbeat", func() bool {
			h, _ := e.p.GetHost(e.ctx, admin, "web2")
			return h.DiskFree == 1<<30
		})
		e.refused(start("example.org", "web2"), panel.ErrRefused, "web2 has 1.0 GiB free, but the order needs 1.2 GiB")
		plan, err := e.eng.Plan(e.ctx, admin, "example.org", "web2")
		if err != nil || len(plan.Problems) != 1 {
			t.Fatalf("plan: %v, problems %q", err, plan.Problems)
		}
		e.nodes["web2"].SetDiskFree(100 << 30)
		e.eventually("web2's heartbeat", func() bool {
			h, _ := e.p.GetHost(e.ctx, admin, "web2")
			return h.DiskFree == 100<<30
		})

		// A second move of the same order, and phases out of order.
		v := e.start("web2")
		e.mustSucceed(e.waitPhase(v.ID), model.PhasePrepare)
		// The fake dns host may still be applying a record prepare
		// touched; a refusal must change nothing, so wait for it first.
		e.eventually("every item settled after prepare", func() bool {
			for _, it := range e.items(store.ItemFilter{OrderID: e.order.ID}) {
				if it.State.Pending() {
					return false
				}
			}
			return true
		})
		e.refused(start("example.org", "web1"), panel.ErrRefused, "already being moved")
		runPhase := func(p model.MovePhase, force bool) func() error {
			return func() error {
				_, err := e.eng.RunPhase(e.ctx, admin, v.ID, p, move.PhaseInput{SkipTTLWait: force})
				return err
			}
		}
		e.refused(runPhase(model.PhaseVerify, false), panel.ErrRefused, "has not synced yet")
		e.refused(runPhase(model.PhaseCutover, false), panel.ErrRefused, "has not been verified")
		e.refused(runPhase(model.PhaseCleanup, false), panel.ErrRefused, "has not been cut over")
		e.refused(runPhase(model.PhaseSync, true), model.ErrInvalid, "only cutover and cleanup wait for a TTL")
		e.refused(func() error {
			_, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseCleanup, move.PhaseInput{AcceptVerifyDifferences: true})
			return err
		}, model.ErrInvalid, "only cutover waits for a verify")
		e.refused(func() error {
			_, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseCutover, move.PhaseInput{Force: true})
			return err
		}, model.ErrInvalid, "skip_ttl_wait (cutover and cleanup) and accept_verify_differences (cutover)")
	})
}

// A name the new host would hold twice (a database someone made by hand
// for another order) stops the move.
func TestGuardNameClash(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		other, err := e.p.CreateOrder(e.ctx, admin, model.Order{Identifier: "other.example", Member: "ada", Host: "web2"})
		if err != nil {
			t.Fatal(err)
		}
		err = e.st.Update(e.ctx, func(tx store.Tx) error {
			return tx.CreateItem(e.ctx, &model.Item{OrderID: other.ID, Host: "web2", Kind: model.KindMySQLDB, State: model.StateActive, Spec: model.Spec{Name: "ada_wp"}})
		})
		if err != nil {
			t.Fatal(err)
		}
		e.refused(func() error {
			_, err := e.eng.StartMove(e.ctx, admin, move.StartInput{Order: "example.org", To: "web2"})
			return err
		}, panel.ErrRefused, "ada_wp is already taken by item")
	})
}

// The plan reads what the nodes measured: the order's size (files and
// databases), databases its app configs name that no item registers, and
// database servers that do not answer.
func TestPlanUsesMeasuredUsage(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		dir := model.OrderDir("ada", "example.org")
		now := time.Now()
		record := func(host string, u model.HostUsage) {
			t.Helper()
			if err := e.st.Update(e.ctx, func(tx store.Tx) error {
				h, err := tx.GetHost(e.ctx, host)
				if err != nil {
					return err
				}
				return tx.RecordHeartbeat(e.ctx, host, model.Heartbeat{LastSeen: &now, DiskFree: h.DiskFree, Usage: &u})
			}); err != nil {
				t.Fatal(err)
			}
		}
		record("web1", model.HostUsage{MeasuredAt: now,
			Orders: []model.OrderUsage{{Dir: dir, Bytes: 300 << 20, AppDatabases: []model.UnregisteredDB{
				{Engine: "mysql", Name: "ada_wp", Config: "web/wp-config.php"}, {Engine: "mysql", Name: "legacy", Config: "web/old/wp-config.php"}}}},
			Databases: []model.DatabaseUsage{{Engine: "mysql", Name: "ada_wp", Bytes: 200 << 20}, {Engine: "mysql", Name: "not_ours", Bytes: 1 << 40}}})
		record("web2", model.HostUsage{MeasuredAt: now, Unreachable: []string{"mariadb: dial unix /run/mysqld/mysqld.sock: connect: no such file or directory", "postgresql: refused"}})
		plan, err := e.eng.Plan(e.ctx, admin, "example.org", "web2")
		if err != nil {
			t.Fatal(err)
		}
		if plan.SizeEstimate != 500<<20 || !strings.Contains(plan.SizeSource, "measured on web1") {
			t.Errorf("size %d from %q, want 500 MiB measured on web1", plan.SizeEstimate, plan.SizeSource)
		}
		if len(plan.Problems) != 1 || !strings.Contains(plan.Problems[0], "MariaDB on web2 does not answer (dial unix") {
			t.Errorf("problems %q, want MariaDB on web2 (and nothing about PostgreSQL, which the order does not use)", plan.Problems)
		}
		if !slices.ContainsFunc(plan.Warnings, func(w string) bool {
			return strings.Contains(w, "web/old/wp-config.php names mysql database legacy, which no item of the order registers")
		}) || slices.ContainsFunc(plan.Warnings, func(w string) bool { return strings.Contains(w, "database ada_wp,") }) {
			t.Errorf("warnings %q", plan.Warnings)
		}
		// Adopting: a MariaDB database on the host becomes an item; one not
		// there, a PostgreSQL one, and one already registered do not.
		record("web1", model.HostUsage{MeasuredAt: now,
			Orders: []model.OrderUsage{{Dir: dir, AppDatabases: []model.UnregisteredDB{
				{Engine: "mysql", Name: "ada_wp", Config: "web/wp-config.php"}, {Engine: "mysql", Name: "legacy", Config: "web/old/wp-config.php"},
				{Engine: "mysql", Name: "ada_old", Config: "web/2019/wp-config.php"}, {Engine: "pgsql", Name: "ada_pg", Config: "web/app/.env"}}}},
			Databases: []model.DatabaseUsage{{Engine: "mysql", Name: "ada_wp"}, {Engine: "mysql", Name: "ada_old"}, {Engine: "pgsql", Name: "ada_pg"}}})
		if _, err := e.p.AdoptDatabases(e.ctx, panel.Caller{Role: model.RoleMember, Member: "ada"}, "example.org"); !errors.Is(err, panel.ErrForbidden) {
			t.Errorf("a member adopting: %v, want forbidden", err)
		}
		res, err := e.p.AdoptDatabases(e.ctx, admin, "example.org")
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Adopted) != 1 || res.Adopted[0].Spec.Name != "ada_old" || res.Adopted[0].Kind != model.KindMySQLDB || res.Adopted[0].Host != "web1" {
			t.Errorf("adopted %+v", res.Adopted)
		}
		if len(res.Left) != 2 || !strings.Contains(res.Left[0], "legacy (named by web/old/wp-config.php): not on web1") || !strings.Contains(res.Left[1], "pgsql database ada_pg") {
			t.Errorf("left %q", res.Left)
		}
		e.eventually("the adopted item active", func() bool { return e.allActive(e.order.ID) })

		// A PostgreSQL database using an extension the new host lacks.
		if _, err := e.p.CreateItem(e.ctx, admin, panel.ItemInput{Order: "example.org", Kind: model.KindPgSQLDB, Spec: model.Spec{Name: "ada_pg", Password: "a third secret!"}}); err != nil {
			t.Fatal(err)
		}
		e.eventually("the pgsql-db item active", func() bool { return e.allActive(e.order.ID) })
		record("web1", model.HostUsage{MeasuredAt: now, Databases: []model.DatabaseUsage{{Engine: "pgsql", Name: "ada_pg", Extensions: []string{"citext", "postgis"}}}})
		record("web2", model.HostUsage{MeasuredAt: now, PgExtensions: []string{"citext", "hstore"}})
		if plan, err = e.eng.Plan(e.ctx, admin, "example.org", "web2"); err != nil || len(plan.Problems) != 1 ||
			!strings.Contains(plan.Problems[0], "PostgreSQL database ada_pg uses extension postgis, which web2's server cannot install") {
			t.Errorf("plan with an extension web2 lacks: %v, problems %q", err, plan.Problems)
		}

		// A measurement too old to trust says nothing about servers.
		record("web2", model.HostUsage{MeasuredAt: now.Add(-time.Hour), Unreachable: []string{"mariadb: gone"}})
		if plan, err = e.eng.Plan(e.ctx, admin, "example.org", "web2"); err != nil || len(plan.Problems) != 0 {
			t.Errorf("plan with an old measurement: %v, problems %q", err, plan.Problems)
		}
	})
}

func TestFullMove(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		v := e.start("web2")
		e.mustSucceed(e.waitPhase(v.ID), model.PhasePrepare)

		d := e.mustSucceed(e.phase(v.ID, model.PhaseSync, false), model.PhaseSync)
		if len(d.Syncs) != 1 || d.Syncs[0].Files.Bytes != 4096 || d.Syncs[0].DB.TablesCopied != 2 || len(d.Syncs[0].DB.Unregistered) != 1 {
			t.Fatalf("sync figures: %+v", d.Syncs)
		}
		e.refused(func() error {
			_, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseCutover, move.PhaseInput{})
			return err
		}, panel.ErrRefused, "has not been verified since its last sync")

		d = e.mustSucceed(e.phase(v.ID, model.PhaseVerify, false), model.PhaseVerify)
		if !d.Verify.Passed || len(d.Verify.HTTP) != 2 || !slices.Equal(d.Verify.HostsLines, []string{"127.0.1.2 example.org www.example.org"}) {
			t.Fatalf("verify: %+v", d.Verify)
		}
		if h := d.Verify.HTTP[0]; h.Old.Title != "Ada's site" || h.Old.SHA256 != h.New.SHA256 || h.New.Status != 200 {
			t.Errorf("http check: %+v", h)
		}

		cutover := func(force bool) func() error {
			return func() error {
				_, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseCutover, move.PhaseInput{SkipTTLWait: force})
				return err
			}
		}
		e.refused(cutover(false), panel.ErrRefused, "the old TTL (7200 s) runs out only at")
		e.refused(cutover(false), panel.ErrRefused, "(--skip-ttl-wait overrides)")

		e.clock.Advance(2*time.Hour + time.Minute)
		d = e.mustSucceed(e.phase(v.ID, model.PhaseCutover, false), model.PhaseCutover)
		cr := d.Cutover
		if cr.FreezeStart == nil || cr.FreezeEnd == nil || cr.FreezeSeconds < 0 || cr.DNSAppliedAt == nil || len(cr.Switched) != 2 || cr.Forced != "" {
			t.Fatalf("cutover report: %+v", cr)
		}
		for _, it := range byHost(e.items(store.ItemFilter{OrderID: e.order.ID}), "dns1") {
			want := map[string]int{"example.org A": 3600, "www.example.org A": 7200, "example.org MX": 3600}[it.Spec.FQDN+" "+it.Spec.Type]
			if it.Spec.TTL != want || it.State != model.StateActive {
				t.Errorf("%s %s: ttl %d %s, want %d active", it.Spec.FQDN, it.Spec.Type, it.Spec.TTL, it.State, want)
			}
			if it.Spec.Type == "A" && it.Spec.Value != "127.0.1.2" {
				t.Errorf("%s A still points at %s", it.Spec.FQDN, it.Spec.Value)
			}
		}
		// The freeze is one task on the old host, sent once, and the
		// figures the old host measured are the cutover's.
		var freezes []model.MoveTaskPayload
		for _, tk := range e.tasks(v.ID) {
			switch tk.Kind {
			case model.TaskMoveFreeze:
				var p model.MoveTaskPayload
				json.Unmarshal(tk.Payload, &p)
				freezes = append(freezes, p)
				if tk.Host != "web1" {
					t.Errorf("the freeze ran on %s, want web1", tk.Host)
				}
			case model.TaskMoveSiteMode:
				t.Errorf("a site-mode task in a cutover: the freeze task switches the site itself")
			}
		}
		if len(freezes) != 1 || !freezes[0].Final || freezes[0].BWLimit != 0 || len(freezes[0].Databases) == 0 {
			t.Errorf("freeze tasks %+v, want one final sync of the order's databases, uncapped", freezes)
		}
		if cr.FreezeSeconds != 0.25 || cr.FreezeSteps["files"] != 0.1 || !cr.FreezeEnd.After(*cr.FreezeStart) {
			t.Errorf("freeze figures %v %v %v–%v, want the node's 0.25 s and its steps", cr.FreezeSeconds, cr.FreezeSteps, cr.FreezeStart, cr.FreezeEnd)
		}
		if last := d.Syncs[len(d.Syncs)-1]; !last.Final || last.Files.Files != 2 || last.DB.TablesCopied != 1 {
			t.Errorf("final sync report %+v, want the freeze's", last)
		} else if s := last.Seconds(); s < 0.149 || s > 0.151 || !last.StartedAt.Equal(*cr.FreezeStart) {
			// The final sync's span is its own (the slower of files and
			// databases, from the freeze), not the whole task's.
			t.Errorf("final sync %s–%s (%.3f s), want 0.15 s from the freeze at %s", last.StartedAt, last.FinishedAt, s, cr.FreezeStart)
		}

		e.refused(func() error {
			_, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseAbort, move.PhaseInput{})
			return err
		}, panel.ErrRefused, "past its cutover")
		e.refused(func() error {
			_, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseCleanup, move.PhaseInput{})
			return err
		}, panel.ErrRefused, "runs out twice since the dns switch")

		e.advance(11 * time.Minute)
		v = e.phase(v.ID, model.PhaseCleanup, false)
		if v.Phase != model.PhaseDone || v.Status != model.MoveSucceeded {
			t.Fatalf("cleanup ended %s %s: %s", v.Phase, v.Status, v.Error)
		}
		if l := e.getOrder(v.LimboOrderID); l.State != model.OrderDeleted {
			t.Errorf("limbo order is %s", l.State)
		}
		for _, it := range e.items(store.ItemFilter{Host: "web1"}) {
			if it.State != model.StateDeleted {
				t.Errorf("item %d (%s) on web1 is %s after cleanup", it.ID, it.Kind, it.State)
			}
		}
		for _, it := range byHost(e.items(store.ItemFilter{OrderID: e.order.ID}), "web2") {
			if it.State != model.StateActive {
				t.Errorf("item %d (%s) on web2 is %s", it.ID, it.Kind, it.State)
			}
		}
		// Every task ran exactly as often as the phases asked for it.
		want := map[string]map[string]int{
			"web1": {model.TaskMoveKeygen: 1, model.TaskMoveSyncFiles: 1, model.TaskMoveSyncDB: 1, model.TaskMoveVerify: 1, model.TaskMoveFreeze: 1, model.TaskMoveRevoke: 1, panel.TaskRemoveOrderDir: 1},
			"web2": {model.TaskMoveAuthorize: 1, model.TaskMoveRevoke: 1},
		}
		for host, kinds := range want {
			n := e.nodes[host]
			e.eventually("the last tasks", func() bool { return n.Ran(model.TaskMoveRevoke) == 1 })
			for k, c := range kinds {
				if got := n.Ran(k); got != c {
					t.Errorf("%s ran %s %d times, want %d", host, k, got, c)
				}
			}
		}
		audit, err := e.p.ListAudit(e.ctx, admin, "example.org", 1000)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for _, a := range audit {
			seen[a.Action] = a.Actor
		}
		for _, a := range []string{"move.prepare.start", "move.prepare", "move.sync", "move.verify", "move.cutover", "move.cleanup"} {
			if seen[a] != "alice" {
				t.Errorf("audit %s by %q, want alice", a, seen[a])
			}
		}
	})
}

// A web server that does not answer at all is named, with its host and
// what to do, not taken for a site that answers differently; once it is
// back a verify passes.
func TestVerifyNamesADeadWebServer(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		v := e.start("web2")
		e.mustSucceed(e.waitPhase(v.ID), model.PhasePrepare)
		e.mustSucceed(e.phase(v.ID, model.PhaseSync, false), model.PhaseSync)
		e.oldDown.Store(true)
		v = e.phase(v.ID, model.PhaseVerify, false)
		want := "Apache on web1 does not answer HTTP for 2 site(s) (example.org, www.example.org): "
		if v.Status != model.MoveFailed || !strings.Contains(v.Error, want) || !strings.Contains(v.Error, "start it again (service apache2), then run verify again") {
			t.Fatalf("verify: %s %s", v.Status, v.Error)
		}
		if strings.Contains(v.Error, "answer differently") || strings.Contains(v.Error, "web2 does not answer") {
			t.Errorf("verify blames the sites or web2: %s", v.Error)
		}
		e.oldDown.Store(false)
		e.mustSucceed(e.phase(v.ID, model.PhaseVerify, false), model.PhaseVerify)
	})
}

// A new host whose web server died after verify passed stops the
// cutover before the old site is frozen or the DNS switched; once it
// answers again the cutover goes through.
func TestCutoverRefusesANewHostThatServesNothing(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		v := e.start("web2")
		e.mustSucceed(e.waitPhase(v.ID), model.PhasePrepare)
		e.mustSucceed(e.phase(v.ID, model.PhaseSync, false), model.PhaseSync)
		e.mustSucceed(e.phase(v.ID, model.PhaseVerify, false), model.PhaseVerify)
		e.newDown.Store(true)
		v = e.phase(v.ID, model.PhaseCutover, true)
		want := "nothing was frozen or switched: web2 does not serve 2 site(s) (example.org, www.example.org)"
		if v.Status != model.MoveFailed || !strings.Contains(v.Error, want) || !strings.Contains(v.Error, "start Apache there again") {
			t.Fatalf("cutover with web2's web server dead: %s %s", v.Status, v.Error)
		}
		for _, tk := range e.tasks(v.ID) {
			if tk.Kind == model.TaskMoveSiteMode || tk.Kind == model.TaskMoveFreeze {
				t.Errorf("the refused cutover froze or proxied the old site: task %s", tk.Kind)
			}
		}
		for _, it := range e.items(store.ItemFilter{OrderID: e.order.ID, Kind: model.KindDNS}) {
			if it.Spec.Type == "A" && it.Spec.Value != "127.0.1.1" {
				t.Errorf("the refused cutover switched %s to %s", it.Spec.FQDN, it.Spec.Value)
			}
		}
		e.newDown.Store(false)
		e.mustSucceed(e.phase(v.ID, model.PhaseCutover, true), model.PhaseCutover)
	})
}

func TestVerifyFindsDifferences(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		v := e.start("web2")
		e.mustSucceed(e.waitPhase(v.ID), model.PhasePrepare)
		e.mustSucceed(e.phase(v.ID, model.PhaseSync, false), model.PhaseSync)
		e.newDiffer.Store(true)
		v = e.phase(v.ID, model.PhaseVerify, false)
		if v.Status != model.MoveFailed || !strings.Contains(v.Error, "answer differently on web1 and web2") {
			t.Fatalf("verify: %s %s", v.Status, v.Error)
		}
		d, _ := v.Info()
		if h := d.Verify.HTTP[0]; h.Equal || h.Old.Title != "Ada's site" || h.New.Title != "Index of /" {
			t.Errorf("side by side: %+v", h)
		}
		e.clock.Advance(3 * time.Hour)
		e.refused(func() error {
			_, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseCutover, move.PhaseInput{})
			return err
		}, panel.ErrRefused, "the last verify found differences")
		// Skipping the TTL wait does not push past a failed verify: that
		// guard has its own override.
		e.refused(func() error {
			_, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseCutover, move.PhaseInput{SkipTTLWait: true})
			return err
		}, panel.ErrRefused, "(--accept-verify-differences overrides)")
		// A sync after verify makes it stale: no override helps then.
		e.mustSucceed(e.phase(v.ID, model.PhaseSync, false), model.PhaseSync)
		e.refused(func() error {
			_, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseCutover, move.PhaseInput{SkipTTLWait: true, AcceptVerifyDifferences: true})
			return err
		}, panel.ErrRefused, "has not been verified since its last sync")
	})
}

func TestAbort(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		originals := e.items(store.ItemFilter{OrderID: e.order.ID})
		v := e.start("web2")
		e.mustSucceed(e.waitPhase(v.ID), model.PhasePrepare)
		e.mustSucceed(e.phase(v.ID, model.PhaseSync, false), model.PhaseSync)
		// A member adds a database during the move: it is made on web2.
		extra, err := e.p.CreateItem(e.ctx, panel.Caller{Name: "ada", Role: model.RoleMember, Member: "ada"},
			panel.ItemInput{Order: "example.org", Kind: model.KindMySQLDB, Spec: model.Spec{Name: "ada_extra"}})
		if err != nil || extra.Host != "web2" {
			t.Fatalf("member's new item: %+v, %v", extra, err)
		}
		e.eventually("the new database made", func() bool { return e.allActiveOn(e.order.ID, "web2") })

		v = e.phase(v.ID, model.PhaseAbort, false)
		if v.Phase != model.PhaseAborted || v.Status != model.MoveSucceeded {
			t.Fatalf("abort ended %s %s: %s", v.Phase, v.Status, v.Error)
		}
		if o := e.getOrder(e.order.ID); o.Host != "web1" || o.State != model.OrderActive {
			t.Errorf("order: %s on %s", o.State, o.Host)
		}
		if l := e.getOrder(v.LimboOrderID); l.State != model.OrderDeleted {
			t.Errorf("limbo order is %s", l.State)
		}
		e.eventually("the ttls served", func() bool {
			for _, it := range e.items(store.ItemFilter{OrderID: e.order.ID}) {
				if it.State != model.StateActive && it.State != model.StateDeleted {
					return false
				}
			}
			return true
		})
		after := e.items(store.ItemFilter{OrderID: e.order.ID})
		var live []model.Item
		for _, it := range after {
			if it.State != model.StateDeleted {
				live = append(live, it)
			}
		}
		if len(live) != len(originals)+1 {
			t.Fatalf("%d live items after abort, want the %d from before and the one added", len(live), len(originals))
		}
		if again := live[len(live)-1]; again.Spec.Name != "ada_extra" || again.Host != "web1" {
			t.Errorf("the database added during the move is %+v, want it on web1", again)
		}
		for i, o := range originals {
			it := live[i]
			if it.ID != o.ID || it.Host != o.Host || it.Spec.TTL != o.Spec.TTL || it.Spec.Value != o.Spec.Value || it.State != model.StateActive {
				t.Errorf("item %d after abort: %s on %s ttl %d; before: %s on %s ttl %d", it.ID, it.State, it.Host, it.Spec.TTL, o.State, o.Host, o.Spec.TTL)
			}
		}
		for _, it := range e.items(store.ItemFilter{Host: "web2"}) {
			if it.State != model.StateDeleted {
				t.Errorf("web2 still holds item %d (%s, %s)", it.ID, it.Kind, it.State)
			}
		}
		e.eventually("web2's directory removed", func() bool { return e.nodes["web2"].Ran(panel.TaskRemoveOrderDir) == 1 })
		for host, kinds := range map[string][]string{"web1": {model.TaskMoveRevoke, model.TaskMoveSiteMode}, "web2": {model.TaskMoveRevoke, panel.TaskRemoveOrderDir}} {
			for _, k := range kinds {
				if n := e.nodes[host].Ran(k); n != 1 {
					t.Errorf("%s ran %s %d times, want 1", host, k, n)
				}
			}
		}
		// The order can be moved again.
		plan, err := e.eng.Plan(e.ctx, admin, "example.org", "web2")
		if err != nil || len(plan.Problems) != 0 {
			t.Fatalf("plan after abort: %v %q", err, plan.Problems)
		}
	})
}

// An abort while a sync runs waits for the node's rsync to end, and the
// sync's own run records nothing after it.
func TestAbortDuringSync(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		v, release := e.syncHeld()
		if _, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseAbort, move.PhaseInput{}); err != nil {
			t.Fatal(err)
		}
		e.eventually("the abort waiting", func() bool {
			g, _ := e.eng.Get(e.ctx, admin, v.ID)
			d, _ := g.Info()
			return strings.Contains(d.Waiting, "waiting for running tasks to end")
		})
		release()
		v = e.waitPhase(v.ID)
		if v.Phase != model.PhaseAborted {
			t.Fatalf("abort ended %s %s: %s", v.Phase, v.Status, v.Error)
		}
		d, _ := v.Info()
		if len(d.Syncs) != 0 {
			t.Errorf("the aborted sync recorded figures: %+v", d.Syncs)
		}
	})
}

// syncHeld starts a move, prepares it and starts a sync whose rsync web1
// holds until release is called.
func (e *env) syncHeld() (v move.View, release func()) {
	e.t.Helper()
	v = e.start("web2")
	e.mustSucceed(e.waitPhase(v.ID), model.PhasePrepare)
	release = e.nodes["web1"].HoldTasks(model.TaskMoveSyncFiles)
	if _, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseSync, move.PhaseInput{}); err != nil {
		e.t.Fatal(err)
	}
	e.eventually("the rsync running", func() bool { return e.leased(v.ID, model.TaskMoveSyncFiles) })
	return v, release
}

func (e *env) leased(moveID int64, kind string) bool {
	for _, tk := range e.tasks(moveID) {
		if tk.Kind == kind && tk.State == model.TaskLeased {
			return true
		}
	}
	return false
}

func (e *env) countTasks(moveID int64, kind string) int {
	n := 0
	for _, tk := range e.tasks(moveID) {
		if tk.Kind == kind {
			n++
		}
	}
	return n
}

// The control plane stops mid-sync; a new one on the same file finishes
// the sync, without handing out the rsync again.
func TestRestartMidPhase(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		v, release := e.syncHeld()
		if err := e.eng.Stop(e.ctx); err != nil {
			t.Fatal(err)
		}

		e.use(e.controlPlane())
		for _, n := range e.nodes {
			n.UsePanel(e.p)
		}
		release()
		d := e.mustSucceed(e.waitPhase(v.ID), model.PhaseSync)
		if len(d.Syncs) != 1 {
			t.Errorf("%d syncs recorded, want 1", len(d.Syncs))
		}
		if n := e.countTasks(v.ID, model.TaskMoveSyncFiles); n != 1 {
			t.Errorf("%d rsync tasks, want 1", n)
		}
	})
}

// The control plane dies mid-sync (its database connection gone, its job
// left running); a new process resumes the phase under a new run, and the
// dead one's job, should it wake, does nothing.
func TestCrashMidPhase(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		a := e.controlPlane()
		e.eng.Stop(e.ctx)
		e.eng = a.Engine
		v, release := e.syncHeld()
		runBefore := func() int { g, _ := e.eng.Get(e.ctx, admin, v.ID); d, _ := g.Info(); return d.Run }()
		a.Store.Close() // the process dies: its job stays "running"

		e.eng = e.controlPlane().Engine
		release()
		d := e.mustSucceed(e.waitPhase(v.ID), model.PhaseSync)
		if d.Run <= runBefore {
			t.Errorf("run %d after the crash, want more than %d", d.Run, runBefore)
		}
		if len(d.Syncs) != 1 || e.countTasks(v.ID, model.TaskMoveSyncFiles) != 1 {
			t.Errorf("%d syncs, %d rsync tasks; want 1 and 1", len(d.Syncs), e.countTasks(v.ID, model.TaskMoveSyncFiles))
		}
		if ev := d.History[len(d.History)-1]; ev.Phase != model.PhaseSync || ev.Status != model.MoveSucceeded {
			t.Errorf("last history entry %+v", ev)
		}
	})
}
