package movetask

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"ferry/internal/atomicfile"
	"ferry/internal/model"
	"ferry/internal/node/apply"
)

// Files in a move's directory (moves/<id>/ under the state directory).
const (
	moveKeyFile        = "key"         // old host: private key, 0600
	moveKnownHostsFile = "known_hosts" // old host: the new host's key
	movePolicyFile     = "policy.json" // new host: what receive allows
)

// moveKeyComment marks the move's key, and its authorized_keys line.
func moveKeyComment(id int64) string { return "ferry-move-" + strconv.FormatInt(id, 10) }

// moveHostAlias names the new host in the move's known_hosts, so that the
// line does not depend on how the address is written.
func moveHostAlias(id int64) string { return "ferry-move-" + strconv.FormatInt(id, 10) }

// keygen makes the move's ed25519 key pair under the state directory, or
// reads it back when it is there, and returns the public key.
func (m *mover) keygen(_ context.Context, p model.MoveTaskPayload, _ func(any)) (any, error) {
	dir := m.moveDir(p.MoveID)
	keyPath := filepath.Join(dir, moveKeyFile)
	if pub, err := readMoveKey(keyPath, p.MoveID); err == nil {
		return model.MoveKeygenResult{PublicKey: pub}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("move %d: key directory: %w", p.MoveID, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("move %d: key directory: %w", p.MoveID, err)
	}
	pubKey, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("move %d: generate key: %w", p.MoveID, err)
	}
	block, err := ssh.MarshalPrivateKey(priv, moveKeyComment(p.MoveID))
	if err != nil {
		return nil, fmt.Errorf("move %d: encode key: %w", p.MoveID, err)
	}
	sshPub, err := ssh.NewPublicKey(pubKey)
	if err != nil {
		return nil, fmt.Errorf("move %d: encode key: %w", p.MoveID, err)
	}
	pub := authorizedKeyLine(sshPub, moveKeyComment(p.MoveID))
	// The public half first: a crash between the two writes leaves no
	// private key without its public one.
	if err := atomicfile.Write(keyPath+".pub", []byte(pub+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("move %d: write key: %w", p.MoveID, err)
	}
	if err := atomicfile.Write(keyPath, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("move %d: write key: %w", p.MoveID, err)
	}
	m.log.Info("move key made", "move", p.MoveID, "key", keyPath)
	return model.MoveKeygenResult{PublicKey: pub}, nil
}

// readMoveKey reads the move's private key and returns its public half as
// an authorized_keys line; the .pub file is only a copy for admins.
func readMoveKey(keyPath string, id int64) (string, error) {
	data, err := os.ReadFile(keyPath)
	if err != nil {
		return "", err
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return "", fmt.Errorf("key %s is unreadable (remove it to make a new one): %w", keyPath, err)
	}
	return authorizedKeyLine(signer.PublicKey(), moveKeyComment(id)), nil
}

// authorizedKeyLine is "type base64 comment".
func authorizedKeyLine(k ssh.PublicKey, comment string) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " " + comment
}

// parseMovePublicKey accepts one ed25519 key as an authorized_keys line
// without options, and returns it as "type base64".
func parseMovePublicKey(s string) (string, error) {
	if strings.ContainsAny(s, "\r\n\x00") {
		return "", errors.New("public key: more than one line")
	}
	k, _, opts, rest, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return "", fmt.Errorf("public key: %w", err)
	}
	if len(opts) > 0 || len(bytes.TrimSpace(rest)) > 0 {
		return "", errors.New("public key: options or a second key are not allowed")
	}
	if k.Type() != ssh.KeyAlgoED25519 {
		return "", fmt.Errorf("public key: type %s, want %s", k.Type(), ssh.KeyAlgoED25519)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))), nil
}

// parseHostKey accepts the new host's key as "type base64 [comment]" and
// returns "type base64".
func parseHostKey(s string) (string, error) {
	if strings.ContainsAny(s, "\r\n\x00") {
		return "", errors.New("host key: more than one line")
	}
	k, _, opts, _, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return "", fmt.Errorf("host key: %w", err)
	}
	if len(opts) > 0 {
		return "", errors.New("host key: options are not allowed")
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))), nil
}

