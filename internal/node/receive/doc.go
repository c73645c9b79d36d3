// Package receive is `ferry node receive`, the forced command a move's
// ssh key is confined to on the new host: it checks the command the old
// host asked for against the move's policy and, when it passes, hands it
// to the host that runs it. The checks live here on their own, with
// nothing of the control plane and none of the item appliers linked in;
// the node agent supplies the Host that copies files and loads tables.
package receive
