package certkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestWithDefaultsJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "self",
			in:   `{"x509_props":{"subject":"CN=a"},"issuer":{"name":"Self"}}`,
			want: `{"key_props":{"exportable":true,"kty":"RSA","key_size":2048,"reuse_key":false},` +
				`"secret_props":{"contentType":"application/x-pkcs12"},` +
				`"x509_props":{"subject":"CN=a","ekus":["1.3.6.1.5.5.7.3.1","1.3.6.1.5.5.7.3.2"],"key_usage":["digitalSignature","keyEncipherment"],"validity_months":12,"basic_constraints":{"ca":false}},` +
				`"lifetime_actions":[{"trigger":{"lifetime_percentage":80},"action":{"action_type":"AutoRenew"}}],` +
				`"issuer":{"name":"Self"},"attributes":{"enabled":true}}`,
		},
		{
			name: "unknown issuer, EC without curve, explicit empty lists kept",
			in:   `{"key_props":{"kty":"EC"},"x509_props":{"sans":{"dns_names":["a.example"]},"ekus":[],"key_usage":["digitalSignature"]},"issuer":{"name":"Unknown"}}`,
			want: `{"key_props":{"exportable":true,"kty":"EC","key_size":256,"crv":"P-256","reuse_key":false},` +
				`"secret_props":{"contentType":"application/x-pkcs12"},` +
				`"x509_props":{"sans":{"dns_names":["a.example"]},"ekus":[],"key_usage":["digitalSignature"],"validity_months":12,"basic_constraints":{"ca":false}},` +
				`"lifetime_actions":[{"trigger":{"lifetime_percentage":80},"action":{"action_type":"EmailContacts"}}],` +
				`"issuer":{"name":"Unknown"},"attributes":{"enabled":true}}`,
		},
		{
			name: "no issuer: no lifetime action",
			in:   `{"key_props":{"exportable":false,"reuse_key":true,"key_size":4096},"secret_props":{"contentType":"application/x-pem-file"},"x509_props":{"subject":"CN=b","validity_months":3}}`,
			want: `{"key_props":{"exportable":false,"kty":"RSA","key_size":4096,"reuse_key":true},` +
				`"secret_props":{"contentType":"application/x-pem-file"},` +
				`"x509_props":{"subject":"CN=b","ekus":["1.3.6.1.5.5.7.3.1","1.3.6.1.5.5.7.3.2"],"key_usage":["digitalSignature","keyEncipherment"],"validity_months":3,"basic_constraints":{"ca":false}},` +
				`"lifetime_actions":null,"attributes":{"enabled":true}}`,
		},
		{
			name: "explicit empty lifetime_actions",
			in:   `{"x509_props":{"subject":"CN=c"},"lifetime_actions":[],"issuer":{"name":"Self"}}`,
			want: `{"key_props":{"exportable":true,"kty":"RSA","key_size":2048,"reuse_key":false},` +
				`"secret_props":{"contentType":"application/x-pkcs12"},` +
				`"x509_props":{"subject":"CN=c","ekus":["1.3.6.1.5.5.7.3.1","1.3.6.1.5.5.7.3.2"],"key_usage":["digitalSignature","keyEncipherment"],"validity_months":12,"basic_constraints":{"ca":false}},` +
				`"lifetime_actions":[],"issuer":{"name":"Self"},"attributes":{"enabled":true}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Policy
			if err := json.Unmarshal([]byte(tt.in), &p); err != nil {
				t.Fatal(err)
			}
			before, _ := json.Marshal(p)
			got, err := json.Marshal(p.WithDefaults())
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("WithDefaults =\n%s\nwant\n%s", got, tt.want)
			}
			if after, _ := json.Marshal(p); string(after) != string(before) {
				t.Errorf("WithDefaults modified its receiver:\n%s\n%s", before, after)
			}
		})
	}
}

// TestPolicyReferenceExample decodes the CertificatePolicy of reference
// A.7 and checks that every field lands and that encoding gives it back.
func TestPolicyReferenceExample(t *testing.T) {
	const example = `{"id":"https://kv1.vault.tegata.example/certificates/www/policy",` +
		`"key_props":{"exportable":true,"kty":"EC","crv":"P-256","reuse_key":false},` +
		`"secret_props":{"contentType":"application/x-pem-file"},` +
		`"x509_props":{"subject":"CN=www.example.com","sans":{"dns_names":["www.example.com","example.com"]},` +
		`"ekus":["1.3.6.1.5.5.7.3.1"],"key_usage":["digitalSignature"],"validity_months":12,"basic_constraints":{"ca":false}},` +
		`"lifetime_actions":[{"trigger":{"lifetime_percentage":80},"action":{"action_type":"EmailContacts"}}],` +
		`"issuer":{"name":"Unknown","cert_transparency":false,"cty":"OV-SSL"},` +
		`"attributes":{"enabled":true,"created":1767225600,"updated":1767225600}}`
	var p Policy
	if err := json.Unmarshal([]byte(example), &p); err != nil {
		t.Fatal(err)
	}
	if p.KeyProps.Curve != "P-256" || p.X509Props.SANs.DNSNames[1] != "example.com" ||
		*p.LifetimeActions[0].Trigger.LifetimePercentage != 80 || p.Issuer.CertificateType != "OV-SSL" ||
		*p.Issuer.CertTransparency || p.Attributes.Created != 1767225600 {
		t.Fatalf("decoded policy lost fields: %+v", p)
	}
	got, _ := json.Marshal(p)
	if string(got) != example {
		t.Errorf("re-encoded =\n%s\nwant\n%s", got, example)
	}
	if err := p.WithDefaults().Validate(); err != nil {
		t.Errorf("Validate(reference example) = %v", err)
	}
}

func TestValidate(t *testing.T) {
	base := func() Policy {
		return Policy{X509Props: &X509Props{Subject: "CN=www.example.com"}, Issuer: &IssuerParameters{Name: IssuerUnknown}}.WithDefaults()
	}
	tests := []struct {
		name   string
		change func(p *Policy)
		field  string // "" means valid
		is     error
	}{
		{"defaults", func(p *Policy) {}, "", nil},
		{"RSA-HSM 4096", func(p *Policy) { p.KeyProps.KeyType, p.KeyProps.KeySize = KeyTypeRSAHSM, 4096 }, "", nil},
		{"EC-HSM P-521", func(p *Policy) { *p.KeyProps = KeyProps{KeyType: KeyTypeECHSM, Curve: CurveP521, KeySize: 521} }, "", nil},
		{"EC without key_size", func(p *Policy) { *p.KeyProps = KeyProps{KeyType: KeyTypeEC, Curve: CurveP384} }, "", nil},
		{"issuer self lower case", func(p *Policy) { p.Issuer.Name = "self" }, "", nil},
		{"SANs only", func(p *Policy) {
			p.X509Props.Subject = ""
			p.X509Props.SANs = &SANs{DNSNames: []string{"*.example.com"}, Emails: []string{"a@example.com"}, UPNs: []string{"ユーザー@example.com"},
				IPAddresses: []string{"192.0.2.1", "2001:db8::1"}, URIs: []string{"spiffe://example.org/web"}}
		}, "", nil},
		{"days_before_expiry at the limit", func(p *Policy) {
			p.LifetimeActions = []LifetimeAction{{Trigger: Trigger{DaysBeforeExpiry: ptr(12 * 27)}, Action: Action{ActionType: ActionAutoRenew}}}
		}, "", nil},
		{"kty oct", func(p *Policy) { p.KeyProps.KeyType = "oct" }, "key_props.kty", nil},
		{"kty lower case", func(p *Policy) { p.KeyProps.KeyType = "rsa" }, "key_props.kty", nil},
		{"RSA 1024", func(p *Policy) { p.KeyProps.KeySize = 1024 }, "key_props.key_size", nil},
		{"RSA 8192", func(p *Policy) { p.KeyProps.KeySize = 8192 }, "key_props.key_size", nil},
		{"RSA with crv", func(p *Policy) { p.KeyProps.Curve = CurveP256 }, "key_props.crv", nil},
		{"P-256K", func(p *Policy) { *p.KeyProps = KeyProps{KeyType: KeyTypeEC, Curve: CurveP256K} }, "key_props.crv", ErrUnsupportedKey},
		{"P-224", func(p *Policy) { *p.KeyProps = KeyProps{KeyType: KeyTypeEC, Curve: "P-224"} }, "key_props.crv", nil},
		{"EC size mismatch", func(p *Policy) { *p.KeyProps = KeyProps{KeyType: KeyTypeEC, Curve: CurveP256, KeySize: 384} }, "key_props.key_size", nil},
		{"not exportable", func(p *Policy) { p.KeyProps.Exportable = ptr(false) }, "key_props.exportable", nil},
		{"no key_props", func(p *Policy) { p.KeyProps = nil }, "key_props", nil},
		{"content type", func(p *Policy) { p.SecretProps.ContentType = "text/plain" }, "secret_props.contentType", nil},
		{"no secret_props", func(p *Policy) { p.SecretProps = nil }, "secret_props.contentType", nil},
		{"no subject, no SANs", func(p *Policy) { p.X509Props.Subject = " " }, "x509_props.subject", nil},
		{"no subject, empty SANs", func(p *Policy) { p.X509Props.Subject, p.X509Props.SANs = "", &SANs{DNSNames: []string{}} }, "x509_props.subject", nil},
		{"bad subject", func(p *Policy) { p.X509Props.Subject = "CN" }, "x509_props.subject", ErrBadSubject},
		{"long subject", func(p *Policy) { p.X509Props.Subject = "CN=" + strings.Repeat("a", MaxSubjectLength) }, "x509_props.subject", ErrBadSubject},
		{"key usage", func(p *Policy) { p.X509Props.KeyUsage = []string{"digitalSignature", "DigitalSignature"} }, "x509_props.key_usage[1]", nil},
		{"EKU name", func(p *Policy) { p.X509Props.EKUs = []string{"serverAuth"} }, "x509_props.ekus[0]", nil},
		{"EKU bad arc", func(p *Policy) { p.X509Props.EKUs = []string{EKUServerAuth, "1.50.1"} }, "x509_props.ekus[1]", nil},
		{"validity 0", func(p *Policy) { p.X509Props.ValidityMonths = 0 }, "x509_props.validity_months", nil},
		{"validity 1201", func(p *Policy) { p.X509Props.ValidityMonths = 1201 }, "x509_props.validity_months", nil},
		{"DNS name with space", func(p *Policy) { p.X509Props.SANs = &SANs{DNSNames: []string{"a b.example"}} }, "x509_props.sans.dns_names[0]", nil},
		{"DNS name not ASCII", func(p *Policy) { p.X509Props.SANs = &SANs{DNSNames: []string{"例え.jp"}} }, "x509_props.sans.dns_names[0]", nil},
		{"email", func(p *Policy) { p.X509Props.SANs = &SANs{Emails: []string{"nope"}} }, "x509_props.sans.emails[0]", nil},
		{"UPN empty", func(p *Policy) { p.X509Props.SANs = &SANs{UPNs: []string{""}} }, "x509_props.sans.upns[0]", nil},
		{"IP", func(p *Policy) { p.X509Props.SANs = &SANs{IPAddresses: []string{"192.0.2.1", "1.2.3"}} }, "x509_props.sans.ipAddresses[1]", nil},
		{"URI relative", func(p *Policy) { p.X509Props.SANs = &SANs{URIs: []string{"relative/path"}} }, "x509_props.sans.uris[0]", nil},
		{"too many SANs", func(p *Policy) {
			p.X509Props.SANs = &SANs{}
			for i := range maxSANs + 1 {
				p.X509Props.SANs.DNSNames = append(p.X509Props.SANs.DNSNames, fmt.Sprintf("h%d.example", i))
			}
		}, "x509_props.sans", nil},
		{"trigger both", func(p *Policy) { p.LifetimeActions[0].Trigger.DaysBeforeExpiry = ptr(30) }, "lifetime_actions[0].trigger", nil},
		{"trigger neither", func(p *Policy) { p.LifetimeActions[0].Trigger = Trigger{} }, "lifetime_actions[0].trigger", nil},
		{"percentage 0", func(p *Policy) { p.LifetimeActions[0].Trigger.LifetimePercentage = ptr(0) }, "lifetime_actions[0].trigger.lifetime_percentage", nil},
		{"percentage 100", func(p *Policy) { p.LifetimeActions[0].Trigger.LifetimePercentage = ptr(100) }, "lifetime_actions[0].trigger.lifetime_percentage", nil},
		{"days 0", func(p *Policy) {
			p.LifetimeActions[0].Trigger = Trigger{DaysBeforeExpiry: ptr(0)}
		}, "lifetime_actions[0].trigger.days_before_expiry", nil},
		{"days over validity", func(p *Policy) {
			p.X509Props.ValidityMonths = 3
			p.LifetimeActions[0].Trigger = Trigger{DaysBeforeExpiry: ptr(3*27 + 1)}
		}, "lifetime_actions[0].trigger.days_before_expiry", nil},
		{"action type", func(p *Policy) {
			p.LifetimeActions = append(p.LifetimeActions, LifetimeAction{Trigger: Trigger{LifetimePercentage: ptr(90)}, Action: Action{ActionType: "Renew"}})
		}, "lifetime_actions[1].action.action_type", nil},
		{"no issuer", func(p *Policy) { p.Issuer = nil }, "issuer.name", nil},
		{"empty issuer name", func(p *Policy) { p.Issuer.Name = "" }, "issuer.name", nil},
		{"named issuer", func(p *Policy) { p.Issuer.Name = "DigiCert" }, "issuer.name", ErrUnsupportedIssuer},
		{"named issuer checked last", func(p *Policy) { p.Issuer.Name, p.KeyProps.KeySize = "tegata-acme", 1 }, "key_props.key_size", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			tt.change(&p)
			err := p.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Validate = %v (%T), want a *PolicyError for %s", err, err, tt.field)
			}
			if pe.Field != tt.field {
				t.Errorf("Field = %q, want %q (%v)", pe.Field, tt.field, err)
			}
			if pe.Reason == "" || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("message %q does not name the field or the reason", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			if tt.is == nil && errors.Is(err, ErrUnsupportedIssuer) {
				t.Errorf("unexpected ErrUnsupportedIssuer: %v", err)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	stored := Policy{
		KeyProps:  &KeyProps{KeyType: KeyTypeRSA, KeySize: 3072},
		X509Props: &X509Props{Subject: "CN=old", SANs: &SANs{DNSNames: []string{"old.example"}, Emails: []string{"a@example.com"}}},
		Issuer:    &IssuerParameters{Name: IssuerSelf, CertificateType: "OV-SSL"},
	}.WithDefaults()
	storedJSON, _ := json.Marshal(stored)

	tests := []struct {
		name  string
		patch string
		check func(t *testing.T, p Policy)
	}{
		{"empty patch changes nothing", `{}`, func(t *testing.T, p Policy) {
			if !reflect.DeepEqual(p, stored) {
				t.Errorf("Merge({}) = %+v, want %+v", p, stored)
			}
		}},
		{"scalar fields", `{"key_props":{"reuse_key":true},"x509_props":{"validity_months":6},"issuer":{"name":"Unknown"},"attributes":{"enabled":false}}`, func(t *testing.T, p Policy) {
			if !*p.KeyProps.ReuseKey || p.KeyProps.KeySize != 3072 || !*p.KeyProps.Exportable {
				t.Errorf("key_props = %+v", *p.KeyProps)
			}
			if p.X509Props.ValidityMonths != 6 || p.X509Props.Subject != "CN=old" {
				t.Errorf("x509_props = %+v", *p.X509Props)
			}
			if p.Issuer.Name != IssuerUnknown || p.Issuer.CertificateType != "OV-SSL" {
				t.Errorf("issuer = %+v", *p.Issuer)
			}
			if *p.Attributes.Enabled {
				t.Error("attributes.enabled stayed true")
			}
		}},
		{"false replaces true", `{"key_props":{"exportable":false}}`, func(t *testing.T, p Policy) {
			if *p.KeyProps.Exportable {
				t.Error("exportable stayed true")
			}
		}},
		{"kty family change drops the RSA size", `{"key_props":{"kty":"EC","crv":"P-384"}}`, func(t *testing.T, p Policy) {
			if kp := *p.KeyProps; kp.KeyType != KeyTypeEC || kp.Curve != CurveP384 || kp.KeySize != 0 {
				t.Errorf("key_props = %+v", kp)
			}
			if err := p.WithDefaults().Validate(); err != nil {
				t.Errorf("Validate after family change: %v", err)
			}
		}},
		{"same family keeps the size", `{"key_props":{"kty":"RSA-HSM"}}`, func(t *testing.T, p Policy) {
			if kp := *p.KeyProps; kp.KeyType != KeyTypeRSAHSM || kp.KeySize != 3072 {
				t.Errorf("key_props = %+v", kp)
			}
		}},
		{"SAN lists replace one by one", `{"x509_props":{"sans":{"dns_names":["new.example"],"emails":[]}}}`, func(t *testing.T, p Policy) {
			s := p.X509Props.SANs
			if !reflect.DeepEqual(s.DNSNames, []string{"new.example"}) || len(s.Emails) != 0 {
				t.Errorf("sans = %+v", *s)
			}
		}},
		{"lists replace as a whole", `{"x509_props":{"ekus":["1.3.6.1.5.5.7.3.1"],"key_usage":[]},"lifetime_actions":[{"trigger":{"days_before_expiry":10},"action":{"action_type":"EmailContacts"}}]}`, func(t *testing.T, p Policy) {
			if !reflect.DeepEqual(p.X509Props.EKUs, []string{EKUServerAuth}) || p.X509Props.KeyUsage == nil || len(p.X509Props.KeyUsage) != 0 {
				t.Errorf("ekus = %v, key_usage = %#v", p.X509Props.EKUs, p.X509Props.KeyUsage)
			}
			if len(p.LifetimeActions) != 1 || *p.LifetimeActions[0].Trigger.DaysBeforeExpiry != 10 {
				t.Errorf("lifetime_actions = %+v", p.LifetimeActions)
			}
		}},
		{"content type", `{"secret_props":{"contentType":"application/x-pem-file"}}`, func(t *testing.T, p Policy) {
			if p.SecretProps.ContentType != ContentTypePEM {
				t.Errorf("contentType = %q", p.SecretProps.ContentType)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var patch Policy
			if err := json.Unmarshal([]byte(tt.patch), &patch); err != nil {
				t.Fatal(err)
			}
			got := stored.Merge(patch)
			tt.check(t, got)
			if after, _ := json.Marshal(stored); string(after) != string(storedJSON) {
				t.Errorf("Merge modified the stored policy:\n%s\n%s", storedJSON, after)
			}
			got.X509Props.SANs.DNSNames[0] = "mutated"
			if stored.X509Props.SANs.DNSNames[0] == "mutated" {
				t.Error("Merge result shares lists with the stored policy")
			}
		})
	}
}

func TestImportPolicy(t *testing.T) {
	rsaChain, ecChain := testChains(t)
	sent := Policy{KeyProps: &KeyProps{KeyType: KeyTypeRSA, KeySize: 4096, ReuseKey: ptr(true)}, SecretProps: &SecretProps{ContentType: ContentTypePEM}}
	for _, tc := range []struct {
		chain testChain
		kp    KeyProps
	}{
		{rsaChain, KeyProps{KeyType: KeyTypeRSA, KeySize: 2048}},
		{ecChain, KeyProps{KeyType: KeyTypeEC, KeySize: 256, Curve: CurveP256}},
	} {
		p := ImportPolicy(sent, tc.chain.material())
		if err := p.Validate(); err != nil {
			t.Fatalf("Validate(ImportPolicy) = %v", err)
		}
		kp := *p.KeyProps
		if kp.KeyType != tc.kp.KeyType || kp.KeySize != tc.kp.KeySize || kp.Curve != tc.kp.Curve || !*kp.ReuseKey || !*kp.Exportable {
			t.Errorf("key_props = %+v, want %+v with reuse_key true", kp, tc.kp)
		}
		x := p.X509Props
		if x.Subject != "CN=www.example.com, O=Example" {
			t.Errorf("subject = %q", x.Subject)
		}
		if x.SANs == nil || !reflect.DeepEqual(x.SANs.DNSNames, []string{"www.example.com", "example.com"}) {
			t.Errorf("sans = %+v", x.SANs)
		}
		if !reflect.DeepEqual(x.EKUs, []string{EKUServerAuth}) || !reflect.DeepEqual(x.KeyUsage, []string{"digitalSignature", "keyEncipherment"}) {
			t.Errorf("ekus = %v, key_usage = %v", x.EKUs, x.KeyUsage)
		}
		if x.ValidityMonths != 3 {
			t.Errorf("validity_months = %d, want 3 (90 days)", x.ValidityMonths)
		}
		if p.Issuer.Name != IssuerUnknown || p.LifetimeActions[0].Action.ActionType != ActionEmailContacts {
			t.Errorf("issuer = %+v, lifetime_actions = %+v", *p.Issuer, p.LifetimeActions)
		}
		if p.SecretProps.ContentType != ContentTypePEM {
			t.Errorf("contentType = %q", p.SecretProps.ContentType)
		}
	}
	if sent.KeyProps.KeySize != 4096 || sent.Issuer != nil {
		t.Error("ImportPolicy modified the sent policy")
	}
}

func TestSubjectKeptAsSent(t *testing.T) {
	p := Policy{X509Props: &X509Props{Subject: "cn=MyCert ,  o = x"}, Issuer: &IssuerParameters{Name: IssuerSelf}}.WithDefaults()
	p = p.Merge(Policy{X509Props: &X509Props{ValidityMonths: 24}})
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(p)
	if p.X509Props.Subject != "cn=MyCert ,  o = x" || !strings.Contains(string(b), `"subject":"cn=MyCert ,  o = x"`) {
		t.Errorf("subject became %q; JSON %s", p.X509Props.Subject, b)
	}
}
