package vault

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tegata-project/tegata/internal/certkit"
	"github.com/tegata-project/tegata/internal/store"
)

// secretBundle is the SecretBundle of A.7.
type secretBundle struct {
	Value              *string           `json:"value,omitempty"`
	ContentType        string            `json:"contentType,omitempty"`
	ID                 string            `json:"id"`
	Attributes         attributesOut     `json:"attributes"`
	Tags               map[string]string `json:"tags,omitempty"`
	Kid                string            `json:"kid,omitempty"`
	Managed            bool              `json:"managed,omitempty"`
	PreviousVersion    string            `json:"previousVersion,omitempty"`
	RecoveryID         string            `json:"recoveryId,omitempty"`
	DeletedDate        *int64            `json:"deletedDate,omitempty"`
	ScheduledPurgeDate *int64            `json:"scheduledPurgeDate,omitempty"`
}

type setSecretRequest struct {
	Value       *string           `json:"value"`
	ContentType string            `json:"contentType"`
	Tags        map[string]string `json:"tags"`
	Attributes  *attributesIn     `json:"attributes"`
}

type updateSecretRequest struct {
	ContentType *string            `json:"contentType"`
	Tags        *map[string]string `json:"tags"`
	Attributes  *attributesIn      `json:"attributes"`
}

func secretKey(vault, name string) store.ObjectKey {
	return store.ObjectKey{Vault: vault, Kind: store.KindSecret, Name: name}
}

// sealContext binds a sealed value to its row.
func sealContext(kind store.Kind, vault, name, version string) string {
	return string(kind) + "/" + strings.ToLower(vault) + "/" + strings.ToLower(name) + "/" + version
}

func (v *Vault) secretBundle(rq *request, o store.Object, ver store.Version, m *versionMeta, value *string) secretBundle {
	b := secretBundle{
		Value: value, ContentType: m.ContentType,
		ID:         rq.base + "/secrets/" + o.Name + "/" + ver.ID,
		Attributes: v.attributes(m), Tags: m.Tags, Managed: m.Managed, PreviousVersion: m.PreviousVersion,
	}
	if m.Managed {
		b.Kid = rq.base + "/keys/" + o.Name + "/" + ver.ID
	}
	return b
}

func (v *Vault) deletedFields(rq *request, b *secretBundle, o store.Object, coll string) {
	if o.Deleted.IsZero() {
		return
	}
	b.RecoveryID = rq.base + "/deleted" + coll + "/" + o.Name
	d, p := o.Deleted.Unix(), o.PurgeAt.Unix()
	b.DeletedDate, b.ScheduledPurgeDate = &d, &p
}

// decodeBody reads a JSON request body, refusing unknown shapes clearly.
func decodeBody(rq *request, dst any) *kvError {
	dec := json.NewDecoder(rq.r.Body)
	if err := dec.Decode(dst); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return badParameter("The request body is larger than %d bytes", maxBody)
		}
		return badParameter("The request body is not valid JSON for this operation: %v", err)
	}
	return nil
}

func (v *Vault) setSecret(rq *request, name string) {
	var in setSecretRequest
	if e := decodeBody(rq, &in); e != nil {
		rq.fail(e)
		return
	}
	if in.Value == nil {
		rq.fail(badParameter("The request has no value; send {\"value\": \"...\"}"))
		return
	}
	if len(*in.Value) > maxSecretValue {
		rq.fail(badParameter("The secret value is %d bytes; Key Vault secrets hold at most %d bytes", len(*in.Value), maxSecretValue))
		return
	}
	if len(in.ContentType) > maxContentType {
		rq.fail(badParameter("contentType is %d characters; at most %d are allowed", len(in.ContentType), maxContentType))
		return
	}
	if e := checkTags(in.Tags); e != nil {
		rq.fail(e)
		return
	}
	now := unix(v.now())
	m := versionMeta{ContentType: in.ContentType, Tags: in.Tags, Enabled: true, Created: now, Updated: now}
	if e := in.Attributes.apply(&m); e != nil {
		rq.fail(e)
		return
	}
	var o store.Object
	var ver store.Version
	err := v.update(rq.r.Context(), func(tx store.Tx) error {
		key := secretKey(rq.vault, name)
		var err error
		o, err = tx.Object(rq.r.Context(), key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			o = store.Object{ObjectKey: key, Updated: v.now()}
			if err := tx.PutObject(rq.r.Context(), o); err != nil {
				return err
			}
		case err != nil:
			return err
		case !o.Deleted.IsZero():
			return deletedButRecoverable("Secret", name)
		default:
			om, err := decodeObjectMeta(o)
			if err != nil {
				return err
			}
			if om.Managed {
				return managedSecret(name)
			}
		}
		id := newID()
		sealed, err := v.opts.Sealer.Seal([]byte(*in.Value), sealContext(store.KindSecret, rq.vault, name, id))
		if err != nil {
			return err
		}
		ver, err = tx.PutVersion(rq.r.Context(), store.Version{ObjectKey: key, ID: id, Created: v.now(), Meta: mustJSON(m), Sealed: sealed})
		return err
	})
	if v.failed(rq, err) {
		return
	}
	rq.target = "/secrets/" + o.Name + "/" + ver.ID
	rq.reply(http.StatusOK, mustJSON(v.secretBundle(rq, o, ver, &m, in.Value)))
}

