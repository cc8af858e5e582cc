// Package certkit reads and writes the certificate material a Key
// Vault-compatible vault handles: PFX and PEM imports, the secret behind a
// certificate, certificate policies, CSRs, self-signed certificates and merge
// chains.
//
// The package holds no state and does no I/O. The vault's HTTP handlers call
// it in this order:
//
//   - create: Policy.WithDefaults, Policy.Validate, GenerateKey, then CreateCSR
//     (issuer Unknown) or SelfSign (issuer Self);
//   - merge: ParseMergeChain, then OrderChain with the pending key;
//   - import: ParseImport, then ImportPolicy for the stored policy;
//   - the secret behind a version: EncodePFX or EncodePEM, and PFXToPEM for
//     outContentType=application/x-pem-file.
//
// Every parser of outside input is bounded (MaxImportSize, MaxCertificates,
// MaxSubjectLength, maxIterations) and fuzzed. Errors are written for the
// API caller: they say what was wrong and what to do, carry no key material,
// and can be told apart with errors.Is (the Err variables) and errors.As (*PolicyError).
package certkit
