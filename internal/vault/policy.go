package vault

import "github.com/tegata-project/tegata/internal/certkit"

// Accessors over a policy that has been through WithDefaults.

func policyContentType(p *certkit.Policy) string {
	if p != nil && p.SecretProps != nil && p.SecretProps.ContentType != "" {
		return p.SecretProps.ContentType
	}
	return "application/x-pkcs12"
}

func policyIssuer(p *certkit.Policy) string {
	if p == nil || p.Issuer == nil {
		return ""
	}
	return p.Issuer.Name
}

func policyReuseKey(p *certkit.Policy) bool {
	return p != nil && p.KeyProps != nil && p.KeyProps.ReuseKey != nil && *p.KeyProps.ReuseKey
}

func policyKey(p *certkit.Policy) certkit.KeyProps {
	if p == nil || p.KeyProps == nil {
		return certkit.KeyProps{}
	}
	return *p.KeyProps
}

func policyX509(p *certkit.Policy) certkit.X509Props {
	if p == nil || p.X509Props == nil {
		return certkit.X509Props{}
	}
	return *p.X509Props
}

// stampPolicy sets the policy's server-side times: created on first write.
func stampPolicy(p *certkit.Policy, now int64, created bool) {
	if p.Attributes == nil {
		enabled := true
		p.Attributes = &certkit.PolicyAttributes{Enabled: &enabled}
	}
	if created || p.Attributes.Created == 0 {
		p.Attributes.Created = now
	}
	p.Attributes.Updated = now
}
