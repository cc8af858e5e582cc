package certkit

import (
	"slices"
	"strings"
)

// Values of the policy fields that tegata understands (reference A.7).
const (
	KeyTypeRSA    = "RSA"
	KeyTypeRSAHSM = "RSA-HSM"
	KeyTypeEC     = "EC"
	KeyTypeECHSM  = "EC-HSM"

	CurveP256  = "P-256"
	CurveP384  = "P-384"
	CurveP521  = "P-521"
	CurveP256K = "P-256K"

	ContentTypePKCS12 = "application/x-pkcs12"
	ContentTypePEM    = "application/x-pem-file"

	IssuerSelf    = "Self"
	IssuerUnknown = "Unknown"

	ActionAutoRenew     = "AutoRenew"
	ActionEmailContacts = "EmailContacts"

	// EKUServerAuth and EKUClientAuth are the default extended key usages.
	EKUServerAuth = "1.3.6.1.5.5.7.3.1"
	EKUClientAuth = "1.3.6.1.5.5.7.3.2"
)

// Policy is a Key Vault CertificatePolicy as it travels in JSON: GET/PATCH
// .../policy, the "policy" of create and import, and the policy embedded in a
// CertificateBundle. Field names are exactly Azure's.
//
// Every field can be absent, so that the same type carries a partial PATCH
// body (see Merge): nil pointers, nil slices and empty strings mean "absent".
// WithDefaults fills what Azure fills; Validate says whether tegata accepts
// the result.
type Policy struct {
	ID          string       `json:"id,omitempty"`
	KeyProps    *KeyProps    `json:"key_props,omitempty"`
	SecretProps *SecretProps `json:"secret_props,omitempty"`
	X509Props   *X509Props   `json:"x509_props,omitempty"`
	// LifetimeActions is nil when absent; an empty, non-nil list means "no
	// actions" and survives WithDefaults and a JSON round trip.
	LifetimeActions []LifetimeAction  `json:"lifetime_actions"`
	Issuer          *IssuerParameters `json:"issuer,omitempty"`
	Attributes      *PolicyAttributes `json:"attributes,omitempty"`
}

// KeyProps is the key_props object.
type KeyProps struct {
	Exportable *bool `json:"exportable,omitempty"`
	// KeyType is "RSA", "RSA-HSM", "EC" or "EC-HSM". tegata has no HSM: the
	// -HSM types are accepted and get a software key.
	KeyType string `json:"kty,omitempty"`
	// KeySize is the RSA modulus size in bits, or for EC the curve size
	// (256, 384, 521), which Azure reports too.
	KeySize  int    `json:"key_size,omitempty"`
	Curve    string `json:"crv,omitempty"`
	ReuseKey *bool  `json:"reuse_key,omitempty"`
}

// SecretProps is the secret_props object.
type SecretProps struct {
	// ContentType is the content type of the secret behind the
	// certificate: "application/x-pkcs12" or "application/x-pem-file".
	ContentType string `json:"contentType,omitempty"`
}

// X509Props is the x509_props object.
type X509Props struct {
	// Subject is kept exactly as sent (Azure preserves "cn=MyCert"); see
	// ParseSubject for the accepted syntax.
	Subject string `json:"subject,omitempty"`
	SANs    *SANs  `json:"sans,omitempty"`
	// EKUs are dotted OIDs. nil is absent (WithDefaults gives serverAuth
	// and clientAuth); an empty, non-nil list means "no EKU extension".
	EKUs []string `json:"ekus"`
	// KeyUsage holds names such as "digitalSignature"; nil and empty behave
	// as for EKUs.
	KeyUsage         []string          `json:"key_usage"`
	ValidityMonths   int               `json:"validity_months,omitempty"`
	BasicConstraints *BasicConstraints `json:"basic_constraints,omitempty"`
}

// SANs is the x509_props.sans object. A nil list is absent; in a PATCH, a
// present list (even empty) replaces the stored one.
type SANs struct {
	DNSNames    []string `json:"dns_names,omitempty"`
	Emails      []string `json:"emails,omitempty"`
	UPNs        []string `json:"upns,omitempty"`
	IPAddresses []string `json:"ipAddresses,omitempty"`
	URIs        []string `json:"uris,omitempty"`
}

// BasicConstraints is the x509_props.basic_constraints object.
type BasicConstraints struct {
	CA bool `json:"ca"`
}

// LifetimeAction is one entry of lifetime_actions.
type LifetimeAction struct {
	Trigger Trigger `json:"trigger"`
	Action  Action  `json:"action"`
}

// Trigger holds exactly one of LifetimePercentage (1–99) and
// DaysBeforeExpiry (1 to validity_months×27).
type Trigger struct {
	LifetimePercentage *int `json:"lifetime_percentage,omitempty"`
	DaysBeforeExpiry   *int `json:"days_before_expiry,omitempty"`
}

// Action is the action of a lifetime action.
type Action struct {
	// ActionType is "AutoRenew" or "EmailContacts".
	ActionType string `json:"action_type"`
}

