// Package imds is the front end of tegata's Azure Instance Metadata Service: the wire
// gate (Metadata header, X-Forwarded-For, duplicate parameters, methods, api-version),
// the router, route filtering, the json and text formats, Azure's error bodies and
// headers, rate limits and fault injection.
//
// It knows HTTP, not storage: which VM is calling and what it looks like comes from
// package instance, scheduled events from package events. The contract it implements
// is docs/imds.md, taken from Azure's documentation and from what real clients
// (azidentity, MSAL, cloud-init, WALinuxAgent) send and require.
package imds
