package vault

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/tegata-project/tegata/internal/certkit"
	"github.com/tegata-project/tegata/internal/store"
)

// certificateBundle is the CertificateBundle of A.7.
type certificateBundle struct {
	ID                 string            `json:"id"`
	Kid                string            `json:"kid,omitempty"`
	Sid                string            `json:"sid,omitempty"`
	X5T                string            `json:"x5t,omitempty"`
	Cer                []byte            `json:"cer,omitempty"`
	ContentType        string            `json:"contentType,omitempty"`
	Attributes         *attributesOut    `json:"attributes,omitempty"`
	Policy             *certkit.Policy   `json:"policy,omitempty"`
	Pending            *pendingRef       `json:"pending,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	PreserveCertOrder  bool              `json:"preserveCertOrder"`
	RecoveryID         string            `json:"recoveryId,omitempty"`
	DeletedDate        *int64            `json:"deletedDate,omitempty"`
	ScheduledPurgeDate *int64            `json:"scheduledPurgeDate,omitempty"`
}

type pendingRef struct {
	ID string `json:"id"`
}

func certKey(vault, name string) store.ObjectKey {
	return store.ObjectKey{Vault: vault, Kind: store.KindCertificate, Name: name}
}

// policyJSON is the stored policy as served: with its id and attributes.
func (v *Vault) policyJSON(rq *request, o store.Object, p *certkit.Policy) *certkit.Policy {
	if p == nil {
		return nil
	}
	out := *p
	out.ID = rq.base + "/certificates/" + o.Name + "/policy"
	return &out
}

// certificateBundleJSON renders a certificate version (ver.ID empty when the
// certificate has none yet) with the object's policy and pending state.
func (v *Vault) certificateBundleJSON(ctx context.Context, tx store.Tx, rq *request, o store.Object, ver store.Version) ([]byte, error) {
	om, err := decodeObjectMeta(o)
	if err != nil {
		return nil, err
	}
	b := certificateBundle{ID: rq.base + "/certificates/" + o.Name, Policy: v.policyJSON(rq, o, om.Policy)}
	if ver.ID != "" {
		m, err := decodeVersionMeta(ver)
		if err != nil {
			return nil, err
		}
		a := v.attributes(&m)
		b.ID += "/" + ver.ID
		b.Kid = rq.base + "/keys/" + o.Name + "/" + ver.ID
		b.Sid = rq.base + "/secrets/" + o.Name + "/" + ver.ID
		b.X5T = certkit.X5T(m.Cer)
		b.Cer = m.Cer
		b.ContentType = m.ContentType
		b.Attributes = &a
		b.Tags = m.Tags
		b.PreserveCertOrder = m.PreserveOrder
	}
	if om.Pending != nil {
		b.Pending = &pendingRef{ID: rq.base + "/certificates/" + o.Name + "/pending"}
	}
	if !o.Deleted.IsZero() {
		b.RecoveryID = rq.base + "/deletedcertificates/" + o.Name
		d, p := o.Deleted.Unix(), o.PurgeAt.Unix()
		b.DeletedDate, b.ScheduledPurgeDate = &d, &p
	}
	return mustJSON(b), nil
}

// liveCertificate reads a live certificate object and, when version is not
// "-", one of its versions ("" for the latest).
func liveCertificate(ctx context.Context, tx store.Tx, vault, name, version string) (store.Object, store.Version, error) {
	key := certKey(vault, name)
	o, err := tx.Object(ctx, key)
	if errors.Is(err, store.ErrNotFound) || err == nil && !o.Deleted.IsZero() {
		return o, store.Version{}, certificateNotFound(name)
	}
	if err != nil || version == "-" {
		return o, store.Version{}, err
	}
	var ver store.Version
	if version == "" {
		ver, err = tx.LatestVersion(ctx, key)
	} else {
		ver, err = tx.Version(ctx, key, version)
	}
	if errors.Is(err, store.ErrNotFound) {
		if version != "" {
			name += "/" + version
		}
		return o, ver, certificateNotFound(name)
	}
	return o, ver, err
}

func (v *Vault) getCertificate(rq *request, name, version string) {
	v.answer(rq, http.StatusOK, v.opts.Store.View, func(tx store.Tx, body *[]byte) error {
		o, ver, err := liveCertificate(rq.r.Context(), tx, rq.vault, name, version)
		if err != nil {
			return err
		}
		rq.target = "/certificates/" + o.Name + "/" + ver.ID
		*body, err = v.certificateBundleJSON(rq.r.Context(), tx, rq, o, ver)
		return err
	})
}

type updateCertificateRequest struct {
	Attributes *attributesIn      `json:"attributes"`
	Tags       *map[string]string `json:"tags"`
	Policy     *certkit.Policy    `json:"policy"`
}

// updateCertificate changes a version's attributes and tags (mirrored on its
// managed secret) and, given one, the policy.
func (v *Vault) updateCertificate(rq *request, name, version string) {
	var in updateCertificateRequest
	if e := decodeBody(rq, &in); e != nil {
		rq.fail(e)
		return
	}
	if in.Tags != nil {
		if e := checkTags(*in.Tags); e != nil {
			rq.fail(e)
			return
		}
	}
	v.answer(rq, http.StatusOK, v.update, func(tx store.Tx, body *[]byte) error {
		ctx := rq.r.Context()
		o, ver, err := liveCertificate(ctx, tx, rq.vault, name, version)
		if err != nil {
			return err
		}
		if in.Policy != nil {
			if err := v.patchPolicy(&o, *in.Policy); err != nil {
				return err
			}
			if err := tx.PutObject(ctx, o); err != nil {
				return err
			}
		}
		update := func(ver store.Version) (store.Version, error) {
			m, err := decodeVersionMeta(ver)
			if err != nil {
				return ver, err
			}
			if in.Attributes != nil && in.Attributes.Enabled != nil {
				m.Enabled = *in.Attributes.Enabled // nbf and exp come from the certificate
			}
			if in.Tags != nil {
				m.Tags = *in.Tags
			}
			m.Updated = unix(v.now())
			ver.Meta = mustJSON(m)
			return tx.PutVersion(ctx, ver)
		}
		if ver, err = update(ver); err != nil {
			return err
		}
		if sv, err := tx.Version(ctx, secretKey(rq.vault, name), ver.ID); err == nil {
			if _, err := update(sv); err != nil {
				return err
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		*body, err = v.certificateBundleJSON(ctx, tx, rq, o, ver)
		return err
	})
}

// patchPolicy merges patch into o's stored policy and validates the result.
func (v *Vault) patchPolicy(o *store.Object, patch certkit.Policy) error {
	om, err := decodeObjectMeta(*o)
	if err != nil {
		return err
	}
	var p certkit.Policy
	if om.Policy != nil {
		p = *om.Policy
	}
	p = p.Merge(patch)
	if err := p.Validate(); err != nil {
		return badParameter("%v", err)
	}
	now := unix(v.now())
	stampPolicy(&p, now, false)
	om.Policy = &p
	o.Meta = mustJSON(om)
	o.Updated = v.now()
	return nil
}

func (v *Vault) getPolicy(rq *request, name string) {
	v.answer(rq, http.StatusOK, v.opts.Store.View, func(tx store.Tx, body *[]byte) error {
		o, _, err := liveCertificate(rq.r.Context(), tx, rq.vault, name, "-")
		if err != nil {
			return err
		}
		om, err := decodeObjectMeta(o)
		if err != nil {
			return err
		}
		if om.Policy == nil {
			return certificateNotFound(name)
		}
		*body = mustJSON(v.policyJSON(rq, o, om.Policy))
		return nil
	})
}

func (v *Vault) updatePolicy(rq *request, name string) {
	var patch certkit.Policy
	if e := decodeBody(rq, &patch); e != nil {
		rq.fail(e)
		return
	}
	v.answer(rq, http.StatusOK, v.update, func(tx store.Tx, body *[]byte) error {
		o, _, err := liveCertificate(rq.r.Context(), tx, rq.vault, name, "-")
		if err != nil {
			return err
		}
		if err := v.patchPolicy(&o, patch); err != nil {
			return err
		}
		if err := tx.PutObject(rq.r.Context(), o); err != nil {
			return err
		}
		om, _ := decodeObjectMeta(o)
		*body = mustJSON(v.policyJSON(rq, o, om.Policy))
		return nil
	})
}

// newVersion is a completed certificate version about to be written.
type newVersion struct {
	id       string
	material certkit.Material
	policy   *certkit.Policy
	attrs    *attributesIn
	tags     map[string]string
	preserve bool
}

// writeCertificateVersion stores a certificate version and its managed
// secret (the PFX or PEM with the private key, sealed) under one version id.
func (v *Vault) writeCertificateVersion(ctx context.Context, tx store.Tx, vault string, o *store.Object, nv newVersion) (store.Version, error) {
	leaf := nv.material.Chain[0]
	contentType := policyContentType(nv.policy)
	now := unix(v.now())
	prev := ""
	if latest, err := tx.LatestVersion(ctx, o.ObjectKey); err == nil {
		prev = latest.ID
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.Version{}, err
	}
	m := versionMeta{
		ContentType: contentType, Tags: nv.tags, Enabled: true,
		NotBefore: leaf.NotBefore.Unix(), Expires: leaf.NotAfter.Unix(), Created: now, Updated: now,
		Cer: leaf.Raw, PreserveOrder: nv.preserve, PreviousVersion: prev,
	}
	for _, c := range nv.material.Chain[1:] {
		m.Chain = append(m.Chain, c.Raw)
	}
	if nv.attrs != nil && nv.attrs.Enabled != nil {
		m.Enabled = *nv.attrs.Enabled
	}
	ver, err := tx.PutVersion(ctx, store.Version{ObjectKey: o.ObjectKey, ID: nv.id, Created: v.now(), Meta: mustJSON(m)})
	if err != nil {
		return ver, err
	}

	var value []byte
	if contentType == "application/x-pem-file" {
		value = certkit.EncodePEM(nv.material)
	} else {
		pfx, err := certkit.EncodePFX(nv.material, !v.opts.ModernPFX)
		if err != nil {
			return ver, err
		}
		value = []byte(base64.StdEncoding.EncodeToString(pfx))
	}
	skey := secretKey(vault, o.Name)
	so, err := tx.Object(ctx, skey)
	switch {
	case errors.Is(err, store.ErrNotFound):
		so = store.Object{ObjectKey: skey, Meta: mustJSON(objectMeta{Managed: true}), Updated: v.now()}
		if err := tx.PutObject(ctx, so); err != nil {
			return ver, err
		}
	case err != nil:
		return ver, err
	}
	sm := m
	sm.Cer, sm.Chain, sm.PreserveOrder = nil, nil, false
	sm.Managed = true
	sealed, err := v.opts.Sealer.Seal(value, sealContext(store.KindSecret, vault, o.Name, nv.id))
	if err != nil {
		return ver, err
	}
	_, err = tx.PutVersion(ctx, store.Version{ObjectKey: skey, ID: nv.id, Created: v.now(), Meta: mustJSON(sm), Sealed: sealed})
	return ver, err
}

// certificateForWrite returns the certificate object that a create or import
// writes to (a new one when the name is free) with its metadata, refusing a
// soft-deleted certificate or a secret of the same name that no certificate
// manages.
func certificateForWrite(ctx context.Context, tx store.Tx, vault, name string) (store.Object, objectMeta, error) {
	o, err := tx.Object(ctx, certKey(vault, name))
	switch {
	case err == nil && !o.Deleted.IsZero():
		return o, objectMeta{}, deletedButRecoverable("Certificate", name)
	case err == nil:
		om, err := decodeObjectMeta(o)
		return o, om, err
	case !errors.Is(err, store.ErrNotFound):
		return o, objectMeta{}, err
	}
	s, err := tx.Object(ctx, secretKey(vault, name))
	switch {
	case err == nil:
		sm, err := decodeObjectMeta(s)
		if err != nil {
			return o, objectMeta{}, err
		}
		if !sm.Managed {
			return o, objectMeta{}, conflict("A secret named %s exists in this vault; a certificate's secret shares its name, so pick another certificate name or delete and purge the secret", name)
		}
		if !s.Deleted.IsZero() {
			return o, objectMeta{}, deletedButRecoverable("Certificate", name)
		}
	case !errors.Is(err, store.ErrNotFound):
		return o, objectMeta{}, err
	}
	return store.Object{ObjectKey: certKey(vault, name)}, objectMeta{}, nil
}

// previousKey returns the private key of the certificate's latest version,
// for policies with reuse_key.
func (v *Vault) previousKey(ctx context.Context, tx store.Tx, vault, name string) (crypto.Signer, error) {
	sv, err := tx.LatestVersion(ctx, secretKey(vault, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := decodeVersionMeta(sv)
	if err != nil {
		return nil, err
	}
	plain, err := v.opts.Sealer.Open(sv.Sealed, sealContext(store.KindSecret, vault, name, sv.ID))
	if err != nil {
		return nil, err
	}
	mat, err := certkit.ParseImport(plain, "", m.ContentType, true)
	if err != nil {
		return nil, err
	}
	return mat.Key, nil
}
