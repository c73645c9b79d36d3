package move

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
	"ferry/internal/wire"
)

// The shapes of planning and starting a move; see package wire.
type (
	Plan       = wire.MovePlan
	PlanItem   = wire.MovePlanItem
	PlanDNS    = wire.MovePlanDNS
	PlanPHP    = wire.MovePlanPHP
	StartInput = wire.MoveStartInput
)

func mayMove(c panel.Caller) error {
	if !c.IsAdmin() {
		return fmt.Errorf("%w: only admins move orders (a %s token cannot)", panel.ErrForbidden, c.Role)
	}
	return nil
}

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", panel.ErrRefused, fmt.Sprintf(format, args...))
}

// Plan checks a move of order to host and says what it would do.
func (e *Engine) Plan(ctx context.Context, c panel.Caller, orderRef, to string) (Plan, error) {
	return e.PlanStart(ctx, c, StartInput{Order: orderRef, To: to})
}

// PlanStart checks the move StartMove would start with in and says what
// it would do.
func (e *Engine) PlanStart(ctx context.Context, c panel.Caller, in StartInput) (Plan, error) {
	if err := mayMove(c); err != nil {
		return Plan{}, err
	}
	var plan *Plan
	err := e.p.View(ctx, func(tx store.Tx) error {
		o, err := resolveOrder(ctx, tx, in.Order)
		if err != nil {
			return err
		}
		plan, _, err = e.preflight(ctx, tx, o, in.To, in.PHP)
		return err
	})
	if err != nil {
		return Plan{}, err
	}
	return *plan, nil
}

func resolveOrder(ctx context.Context, tx store.Tx, ref string) (model.Order, error) {
	o, err := panel.ResolveOrder(ctx, tx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return o, fmt.Errorf("order %q does not exist (ferry order search finds it): %w", ref, store.ErrNotFound)
	}
	return o, err
}

// source is what preflight read, for prepare.
type source struct {
	order    model.Order
	from, to model.Host
	items    []model.Item
}

