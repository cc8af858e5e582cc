package renew

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tegata-project/tegata/internal/renew/acme"
	"github.com/tegata-project/tegata/internal/renew/schedule"
	"github.com/tegata-project/tegata/internal/store"
)

// Adopted reports what Adopt did, or would do, with one tagged vault certificate.
type Adopted struct {
	Name string `json:"name"`
	// By is who tagged it: "acmebot", "acmebot-legacy" or "tegata".
	By          string   `json:"taggedBy"`
	DNSNames    []string `json:"dnsNames,omitempty"`
	DNSProvider string   `json:"dnsProviderName,omitempty"`
	DNSAlias    string   `json:"dnsAlias,omitempty"`
	// Adopted is true when the certificate is now managed (or would be, on a dry run).
	Adopted bool `json:"adopted"`
	// Reason says why it was not adopted, or what to know about it when it was.
	Reason string `json:"reason,omitempty"`
}

// maxAdoptScan bounds how many vault certificates one Adopt call reads.
const maxAdoptScan = 25000

// Adopt takes over the vault's certificates that acmebot (or this tegata
// instance, before its state was lost) tagged and that this service does not
// manage yet: it records a definition built from the certificate (names, key
// type) and its tags (DNS provider, alias), with the current version as the one
// to renew, so the schedule renews it like one it issued, replacing it through
// ARI. Nothing is issued and the vault is not written. With dryRun, nothing is
// recorded either. Certificates another tegata instance tags are left to it.
func (s *Service) Adopt(ctx context.Context, dryRun bool) ([]Adopted, error) {
	names, err := s.o.Vault.names(ctx, maxAdoptScan)
	if err != nil {
		return nil, err
	}
	var out []Adopted
	for _, name := range names {
		cur, err := s.o.Vault.current(ctx, name)
		if err != nil {
			return out, err
		}
		if cur == nil {
			continue // deleted since the listing
		}
		tag, ok := ReadTags(cur.Tags)
		if !ok {
			continue
		}
		a := Adopted{Name: name, By: tag.By, DNSNames: cur.Leaf.DNSNames, DNSAlias: tag.DNSAlias}
		switch _, err := s.load(ctx, name); {
		case err == nil:
			a.Reason = "already managed by this service"
		case !errors.Is(err, store.ErrNotFound):
			return out, err
		default:
			s.adoptOne(ctx, cur, tag, &a, dryRun)
		}
		out = append(out, a)
	}
	return out, nil
}

func (s *Service) adoptOne(ctx context.Context, cur *Current, tag Adoption, a *Adopted, dryRun bool) {
	if tag.By == "tegata" && !strings.Contains(cur.Tags["tegata"], `"managedBy":"`+s.o.Instance+`"`) {
		a.Reason = "tagged by another tegata instance; it renews this certificate"
		return
	}
	d := Definition{Name: a.Name, DNSNames: cur.Leaf.DNSNames, DNSAlias: tag.DNSAlias}
	switch k := cur.Leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		d.KeyType, d.KeySize = "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		d.KeyType, d.Curve = "EC", k.Curve.Params().Name
	}
	provider, why := s.providerFor(tag.DNSProvider)
	if provider == "" {
		a.Reason = why
		return
	}
	d.DNSProvider, a.DNSProvider = provider, provider
	if err := d.Validate(); err != nil {
		a.Reason = fmt.Sprintf("its certificate cannot be renewed as it is: %v", err)
		return
	}
	if tag.Endpoint != "" && tag.Endpoint != s.endpoint() {
		a.Reason = fmt.Sprintf("issued through %s; renewals will use %s", tag.Endpoint, s.endpoint())
	}
	a.Adopted = true
	if dryRun {
		return
	}
	certID, _ := acme.CertID(cur.Leaf)
	r := &record{
		Definition: d,
		State:      schedule.State{Enabled: cur.Enabled}.Renewed(cur.Leaf.NotBefore, cur.Leaf.NotAfter, s.o.Clock()),
		Version:    cur.Version,
		CertID:     certID,
		Serial:     cur.Leaf.SerialNumber.Text(16),
	}
	r.State.Enabled = cur.Enabled
	if err := s.save(ctx, r); err != nil {
		a.Adopted, a.Reason = false, fmt.Sprintf("not recorded: %v", err)
		return
	}
	s.o.Log.Info("adopted a tagged certificate", "certificate", a.Name, "tagged_by", tag.By, "dns_provider", provider)
}

// providerFor picks the configured DNS provider for a certificate whose tags name
// hint (acmebot's provider name, such as "AzureDns"): the instance of that name,
// else the only one configured.
func (s *Service) providerFor(hint string) (name, why string) {
	names := s.providerNames()
	for _, n := range names {
		if hint != "" && strings.EqualFold(n, hint) {
			return n, ""
		}
	}
	if len(names) == 1 {
		return names[0], ""
	}
	if len(names) == 0 {
		return "", "no DNS provider is configured; add one under renew.dns_providers"
	}
	return "", fmt.Sprintf("its tags name DNS provider %q and several are configured (%s): add it with a definition that sets dnsProviderName", hint, strings.Join(names, ", "))
}

// names lists the vault's certificate names, at most max.
func (v *Vault) names(ctx context.Context, max int) ([]string, error) {
	var out []string
	pager := v.certs.NewListCertificatePropertiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, vaultError("list", v.URL, "certificates", err)
		}
		for _, c := range page.Value {
			if c.ID == nil {
				continue
			}
			if len(out) == max {
				return nil, fmt.Errorf("vault %s holds more than %d certificates; adopt them by name instead", v.URL, max)
			}
			out = append(out, c.ID.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}
