package vault

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/tegata-project/tegata/internal/certkit"
	"github.com/tegata-project/tegata/internal/store"
)

type createRequest struct {
	Policy            *certkit.Policy   `json:"policy"`
	Attributes        *attributesIn     `json:"attributes"`
	Tags              map[string]string `json:"tags"`
	PreserveCertOrder bool              `json:"preserveCertOrder"`
}

// operationJSON is the CertificateOperation of A.7.
type operationJSON struct {
	ID                    string           `json:"id"`
	Issuer                map[string]any   `json:"issuer"`
	CSR                   []byte           `json:"csr,omitempty"`
	CancellationRequested bool             `json:"cancellation_requested"`
	Status                string           `json:"status"`
	StatusDetails         string           `json:"status_details,omitempty"`
	Target                string           `json:"target,omitempty"`
	RequestID             string           `json:"request_id"`
	PreserveCertOrder     bool             `json:"preserveCertOrder"`
	Error                 *json.RawMessage `json:"error,omitempty"`
}

func (rq *request) operation(name string, op *operation) []byte {
	out := operationJSON{
		ID: rq.base + "/certificates/" + name + "/pending", Issuer: map[string]any{"name": op.Issuer},
		CSR: op.CSR, CancellationRequested: op.CancellationRequested, Status: op.Status,
		StatusDetails: op.StatusDetails, RequestID: op.RequestID, PreserveCertOrder: op.PreserveOrder,
	}
	if op.Status == "completed" {
		out.Target = rq.base + "/certificates/" + name
		out.StatusDetails = ""
	}
	if op.ErrorCode != "" {
		e := json.RawMessage(mustJSON(map[string]string{"code": op.ErrorCode, "message": op.ErrorMessage}))
		out.Error = &e
	}
	return mustJSON(out)
}

func pendingContext(vault, name, requestID string) string {
	return "pending/" + strings.ToLower(vault) + "/" + strings.ToLower(name) + "/" + requestID
}

// createCertificate serves POST /certificates/{name}/create: issuer Self
// signs at once; issuer Unknown keeps the key and a CSR for a later merge.
func (v *Vault) createCertificate(rq *request, name string) {
	var in createRequest
	if e := decodeBody(rq, &in); e != nil {
		rq.fail(e)
		return
	}
	if in.Policy == nil {
		rq.fail(badParameter("The request has no policy; send {\"policy\": {\"issuer\": {\"name\": \"Self\"}, \"x509_props\": {\"subject\": \"CN=...\"}}}"))
		return
	}
	if e := checkTags(in.Tags); e != nil {
		rq.fail(e)
		return
	}
	p := in.Policy.WithDefaults()
	if err := p.Validate(); err != nil {
		rq.fail(badParameter("%v", err))
		return
	}
	issuer := policyIssuer(&p)
	if !strings.EqualFold(issuer, "Self") && !strings.EqualFold(issuer, "Unknown") {
		rq.fail(badParameter("The issuer %.60q is not configured in this vault; use Self (the vault signs) or Unknown (you merge a certificate signed elsewhere)", issuer))
		return
	}
	self := strings.EqualFold(issuer, "Self")
	now := unix(v.now())
	stampPolicy(&p, now, true)

	// Key generation (seconds for RSA 4096) happens before the write
	// transaction so that other writers are not held up; reuse_key swaps the
	// new key for the previous version's inside it.
	key, err := certkit.GenerateKey(policyKey(&p))
	if err != nil {
		rq.fail(badParameter("%v", err))
		return
	}
	var opBody []byte
	err = v.update(rq.r.Context(), func(tx store.Tx) error {
		ctx := rq.r.Context()
		o, om, err := certificateForWrite(ctx, tx, rq.vault, name)
		if err != nil {
			return err
		}
		if om.Pending != nil && om.Pending.Status == "inProgress" {
			return conflict("There was a conflict while creating the certificate %s: a pending operation exists; merge it, or DELETE /certificates/%s/pending first", name, name)
		}
		if policyReuseKey(&p) {
			prev, err := v.previousKey(ctx, tx, rq.vault, name)
			if err != nil {
				return err
			}
			if prev != nil {
				key = prev
			}
		}
		op := &operation{RequestID: newID(), Issuer: issuer, Version: newID(), Attributes: in.Attributes, PreserveOrder: in.PreserveCertOrder}
		if in.Tags != nil {
			op.Tags = mustJSON(in.Tags)
		}
		om.Policy = &p
		o.Sealed = nil
		if self {
			cert, err := certkit.SelfSign(key, policyX509(&p), v.now())
			if err != nil {
				return badParameter("%v", err)
			}
			op.Status = "completed"
			om.Pending = op
			o.Meta, o.Updated = mustJSON(om), v.now()
			if err := tx.PutObject(ctx, o); err != nil {
				return err
			}
			nv := newVersion{id: op.Version, material: certkit.Material{Key: key, Chain: chainOf(cert)}, policy: &p, attrs: in.Attributes, tags: in.Tags, preserve: in.PreserveCertOrder}
			if _, err := v.writeCertificateVersion(ctx, tx, rq.vault, &o, nv); err != nil {
				return err
			}
		} else {
			csr, err := certkit.CreateCSR(key, policyX509(&p))
			if err != nil {
				return badParameter("%v", err)
			}
			op.CSR = csr
			op.Status = "inProgress"
			op.StatusDetails = "Pending certificate created. Certificate request is in progress. This may take some time based on the issuer provider. Please check again later."
			der, err := marshalKey(key)
			if err != nil {
				return err
			}
			if o.Sealed, err = v.opts.Sealer.Seal(der, pendingContext(rq.vault, name, op.RequestID)); err != nil {
				return err
			}
			om.Pending = op
			o.Meta, o.Updated = mustJSON(om), v.now()
			if err := tx.PutObject(ctx, o); err != nil {
				return err
			}
		}
		opBody = rq.operation(o.Name, op)
		rq.w.Header().Set("Location", rq.base+"/certificates/"+o.Name+"/pending?api-version="+rq.version+"&request_id="+op.RequestID)
		return nil
	})
	if v.failed(rq, err) {
		return
	}
	rq.w.Header().Set("Retry-After", "10")
	rq.reply(http.StatusAccepted, opBody)
}