func managedSecret(name string) *kvError {
	return forbidden("", "The secret %s is managed by the certificate %s; change it through the certificate API (/certificates/%s)", name, name, name)
}

// failed answers err (a *kvError or an internal failure) and reports whether
// there was one.
func (v *Vault) failed(rq *request, err error) bool {
	if err == nil {
		return false
	}
	var ke *kvError
	if errors.As(err, &ke) {
		rq.fail(ke)
	} else if errors.Is(err, context.Canceled) {
		rq.status = 499
	} else {
		v.internal(rq, err)
	}
	return true
}

// answer runs fn in a transaction (txn: v.update to write, v.opts.Store.View to
// read) and answers status with the body fn leaves in *body, or the error.
func (v *Vault) answer(rq *request, status int, txn func(context.Context, func(store.Tx) error) error, fn func(tx store.Tx, body *[]byte) error) {
	var body []byte
	err := txn(rq.r.Context(), func(tx store.Tx) error { return fn(tx, &body) })
	if v.failed(rq, err) {
		return
	}
	rq.reply(status, body)
}

// liveSecret reads a live secret object and one version ("" for the latest).
func (v *Vault) liveSecret(ctx context.Context, tx store.Tx, vault, name, version string) (store.Object, store.Version, versionMeta, error) {
	key := secretKey(vault, name)
	o, err := tx.Object(ctx, key)
	if errors.Is(err, store.ErrNotFound) || err == nil && !o.Deleted.IsZero() {
		return o, store.Version{}, versionMeta{}, secretNotFound(name)
	}
	if err != nil {
		return o, store.Version{}, versionMeta{}, err
	}
	var ver store.Version
	if version == "" {
		ver, err = tx.LatestVersion(ctx, key)
	} else {
		ver, err = tx.Version(ctx, key, version)
	}
	if errors.Is(err, store.ErrNotFound) {
		return o, ver, versionMeta{}, secretNotFound(name + "/" + version)
	}
	if err != nil {
		return o, ver, versionMeta{}, err
	}
	m, err := decodeVersionMeta(ver)
	return o, ver, m, err
}

func (v *Vault) getSecret(rq *request, name, version string) {
	outType := rq.r.URL.Query().Get("outContentType")
	if outType != "" && outType != "application/x-pem-file" {
		rq.fail(badParameter("outContentType %.60q is not supported: only application/x-pem-file (converting a PFX-backed secret) is", outType))
		return
	}
	o, ver, m, err := v.readSecret(rq, name, version)
	if v.failed(rq, err) {
		return
	}
	rq.target = "/secrets/" + o.Name + "/" + ver.ID
	if !m.Enabled {
		rq.fail(forbidden("SecretDisabled", "Operation get is not allowed on a disabled secret."))
		return
	}
	plain, err := v.opts.Sealer.Open(ver.Sealed, sealContext(store.KindSecret, rq.vault, name, ver.ID))
	if err != nil {
		v.internal(rq, err)
		return
	}
	if outType != "" && m.ContentType != outType {
		if m.ContentType != "application/x-pkcs12" {
			rq.fail(badParameter("outContentType converts a PFX-backed secret (application/x-pkcs12) to PEM; this secret's contentType is %.60q", m.ContentType))
			return
		}
		if plain, err = pfxSecretToPEM(plain); err != nil {
			v.internal(rq, err)
			return
		}
		m.ContentType = outType
	}
	value := string(plain)
	rq.reply(http.StatusOK, mustJSON(v.secretBundle(rq, o, ver, &m, &value)))
}

