package model

import (
	"slices"
	"strings"
	"time"
)

// Member is a co-op member, who owns hosting orders.
type Member struct {
	Name         string    `json:"name"`
	FriendlyName string    `json:"friendly_name"`
	CreatedAt    time.Time `json:"created_at"`
}

// Validate checks a member's fields.
func (m *Member) Validate() error {
	if err := at("name", ValidateMemberName(m.Name)); err != nil {
		return err
	}
	m.FriendlyName = strings.TrimSpace(m.FriendlyName)
	if len(m.FriendlyName) > 200 || strings.ContainsAny(m.FriendlyName, "\x00\n\r\t") {
		return fieldErr("friendly_name", "must be one line of at most 200 characters")
	}
	return nil
}

// Role is what a host does for the co-op.
type Role string

// Host roles.
const (
	RoleWeb Role = "web"
	RoleDNS Role = "dns"
)

// HostState is a host's place in its life: active hosts take new orders,
// draining ones are being emptied, retired ones hold nothing.
type HostState string

// Host states.
const (
	HostActive   HostState = "active"
	HostDraining HostState = "draining"
	HostRetired  HostState = "retired"
)

// Host is a server that ferry node runs on.
type Host struct {
	Name         string    `json:"name"`
	Addresses    []string  `json:"addresses"`
	Roles        []Role    `json:"roles"`
	State        HostState `json:"state"`
	DiskCapacity int64     `json:"disk_capacity"`
	Heartbeat
	CreatedAt time.Time `json:"created_at"`
}

// Heartbeat is what a node last reported about its host.
type Heartbeat struct {
	LastSeen *time.Time `json:"last_seen,omitempty"`
	DiskFree int64      `json:"disk_free"`
	DiskUsed int64      `json:"disk_used"`
	Load     float64    `json:"load"`
	Version  string     `json:"version,omitempty"`
	// SystemNames are the host's own users and groups (system ids, not
	// the members' accounts ferry made), which no login may take.
	SystemNames []string `json:"system_names,omitempty"`
	// PHPVersions are the PHP-FPM versions installed on the host (X.Y,
	// oldest first), among which its web-confs choose.
	PHPVersions []string `json:"php_versions,omitempty"`
	// Usage is what the node last measured on its host (every few
	// minutes); nil in a heartbeat keeps the last one.
	Usage *HostUsage `json:"usage,omitempty"`
}

// HostUsage is what a node measured on its host.
type HostUsage struct {
	MeasuredAt time.Time `json:"measured_at"`
	// Orders are the order directories under the members' root.
	Orders []OrderUsage `json:"orders,omitempty"`
	// Databases are every database on the host's servers with its size.
	Databases []DatabaseUsage `json:"databases,omitempty"`
	// Unreachable names the database servers the node could not reach,
	// each with the error ("mariadb: …", "postgresql: …").
	Unreachable []string `json:"unreachable,omitempty"`
	// PgExtensions are the PostgreSQL extensions this host's server can
	// install.
	PgExtensions []string `json:"pg_extensions,omitempty"`
}

// OrderUsage is one order directory: its allocated size and the databases
// its app configs name.
type OrderUsage struct {
	Dir   string `json:"dir"`
	Bytes int64  `json:"bytes"`
	// AppDatabases are the databases wp-config.php, settings.php,
	// configuration.php or .env files in it name.
	AppDatabases []UnregisteredDB `json:"app_databases,omitempty"`
}

// DatabaseUsage is one database's size on disk.
type DatabaseUsage struct {
	Engine string `json:"engine"` // mysql or pgsql
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	// Extensions (pgsql) are the extensions the database uses.
	Extensions []string `json:"extensions,omitempty"`
}

// Order returns the usage of order directory dir, if it was measured.
func (u *HostUsage) Order(dir string) (OrderUsage, bool) {
	if u == nil {
		return OrderUsage{}, false
	}
	for _, o := range u.Orders {
		if o.Dir == dir {
			return o, true
		}
	}
	return OrderUsage{}, false
}

// Database returns the size of database name of engine, if it was measured.
func (u *HostUsage) Database(engine, name string) (int64, bool) {
	d, ok := u.DatabaseUsage(engine, name)
	return d.Bytes, ok
}

// DatabaseUsage returns what was measured of database name of engine.
func (u *HostUsage) DatabaseUsage(engine, name string) (DatabaseUsage, bool) {
	if u == nil {
		return DatabaseUsage{}, false
	}
	for _, d := range u.Databases {
		if d.Engine == engine && d.Name == name {
			return d, true
		}
	}
	return DatabaseUsage{}, false
}

// HasRole reports whether h has role r.
func (h *Host) HasRole(r Role) bool { return slices.Contains(h.Roles, r) }

