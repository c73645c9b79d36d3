package node

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// systemNames lists the host's own users and groups, which no member's
// login may take: every user whose home is not in an order's directory
// under membersRoot (ferry made those), and every group with a system id
// (below 1000, or 60000 and up, such as nogroup). It reads the host's own
// passwd and group files; a file it cannot read adds nothing.
func systemNames(passwd, group []byte, membersRoot string) []string {
	root := filepath.Clean(membersRoot) + "/"
	var names []string
	eachEntry(passwd, func(f []string) {
		if len(f) >= 6 && !strings.HasPrefix(filepath.Clean(f[5])+"/", root) {
			names = append(names, f[0])
		}
	})
	eachEntry(group, func(f []string) {
		if len(f) < 3 {
			return
		}
		if gid, err := strconv.Atoi(f[2]); err == nil && (gid < 1000 || gid >= 60000) {
			names = append(names, f[0])
		}
	})
	slices.Sort(names)
	return slices.Compact(names)
}

// eachEntry calls fn with the colon-separated fields of every line of an
// /etc/passwd or /etc/group file but comments and blank lines.
func eachEntry(data []byte, fn func([]string)) {
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if f[0] != "" {
			fn(f)
		}
	}
}

// hostSystemNames reads the host's /etc/passwd and /etc/group.
func hostSystemNames(membersRoot string) []string {
	passwd, _ := os.ReadFile("/etc/passwd")
	group, _ := os.ReadFile("/etc/group")
	return systemNames(passwd, group, membersRoot)
}