type importRequest struct {
	Value             string            `json:"value"`
	Password          string            `json:"pwd"`
	Policy            *certkit.Policy   `json:"policy"`
	Attributes        *attributesIn     `json:"attributes"`
	Tags              map[string]string `json:"tags"`
	PreserveCertOrder bool              `json:"preserveCertOrder"`
}

// importCertificate serves POST /certificates/{name}/import: a PFX (base64)
// or PEM text holding the private key and the chain.
func (v *Vault) importCertificate(rq *request, name string) {
	var in importRequest
	if e := decodeBody(rq, &in); e != nil {
		rq.fail(e)
		return
	}
	if in.Value == "" {
		rq.fail(badParameter("The request has no value; send the PFX as base64, or the PEM text with policy.secret_props.contentType application/x-pem-file"))
		return
	}
	if e := checkTags(in.Tags); e != nil {
		rq.fail(e)
		return
	}
	var p certkit.Policy
	if in.Policy != nil {
		p = *in.Policy
	}
	mat, err := certkit.ParseImport([]byte(in.Value), in.Password, policyContentType(&p), in.PreserveCertOrder)
	if err != nil {
		rq.fail(badParameter("The certificate to import could not be read: %v", err))
		return
	}
	p = certkit.ImportPolicy(p, mat)
	if err := p.Validate(); err != nil {
		rq.fail(badParameter("%v", err))
		return
	}
	now := unix(v.now())
	stampPolicy(&p, now, true)
	var body []byte
	err = v.update(rq.r.Context(), func(tx store.Tx) error {
		ctx := rq.r.Context()
		o, om, err := certificateForWrite(ctx, tx, rq.vault, name)
		if err != nil {
			return err
		}
		om.Policy = &p
		o.Meta, o.Updated = mustJSON(om), v.now()
		if err := tx.PutObject(ctx, o); err != nil {
			return err
		}
		nv := newVersion{id: newID(), material: mat, policy: &p, attrs: in.Attributes, tags: in.Tags, preserve: in.PreserveCertOrder}
		ver, err := v.writeCertificateVersion(ctx, tx, rq.vault, &o, nv)
		if err != nil {
			return err
		}
		body, err = v.certificateBundleJSON(ctx, tx, rq, o, ver)
		return err
	})
	if v.failed(rq, err) {
		return
	}
	rq.reply(http.StatusOK, body)
}

type mergeRequest struct {
	X5C        [][]byte          `json:"x5c"`
	Attributes *attributesIn     `json:"attributes"`
	Tags       map[string]string `json:"tags"`
}

// pendingOperation reads a live certificate and its operation record.
func pendingOperation(ctx context.Context, tx store.Tx, vault, name string) (store.Object, objectMeta, error) {
	o, _, err := liveCertificate(ctx, tx, vault, name, "-")
	if err != nil {
		return o, objectMeta{}, err
	}
	om, err := decodeObjectMeta(o)
	if err != nil {
		return o, om, err
	}
	if om.Pending == nil {
		return o, om, pendingNotFound(name)
	}
	return o, om, nil
}

