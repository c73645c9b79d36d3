package move_test

import (
	"strings"
	"testing"

	"ferry/internal/model"
)

// A sync the old host could not send because it could not reach the new
// one says which two hosts lost each other and what to do; one whose
// database server did not answer names the server and its host; once they
// are back, running the sync again finishes it. Other failures get no such
// note.
func TestSyncFailureNamesUnreachableHost(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		v := e.start("web2")
		e.mustSucceed(e.waitPhase(v.ID), model.PhasePrepare)
		for _, c := range []struct {
			err, want string
			note      bool
		}{
			{"move 1: rsync to 127.0.1.2: ssh: connect to host 127.0.1.2 port 22: Connection timed out (exit status 255)", "web1 could not reach web2 (127.0.1.2) over ssh: check the network between web1 and web2 and web2's sshd, then run the phase again; move 1: rsync to 127.0.1.2: ssh: connect", true},
			{"move 1: rsync to 127.0.1.2: Connection timed out during banner exchange", "web1 could not reach web2 (127.0.1.2)", true},
			{"move 1: rsync to 127.0.1.2: exit status 11; rsync: error in file I/O", "move-sync-files on web1 failed: move 1: rsync to 127.0.1.2: exit status 11", false},
			{"move 1: database ada_wp: mariadb is not reachable at /run/mysqld/mysqld.sock: dial unix /run/mysqld/mysqld.sock: connect: connection refused", "move-sync-files on web1 failed: MariaDB on web1 does not answer: start it again (service mariadb), then run the phase again; move 1: database ada_wp: mariadb is not reachable", false},
			{"move 1: checksums of ada_wp on 127.0.1.2: postgresql is not reachable: connection refused", "PostgreSQL on web2 does not answer: start it again (service postgresql)", false},
			{`move 1: database ada_pg: list tables: runuser: psql: error: connection to server on socket "/run/postgresql/.s.PGSQL.5432" failed: Connection refused`, "PostgreSQL on web1 does not answer", false},
		} {
			e.nodes["web1"].FailTasks(model.TaskMoveSyncFiles, c.err)
			got := e.phase(v.ID, model.PhaseSync, false)
			if got.Status != model.MoveFailed || !strings.Contains(got.Error, "move-sync-files on web1 failed: ") || !strings.Contains(got.Error, c.want) {
				t.Fatalf("sync ended %s: %q, want it to fail saying %q", got.Status, got.Error, c.want)
			}
			if has := strings.Contains(got.Error, "could not reach"); has != c.note {
				t.Errorf("error %q: note %v, want %v", got.Error, has, c.note)
			}
		}
		e.nodes["web1"].FailTasks(model.TaskMoveSyncFiles, "")
		e.mustSucceed(e.phase(v.ID, model.PhaseSync, false), model.PhaseSync)
	})
}
