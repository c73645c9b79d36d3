package move

import (
	"slices"
	"strings"
	"testing"

	"ferry/internal/model"
)

// TestPlanPHP is the plan's PHP part: which version each site runs on the
// old host, which its copy gets on the new one, and what stops the move.
func TestPlanPHP(t *testing.T) {
	php := func(p model.PHPSettings) model.Item {
		return model.Item{ID: 5, Kind: model.KindWebConf, State: model.StateActive,
			Spec: model.Spec{Login: "ada", ServerNames: []string{"example.org"}, PHP: new(true), PHPSettings: p}}
	}
	static := model.Item{ID: 6, Kind: model.KindWebConf, State: model.StateActive,
		Spec: model.Spec{Login: "ada", ServerNames: []string{"static.example.org"}, PHP: new(false)}}
	host := func(name string, versions ...string) model.Host {
		return model.Host{Name: name, Heartbeat: model.Heartbeat{PHPVersions: versions}}
	}
	tests := []struct {
		name     string
		items    []model.Item
		from, to model.Host
		php      string
		want     []PlanPHP
		problem  string // a problem holding this, or none when empty
		warning  string // a warning holding this, or none when empty
	}{
		{name: "same version on the new host",
			items: []model.Item{php(model.PHPSettings{PHPVersion: "8.2"}), static},
			from:  host("web1", "8.2"), to: host("web2", "8.2", "8.3"),
			want: []PlanPHP{{ID: 5, Name: "example.org as ada", From: "8.2", To: "8.2", ToHas: []string{"8.2", "8.3"}}}},
		{name: "new host lacks the version",
			items: []model.Item{php(model.PHPSettings{PHPVersion: "8.1"})},
			from:  host("web1", "8.1", "8.2"), to: host("web2", "8.3", "8.2"),
			want:    []PlanPHP{{ID: 5, Name: "example.org as ada", From: "8.1", To: "8.1", ToHas: []string{"8.2", "8.3"}}},
			problem: "site example.org as ada runs PHP 8.1 on web1, which web2 lacks (it has PHP-FPM 8.2, 8.3): install php8.1-fpm on web2, or move it to one of those with --php VERSION"},
		{name: "--php names one the new host has",
			items: []model.Item{php(model.PHPSettings{PHPVersion: "8.1"})},
			from:  host("web1", "8.1"), to: host("web2", "8.3"), php: "8.3",
			want: []PlanPHP{{ID: 5, Name: "example.org as ada", From: "8.1", To: "8.3", ToHas: []string{"8.3"}}}},
		{name: "--php names one the new host lacks too",
			items: []model.Item{php(model.PHPSettings{PHPVersion: "8.1"})},
			from:  host("web1", "8.1"), to: host("web2", "8.3"), php: "8.4",
			want:    []PlanPHP{{ID: 5, Name: "example.org as ada", From: "8.1", To: "8.4", ToHas: []string{"8.3"}}},
			problem: "site example.org as ada: web2 has no PHP 8.4 (it has PHP-FPM 8.3); name one of those with --php"},
		{name: "no version: the old host's newest, kept on the new",
			items: []model.Item{php(model.PHPSettings{})},
			from:  host("web1", "8.2", "7.4"), to: host("web2", "8.3"),
			want:    []PlanPHP{{ID: 5, Name: "example.org as ada", From: "8.2", To: "8.2", ToHas: []string{"8.3"}}},
			problem: "runs PHP 8.2 on web1, which web2 lacks"},
		{name: "neither host has reported",
			items: []model.Item{php(model.PHPSettings{})},
			from:  host("web1"), to: host("web2"),
			want:    []PlanPHP{{ID: 5, Name: "example.org as ada"}},
			warning: "web2's node has not reported its PHP versions: site example.org as ada's copy takes the newest PHP there"},
		{name: "new host has not reported",
			items: []model.Item{php(model.PHPSettings{PHPVersion: "8.2"})},
			from:  host("web1", "8.2"), to: host("web2"),
			want:    []PlanPHP{{ID: 5, Name: "example.org as ada", From: "8.2", To: "8.2"}},
			warning: "site example.org as ada's copy asks for PHP 8.2 there, and fails if web2 lacks it"},
		{name: "old host unknown, new host known",
			items: []model.Item{php(model.PHPSettings{})},
			from:  host("web1"), to: host("web2", "8.3"),
			want: []PlanPHP{{ID: 5, Name: "example.org as ada", ToHas: []string{"8.3"}}}},
		{name: "no PHP site, --php given",
			items: []model.Item{static}, from: host("web1", "8.2"), to: host("web2", "8.3"), php: "8.3",
			warning: "--php 8.3 changes nothing: no site of the order runs PHP"},
		{name: "a deleted site does not count",
			items: []model.Item{{ID: 7, Kind: model.KindWebConf, State: model.StateDeleted, Spec: model.Spec{PHP: new(true), PHPSettings: model.PHPSettings{PHPVersion: "5.6"}}}},
			from:  host("web1", "5.6"), to: host("web2", "8.3")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planPHP(tt.items, tt.from, tt.to, tt.php)
			if !slices.EqualFunc(got, tt.want, func(a, b PlanPHP) bool {
				return a.ID == b.ID && a.Name == b.Name && a.From == b.From && a.To == b.To && slices.Equal(a.ToHas, b.ToHas)
			}) {
				t.Errorf("plan\n%+v\nwant\n%+v", got, tt.want)
			}
			problems, warnings := checkPHP(got, tt.from.Name, tt.to.Name, tt.php)
			for _, c := range []struct {
				what string
				got  []string
				want string
			}{{"problem", problems, tt.problem}, {"warning", warnings, tt.warning}} {
				if c.want == "" && len(c.got) > 0 || c.want != "" && (len(c.got) != 1 || !strings.Contains(c.got[0], c.want)) {
					t.Errorf("%ss %q, want one holding %q", c.what, c.got, c.want)
				}
			}
		})
	}
}
