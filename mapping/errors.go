package mapping

import "errors"

// Sentinel errors. Functions wrap them with context; callers branch with
// errors.Is, for example errors.Is(err, mapping.ErrMalformedSIDExtension).
var (
	// ErrMalformedCertificate reports input that is not a DER X.509
	// certificate, or a PEM block whose contents are not one.
	ErrMalformedCertificate = errors.New("mapping: malformed certificate")

	// ErrMalformedSID reports a SID that is neither a valid binary objectSid
	// (MS-DTYP 2.4.2.2) nor a valid string SID (MS-DTYP 2.4.2.1).
	ErrMalformedSID = errors.New("mapping: malformed SID")

	// ErrMalformedSIDExtension reports a SID security extension
	// (1.3.6.1.4.1.311.25.2) whose value does not decode as GeneralNames with
	// an otherName holding an OCTET STRING, or whose SID text does not convert.
	ErrMalformedSIDExtension = errors.New("mapping: malformed SID security extension")

	// ErrDuplicateSID reports two SIDs where the KDC accepts one: two SID
	// otherNames in the SID extension, or two SAN URLs with the SID prefix.
	ErrDuplicateSID = errors.New("mapping: more than one SID in the certificate")

	// ErrMalformedAltSecID reports an altSecurityIdentities value that matches
	// none of the forms of KB5014754 and MS-PKCA 3.1.5.2.1.3.
	ErrMalformedAltSecID = errors.New("mapping: unparseable altSecurityIdentities value")

	// ErrUnrenderableName reports an issuer or subject name that tegata cannot
	// render with certainty as the KDC would (an OID without a known CryptoAPI
	// key, a BMPString, TeletexString or non-string value): Render refuses to
	// emit a mapping for it (reference Q10), although such a name can still
	// match an existing value exactly.
	ErrUnrenderableName = errors.New("mapping: name cannot be rendered with certainty")

	// ErrNoSKI reports a certificate without a SubjectKeyIdentifier extension
	// when an X509SKI value is requested. tegata never computes one from the key.
	ErrNoSKI = errors.New("mapping: certificate has no SubjectKeyIdentifier")

	// ErrNotEmitted reports a mapping type that tegata recognises but never
	// emits (weak types, SHA1-PUKEY, Issuer+SID, X509N).
	ErrNotEmitted = errors.New("mapping: mapping type is recognised but never emitted")

	// ErrInvalidPolicy reports a name-based strong mapping rule list that
	// fails validation (reference 4.4); the KDC then ignores the whole policy.
	ErrInvalidPolicy = errors.New("mapping: invalid name-based strong mapping policy")
)