// preflight runs the guards of a new move. Unknown order or host are
// errors; every other guard adds a problem to the plan. php is the PHP
// version the new host's copies of the order's sites get ("" to keep
// theirs).
func (e *Engine) preflight(ctx context.Context, tx store.Tx, o model.Order, to, php string) (*Plan, *source, error) {
	p := &Plan{Order: o, From: o.Host, To: to, Copies: []PlanItem{}, DNS: []PlanDNS{}}
	problem := func(format string, args ...any) { p.Problems = append(p.Problems, fmt.Sprintf(format, args...)) }
	if to == "" {
		return nil, nil, &model.FieldError{Field: "to", Message: "name the host to move to (--to)"}
	}
	if php != "" {
		v, err := model.ParsePHPVersion(php)
		if err != nil {
			return nil, nil, &model.FieldError{Field: "php", Message: err.Error()}
		}
		php = v
	}
	toHost, err := tx.GetHost(ctx, to)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fmt.Errorf("host %q does not exist (ferry host list shows the hosts): %w", to, store.ErrNotFound)
	}
	if err != nil {
		return nil, nil, err
	}
	fromHost, err := tx.GetHost(ctx, o.Host)
	if err != nil {
		return nil, nil, err
	}
	src := &source{order: o, from: fromHost, to: toHost}
	p.FromAddr, p.ToAddr = preferredAddr(fromHost), preferredAddr(toHost)

	if o.State != model.OrderActive {
		problem("order %s (id %d) is %s, not active", o.Identifier, o.ID, o.State)
	}
	moves, err := tx.ListMoves(ctx, store.MoveFilter{OrderID: o.ID, ActiveOnly: true})
	if err != nil {
		return nil, nil, err
	}
	for _, m := range moves {
		problem("order %s is already being moved (move %d, %s → %s, phase %s, %s); see ferry move status %s",
			o.Identifier, m.ID, m.From, m.To, m.Phase, m.Status, o.Identifier)
	}
	if to == o.Host {
		problem("order %s already lives on %s; name another host", o.Identifier, to)
	}
	if !toHost.HasRole(model.RoleWeb) {
		problem("host %s has no web role and cannot take orders", to)
	}
	if toHost.State != model.HostActive {
		problem("host %s is %s; only active hosts take new orders (ferry host update %s --state active)", to, toHost.State, to)
	}
	now := e.now()
	for _, h := range []model.Host{fromHost, toHost} {
		if h.Name == to && to == o.Host {
			continue
		}
		switch {
		case h.LastSeen == nil:
			problem("host %s's node has never reported; start ferry node on it", h.Name)
		case now.Sub(*h.LastSeen) > HeartbeatMaxAge:
			problem("host %s's node is offline (last heartbeat %s ago, at %s); start ferry node on it or wait for it",
				h.Name, now.Sub(*h.LastSeen).Round(time.Second), h.LastSeen.UTC().Format(time.RFC3339))
		}
	}

	items, err := tx.ListItems(ctx, store.ItemFilter{OrderID: o.ID})
	if err != nil {
		return nil, nil, err
	}
	// The holders of every identity the copies will claim, read at once.
	var identities []string
	for _, it := range items {
		if it.State != model.StateDeleted && !model.KindInfoOf(it.Kind).ControlPlane && it.Kind != model.KindDNS {
			identities = append(identities, it.Spec.Identities(it.Kind)...)
		}
	}
	holdersOf, err := tx.HoldersOfAny(ctx, identities)
	if err != nil {
		return nil, nil, err
	}
	for _, it := range items {
		if it.State == model.StateDeleted || model.KindInfoOf(it.Kind).ControlPlane {
			continue // what no host holds stays with the order as it is
		}
		src.items = append(src.items, it)
		if it.State != model.StateActive {
			problem("%s is %s; every item must be active before a move (wait for its host, or fix it with ferry item)", describeItem(it), it.State)
		}
		if it.Kind == model.KindDNS {
			d := PlanDNS{ID: it.ID, FQDN: it.Spec.FQDN, Type: it.Spec.Type, Value: it.Spec.Value, TTL: it.Spec.TTL, NewTTL: min(it.Spec.TTL, LoweredTTL)}
			if (it.Spec.Type == model.RRA || it.Spec.Type == model.RRAAAA) && slices.Contains(fromHost.Addresses, it.Spec.Value) {
				d.SwitchTo = toHost.Addr4()
				if it.Spec.Type == model.RRAAAA {
					d.SwitchTo = toHost.Addr6()
				}
				if d.SwitchTo == "" {
					problem("%s points at %s, but %s has no %s address to switch it to at cutover; add one (ferry host update)", describeItem(it), it.Spec.Value, to, it.Spec.Type)
				}
			}
			if it.Spec.Type == model.RRA || it.Spec.Type == model.RRAAAA {
				p.OldTTL = max(p.OldTTL, it.Spec.TTL)
			}
			p.DNS = append(p.DNS, d)
			continue
		}
		p.Copies = append(p.Copies, PlanItem{ID: it.ID, Kind: it.Kind, Name: itemName(it), State: it.State})
		for _, id := range it.Spec.Identities(it.Kind) {
			for _, h := range holdersOf[id] {
				if h.ItemID == it.ID || !h.State.Live() {
					continue
				}
				other, err := tx.GetItem(ctx, h.ItemID)
				if err != nil {
					return nil, nil, err
				}
				problem("%s is already taken by item %d (order %d on %s, %s); the new host cannot hold it twice",
					strings.TrimPrefix(id, string(it.Kind)+":"), other.ID, other.OrderID, other.Host, other.State)
			}
		}
	}
	if len(p.Copies) == 0 {
		problem("order %s has no items to move", o.Identifier)
	}
	p.PHP = planPHP(src.items, fromHost, toHost, php)
	problems, warnings := checkPHP(p.PHP, o.Host, to, php)
	p.Problems, p.Warnings = append(p.Problems, problems...), append(p.Warnings, warnings...)

	fromUsage, err := tx.HostUsage(ctx, o.Host)
	if err != nil {
		return nil, nil, err
	}
	toUsage, err := tx.HostUsage(ctx, to)
	if err != nil {
		return nil, nil, err
	}
	if size, source, ok := measuredSize(o, src.items, fromUsage); ok {
		p.SizeEstimate, p.SizeSource = size, source
	} else if p.SizeEstimate, p.SizeSource, err = sizeEstimate(ctx, tx, o); err != nil {
		return nil, nil, err
	}
	for _, h := range []struct {
		name  string
		usage *model.HostUsage
	}{{o.Host, fromUsage}, {to, toUsage}} {
		for _, bad := range unreachableServers(src.items, h.usage, now) {
			problem("%s on %s does not answer (%s, measured %s); the move copies %s databases: start it, or wait for the next measurement",
				bad.server, h.name, bad.err, h.usage.MeasuredAt.UTC().Format(time.RFC3339), bad.engine)
		}
	}
	if toUsage != nil && now.Sub(toUsage.MeasuredAt) <= UsageMaxAge && len(toUsage.PgExtensions) > 0 {
		for _, it := range src.items {
			if it.Kind != model.KindPgSQLDB || it.State == model.StateDeleted {
				continue
			}
			d, _ := fromUsage.DatabaseUsage("pgsql", it.Spec.Name)
			for _, ext := range d.Extensions {
				if !slices.Contains(toUsage.PgExtensions, ext) {
					problem("PostgreSQL database %s uses extension %s, which %s's server cannot install; install its package there", it.Spec.Name, ext, to)
				}
			}
		}
	}
	if ou, ok := fromUsage.Order(model.OrderDir(o.Member, o.Identifier)); ok {
		for _, d := range ou.AppDatabases {
			if !slices.ContainsFunc(src.items, func(it model.Item) bool { return it.IsDatabase(d.Engine, d.Name) }) {
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s names %s database %s, which no item of the order registers: it is not copied (move start --include-unregistered adopts a MariaDB one, or add a %s-db item for it)",
					d.Config, d.Engine, d.Name, d.Engine))
			}
		}
	}
	p.DiskFree = toHost.DiskFree
	switch {
	case p.SizeEstimate > 0 && float64(p.DiskFree) < float64(p.SizeEstimate)*DiskFactor:
		problem("%s has %s free, but the order needs %s (%s × %.1f, %s); free some space on %s",
			to, bytesStr(p.DiskFree), bytesStr(int64(float64(p.SizeEstimate)*DiskFactor)), bytesStr(p.SizeEstimate), DiskFactor, p.SizeSource, to)
	case p.SizeEstimate == 0:
		p.Warnings = append(p.Warnings, fmt.Sprintf("the order's size is not known before its first sync; %s has %s free", to, bytesStr(p.DiskFree)))
	}
	if p.OldTTL == 0 {
		p.Warnings = append(p.Warnings, "the order has no A/AAAA records in ferry: point its names at "+p.ToAddr+" by hand at cutover")
	}
	p.Steps = planSteps(p)
	return p, src, nil
}

