// Package wire holds the shapes that cross the API: what a client sends,
// what the control plane answers, and the errors it answers with. It links
// nothing of the control plane, so that the node agent and the client do not
// either.
package wire