// IssuerParameters is the issuer object.
type IssuerParameters struct {
	// Name is "Self", "Unknown" or the name of a configured issuer.
	Name             string `json:"name,omitempty"`
	CertTransparency *bool  `json:"cert_transparency,omitempty"`
	CertificateType  string `json:"cty,omitempty"`
}

// PolicyAttributes is the policy's attributes object; times are Unix
// seconds, set by the server.
type PolicyAttributes struct {
	Enabled *bool `json:"enabled,omitempty"`
	Created int64 `json:"created,omitempty"`
	Updated int64 `json:"updated,omitempty"`
}

// WithDefaults returns a copy of p with the fields Azure fills when they are
// omitted (reference A.7): kty RSA with key_size 2048 (for EC: crv P-256 and
// key_size the curve size), exportable true, reuse_key false, contentType
// application/x-pkcs12, validity_months 12, EKUs serverAuth and clientAuth,
// key usage digitalSignature and keyEncipherment, basic_constraints ca
// false, attributes enabled true, and when lifetime_actions is absent one
// action at 80 % of the lifetime: EmailContacts for issuer Unknown,
// AutoRenew for any other issuer.
//
// The issuer has no default: the reference gives none, so a create must name
// it (Validate refuses a policy without one) and an import gets Unknown from
// ImportPolicy. Without an issuer, lifetime_actions stays absent. p is not
// modified.
func (p Policy) WithDefaults() Policy {
	q := p.clone()
	if q.KeyProps == nil {
		q.KeyProps = &KeyProps{}
	}
	kp := q.KeyProps
	if kp.KeyType == "" {
		kp.KeyType = KeyTypeRSA
	}
	switch {
	case isRSA(kp.KeyType) && kp.KeySize == 0:
		kp.KeySize = 2048
	case isEC(kp.KeyType):
		if kp.Curve == "" {
			kp.Curve = CurveP256
		}
		if kp.KeySize == 0 {
			kp.KeySize = curveBits(kp.Curve)
		}
	}
	if kp.Exportable == nil {
		kp.Exportable = ptr(true)
	}
	if kp.ReuseKey == nil {
		kp.ReuseKey = ptr(false)
	}
	if q.SecretProps == nil {
		q.SecretProps = &SecretProps{}
	}
	if q.SecretProps.ContentType == "" {
		q.SecretProps.ContentType = ContentTypePKCS12
	}
	if q.X509Props == nil {
		q.X509Props = &X509Props{}
	}
	x := q.X509Props
	if x.EKUs == nil {
		x.EKUs = []string{EKUServerAuth, EKUClientAuth}
	}
	if x.KeyUsage == nil {
		x.KeyUsage = []string{"digitalSignature", "keyEncipherment"}
	}
	if x.ValidityMonths == 0 {
		x.ValidityMonths = 12
	}
	if x.BasicConstraints == nil {
		x.BasicConstraints = &BasicConstraints{}
	}
	if q.LifetimeActions == nil && q.Issuer != nil && q.Issuer.Name != "" {
		action := ActionAutoRenew
		if strings.EqualFold(q.Issuer.Name, IssuerUnknown) {
			action = ActionEmailContacts
		}
		q.LifetimeActions = []LifetimeAction{{
			Trigger: Trigger{LifetimePercentage: ptr(80)},
			Action:  Action{ActionType: action},
		}}
	}
	if q.Attributes == nil {
		q.Attributes = &PolicyAttributes{}
	}
	if q.Attributes.Enabled == nil {
		q.Attributes.Enabled = ptr(true)
	}
	return q
}