// planPHP lists the order's live web-confs with PHP: the version each runs
// on from (its own, or from's newest) and the one its copy gets on to:
// php when given, else the same.
func planPHP(items []model.Item, from, to model.Host, php string) []PlanPHP {
	var out []PlanPHP
	for _, it := range items {
		if it.Kind != model.KindWebConf || it.State == model.StateDeleted || (it.Spec.PHP != nil && !*it.Spec.PHP) {
			continue
		}
		s := PlanPHP{ID: it.ID, Name: itemName(it), From: it.Spec.SitePHPVersion(from.PHPVersions), ToHas: model.SortPHPVersions(to.PHPVersions)}
		s.To = cmp.Or(php, s.From)
		if len(s.ToHas) == 0 {
			s.ToHas = nil
		}
		out = append(out, s)
	}
	return out
}

// checkPHP says what stops the order's sites with PHP from moving from
// host from to host to, and what to look out for: a copy's version the
// new host lacks stops the move, a new host that has not reported its
// versions is a warning. php is the move's --php.
func checkPHP(sites []PlanPHP, from, to, php string) (problems, warnings []string) {
	for _, s := range sites {
		switch {
		case len(s.ToHas) == 0:
			warnings = append(warnings, fmt.Sprintf("%s's node has not reported its PHP versions: site %s's copy %s there, and fails if %s lacks it",
				to, s.Name, phpWants(s.To), to))
		case s.To == "" || slices.Contains(s.ToHas, s.To):
		case php != "":
			problems = append(problems, fmt.Sprintf("site %s: %s has no PHP %s (it has PHP-FPM %s); name one of those with --php",
				s.Name, to, s.To, strings.Join(s.ToHas, ", ")))
		default:
			problems = append(problems, fmt.Sprintf("site %s runs PHP %s on %s, which %s lacks (it has PHP-FPM %s): install php%s-fpm on %s, or move it to one of those with --php VERSION (then check the site with verify)",
				s.Name, s.From, from, to, strings.Join(s.ToHas, ", "), s.From, to))
		}
	}
	if php != "" && len(sites) == 0 {
		warnings = append(warnings, fmt.Sprintf("--php %s changes nothing: no site of the order runs PHP", php))
	}
	return problems, warnings
}

