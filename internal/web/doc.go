// Package web is ferry's web UI, served by the control plane at /: admins
// see the hosts, search hosting orders, read an order's items and history,
// and delete an order; members read their own orders. Every read and every
// change goes through the panel with the session's panel.Caller, so the UI
// can do nothing the caller's token could not do over the API.
//
// Pages are rendered on the server with html/template and work without
// JavaScript; the stylesheet and script are embedded in the binary.
//
// Routes:
//
//	GET  /login                     token form
//	POST /login                     check the token, open a session
//	POST /logout                    end the session
//	GET  /hosts                     hosts, down or nearly full ones marked (admins)
//	GET  /orders?q=&state=          search orders by domain, member or host
//	GET  /orders/{ref}              an order: items, twins, audit history
//	GET  /orders/{ref}/delete       confirmation step (admins)
//	POST /orders/{ref}/delete       delete, once the domain is typed (admins)
//	GET  /static/…                  embedded CSS and JS
//
// With the move engine (Options.Moves), for admins:
//
//	GET  /moves                     every move, those not ended first
//	GET  /orders/{ref}/move?to=     choose the target host, see the plan
//	POST /orders/{ref}/move         start the move (prepare)
//	GET  /moves/{id}                progress, steps, sync, verify and cutover reports
//	POST /moves/{id}/{phase}        sync, verify, cutover, cleanup, abort
//	GET  /moves/{id}/events         live progress (server-sent events)
//
// The engine guards every step; a refused step shows the engine's reason.
//
// Sessions: logging in posts an API token, which the panel checks; the
// server then keeps a session (random 256-bit id, the caller, the token)
// in memory and gives the browser only the id, in an HttpOnly,
// SameSite=Strict cookie, Secure over TLS. A session ends after
// Options.IdleTimeout without a request, after Options.Lifetime in any
// case, on logout, and when its token is revoked (every request checks the
// token again). A restart of the control plane logs everyone out.
//
// CSRF: every form carries the session's random token in a hidden field,
// checked on every POST; the login form, having no session yet, uses a
// double-submit cookie. net/http's CrossOriginProtection also refuses any
// POST a browser marks as cross-origin (Sec-Fetch-Site, or an Origin that
// is not the request's host or a trusted origin).
package web