// readSecret is the hot path of GET /secrets: the read cache, else one
// statement that reads the object and the version.
func (v *Vault) readSecret(rq *request, name, version string) (store.Object, store.Version, versionMeta, error) {
	key := cacheKey(rq.vault, name, version)
	now := time.Now()
	if e, ok := v.cache.get(key, now); ok {
		return e.obj, e.ver, e.meta, nil
	}
	gen := v.cache.generation()
	o, ver, err := v.opts.Store.Get(rq.r.Context(), secretKey(rq.vault, name), version)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && !o.Deleted.IsZero():
		return o, ver, versionMeta{}, secretNotFound(name)
	case err == nil && ver.ID == "":
		return o, ver, versionMeta{}, secretNotFound(strings.TrimSuffix(name+"/"+version, "/"))
	case err != nil:
		return o, ver, versionMeta{}, err
	}
	m, err := decodeVersionMeta(ver)
	if err != nil {
		return o, ver, m, err
	}
	o.Meta = nil // not needed by readers of the cache
	v.cache.put(key, gen, cachedRead{obj: o, ver: ver, meta: m}, now)
	return o, ver, m, nil
}

func (v *Vault) updateSecret(rq *request, name, version string) {
	var in updateSecretRequest
	if e := decodeBody(rq, &in); e != nil {
		rq.fail(e)
		return
	}
	if in.ContentType != nil && len(*in.ContentType) > maxContentType {
		rq.fail(badParameter("contentType is %d characters; at most %d are allowed", len(*in.ContentType), maxContentType))
		return
	}
	if in.Tags != nil {
		if e := checkTags(*in.Tags); e != nil {
			rq.fail(e)
			return
		}
	}
	var o store.Object
	var ver store.Version
	var m versionMeta
	err := v.update(rq.r.Context(), func(tx store.Tx) error {
		var err error
		if o, ver, m, err = v.liveSecret(rq.r.Context(), tx, rq.vault, name, version); err != nil {
			return err
		}
		if m.Managed {
			return managedSecret(name)
		}
		if in.ContentType != nil {
			m.ContentType = *in.ContentType
		}
		if in.Tags != nil {
			m.Tags = *in.Tags
		}
		if e := in.Attributes.apply(&m); e != nil {
			return e
		}
		m.Updated = unix(v.now())
		ver.Meta = mustJSON(m)
		ver, err = tx.PutVersion(rq.r.Context(), ver)
		return err
	})
	if v.failed(rq, err) {
		return
	}
	rq.target = "/secrets/" + o.Name + "/" + ver.ID
	rq.reply(http.StatusOK, mustJSON(v.secretBundle(rq, o, ver, &m, nil)))
}

func (v *Vault) deleteSecret(rq *request, name string) {
	var o store.Object
	var ver store.Version
	var m versionMeta
	err := v.update(rq.r.Context(), func(tx store.Tx) error {
		var err error
		if o, ver, m, err = v.liveSecret(rq.r.Context(), tx, rq.vault, name, ""); err != nil {
			return err
		}
		if m.Managed {
			return managedSecret(name)
		}
		return v.softDelete(rq.r.Context(), tx, &o)
	})
	if v.failed(rq, err) {
		return
	}
	b := v.secretBundle(rq, o, ver, &m, nil)
	v.deletedFields(rq, &b, o, "secrets")
	rq.reply(http.StatusOK, mustJSON(b))
}

// softDelete marks o deleted (all its versions with it), or purges it at once
// when soft delete is off.
func (v *Vault) softDelete(ctx context.Context, tx store.Tx, o *store.Object) error {
	if v.opts.RecoverableDays == 0 {
		return tx.PurgeObject(ctx, o.ObjectKey)
	}
	now := v.now().UTC().Truncate(time.Second)
	o.Deleted = now
	o.PurgeAt = now.AddDate(0, 0, v.opts.RecoverableDays)
	o.Updated = now
	return tx.PutObject(ctx, *o)
}

// pfxSecretToPEM converts the value of a PFX-backed secret (standard base64 of
// the PKCS#12) to PEM text.
func pfxSecretToPEM(value []byte) ([]byte, error) {
	pfx, err := base64.StdEncoding.DecodeString(string(value))
	if err != nil {
		return nil, fmt.Errorf("vault: stored PFX secret is not base64: %w", err)
	}
	return certkit.PFXToPEM(pfx)
}
