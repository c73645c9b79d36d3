// Package dnsserve makes ferry's dns items real: it takes the full set of a
// dns host's records, grouped by zone, and hands them to a Provider.
//
// Two providers exist. Server is a built-in authoritative name server: it
// answers queries for every zone it holds, keeps its data under a state
// directory so it answers the same after a restart, sends NOTIFY to its
// secondaries and lets them transfer the zones. RFC2136 drives an existing
// primary (Knot, BIND, PowerDNS) with TSIG-signed dynamic updates.
//
// Both take the desired state, not changes: Sync with the same records twice
// changes nothing the second time, and a zone that disappears from the map is
// no longer served (Server) or is emptied of ferry's records (RFC2136).
//
// Check queries any server for the records the control plane holds and
// reports, for every name and type, what it expected and what it saw.
//
// Server's state directory holds zones.json, rewritten atomically (a
// temporary file renamed over it) before a change is served: a format
// version, the NS and hostmaster names the zones were built with, and for
// each zone its serial and canonical records (the Record JSON the control
// plane sends). Serials are Unix times, raised by one when changes come
// faster than the clock, so they only ever rise, across restarts too.
//
// Zone rules shared by both providers: records are validated and put in
// canonical form by model's dns rules; the records of one name and type (an
// RRset) are served with one TTL, the lowest any of them asks for (RFC 2181
// section 5.2); a CNAME owner holds nothing else.
package dnsserve
