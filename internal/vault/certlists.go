package vault

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/tegata-project/tegata/internal/certkit"
	"github.com/tegata-project/tegata/internal/store"
)

// certificateItem is a certificate list item (A.7): no cer, id without
// version in the collection listing.
type certificateItem struct {
	ID                 string            `json:"id"`
	X5T                string            `json:"x5t,omitempty"`
	Attributes         *attributesOut    `json:"attributes,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	RecoveryID         string            `json:"recoveryId,omitempty"`
	DeletedDate        *int64            `json:"deletedDate,omitempty"`
	ScheduledPurgeDate *int64            `json:"scheduledPurgeDate,omitempty"`
}

func (v *Vault) certificateItem(rq *request, o store.Object, ver *store.Version, id string) (certificateItem, error) {
	it := certificateItem{ID: id}
	if ver != nil {
		m, err := decodeVersionMeta(*ver)
		if err != nil {
			return it, err
		}
		a := v.attributes(&m)
		it.X5T, it.Attributes, it.Tags = certkit.X5T(m.Cer), &a, m.Tags
	}
	if !o.Deleted.IsZero() {
		it.RecoveryID = rq.base + "/deletedcertificates/" + o.Name
		d, p := o.Deleted.Unix(), o.PurgeAt.Unix()
		it.DeletedDate, it.ScheduledPurgeDate = &d, &p
	}
	return it, nil
}

func (v *Vault) listCertificates(rq *request) { v.listCertificatesOf(rq, false) }

// listCertificatesOf serves GET /certificates and GET /deletedcertificates;
// includePending=true also lists certificates with no completed version.
func (v *Vault) listCertificatesOf(rq *request, deleted bool) {
	listing := "certificates"
	if deleted {
		listing = "deletedcertificates"
	}
	pending := rq.r.URL.Query().Get("includePending") == "true"
	v.listPage(rq, listing, func(ctx context.Context, tx store.Tx, after string, n int) ([]any, string, error) {
		return collect(ctx, tx, rq.vault, store.KindCertificate, deleted, after, n, func(o store.Object) (any, bool, error) {
			ver, err := tx.LatestVersion(ctx, o.ObjectKey)
			var vp *store.Version
			switch {
			case err == nil:
				vp = &ver
			case !errors.Is(err, store.ErrNotFound):
				return nil, false, err
			case !pending:
				return nil, false, nil
			}
			it, err := v.certificateItem(rq, o, vp, rq.base+"/certificates/"+o.Name)
			return it, err == nil, err
		})
	})
}

func (v *Vault) listCertificateVersions(rq *request, name string) {
	v.listPage(rq, "certificates/"+strings.ToLower(name)+"/versions", func(ctx context.Context, tx store.Tx, after string, n int) ([]any, string, error) {
		o, _, err := liveCertificate(ctx, tx, rq.vault, name, "-")
		if err != nil {
			return nil, "", err
		}
		vers, err := tx.Versions(ctx, o.ObjectKey, store.ListOptions{After: after, Limit: n + 1})
		if err != nil {
			return nil, "", err
		}
		next := ""
		if len(vers) > n {
			vers = vers[:n]
			next = vers[n-1].ID
		}
		items := make([]any, 0, len(vers))
		for i := range vers {
			it, err := v.certificateItem(rq, o, &vers[i], rq.base+"/certificates/"+o.Name+"/"+vers[i].ID)
			if err != nil {
				return nil, "", err
			}
			items = append(items, it)
		}
		return items, next, nil
	})
}

func chainOf(c *x509.Certificate) []*x509.Certificate { return []*x509.Certificate{c} }

// marshalKey and parseKey carry a pending private key (sealed) in PKCS#8.
func marshalKey(k crypto.Signer) ([]byte, error) { return x509.MarshalPKCS8PrivateKey(k) }

func parseKey(der []byte) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("vault: pending key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("vault: pending key of type %T cannot sign", k)
	}
	return s, nil
}
