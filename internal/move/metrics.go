package move

import "ferry/internal/model"

// observeEnd tells the metrics that a phase run ended with result, how
// long it took since it began, and what its syncs sent. d is the move's
// data as the ending committed it.
func (e *Engine) observeEnd(phase model.MovePhase, result string, d Data) {
	m := e.opts.Metrics
	if m == nil {
		return
	}
	if ev := d.eventOf(d.Run); ev != nil {
		m.MovePhaseDone(phase, result, e.now().Sub(ev.At))
	}
	for _, s := range d.Syncs {
		if s.Run == d.Run {
			m.BytesSynced(s.Files.Bytes + s.DB.Bytes)
			m.FilesSynced(s.Files.Files)
		}
	}
}
