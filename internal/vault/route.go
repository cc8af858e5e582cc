package vault

import (
	"net/http"
	"strings"

	"github.com/tegata-project/tegata/internal/vault/rbac"
)

// route dispatches an authenticated request by its path segments. The
// generated clients build /{collection}/{name}/{version} by substitution, so
// an empty version arrives as a trailing slash and means "latest" (A.2).
func (v *Vault) route(rq *request) {
	path := strings.TrimPrefix(rq.r.URL.Path, "/")
	seg := strings.Split(path, "/")
	if len(seg) > 4 {
		rq.fail(notFoundRoute())
		return
	}
	for len(seg) < 4 {
		seg = append(seg, "")
	}
	m := rq.r.Method
	switch seg[0] {
	case "secrets":
		v.routeSecrets(rq, m, seg[1], seg[2], seg[3])
	case "deletedsecrets":
		v.routeDeleted(rq, m, seg[1], seg[2], seg[3], false)
	case "certificates":
		v.routeCertificates(rq, m, seg[1], seg[2], seg[3])
	case "deletedcertificates":
		v.routeDeleted(rq, m, seg[1], seg[2], seg[3], true)
	default:
		rq.fail(notFoundRoute())
	}
}

func (v *Vault) routeSecrets(rq *request, m, name, second, third string) {
	if third != "" {
		rq.fail(notFoundRoute())
		return
	}
	switch {
	case name == "":
		if m != http.MethodGet {
			rq.fail(methodNotAllowed(m))
			return
		}
		if v.authorize(rq, rbac.ActionSecretsReadMetadata, "", "") {
			v.listSecrets(rq, false)
		}
	case second == "versions":
		if m != http.MethodGet {
			rq.fail(methodNotAllowed(m))
			return
		}
		if v.authorize(rq, rbac.ActionSecretsReadMetadata, "secrets", name) && v.checkName(rq, "secret", name) {
			v.listSecretVersions(rq, name)
		}
	case second == "" || validVersion(second):
		switch m {
		case http.MethodGet:
			if v.authorize(rq, rbac.ActionGetSecret, "secrets", name) && v.checkName(rq, "secret", name) {
				v.getSecret(rq, name, strings.ToLower(second))
			}
		case http.MethodPut:
			if second != "" {
				rq.fail(methodNotAllowed(m))
				return
			}
			if v.authorize(rq, rbac.ActionSetSecret, "secrets", name) && v.checkName(rq, "secret", name) {
				v.setSecret(rq, name)
			}
		case http.MethodPatch:
			if v.authorize(rq, rbac.ActionSecretsUpdate, "secrets", name) && v.checkName(rq, "secret", name) {
				v.updateSecret(rq, name, strings.ToLower(second))
			}
		case http.MethodDelete:
			if second != "" {
				rq.fail(methodNotAllowed(m))
				return
			}
			if v.authorize(rq, rbac.ActionSecretsDelete, "secrets", name) && v.checkName(rq, "secret", name) {
				v.deleteSecret(rq, name)
			}
		default:
			rq.fail(methodNotAllowed(m))
		}
	default:
		// A version that is not 32 hex digits cannot exist.
		if m == http.MethodGet && v.authorize(rq, rbac.ActionGetSecret, "secrets", name) {
			rq.fail(secretNotFound(name + "/" + second))
		} else if m != http.MethodGet {
			rq.fail(notFoundRoute())
		}
	}
}

// routeDeleted serves /deletedsecrets and /deletedcertificates.
func (v *Vault) routeDeleted(rq *request, m, name, second, third string, certs bool) {
	coll, kind := "secrets", "secret"
	readAction, recoverAction, purgeAction := rbac.ActionSecretsReadMetadata, rbac.ActionSecretsRecover, rbac.ActionSecretsPurge
	if certs {
		coll, kind = "certificates", "certificate"
		readAction, recoverAction, purgeAction = rbac.ActionCertificatesRead, rbac.ActionCertificatesRecover, rbac.ActionCertificatesPurge
	}
	switch {
	case third != "" || (second != "" && second != "recover"):
		rq.fail(notFoundRoute())
	case name == "":
		if m != http.MethodGet {
			rq.fail(methodNotAllowed(m))
		} else if v.authorize(rq, readAction, "", "") {
			v.listDeleted(rq, certs)
		}
	case second == "recover":
		if m != http.MethodPost {
			rq.fail(methodNotAllowed(m))
		} else if v.authorize(rq, recoverAction, coll, name) && v.checkName(rq, kind, name) {
			v.recover(rq, name, certs)
		}
	case m == http.MethodGet:
		if v.authorize(rq, readAction, coll, name) && v.checkName(rq, kind, name) {
			v.getDeleted(rq, name, certs)
		}
	case m == http.MethodDelete:
		if v.authorize(rq, purgeAction, coll, name) && v.checkName(rq, kind, name) {
			v.purge(rq, name, certs)
		}
	default:
		rq.fail(methodNotAllowed(m))
	}
}

