// Package pki is tegata's certificate authority for attested documents: a
// hierarchy of one or more self-signed roots (a newer root optionally
// cross-signed by the one before it, as Microsoft did for TLS RSA Root G2),
// rotating Sub CAs, and short-lived signing leaves named like Azure's IMDS
// signer (metadata.azure.com and <region>.metadata.azure.com, or a sovereign
// or custom domain).
//
// A Plan (a tegata.yaml section) says when each Sub CA is introduced
// (created and published), activated (leaves are issued from it) and retired
// (no more leaves; it stays published until it expires). Open loads the
// hierarchy from a directory or creates it on first use; private keys are
// stored AES-256-GCM envelope-encrypted under a MasterKey and nothing that
// exists is ever regenerated. Authority.Signer hands the current signing key
// and leaf to attest.Sign, Authority.Rotate makes an unplanned rotation, and
// Authority.AIAHandler serves every CA certificate at the "CA Issuers" URL
// embedded in the certificates below it, plus a PEM bundle of all current and
// announced CAs.
//
// Every operation takes its time from an injected clock or an explicit
// argument, so tests move across a rotation without sleeping.
package pki