// phpWants says what PHP a site's copy asks of its new host.
func phpWants(v string) string {
	if v == "" {
		return "takes the newest PHP"
	}
	return "asks for PHP " + v
}

// UsageMaxAge is how old a node's measurement may be for a plan to trust
// what it says about servers that do not answer.
const UsageMaxAge = 15 * time.Minute

// measuredSize is the order's size as the old host's node last measured it:
// its directory and its databases.
func measuredSize(o model.Order, items []model.Item, u *model.HostUsage) (int64, string, bool) {
	ou, ok := u.Order(model.OrderDir(o.Member, o.Identifier))
	if !ok {
		return 0, "", false
	}
	size := ou.Bytes
	for _, it := range items {
		for _, engine := range []string{"mysql", "pgsql"} {
			if it.IsDatabase(engine, it.Spec.Name) {
				n, _ := u.Database(engine, it.Spec.Name)
				size += n
			}
		}
	}
	return size, fmt.Sprintf("files and databases measured on %s at %s", o.Host, u.MeasuredAt.UTC().Format(time.RFC3339)), true
}

type unreachable struct{ server, engine, err string }

// unreachableServers are the database servers a recent measurement found
// not answering, of the engines the order's databases use.
func unreachableServers(items []model.Item, u *model.HostUsage, now time.Time) []unreachable {
	if u == nil || now.Sub(u.MeasuredAt) > UsageMaxAge {
		return nil
	}
	var out []unreachable
	for _, s := range []unreachable{{"MariaDB", "mysql", "mariadb: "}, {"PostgreSQL", "pgsql", "postgresql: "}} {
		if !slices.ContainsFunc(items, func(it model.Item) bool { return it.IsDatabase(s.engine, it.Spec.Name) }) {
			continue
		}
		for _, msg := range u.Unreachable {
			if rest, ok := strings.CutPrefix(msg, s.err); ok {
				out = append(out, unreachable{s.server, s.engine, rest})
			}
		}
	}
	return out
}

// sizeEstimate is the order's tree size from the newest sync of an earlier
// move of it; without one the size is unknown.
func sizeEstimate(ctx context.Context, tx store.Tx, o model.Order) (int64, string, error) {
	moves, err := tx.ListMoves(ctx, store.MoveFilter{OrderID: o.ID})
	if err != nil {
		return 0, "", err
	}
	for i := len(moves) - 1; i >= 0; i-- {
		d, err := decodeData(moves[i])
		if err != nil {
			continue
		}
		if s := d.lastSync(); s != nil && s.Files.TotalBytes > 0 {
			return s.Files.TotalBytes, fmt.Sprintf("size at move %d's last sync", moves[i].ID), nil
		}
	}
	return 0, "unknown", nil
}

