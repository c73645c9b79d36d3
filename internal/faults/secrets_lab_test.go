//go:build lab

package faults

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"ferry/internal/labtest"
)

// secretSet holds the passwords and tokens the suite used: none may show
// in any log or in the test output.
type secretSet struct {
	mu   sync.Mutex
	list map[string]bool
}

var secrets = &secretSet{list: map[string]bool{}}

func (s *secretSet) add(vs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range vs {
		if v = strings.TrimSpace(v); len(v) >= 8 {
			s.list[v] = true
		}
	}
}

// find returns the secrets text holds, masked (a report must not leak
// them again).
func (s *secretSet) find(text string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []string
	for v := range s.list {
		if strings.Contains(text, v) {
			found = append(found, mask(v))
		}
	}
	return found
}

func mask(secret string) string { return secret[:4] + strings.Repeat("*", len(secret)-4) }

// newEnv is labtest.New that also learns the lab's secrets: the admin
// token, every node's token and the passwords sites are made with.
func newEnv(t testing.TB) *labtest.Env {
	t.Helper()
	e := labtest.New(t)
	secrets.add(e.Token, labtest.UserPassword, labtest.DBPassword, labtest.PgSQLPassword)
	for _, h := range e.Lab.Hosts() {
		if p, err := e.Lab.Path(h.Name, "/etc/ferry-lab/node.token"); err == nil {
			if tok, err := os.ReadFile(p); err == nil {
				secrets.add(string(tok))
			}
		}
	}
	if st := e.Lab.State(); st.TSIG != nil {
		secrets.add(st.TSIG.Secret)
	}
	return e
}

// scanned runs the tests with their standard output and error copied
// aside, and fails the run when a secret shows in them.
type scanned struct{ m *testing.M }

func (s *scanned) Run() int {
	realOut, realErr := os.Stdout, os.Stderr
	var buf syncBuffer
	var wg sync.WaitGroup
	capture := func(real *os.File) *os.File {
		r, w, err := os.Pipe()
		if err != nil {
			return real
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = io.Copy(io.MultiWriter(real, &buf), r)
		}()
		return w
	}
	os.Stdout, os.Stderr = capture(realOut), capture(realErr)
	code := s.m.Run()
	outW, errW := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = realOut, realErr
	outW.Close()
	errW.Close()
	wg.Wait()
	if leaked := secrets.find(buf.String()); len(leaked) > 0 {
		fmt.Fprintf(realOut, "FAIL: the test output shows secrets: %s\n", strings.Join(leaked, ", "))
		return 1
	}
	return code
}
