package move_test

import (
	"strings"
	"testing"

	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// A site whose PHP the new host lacks stops the move, named in the plan;
// with --php the move goes, and the new host's copy asks for that version
// while the old host's keeps its own.
func TestMovePHPVersion(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		e.nodes["web1"].SetPHPVersions("8.1", "8.2")
		e.nodes["web2"].SetPHPVersions("8.2", "8.3")
		site := byHost(e.items(store.ItemFilter{OrderID: e.order.ID, Kind: model.KindWebConf}), "web1")[0]
		spec := site.Spec
		spec.PHPVersion = "8.1"
		if _, err := e.p.UpdateItem(e.ctx, admin, site.ID, spec); err != nil {
			t.Fatal(err)
		}
		e.eventually("the site updated", func() bool { return e.allActive(e.order.ID) })

		plan, err := e.eng.Plan(e.ctx, admin, "example.org", "web2")
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.PHP) != 1 || plan.PHP[0].From != "8.1" || plan.PHP[0].To != "8.1" || strings.Join(plan.PHP[0].ToHas, " ") != "8.2 8.3" {
			t.Errorf("plan's PHP %+v, want 8.1 on both sides, web2 having 8.2 8.3", plan.PHP)
		}
		want := "site example.org,www.example.org as ada runs PHP 8.1 on web1, which web2 lacks (it has PHP-FPM 8.2, 8.3)"
		if len(plan.Problems) != 1 || !strings.HasPrefix(plan.Problems[0], want) {
			t.Errorf("problems %q, want one starting %q", plan.Problems, want)
		}
		e.refused(func() error {
			_, err := e.eng.StartMove(e.ctx, admin, move.StartInput{Order: "example.org", To: "web2"})
			return err
		}, panel.ErrRefused, want)
		e.refused(func() error {
			_, err := e.eng.PlanStart(e.ctx, admin, move.StartInput{Order: "example.org", To: "web2", PHP: "8.3.1"})
			return err
		}, model.ErrInvalid, `"8.3.1" is not a PHP version`)

		plan, err = e.eng.PlanStart(e.ctx, admin, move.StartInput{Order: "example.org", To: "web2", PHP: "8.3"})
		if err != nil || len(plan.Problems) != 0 || plan.PHP[0].To != "8.3" {
			t.Fatalf("plan with --php 8.3: %v, problems %q, php %+v", err, plan.Problems, plan.PHP)
		}
		v, err := e.eng.StartMove(e.ctx, admin, move.StartInput{Order: "example.org", To: "web2", PHP: "8.3"})
		if err != nil {
			t.Fatal(err)
		}
		e.mustSucceed(e.waitPhase(v.ID), model.PhasePrepare)
		copies := byHost(e.items(store.ItemFilter{OrderID: e.order.ID, Kind: model.KindWebConf}), "web2")
		if len(copies) != 1 || copies[0].Spec.PHPVersion != "8.3" {
			t.Errorf("web2's copy: %+v, want PHP 8.3", copies)
		}
		old := byHost(e.items(store.ItemFilter{OrderID: v.LimboOrderID, Kind: model.KindWebConf}), "web1")
		if len(old) != 1 || old[0].Spec.PHPVersion != "8.1" {
			t.Errorf("web1's site: %+v, want PHP 8.1 still", old)
		}
	})
}
