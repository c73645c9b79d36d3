package panel

import "ferry/internal/model"

// AuditAction names what an audit entry records. Every change the panel
// makes is one of these constants; the move engine's entries are named by
// the functions below, so no action string is ever built by hand.
type AuditAction string

// The cutover's own steps.
const (
	AuditCutoverSync   AuditAction = "move.cutover.sync"
	AuditCutoverFreeze AuditAction = "move.cutover.freeze"
	AuditCutoverDNS    AuditAction = "move.cutover.dns"
)

// AuditMoveStart names the entry of a move phase that starts:
// move.<phase>.start.
func AuditMoveStart(phase model.MovePhase) AuditAction {
	return AuditAction("move." + string(phase) + ".start")
}

// AuditMoveFail names the entry of a move phase that failed:
// move.<phase>.fail.
func AuditMoveFail(phase model.MovePhase) AuditAction {
	return AuditAction("move." + string(phase) + ".fail")
}

// AuditMoveEnd names the entry of a move phase that ended well:
// move.<phase>.
func AuditMoveEnd(phase model.MovePhase) AuditAction {
	return AuditAction("move." + string(phase))
}

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
	AuditJoinTokenRevoke AuditAction = "join-token.revoke"
	AuditLoginPassword   AuditAction = "login.password"
	AuditLoginTOTP       AuditAction = "login.totp"
	AuditLoginLogoutAll  AuditAction = "login.logout-everywhere"
)