// Merge returns p updated by patch with PATCH semantics: every field present
// in patch replaces the one in p, recursively through the objects key_props,
// secret_props, x509_props, x509_props.sans, issuer and attributes.
// lifetime_actions, ekus, key_usage, each SAN list and basic_constraints are
// replaced as a whole. When patch changes kty to the other family (RSA to EC
// or back), key_size and crv from p are dropped unless patch sets them, so
// that an RSA size does not stick to an EC key. Neither p nor patch is
// modified.
func (p Policy) Merge(patch Policy) Policy {
	q := p.clone()
	patch = patch.clone()
	if patch.ID != "" {
		q.ID = patch.ID
	}
	if pk := patch.KeyProps; pk != nil {
		if q.KeyProps == nil {
			q.KeyProps = &KeyProps{}
		}
		k := q.KeyProps
		if pk.KeyType != "" {
			if isRSA(pk.KeyType) != isRSA(k.KeyType) || isEC(pk.KeyType) != isEC(k.KeyType) {
				k.KeySize, k.Curve = 0, ""
			}
			k.KeyType = pk.KeyType
		}
		if pk.KeySize != 0 {
			k.KeySize = pk.KeySize
		}
		if pk.Curve != "" {
			k.Curve = pk.Curve
		}
		if pk.Exportable != nil {
			k.Exportable = pk.Exportable
		}
		if pk.ReuseKey != nil {
			k.ReuseKey = pk.ReuseKey
		}
	}
	if ps := patch.SecretProps; ps != nil && ps.ContentType != "" {
		q.SecretProps = &SecretProps{ContentType: ps.ContentType}
	}
	if px := patch.X509Props; px != nil {
		if q.X509Props == nil {
			q.X509Props = &X509Props{}
		}
		x := q.X509Props
		if px.Subject != "" {
			x.Subject = px.Subject
		}
		if px.SANs != nil {
			if x.SANs == nil {
				x.SANs = &SANs{}
			}
			mergeList(&x.SANs.DNSNames, px.SANs.DNSNames)
			mergeList(&x.SANs.Emails, px.SANs.Emails)
			mergeList(&x.SANs.UPNs, px.SANs.UPNs)
			mergeList(&x.SANs.IPAddresses, px.SANs.IPAddresses)
			mergeList(&x.SANs.URIs, px.SANs.URIs)
		}
		mergeList(&x.EKUs, px.EKUs)
		mergeList(&x.KeyUsage, px.KeyUsage)
		if px.ValidityMonths != 0 {
			x.ValidityMonths = px.ValidityMonths
		}
		if px.BasicConstraints != nil {
			x.BasicConstraints = px.BasicConstraints
		}
	}
	if patch.LifetimeActions != nil {
		q.LifetimeActions = patch.LifetimeActions
	}
	if pi := patch.Issuer; pi != nil {
		if q.Issuer == nil {
			q.Issuer = &IssuerParameters{}
		}
		if pi.Name != "" {
			q.Issuer.Name = pi.Name
		}
		if pi.CertTransparency != nil {
			q.Issuer.CertTransparency = pi.CertTransparency
		}
		if pi.CertificateType != "" {
			q.Issuer.CertificateType = pi.CertificateType
		}
	}
	if pa := patch.Attributes; pa != nil {
		if q.Attributes == nil {
			q.Attributes = &PolicyAttributes{}
		}
		if pa.Enabled != nil {
			q.Attributes.Enabled = pa.Enabled
		}
		if pa.Created != 0 {
			q.Attributes.Created = pa.Created
		}
		if pa.Updated != 0 {
			q.Attributes.Updated = pa.Updated
		}
	}
	return q
}

// mergeList replaces *dst with src when src is present (non-nil).
func mergeList(dst *[]string, src []string) {
	if src != nil {
		*dst = src
	}
}

// clone returns a deep copy of p, so that callers can change the copy's
// objects and lists without touching p's.
func (p Policy) clone() Policy {
	q := p
	if p.KeyProps != nil {
		k := *p.KeyProps
		k.Exportable = clonePtr(k.Exportable)
		k.ReuseKey = clonePtr(k.ReuseKey)
		q.KeyProps = &k
	}
	if p.SecretProps != nil {
		s := *p.SecretProps
		q.SecretProps = &s
	}
	if p.X509Props != nil {
		x := *p.X509Props
		x.EKUs = cloneList(x.EKUs)
		x.KeyUsage = cloneList(x.KeyUsage)
		if x.SANs != nil {
			s := SANs{
				DNSNames:    cloneList(x.SANs.DNSNames),
				Emails:      cloneList(x.SANs.Emails),
				UPNs:        cloneList(x.SANs.UPNs),
				IPAddresses: cloneList(x.SANs.IPAddresses),
				URIs:        cloneList(x.SANs.URIs),
			}
			x.SANs = &s
		}
		if x.BasicConstraints != nil {
			b := *x.BasicConstraints
			x.BasicConstraints = &b
		}
		q.X509Props = &x
	}
	if p.LifetimeActions != nil {
		q.LifetimeActions = make([]LifetimeAction, len(p.LifetimeActions))
		for i, a := range p.LifetimeActions {
			a.Trigger.LifetimePercentage = clonePtr(a.Trigger.LifetimePercentage)
			a.Trigger.DaysBeforeExpiry = clonePtr(a.Trigger.DaysBeforeExpiry)
			q.LifetimeActions[i] = a
		}
	}
	if p.Issuer != nil {
		i := *p.Issuer
		i.CertTransparency = clonePtr(i.CertTransparency)
		q.Issuer = &i
	}
	if p.Attributes != nil {
		a := *p.Attributes
		a.Enabled = clonePtr(a.Enabled)
		q.Attributes = &a
	}
	return q
}

// cloneList copies s, keeping nil and empty apart.
func cloneList(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string{}, s...)
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func ptr[T any](v T) *T { return &v }

func isRSA(kty string) bool { return kty == KeyTypeRSA || kty == KeyTypeRSAHSM }
func isEC(kty string) bool  { return kty == KeyTypeEC || kty == KeyTypeECHSM }

// curveBits returns the size Azure reports as key_size for an EC curve, or 0.
func curveBits(crv string) int {
	switch crv {
	case CurveP256, CurveP256K:
		return 256
	case CurveP384:
		return 384
	case CurveP521:
		return 521
	}
	return 0
}

// keyUsageNames are the key_usage values in bit order (RFC 5280 4.2.1.3):
// the index of a name is its bit in the KeyUsage BIT STRING.
var keyUsageNames = []string{
	"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
	"keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly",
}

// keyUsageBit returns the bit of a key_usage name, or -1.
func keyUsageBit(name string) int { return slices.Index(keyUsageNames, name) }