// readMovePolicy reads a move's receive policy from the state directory.
func readMovePolicy(stateDir string, id int64) (movePolicy, error) {
	path := filepath.Join(stateDir, "moves", strconv.FormatInt(id, 10), movePolicyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return movePolicy{}, fmt.Errorf("move %d is not authorised on this host (no %s)", id, path)
	}
	if err != nil {
		return movePolicy{}, err
	}
	var p movePolicy
	if err := apply.DecodeStrict(data, &p); err != nil {
		return movePolicy{}, fmt.Errorf("policy %s: %w", path, err)
	}
	if p.MoveID != id {
		return movePolicy{}, fmt.Errorf("policy %s is for move %d", path, p.MoveID)
	}
	if err := checkMovePath("order directory", p.OrderDir); err != nil {
		return movePolicy{}, fmt.Errorf("policy %s: %w", path, err)
	}
	if err := checkDatabases(p.Databases); err != nil {
		return movePolicy{}, fmt.Errorf("policy %s: %w", path, err)
	}
	if err := checkLogins(p.Logins); err != nil {
		return movePolicy{}, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

// authorizedLine is the move's line in root's authorized_keys: the key may
// only come from the old host and only run `ferry node receive` for this
// move, with no forwarding of any kind and no terminal (restrict).
func (m *mover) authorizedLine(id int64, from, pub string) string {
	cmd := m.cfg.Ferry + " node receive"
	if m.cfg.StateDir != DefaultStateDir {
		cmd += " --state " + m.cfg.StateDir
	}
	if d := m.cfg.Node.HTTPS.TLSDir; d != "" && d != apply.DefaultConfig().HTTPS.TLSDir {
		cmd += " --tls-dir " + d
	}
	cmd += " --move " + strconv.FormatInt(id, 10)
	return fmt.Sprintf(`from="%s",command="%s",restrict %s %s`, from, cmd, pub, moveKeyComment(id))
}

// authorize lets the move's key in for the forced command and writes the
// move's receive policy; it returns this host's ssh host key.
func (m *mover) authorize(_ context.Context, p model.MoveTaskPayload, _ func(any)) (any, error) {
	if err := m.checkOrder(&p); err != nil {
		return nil, err
	}
	from, err := parseMoveAddr("from address", p.FromAddr)
	if err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	pub, err := parseMovePublicKey(p.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	if err := checkDatabases(p.Databases); err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	if err := checkLogins(p.Logins); err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	hostKey, err := os.ReadFile(m.cfg.HostKeyFile)
	if err != nil {
		return nil, fmt.Errorf("move %d: this host's ssh host key: %w", p.MoveID, err)
	}
	hk, err := parseHostKey(strings.TrimSpace(string(hostKey)))
	if err != nil {
		return nil, fmt.Errorf("move %d: %s: %w", p.MoveID, m.cfg.HostKeyFile, err)
	}

	dir := m.moveDir(p.MoveID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("move %d: policy directory: %w", p.MoveID, err)
	}
	pol := movePolicy{MoveID: p.MoveID, Order: p.Order.Identifier, OrderDir: p.OrderDir, FromAddr: from.String(),
		Databases: p.Databases, Logins: p.Logins}
	if pol.Databases == nil {
		pol.Databases = []model.MoveDB{}
	}
	if pol.Logins == nil {
		pol.Logins = []string{}
	}
	data, err := json.MarshalIndent(pol, "", "  ")
	if err != nil {
		return nil, err
	}
	// The policy first: a key that is let in always finds its policy.
	if err := atomicfile.Write(filepath.Join(dir, movePolicyFile), append(data, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("move %d: write policy: %w", p.MoveID, err)
	}
	line := m.authorizedLine(p.MoveID, from.String(), pub)
	changed, err := editAuthorizedKeys(m.cfg.AuthorizedKeys, moveKeyComment(p.MoveID), line)
	if err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	if changed {
		m.log.Info("move key authorised", "move", p.MoveID, "from", from, "file", m.cfg.AuthorizedKeys)
	}
	return model.MoveAuthorizeResult{HostKey: hk}, nil
}

// editAuthorizedKeys replaces the lines marked with comment by line (none
// when line is ""), keeping every other line as it is, and reports whether
// the file changed. The file is replaced whole, by rename.
func editAuthorizedKeys(path, comment, line string) (bool, error) {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	exists := err == nil
	var out []string
	for _, l := range strings.Split(string(old), "\n") {
		if l == "" || authorizedLineMarked(l, comment) {
			continue
		}
		out = append(out, l)
	}
	if line != "" {
		out = append(out, line)
	}
	next := strings.Join(out, "\n")
	if next != "" {
		next += "\n"
	}
	if next == string(old) || (!exists && next == "") {
		return false, nil
	}
	if !exists {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return false, fmt.Errorf("make %s: %w", filepath.Dir(path), err)
		}
	}
	mode := fs.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := atomicfile.Write(path, []byte(next), mode); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}

// authorizedLineMarked reports whether an authorized_keys line ends with
// comment as its last field.
func authorizedLineMarked(line, comment string) bool {
	f := strings.Fields(line)
	return len(f) > 0 && f[len(f)-1] == comment
}

// moveRevokeResult says what revoke removed.
type moveRevokeResult struct {
	Removed []string `json:"removed"`
	// Warnings are leftovers revoke could not remove (a database server
	// that was down); the key is gone all the same.
	Warnings []string `json:"warnings,omitempty"`
}

// revoke removes everything of the move from this host: its line in
// authorized_keys, its key pair, known_hosts and policy, and database
// accounts a load left behind.
func (m *mover) revoke(ctx context.Context, p model.MoveTaskPayload, _ func(any)) (any, error) {
	res := moveRevokeResult{Removed: []string{}}
	m.dropTracker(p.MoveID)
	changed, err := editAuthorizedKeys(m.cfg.AuthorizedKeys, moveKeyComment(p.MoveID), "")
	if err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	if changed {
		res.Removed = append(res.Removed, m.cfg.AuthorizedKeys+": "+moveKeyComment(p.MoveID))
	}
	dir := m.moveDir(p.MoveID)
	if pol, err := readMovePolicy(m.cfg.StateDir, p.MoveID); err == nil {
		dropped, err := m.dropLoadAccounts(ctx, pol)
		res.Removed = append(res.Removed, dropped...)
		if err != nil {
			m.log.Warn("move revoke: temporary database accounts left behind", "move", p.MoveID, "err", err)
			res.Warnings = append(res.Warnings, err.Error())
		}
	}
	if _, err := os.Lstat(dir); err == nil {
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
		}
		res.Removed = append(res.Removed, dir)
	}
	if len(res.Removed) > 0 {
		m.log.Info("move revoked", "move", p.MoveID, "removed", res.Removed)
	}
	return res, nil
}
