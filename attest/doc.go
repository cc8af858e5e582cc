// Package attest reads, verifies and signs Azure Instance Metadata Service
// (IMDS) attested documents.
//
// An attested document is the body of
// GET http://169.254.169.254/metadata/attested/document: a JSON envelope
// {"encoding":"pkcs7","signature":"<base64>"} around a PKCS#7 SignedData whose
// attached content is a small JSON Document (vmId, subscriptionId, plan, sku,
// nonce, timestamps) signed by a TLS-style certificate named
// metadata.azure.com or a sovereign-cloud equivalent.
//
// Verify checks a document the way a relying party must: the signature is
// checked with the certificate that the single SignerInfo names (never the
// first certificate of the bag), the signer's DNS names must fall inside an
// allowed base domain, the claims must be present and fresh and carry the
// caller's nonce, and the signer must chain to an explicit root pool. The
// system root pool is never used. Intermediates are untrusted hints from an
// ordered list of IntermediateSource values: the certificates embedded in the
// document, StaticIntermediates, BundleDir and, optionally, an AIAFetcher that
// downloads missing issuers from allow-listed hosts only after every offline
// check has passed.
//
// Sign produces documents in Azure's exact wire format for a private PKI, so
// that clients written against Azure work unchanged.
//
// Every function that depends on time takes it from its options (a fixed
// moment or a clock function), so rotations and expiries can be tested
// without sleeping.
package attest