func planSteps(p *Plan) []string {
	lowered := 0
	for _, d := range p.DNS {
		if d.TTL > d.NewTTL {
			lowered++
		}
	}
	return []string{
		fmt.Sprintf("prepare: lower the TTL of %d dns record(s) to %d s; make a transfer-limbo order %s on %s holding the %d item(s), still serving; point order %d at %s; copy the items there (pending-insert); make an ssh key on %s authorised on %s for this move only",
			lowered, LoweredTTL, p.Order.Identifier, p.From, len(p.Copies), p.Order.ID, p.To, p.From, p.To),
		fmt.Sprintf("sync (repeatable): rsync %s and copy every database and crontab from %s to %s", model.OrderDir(p.Order.Member, p.Order.Identifier), p.From, p.To),
		fmt.Sprintf("verify: compare files, tables and every site over HTTP on %s and %s; print /etc/hosts lines", p.FromAddr, p.ToAddr),
		fmt.Sprintf("cutover (not before %d s after prepare): freeze the old site, final sync, old vhost proxies to %s, switch A/AAAA records, restore TTLs", p.OldTTL, p.To),
		fmt.Sprintf("cleanup (not before %d s after cutover): remove the limbo order from %s", 2*LoweredTTL, p.From),
	}
}

func preferredAddr(h model.Host) string {
	if a := h.Addr4(); a != "" {
		return a
	}
	return h.Addr6()
}

