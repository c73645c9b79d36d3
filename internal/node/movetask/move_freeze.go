package movetask

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"ferry/internal/atomicfile"
	"ferry/internal/model"
)

// The cutover's freeze is one task on the old host (model.TaskMoveFreeze):
// maintenance mode, the final sync of files and databases side by side,
// proxy mode, with nothing in between to wait for. Its state is kept in the
// move's directory (freezeStateFile), so that a run after a crash of
// either side, or after a failure, knows what the first run did:
//
//   - not frozen yet, or frozen and not synced: the run freezes (again: a
//     no-op) and syncs; the freeze window counts from the first freeze.
//   - synced: the run only puts the site in proxy mode (or keeps it so)
//     and reports. It never syncs again: once the proxy may be on,
//     visitors' writes go to the new host, and a sync would overwrite
//     them with the old host's copy. Nothing was written on the old host
//     between the sync and the proxy: the site answered 503.

// freezeStateFile is where the freeze task keeps its state, in the move's
// directory (removed with the move's key at the end of the move).
const freezeStateFile = "freeze.json"

// freezeState is what the freeze task has done so far.
type freezeState struct {
	// FrozenAt is when maintenance mode was first live.
	FrozenAt *time.Time `json:"frozen_at,omitempty"`
	// Runs counts the runs that reached maintenance mode.
	Runs int `json:"runs"`
	// Synced is set once the final sync is done, before proxy mode is
	// asked for; Result holds its figures.
	Synced bool                   `json:"synced"`
	Result model.MoveFreezeResult `json:"result"`
	// Done is set once proxy mode is live, with the whole Result.
	Done bool `json:"done,omitempty"`
}

func (m *mover) readFreezeState(id int64) (freezeState, error) {
	var st freezeState
	b, err := os.ReadFile(filepath.Join(m.moveDir(id), freezeStateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: %w", freezeStateFile, err)
	}
	return st, nil
}

func (m *mover) writeFreezeState(id int64, st freezeState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(m.moveDir(id), freezeStateFile), b, 0o600)
}

// freeze runs the cutover's freeze on the old host. On a failure the site
// stays in maintenance mode, as it is: the cutover fails, and running it
// again runs this task again, while an abort puts the site's own vhost
// back.
func (m *mover) freeze(ctx context.Context, p model.MoveTaskPayload, progress func(any)) (any, error) {
	if err := m.checkFilesPayload(&p); err != nil {
		return nil, err
	}
	if err := checkDatabases(p.Databases); err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	p.Final, p.BWLimit = true, 0
	st, err := m.readFreezeState(p.MoveID)
	if err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	if !st.Synced {
		if err := m.freezeAndSync(ctx, p, &st, progress); err != nil {
			return nil, err
		}
	} else {
		m.log.Info("move freeze: synced already; only the proxy is left", "move", p.MoveID)
	}
	t1 := time.Now()
	mode, err := m.siteMode(ctx, withMode(p, siteModeProxy), nil)
	if err != nil {
		return nil, err
	}
	if r, _ := mode.(moveSiteModeResult); st.Done && !r.Changed {
		return st.Result, nil // a run again after the end: the first run's figures
	}
	end := time.Now()
	res := st.Result
	res.Steps["proxy"] = roundSeconds(end.Sub(t1))
	res.FreezeSeconds, res.Runs = roundSeconds(end.Sub(*st.FrozenAt)), st.Runs
	st.Done, st.Result = true, res
	if err := m.writeFreezeState(p.MoveID, st); err != nil {
		m.log.Warn("move freeze: cannot record its end; a run again reports a longer freeze", "move", p.MoveID, "err", err)
	}
	m.dropTracker(p.MoveID)
	m.log.Info("move freeze done", "move", p.MoveID, "order", p.Order.Identifier, "freeze_seconds", res.FreezeSeconds,
		"steps", res.Steps, "tracked_paths", res.Files.TrackedPaths, "full_reason", res.Files.FullReason, "runs", res.Runs)
	return res, nil
}

