// Package mapping models Windows' strong certificate mapping (KB5014754): it
// reads the identities a certificate carries, computes the
// altSecurityIdentities values exactly as a domain controller's KDC compares
// them, and predicts the KDC's verdict for a certificate and an account under
// each enforcement mode.
//
// # Certificates
//
// ParseCertificate and ParseCertificates read DER or PEM into a Certificate
// view built from the raw DER: the SID security extension
// (1.3.6.1.4.1.311.25.2) and the SAN URL SID tag, each as a SIDSource with
// its state (absent, valid, malformed, duplicate...), the SAN UPNs, DNS names
// and e-mail addresses, the raw serial (sign byte included), the
// SubjectKeyIdentifier, three SHA-1 public-key candidates, NotBefore, and the
// issuer and subject rendered as the KDC renders them. Certificates that
// crypto/x509 rejects, such as those with a duplicated extension, are still
// read; Certificate.X509Error reports the rejection.
//
// # altSecurityIdentities
//
// ParseAltSecID reads every documented form into an AltSecID with its
// MappingType and Strength. Render and StrongMappings produce the strong
// values tegata emits (X509IssuerSerialNumber, X509SKI): RDNs in encoding
// order joined by "," without spaces, CryptoAPI key names (S=, E=),
// CertNameToStr quoting, and the serial's content octets in reverse byte
// order. Candidates lists every value the KDC would accept for a certificate
// and ClassifyValue sorts a stored value into exact, normalised-only (a
// broken mapping the KDC does not match), other-certificate, unrelated or
// unparseable.
//
// # Verdicts
//
// Decide runs the KDC decision procedure for a Certificate, an Account and a
// DCState (the DC's OS, installed update level and registry values) and
// returns a Verdict: allowed or denied, the Kerberos error, the event
// (39/40/41, or 41/48/49 on 2008-era DCs; 45/21 for KB5057784), the mapping
// found and its strength, the reason and an explanation step by step.
// Behaviour that Microsoft does not document is modelled as observed and
// behind named constants; verdicts that depend on unconfirmed behaviour or
// on inputs the caller did not provide carry Labels.
//
// The package uses the standard library only, performs no directory access
// and never panics on any input.
package mapping