func bytesStr(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// StartMove checks a move of an order to a host and, when nothing stops
// it, prepares it in one transaction (the seed's first script); the ssh
// key is then made in the background. A move whose prepare failed is
// resumed by starting it again.
func (e *Engine) StartMove(ctx context.Context, c panel.Caller, in StartInput) (View, error) {
	if err := mayMove(c); err != nil {
		return View{}, err
	}
	var m model.Move
	var wake []string
	err := e.p.Update(ctx, func(tx store.Tx) error {
		o, err := resolveOrder(ctx, tx, in.Order)
		if err != nil {
			return err
		}
		moves, err := tx.ListMoves(ctx, store.MoveFilter{OrderID: o.ID, ActiveOnly: true})
		if err != nil {
			return err
		}
		if len(moves) == 1 && moves[0].Phase == model.PhasePrepare && moves[0].Status == model.MoveFailed && moves[0].To == in.To {
			m, err = e.beginPhase(ctx, tx, c, moves[0].ID, model.PhasePrepare, PhaseInput{})
			return err
		}
		plan, src, err := e.preflight(ctx, tx, o, in.To, in.PHP)
		if err != nil {
			return err
		}
		if len(plan.Problems) > 0 {
			return panel.RefusedList(fmt.Sprintf("cannot move %s to %s", o.Identifier, in.To), plan.Problems)
		}
		m, wake, err = e.prepare(ctx, tx, c, plan, src)
		return err
	})
	if err != nil {
		return View{}, err
	}
	e.p.Notify(wake...)
	e.kick(ctx, m)
	return e.Get(ctx, c, m.ID)
}

// prepare is the seed's first script, in the caller's transaction.
func (e *Engine) prepare(ctx context.Context, tx store.Tx, c panel.Caller, plan *Plan, src *source) (model.Move, []string, error) {
	now := e.now()
	o := src.order
	limbo, err := e.p.CreateLimboOrderTx(ctx, tx, c, o)
	if err != nil {
		return model.Move{}, nil, err
	}
	d := Data{Run: 1, By: c.Name, MoveInfo: wire.MoveInfo{
		Identifier: o.Identifier, Member: o.Member,
		FromAddr: plan.FromAddr, ToAddr: plan.ToAddr, PreparedAt: now, OldTTL: plan.OldTTL,
		History: []Event{{Phase: model.PhasePrepare, Run: 1, By: c.Name, At: now, Status: model.MoveRunning}},
	}}
	wake := []string{src.to.Name}
	// The order's items change together: the records' TTLs, then the
	// items into limbo, then their copies (whose identities the limbo
	// items may share), each in a few statements for the whole order.
	var records, moved, copies []*model.Item
	var lowered []model.Spec
	for _, it := range src.items {
		if it.Kind == model.KindDNS {
			if it.Spec.TTL <= LoweredTTL {
				continue
			}
			d.TTLs = append(d.TTLs, TTLChange{ItemID: it.ID, FQDN: it.Spec.FQDN, Type: it.Spec.Type, Value: it.Spec.Value, Old: it.Spec.TTL})
			spec := it.Spec
			spec.TTL = LoweredTTL
			records, lowered = append(records, &it), append(lowered, spec)
			wake = append(wake, it.Host)
			continue
		}
		cp := model.Item{OrderID: o.ID, Host: src.to.Name, Kind: it.Kind, Spec: cloneSpec(it.Spec)}
		if i := slices.IndexFunc(plan.PHP, func(s PlanPHP) bool { return s.ID == it.ID }); i >= 0 {
			cp.Spec.PHPVersion = plan.PHP[i].To
		}
		it.OrderID = limbo.ID
		moved, copies = append(moved, &it), append(copies, &cp)
	}
	named := func(items []*model.Item, err error) error {
		var ie *panel.ItemsError
		if errors.As(err, &ie) {
			return fmt.Errorf("%s: %w", describeItem(*items[ie.Index]), ie.Err)
		}
		return err
	}
	if err := e.p.UpdateSpecsTx(ctx, tx, c, records, lowered); err != nil {
		return model.Move{}, nil, named(records, err)
	}
	if err := e.p.SetStatesTx(ctx, tx, c, moved, model.StateTransferLimbo); err != nil {
		return model.Move{}, nil, named(moved, err)
	}
	if err := e.p.InsertItems(ctx, tx, c, copies); err != nil {
		var ie *panel.ItemsError
		if errors.As(err, &ie) {
			return model.Move{}, nil, fmt.Errorf("copy %s to %s: %w", describeItem(*moved[ie.Index]), src.to.Name, ie.Err)
		}
		return model.Move{}, nil, err
	}
	for i, it := range moved {
		d.Copies = append(d.Copies, Copy{Kind: it.Kind, Name: itemName(*it), Original: it.ID, Copy: copies[i].ID})
	}
	if err := e.p.SetOrderHostTx(ctx, tx, c, &o, src.to.Name); err != nil {
		return model.Move{}, nil, err
	}
	m := model.Move{OrderID: o.ID, LimboOrderID: limbo.ID, From: src.from.Name, To: src.to.Name, Phase: model.PhasePrepare, Status: model.MoveRunning}
	if err := encodeData(&m, d); err != nil {
		return model.Move{}, nil, err
	}
	if err := tx.CreateMove(ctx, &m); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return model.Move{}, nil, refused("order %s is already being moved", o.Identifier)
		}
		return model.Move{}, nil, err
	}
	figures := map[string]any{"from": m.From, "to": m.To, "limbo_order": limbo.ID, "copies": len(d.Copies), "ttls_lowered": len(d.TTLs), "old_ttl": d.OldTTL}
	if err := e.p.Audit(ctx, tx, c, panel.AuditMoveStart(model.PhasePrepare), moveObject(m.ID), o.ID, nil, figures); err != nil {
		return model.Move{}, nil, err
	}
	return m, wake, nil
}

// kick queues the move's current run; should that fail, the reconciler
// queues it later.
func (e *Engine) kick(ctx context.Context, m model.Move) {
	e.opts.Metrics.MoveStarted(m.Phase)
	d, err := decodeData(m)
	if err == nil {
		_, err = e.enqueue(ctx, m.ID, d.Run, m.Phase)
	}
	if err != nil {
		e.log.Warn("move engine: cannot queue phase now; the reconciler will", "move", m.ID, "phase", m.Phase, "err", err)
	}
}