// Validate checks a host's fields and fills in defaults.
func (h *Host) Validate() error {
	if err := at("name", ValidateHostName(h.Name)); err != nil {
		return err
	}
	if len(h.Addresses) == 0 {
		return fieldErr("addresses", "needs at least one IPv4 or IPv6 address")
	}
	for i, a := range h.Addresses {
		ip, err := ParseAddr(a)
		if err != nil {
			return at("addresses", err)
		}
		if ip.Is4In6() {
			return fieldErr("addresses", "%q is an IPv4-mapped IPv6 address; give the IPv4 address %s", a, ip.Unmap())
		}
		h.Addresses[i] = ip.String()
	}
	if len(h.Roles) == 0 {
		h.Roles = []Role{RoleWeb}
	}
	for _, r := range h.Roles {
		if r != RoleWeb && r != RoleDNS {
			return fieldErr("roles", "unknown role %q (web, dns)", r)
		}
	}
	switch h.State {
	case "":
		h.State = HostActive
	case HostActive, HostDraining, HostRetired:
	default:
		return fieldErr("state", "unknown host state %q (active, draining, retired)", h.State)
	}
	if h.DiskCapacity < 0 {
		return fieldErr("disk_capacity", "must not be negative")
	}
	return nil
}

// Addr4 returns the host's first IPv4 address, or "".
func (h *Host) Addr4() string { return h.firstAddr(true) }

// Addr6 returns the host's first IPv6 address, or "".
func (h *Host) Addr6() string { return h.firstAddr(false) }

func (h *Host) firstAddr(v4 bool) string {
	for _, a := range h.Addresses {
		if ip, err := ParseAddr(a); err == nil && ip.Is4() == v4 {
			return a
		}
	}
	return ""
}

// OrderState is a hosting order's state.
type OrderState string

// Order states.
const (
	OrderActive        OrderState = "active"
	OrderTransferLimbo OrderState = "transfer-limbo"
	OrderDeleted       OrderState = "deleted"
)

// Order is a hosting order: a member's site on one host.
type Order struct {
	ID         int64      `json:"id"`
	Identifier string     `json:"identifier"`
	Member     string     `json:"member"`
	Host       string     `json:"host"`
	State      OrderState `json:"state"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// Validate checks an order's fields and fills in defaults.
func (o *Order) Validate() error {
	d, err := NormalizeDomain(o.Identifier, 2)
	if err != nil {
		return at("identifier", err)
	}
	o.Identifier = d
	if err := at("member", ValidateMemberName(o.Member)); err != nil {
		return err
	}
	if err := at("host", ValidateHostName(o.Host)); err != nil {
		return err
	}
	switch o.State {
	case "":
		o.State = OrderActive
	case OrderActive, OrderTransferLimbo, OrderDeleted:
	default:
		return fieldErr("state", "unknown order state %q (active, transfer-limbo, deleted)", o.State)
	}
	return nil
}

// Dir is the order's directory on its host.
func (o *Order) Dir() string { return OrderDir(o.Member, o.Identifier) }

// OrderDir is where an order's files live on its host.
func OrderDir(member, identifier string) string {
	return "/home/members/" + member + "/sites/" + identifier
}

// TokenRole is what an API token may do.
type TokenRole string

// Token roles.
const (
	RoleAdmin  TokenRole = "admin"
	RoleMember TokenRole = "member"
	RoleNode   TokenRole = "node"
)

// Token is an API bearer token. Only its SHA-256 is stored; the secret is
// shown once, when it is made.
type Token struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Role      TokenRole  `json:"role"`
	Member    string     `json:"member,omitempty"`
	Host      string     `json:"host,omitempty"`
	Hash      string     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Validate checks a token's role and scope.
func (t *Token) Validate() error {
	if err := at("name", ValidateTokenName(t.Name)); err != nil {
		return err
	}
	switch t.Role {
	case RoleAdmin:
		if t.Member != "" {
			return fieldErr("member", "an admin token takes no member")
		}
		if t.Host != "" {
			return fieldErr("host", "an admin token takes no host")
		}
	case RoleMember:
		if t.Host != "" {
			return fieldErr("host", "a member token takes no host")
		}
		return at("member", ValidateMemberName(t.Member))
	case RoleNode:
		if t.Member != "" {
			return fieldErr("member", "a node token takes no member")
		}
		return at("host", ValidateHostName(t.Host))
	default:
		return fieldErr("role", "unknown role %q (admin, member, node)", t.Role)
	}
	return nil
}

// AuditEntry records one change: who made it, what, when, before and after.
type AuditEntry struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Object  string    `json:"object"`
	OrderID int64     `json:"order_id,omitempty"`
	Before  string    `json:"before,omitempty"`
	After   string    `json:"after,omitempty"`
}
