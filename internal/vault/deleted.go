package vault

import (
	"context"
	"errors"
	"net/http"

	"github.com/tegata-project/tegata/internal/store"
)

func (v *Vault) listDeleted(rq *request, certs bool) {
	if certs {
		v.listCertificatesOf(rq, true)
	} else {
		v.listSecrets(rq, true)
	}
}

// deletedObject reads a soft-deleted object: a secret that no certificate
// manages, or a certificate.
func deletedObject(ctx context.Context, tx store.Tx, vault, name string, certs bool) (store.Object, error) {
	kind := store.KindSecret
	if certs {
		kind = store.KindCertificate
	}
	o, err := tx.Object(ctx, store.ObjectKey{Vault: vault, Kind: kind, Name: name})
	missing := func() error {
		if certs {
			return deletedCertificateNotFound(name)
		}
		return deletedSecretNotFound(name)
	}
	if errors.Is(err, store.ErrNotFound) || err == nil && o.Deleted.IsZero() {
		return o, missing()
	}
	if err != nil {
		return o, err
	}
	if !certs {
		if om, err := decodeObjectMeta(o); err != nil || om.Managed {
			if err != nil {
				return o, err
			}
			return o, missing() // listed under /deletedcertificates only (Q7)
		}
	}
	return o, nil
}

func (v *Vault) getDeleted(rq *request, name string, certs bool) {
	v.answer(rq, http.StatusOK, v.opts.Store.View, func(tx store.Tx, body *[]byte) error {
		ctx := rq.r.Context()
		o, err := deletedObject(ctx, tx, rq.vault, name, certs)
		if err != nil {
			return err
		}
		ver, err := tx.LatestVersion(ctx, o.ObjectKey)
		if err != nil && !(certs && errors.Is(err, store.ErrNotFound)) {
			return err
		}
		if certs {
			*body, err = v.certificateBundleJSON(ctx, tx, rq, o, ver)
			return err
		}
		m, err := decodeVersionMeta(ver)
		if err != nil {
			return err
		}
		b := v.secretBundle(rq, o, ver, &m, nil)
		v.deletedFields(rq, &b, o, "secrets")
		*body = mustJSON(b)
		return nil
	})
}

// recover brings a soft-deleted object back with all its versions; a
// certificate brings its managed secret back with it.
func (v *Vault) recover(rq *request, name string, certs bool) {
	v.answer(rq, http.StatusOK, v.update, func(tx store.Tx, body *[]byte) error {
		ctx := rq.r.Context()
		o, err := deletedObject(ctx, tx, rq.vault, name, certs)
		if err != nil {
			return err
		}
		undelete := func(o store.Object) error {
			o.Deleted, o.PurgeAt, o.Updated = zeroTime, zeroTime, v.now()
			return tx.PutObject(ctx, o)
		}
		if err := undelete(o); err != nil {
			return err
		}
		o.Deleted, o.PurgeAt = zeroTime, zeroTime
		ver, err := tx.LatestVersion(ctx, o.ObjectKey)
		if err != nil && !(certs && errors.Is(err, store.ErrNotFound)) {
			return err
		}
		if certs {
			if s, err := tx.Object(ctx, secretKey(rq.vault, name)); err == nil && !s.Deleted.IsZero() {
				if err := undelete(s); err != nil {
					return err
				}
			}
			*body, err = v.certificateBundleJSON(ctx, tx, rq, o, ver)
			return err
		}
		m, err := decodeVersionMeta(ver)
		if err != nil {
			return err
		}
		*body = mustJSON(v.secretBundle(rq, o, ver, &m, nil))
		return nil
	})
}

// purge removes a soft-deleted object for good (with a certificate's managed
// secret), unless purge protection is on.
func (v *Vault) purge(rq *request, name string, certs bool) {
	if v.opts.PurgeProtection {
		rq.fail(forbidden("", "Operation \"purge\" is not allowed because purge protection is enabled for this vault; the object is purged automatically at its scheduledPurgeDate"))
		return
	}
	err := v.update(rq.r.Context(), func(tx store.Tx) error {
		ctx := rq.r.Context()
		o, err := deletedObject(ctx, tx, rq.vault, name, certs)
		if err != nil {
			return err
		}
		if err := tx.PurgeObject(ctx, o.ObjectKey); err != nil {
			return err
		}
		if certs {
			if err := tx.PurgeObject(ctx, secretKey(rq.vault, name)); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if v.failed(rq, err) {
		return
	}
	rq.reply(http.StatusNoContent, nil)
}