// mergeCertificate serves POST /certificates/{name}/pending/merge: the
// certificate signed elsewhere for the pending key becomes a new version.
func (v *Vault) mergeCertificate(rq *request, name string) {
	var in mergeRequest
	if e := decodeBody(rq, &in); e != nil {
		rq.fail(e)
		return
	}
	if e := checkTags(in.Tags); e != nil {
		rq.fail(e)
		return
	}
	certs, err := certkit.ParseMergeChain(in.X5C)
	if err != nil {
		rq.fail(badParameter("x5c could not be read: %v", err))
		return
	}
	var body []byte
	err = v.update(rq.r.Context(), func(tx store.Tx) error {
		ctx := rq.r.Context()
		o, om, err := pendingOperation(ctx, tx, rq.vault, name)
		if err != nil {
			return err
		}
		op := om.Pending
		if op.Status != "inProgress" || len(o.Sealed) == 0 {
			return conflict("There was a conflict while merging the pending certificate %s: its operation is %s, not inProgress", name, op.Status)
		}
		der, err := v.opts.Sealer.Open(o.Sealed, pendingContext(rq.vault, name, op.RequestID))
		if err != nil {
			return err
		}
		key, err := parseKey(der)
		if err != nil {
			return err
		}
		chain, err := certkit.OrderChain(key.Public(), certs, op.PreserveOrder)
		if err != nil {
			return badParameter("The merged certificate does not match the pending request: %v", err)
		}
		tags := in.Tags
		if tags == nil && len(op.Tags) > 0 {
			json.Unmarshal(op.Tags, &tags)
		}
		attrs := in.Attributes
		if attrs == nil {
			attrs = op.Attributes
		}
		op.Status, op.StatusDetails = "completed", ""
		o.Sealed = nil
		o.Meta, o.Updated = mustJSON(om), v.now()
		if err := tx.PutObject(ctx, o); err != nil {
			return err
		}
		nv := newVersion{id: op.Version, material: certkit.Material{Key: key, Chain: chain}, policy: om.Policy, attrs: attrs, tags: tags, preserve: op.PreserveOrder}
		ver, err := v.writeCertificateVersion(ctx, tx, rq.vault, &o, nv)
		if err != nil {
			return err
		}
		body, err = v.certificateBundleJSON(ctx, tx, rq, o, ver)
		return err
	})
	if v.failed(rq, err) {
		return
	}
	rq.reply(http.StatusCreated, body)
}

func (v *Vault) getOperation(rq *request, name string) {
	v.answer(rq, http.StatusOK, v.opts.Store.View, func(tx store.Tx, body *[]byte) error {
		o, om, err := pendingOperation(rq.r.Context(), tx, rq.vault, name)
		if err == nil {
			*body = rq.operation(o.Name, om.Pending)
		}
		return err
	})
}

// cancelOperation serves PATCH .../pending {"cancellation_requested":true}.
func (v *Vault) cancelOperation(rq *request, name string) {
	var in struct {
		CancellationRequested *bool `json:"cancellation_requested"`
	}
	if e := decodeBody(rq, &in); e != nil {
		rq.fail(e)
		return
	}
	if in.CancellationRequested == nil {
		rq.fail(badParameter("send {\"cancellation_requested\": true}"))
		return
	}
	v.answer(rq, http.StatusOK, v.update, func(tx store.Tx, body *[]byte) error {
		o, om, err := pendingOperation(rq.r.Context(), tx, rq.vault, name)
		if err != nil {
			return err
		}
		if om.Pending.Status != "inProgress" {
			return forbidden("", "Pending status must be in progress to allow update.")
		}
		om.Pending.CancellationRequested = *in.CancellationRequested
		o.Meta, o.Updated = mustJSON(om), v.now()
		*body = rq.operation(o.Name, om.Pending)
		return tx.PutObject(rq.r.Context(), o)
	})
}

// deleteOperation serves DELETE .../pending: the record and the pending key
// go; a certificate that never had a version goes with them.
func (v *Vault) deleteOperation(rq *request, name string) {
	v.answer(rq, http.StatusOK, v.update, func(tx store.Tx, body *[]byte) error {
		ctx := rq.r.Context()
		o, om, err := pendingOperation(ctx, tx, rq.vault, name)
		if err != nil {
			return err
		}
		*body = rq.operation(o.Name, om.Pending)
		if _, err := tx.LatestVersion(ctx, o.ObjectKey); errors.Is(err, store.ErrNotFound) {
			return tx.PurgeObject(ctx, o.ObjectKey)
		} else if err != nil {
			return err
		}
		om.Pending = nil
		o.Sealed = nil
		o.Meta, o.Updated = mustJSON(om), v.now()
		return tx.PutObject(ctx, o)
	})
}

// deleteCertificate soft-deletes a certificate with its managed secret and
// discards any pending operation, so nothing blocks a later create (A.11).
func (v *Vault) deleteCertificate(rq *request, name string) {
	v.answer(rq, http.StatusOK, v.update, func(tx store.Tx, body *[]byte) error {
		ctx := rq.r.Context()
		o, _, err := liveCertificate(ctx, tx, rq.vault, name, "-")
		if err != nil {
			return err
		}
		om, err := decodeObjectMeta(o)
		if err != nil {
			return err
		}
		om.Pending = nil
		o.Sealed = nil
		o.Meta = mustJSON(om)
		ver, err := tx.LatestVersion(ctx, o.ObjectKey)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := v.softDelete(ctx, tx, &o); err != nil {
			return err
		}
		if s, err := tx.Object(ctx, secretKey(rq.vault, name)); err == nil && s.Deleted.IsZero() {
			if err := v.softDelete(ctx, tx, &s); err != nil {
				return err
			}
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		*body, err = v.certificateBundleJSON(ctx, tx, rq, o, ver)
		return err
	})
}