// freezeAndSync puts the site in maintenance mode and runs the final sync,
// recording both in st and in the state file.
func (m *mover) freezeAndSync(ctx context.Context, p model.MoveTaskPayload, st *freezeState, progress func(any)) error {
	// Everything that can be checked before the freeze is: a move whose
	// key is missing fails with the site serving.
	t, err := m.target(p)
	if err != nil {
		return fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	// One ssh connection to the new host, opened before the freeze, carries
	// every command inside it (rsync, each database part, the mailboxes'
	// comparison): the freeze pays for no key exchange and login.
	t, closeMux := m.multiplex(ctx, t, m.moveDir(p.MoveID))
	defer closeMux()
	steps := map[string]float64{}
	t0 := time.Now()
	if _, err := m.siteMode(ctx, withMode(p, siteModeMaintenance), nil); err != nil {
		return err
	}
	frozen := time.Now()
	steps["maintenance"] = roundSeconds(frozen.Sub(t0))
	if st.FrozenAt == nil {
		st.FrozenAt = &frozen
	}
	st.Runs++
	if err := m.writeFreezeState(p.MoveID, *st); err != nil {
		return fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	fine := &stepTimes{}
	files, db, err := m.finalSync(withStepTimes(ctx, fine), p, t, steps, progress)
	fine.into(steps)
	if err != nil {
		return err
	}
	// With the order's mail held, both hosts now hold the same messages
	// under the same UIDs, or the site stays frozen and the cutover
	// fails: run again, it syncs again.
	t1 := time.Now()
	mail, problems, err := m.compareMailboxes(ctx, p, t, true)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("move %d: the mailboxes differ after the final sync: %s", p.MoveID, strings.Join(problems, "; "))
	}
	if mail != nil {
		steps["mailboxes"] = roundSeconds(time.Since(t1))
	}
	st.Synced, st.Result = true, model.MoveFreezeResult{Steps: steps, Files: files, DB: db, Mailboxes: mail}
	if err := m.writeFreezeState(p.MoveID, *st); err != nil {
		return fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	return nil
}

// finalSync runs the file and the database sync side by side and records
// each one's seconds in steps.
func (m *mover) finalSync(ctx context.Context, p model.MoveTaskPayload, t moveTarget, steps map[string]float64, progress func(any)) (model.MoveSyncFilesResult, model.MoveSyncDBResult, error) {
	var (
		mu       sync.Mutex
		snap     = map[string]any{}
		wg       sync.WaitGroup
		files    model.MoveSyncFilesResult
		db       model.MoveSyncDBResult
		fErr     error
		dErr     error
		fSeconds float64
		dSeconds float64
	)
	report := func(part string) func(any) {
		return func(v any) {
			mu.Lock()
			defer mu.Unlock()
			snap[part] = v
			progress(map[string]any{"files": snap["files"], "db": snap["db"]})
		}
	}
	start := time.Now()
	wg.Add(2)
	go func() {
		defer wg.Done()
		files, fErr = m.sendFiles(ctx, p, t, report("files"))
		fSeconds = roundSeconds(time.Since(start))
	}()
	go func() {
		defer wg.Done()
		db, dErr = m.sendDB(ctx, p, t, report("db"))
		dSeconds = roundSeconds(time.Since(start))
	}()
	wg.Wait()
	steps["files"], steps["db"] = fSeconds, dSeconds
	switch {
	case fErr != nil && dErr != nil:
		return files, db, fmt.Errorf("%w; and %w", fErr, dErr)
	case fErr != nil:
		return files, db, fErr
	}
	return files, db, dErr
}

// withMode is p asking for site mode mode.
func withMode(p model.MoveTaskPayload, mode string) model.MoveTaskPayload {
	p.Mode = mode
	return p
}

// fileChanges is what a file sync copies: the whole tree, or (tracked)
// only paths; settle tells the tracker whether the sync carried them.
type fileChanges struct {
	// trackerSetup is how long starting the move's tracker took, when
	// this sync started it.
	trackerSetup time.Duration
	tracked      bool
	paths        []string
	fullReason   string // a final sync's reason to compare the whole tree
	settle       func(ok bool)
}

// changesSince says what a file sync must compare. Every sync but the
// final one compares the whole tree, and the move's tracker is started
// before it (so nothing changed during it is missed) or its list emptied:
// the final sync then carries what changed since the last sync began.
// A sync that fails gives its list back, or drops a tracker it started.
func (m *mover) changesSince(p model.MoveTaskPayload) fileChanges {
	m.trackMu.Lock()
	defer m.trackMu.Unlock()
	if m.trackers == nil {
		m.trackers = map[int64]*changeTracker{}
	}
	tr := m.trackers[p.MoveID]
	if !p.Final {
		if tr != nil && tr.lostReason() != "" {
			m.log.Info("move sync: change tracking was lost; it starts again", "move", p.MoveID, "why", tr.lostReason())
			tr.Close()
			delete(m.trackers, p.MoveID)
			tr = nil
		}
		if tr == nil {
			var err error
			t0 := time.Now()
			if tr, err = startTracker(p.OrderDir, trackerMaxPaths); err != nil {
				m.log.Warn("move sync: cannot track changes; the final sync compares the whole tree", "move", p.MoveID, "err", err)
				return fileChanges{trackerSetup: time.Since(t0), settle: func(bool) {}}
			}
			m.trackers[p.MoveID] = tr
			return fileChanges{trackerSetup: time.Since(t0), settle: func(ok bool) {
				if !ok { // what changed before it began is not known
					m.dropTracker(p.MoveID)
				}
			}}
		}
		prev, _ := tr.take()
		return fileChanges{settle: func(ok bool) {
			if !ok {
				tr.putBack(prev)
			}
		}}
	}
	full := func(why string) fileChanges { return fileChanges{fullReason: why, settle: func(bool) {}} }
	switch {
	case p.Full:
		return full("a full sync was asked for")
	case tr == nil:
		return full("no change was tracked on this host since the last sync (its agent started after it)")
	}
	paths, lost := tr.take()
	if lost != "" {
		return full("change tracking was lost: " + lost)
	}
	return fileChanges{tracked: true, paths: paths, settle: func(ok bool) {
		if !ok {
			tr.putBack(paths)
		}
	}}
}

// dropTracker stops the move's change tracker, if it has one.
func (m *mover) dropTracker(id int64) {
	m.trackMu.Lock()
	tr := m.trackers[id]
	delete(m.trackers, id)
	m.trackMu.Unlock()
	if tr != nil {
		tr.Close()
	}
}