func (v *Vault) routeCertificates(rq *request, m, name, second, third string) {
	if name == "issuers" || name == "contacts" || name == "restore" {
		rq.fail(&kvError{Status: http.StatusNotImplemented, Code: "NotImplemented", Message: "certificate issuers, contacts and restore are not served by tegata's vault yet"})
		return
	}
	type op struct {
		method, action string
		serve          func()
	}
	var ops []op
	switch {
	case name == "":
		ops = []op{{http.MethodGet, rbac.ActionCertificatesRead, func() { v.listCertificates(rq) }}}
		if third != "" || second != "" {
			ops = nil
		}
		for _, o := range ops {
			if o.method == m {
				if v.authorize(rq, o.action, "", "") {
					o.serve()
				}
				return
			}
		}
		if ops == nil {
			rq.fail(notFoundRoute())
		} else {
			rq.fail(methodNotAllowed(m))
		}
		return
	case second == "create" && third == "":
		ops = []op{{http.MethodPost, rbac.ActionCertificatesCreate, func() { v.createCertificate(rq, name) }}}
	case second == "import" && third == "":
		ops = []op{{http.MethodPost, rbac.ActionCertificatesImport, func() { v.importCertificate(rq, name) }}}
	case second == "pending" && third == "merge":
		ops = []op{{http.MethodPost, rbac.ActionCertificatesCreate, func() { v.mergeCertificate(rq, name) }}}
	case second == "pending" && third == "":
		ops = []op{
			{http.MethodGet, rbac.ActionCertificatesRead, func() { v.getOperation(rq, name) }},
			{http.MethodPatch, rbac.ActionCertificatesUpdate, func() { v.cancelOperation(rq, name) }},
			{http.MethodDelete, rbac.ActionCertificatesUpdate, func() { v.deleteOperation(rq, name) }},
		}
	case second == "policy" && third == "":
		ops = []op{
			{http.MethodGet, rbac.ActionCertificatesRead, func() { v.getPolicy(rq, name) }},
			{http.MethodPatch, rbac.ActionCertificatesUpdate, func() { v.updatePolicy(rq, name) }},
		}
	case second == "versions" && third == "":
		ops = []op{{http.MethodGet, rbac.ActionCertificatesRead, func() { v.listCertificateVersions(rq, name) }}}
	case third == "" && (second == "" || validVersion(second)):
		ver := strings.ToLower(second)
		ops = []op{
			{http.MethodGet, rbac.ActionCertificatesRead, func() { v.getCertificate(rq, name, ver) }},
			{http.MethodPatch, rbac.ActionCertificatesUpdate, func() { v.updateCertificate(rq, name, ver) }},
		}
		if second == "" {
			ops = append(ops, op{http.MethodDelete, rbac.ActionCertificatesDelete, func() { v.deleteCertificate(rq, name) }})
		}
	case third == "" && m == http.MethodGet:
		ops = []op{{http.MethodGet, rbac.ActionCertificatesRead, func() { rq.fail(certificateNotFound(name + "/" + second)) }}}
	default:
		rq.fail(notFoundRoute())
		return
	}
	for _, o := range ops {
		if o.method == m {
			if v.authorize(rq, o.action, "certificates", name) && v.checkName(rq, "certificate", name) {
				o.serve()
			}
			return
		}
	}
	rq.fail(methodNotAllowed(m))
}

func (v *Vault) checkName(rq *request, kind, name string) bool {
	if !validName(name) {
		rq.fail(nameError(kind, name))
		return false
	}
	rq.target = rq.r.URL.Path
	return true
}
