// Package acme is tegata's ACME client: it registers accounts (with
// external account binding when the CA asks for it), obtains certificates
// for a set of names through DNS-01 or HTTP-01, finalizes orders with a
// CSR whose private key never leaves the vault, asks the CA when to renew
// (ARI, RFC 9773), and revokes.
//
// It wraps github.com/go-acme/lego/v4 (pinned in go.mod); no other part of
// tegata imports lego, so a move to another ACME library stays inside this
// package. What it adds to lego:
//
//   - every call takes a context, which bounds and cancels the HTTP
//     requests to the CA and the propagation wait;
//   - profile names are checked against the directory's meta.profiles
//     before an order is placed;
//   - an order whose replaces field (ARI) the CA rejects for any reason is
//     retried once without it (lego itself retries only on alreadyReplaced);
//   - DNS-01 record names (alias, CNAME following) and the propagation
//     check use the resolvers given in the order, not lego's process-wide
//     settings, for tegata's own providers (dnsprov.RecordProvider);
//   - errors are classified into the sentinels the scheduler branches on
//     (ErrRateLimited, ErrDNS, ErrUnauthorized, ErrCAA,
//     ErrRejectedIdentifier, ErrMalformed, ErrCAUnavailable), carried by an
//     *Error that says what to do and wraps the CA's answer.
//
// lego keeps a few settings per process rather than per client: its
// logger (see SetLogger), the resolvers and timeout its built-in DNS
// providers use to find zones and follow CNAMEs, and the environment
// variables LEGO_DISABLE_CNAME_SUPPORT and LEGO_EXPERIMENTAL_DNS_TCP_ONLY.
// This package never changes them.
package acme
