package mapping

import "fmt"

// Label marks a verdict or candidate that depends on unconfirmed behaviour
// or on an input tegata did not have (reference conventions: "MUST label
// any verdict that depends on it").
type Label string

// Labels attached by Candidates and Decide.
const (
	LabelNameRenderingUnconfirmed Label = "name rendering unconfirmed (Q10)"
	LabelSerialSignByte           Label = "serial without its 00 sign byte (Q2)"
	LabelSHA1Thumbprint           Label = "SHA1-PUKEY input: certificate thumbprint (Q1, unconfirmed)"
	LabelSHA1SPKI                 Label = "SHA1-PUKEY input: SubjectPublicKeyInfo (Q1, unconfirmed)"
	LabelSHA1SubjectPublicKey     Label = "SHA1-PUKEY input: subjectPublicKey (Q1, unconfirmed)"
	LabelX509NUnconfirmed         Label = "X509N semantics undocumented"
	LabelIssuerSIDUnconfirmed     Label = "Issuer+SID form: DC support undocumented (Q6)"
	LabelKeyTrustNotEvaluated     Label = "key trust, not evaluated (Q15)"
	LabelSAMAccountNameFallback   Label = "implicit mapping by UPN prefix = sAMAccountName (fallback changed in May 2022)"
	LabelNTAuthNotEvaluated       Label = "NTAuth membership of the issuer not evaluated"
	LabelWrongSIDIgnored          Label = "warning: certificate SID differs from the account, ignored because of a strong explicit mapping"
	LabelDuplicateSIDExtension    Label = "SID extension present twice: KDC behaviour unconfirmed"
	LabelDependsOnSANURL          Label = "depends on SAN URL support (Q4): worse case of both"
	LabelSANURLIgnored            Label = "SAN URL SID ignored: DC without SAN URL support"
	LabelSANURLNonCanonical       Label = "SAN URL with a non-canonical SID prefix ignored"
	LabelSIDNotCanonical          Label = "SID text not in canonical S-1-... form"
	LabelWhenCreatedUnknown       Label = "whenCreated unknown: date check assumed to pass"
	LabelPatchLevelAssumed        Label = "patch level not declared: assumed"
	LabelStrongNamePolicyInvalid  Label = "name-based strong mapping policy invalid: ignored"
)

// KerberosError is a Kerberos error code returned to the client.
type KerberosError int

// Kerberos errors the predictor returns (RFC 4120, RFC 4556, MS-PKCA).
const (
	// KerberosErrorUnknown: denied with an undocumented code (KB5057784, Q7).
	KerberosErrorUnknown      KerberosError = -1
	KDCErrCPrincipalUnknown   KerberosError = 6
	KRBErrGeneric             KerberosError = 60 // 0x3C
	KDCErrClientNotTrusted    KerberosError = 62 // 0x3E
	KDCErrCertificateMismatch KerberosError = 66 // 0x42
	KDCErrClientNameMismatch  KerberosError = 75 // 0x4B
)

// String returns the error's name and hex code.
func (e KerberosError) String() string {
	switch e {
	case 0:
		return "none"
	case KerberosErrorUnknown:
		return "unknown Kerberos error"
	case KDCErrCPrincipalUnknown:
		return "KDC_ERR_C_PRINCIPAL_UNKNOWN (0x6)"
	case KRBErrGeneric:
		return "KRB_ERR_GENERIC (0x3C)"
	case KDCErrClientNotTrusted:
		return "KDC_ERR_CLIENT_NOT_TRUSTED (0x3E)"
	case KDCErrCertificateMismatch:
		return "KDC_ERR_CERTIFICATE_MISMATCH (0x42)"
	case KDCErrClientNameMismatch:
		return "KDC_ERR_CLIENT_NAME_MISMATCH (0x4B)"
	}
	return fmt.Sprintf("Kerberos error %d", int(e))
}

// EventLevel is a Windows event level.
type EventLevel int

// Event levels as Windows numbers them; LevelNone means no event.
const (
	LevelNone    EventLevel = 0
	LevelError   EventLevel = 2
	LevelWarning EventLevel = 3
)

