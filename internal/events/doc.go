// Package events is the scheduled-events state machine behind
// /metadata/scheduledevents: it holds the maintenance events that an operator or a
// test injects for each virtual machine, moves them through their lifecycle
// (Scheduled, Started, gone) and renders the exact JSON document that Azure's
// Instance Metadata Service serves for every scheduled-events api-version.
//
// A [Book] holds the events of one VM; a [Registry] holds the books of many. Neither
// runs a goroutine or a timer: every read and write first advances the state to the
// time given by the injected [Clock], so tests drive a whole lifecycle with a fake
// clock and never sleep, and the result does not depend on how often clients poll.
//
// The lifecycle follows the scheduled-events documentation:
//
//	(new) --> Scheduled --(NotBefore reached, or approved)--> Started --(impact, linger)--> (removed)
//	              \--(Cancel)--> (removed)
//	hardware failure: (new) --> Started
//
// Each of those transitions, for each event, increments DocumentIncarnation by exactly
// one; reading never does. How long each phase lasts comes from a [Timing]
// ([Realistic] or [Fast]).
//
// The HTTP side (headers, api-version errors, the 400 for a bad approval) belongs to
// package imds; this package only answers [Accepts], [Book.Document],
// [ParseStartRequests] and [Book.Approve].
package events
