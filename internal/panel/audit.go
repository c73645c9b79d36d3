package panel

// AuditAction names what an audit entry records. Every change the panel
// makes is one of these; the move engine's own entries are "move.<step>".
type AuditAction = string

// Audit actions.
const (
	AuditMemberCreate    AuditAction = "member.create"
	AuditMemberUpdate    AuditAction = "member.update"
	AuditMemberDelete    AuditAction = "member.delete"
	AuditHostCreate      AuditAction = "host.create"
	AuditHostUpdate      AuditAction = "host.update"
	AuditHostDelete      AuditAction = "host.delete"
	AuditOrderCreate     AuditAction = "order.create"
	AuditOrderUpdate     AuditAction = "order.update"
	AuditOrderDelete     AuditAction = "order.delete"
	AuditDomainAdd       AuditAction = "order.domain.add"
	AuditDomainRemove    AuditAction = "order.domain.remove"
	AuditZoneCreate      AuditAction = "zone.create"
	AuditZoneDelete      AuditAction = "zone.delete"
	AuditItemCreate      AuditAction = "item.create"
	AuditItemUpdate      AuditAction = "item.update"
	AuditItemState       AuditAction = "item.state"
	AuditItemForget      AuditAction = "item.forget"
	AuditTokenCreate     AuditAction = "token.create"
	AuditTokenRevoke     AuditAction = "token.revoke"
	AuditTokenJoin       AuditAction = "token.join"
	AuditJoinTokenCreate AuditAction = "join-token.create"
)