// String returns "Error", "Warning" or "none".
func (l EventLevel) String() string {
	switch l {
	case LevelError:
		return "Error"
	case LevelWarning:
		return "Warning"
	}
	return "none"
}

// Event is one KDC event in the System log.
type Event struct {
	ID    int
	Level EventLevel
}

// Path names the branch of the decision procedure that produced a verdict.
type Path string

// Decision paths.
const (
	PathNoMapping        Path = "no mapping"
	PathNotTrusted       Path = "implicit mapping needs an NTAuth issuer"
	PathNTAuthDenied     Path = "issuer not in NTAuth"
	PathPreKB            Path = "pre-KB5014754 or disabled"
	PathStrongExplicit   Path = "strong explicit mapping"
	PathKeyTrust         Path = "key trust"
	PathStrongNamePolicy Path = "strong-name policy"
	PathSIDError         Path = "SID malformed or duplicated"
	PathSIDMatch         Path = "SID"
	PathSIDMismatch      Path = "SID mismatch"
	PathWeak             Path = "weak mapping"
	PathPredates         Path = "certificate predates account"
)

// MappingKind says how the account was found for the certificate (5.4).
type MappingKind int

// Mapping kinds in the order the KDC tries them.
const (
	MappingNone MappingKind = iota
	MappingExplicit
	MappingKeyTrust
	MappingImplicitUPN
	MappingImplicitSAMAccountName
	MappingImplicitDNS
)

var kindNames = [...]string{"none", "explicit altSecurityIdentities", "key trust",
	"implicit UPN", "implicit UPN prefix = sAMAccountName", "implicit DNS name"}

// String returns the kind in words.
func (k MappingKind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("MappingKind(%d)", int(k))
	}
	return kindNames[k]
}

// Mapping is the mapping the KDC found between a certificate and an account.
type Mapping struct {
	Kind MappingKind
	// Type and Value identify the matching altSecurityIdentities value for
	// MappingExplicit; Value is the matched name otherwise.
	Type     MappingType
	Value    string
	Strength Strength
}

// Verdict is the predicted KDC outcome for one certificate, one account and
// one domain controller.
type Verdict struct {
	// Allowed reports whether the KDC issues the ticket.
	Allowed bool
	// KerberosError is the error returned on denial, 0 when allowed.
	KerberosError KerberosError
	// EventID is the KB5014754 event (39, 40 or 41 on Server 2012 and later;
	// 41, 48 or 49 on 2008-era DCs) or, when there is none, the KB5057784
	// event (45 or 21); 0 when nothing is logged. Level is its level.
	EventID int
	Level   EventLevel
	// Events lists every event logged, in order.
	Events []Event
	// Mode is the DC's effective enforcement mode.
	Mode Mode
	// Mapping is the mapping found and its strength.
	Mapping Mapping
	// Path is the deciding branch; Reason says it in words.
	Path   Path
	Reason string
	// Steps explains the evaluation, one line per step.
	Steps []string
	// Labels mark dependencies on unconfirmed behaviour or missing inputs.
	Labels []Label

	brief bool // DecideBrief: no Steps
}

// severity orders verdicts: deny > allow with an event > allow.
func (v Verdict) severity() int {
	switch {
	case !v.Allowed:
		return 2
	case v.EventID != 0:
		return 1
	}
	return 0
}

// explaining reports whether steps are recorded. Callers guard steps that
// take arguments with it, so that a brief verdict boxes and formats
// nothing.
func (v *Verdict) explaining() bool { return !v.brief }

func (v *Verdict) step(format string, args ...any) {
	if v.brief {
		return
	}
	v.Steps = append(v.Steps, fmt.Sprintf(format, args...))
}

func (v *Verdict) label(l Label) {
	for _, x := range v.Labels {
		if x == l {
			return
		}
	}
	v.Labels = append(v.Labels, l)
}

func (v *Verdict) event(id int, level EventLevel) {
	v.Events = append(v.Events, Event{ID: id, Level: level})
}
