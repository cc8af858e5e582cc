package agent

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// SecretURL is an observed certificate's URL taken apart:
// https://{host}/secrets/{name}[/{version}].
type SecretURL struct {
	// Base is https://{host}[:port], the vault's root.
	Base string `json:"base"`
	// Host is the host name or address, without port.
	Host string `json:"host"`
	// VaultName is the first DNS label of Host (C.6), or for an IP
	// address the address with its dots and colons as hyphens.
	VaultName string `json:"vault"`
	Name      string `json:"name"`
	// Version pins a version; "" tracks the latest.
	Version string `json:"version,omitempty"`
}

// String returns the secret's URL without api-version.
func (u SecretURL) String() string {
	s := u.Base + "/secrets/" + u.Name
	if u.Version != "" {
		s += "/" + u.Version
	}
	return s
}

var (
	objectName  = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)
	versionName = regexp.MustCompile(`^[0-9A-Za-z]{1,64}$`)
)

// ParseSecretURL checks an observed certificate's URL (C.2): https, a host,
// the path /secrets/{name} or /secrets/{name}/{version}, optionally with a
// trailing slash, no query or fragment. A /certificates/ or /keys/ path
// gives an error wrapping ErrCertificatesURL.
func ParseSecretURL(raw string) (SecretURL, error) {
	s := strings.TrimSpace(raw)
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return SecretURL{}, fmt.Errorf("%q is an ARM template expression: deploy the template, or write the secret's URL itself", raw)
	}
	u, err := url.Parse(s)
	if err != nil {
		return SecretURL{}, fmt.Errorf("not a URL (%v): write https://<vault>.vault.azure.net/secrets/<name>", err)
	}
	if u.Scheme != "https" {
		return SecretURL{}, fmt.Errorf("%q: the vault must be reached over https (https://<vault>.vault.azure.net/secrets/<name>)", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return SecretURL{}, fmt.Errorf("%q has no host name: write https://<vault>.vault.azure.net/secrets/<name>", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return SecretURL{}, fmt.Errorf("%q: no user, query or fragment: write https://<vault>/secrets/<name>[/<version>]", raw)
	}
	parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(u.EscapedPath(), "/"), "/"), "/")
	if len(parts) >= 1 && (strings.EqualFold(parts[0], "certificates") || strings.EqualFold(parts[0], "keys")) {
		name := ""
		if len(parts) > 1 {
			name = parts[1]
		}
		return SecretURL{}, fmt.Errorf("%w (here: %s/secrets/%s)", ErrCertificatesURL, "https://"+u.Host, name)
	}
	if len(parts) < 2 || len(parts) > 3 || parts[0] != "secrets" {
		return SecretURL{}, fmt.Errorf("%q: the path must be /secrets/<name> or /secrets/<name>/<version>", raw)
	}
	out := SecretURL{Base: "https://" + strings.ToLower(u.Host), Host: strings.ToLower(u.Hostname()), Name: parts[1]}
	if !objectName.MatchString(out.Name) {
		return SecretURL{}, fmt.Errorf("%q: secret name %q must be 1-127 letters, digits and hyphens", raw, out.Name)
	}
	if len(parts) == 3 {
		out.Version = parts[2]
		if !versionName.MatchString(out.Version) {
			return SecretURL{}, fmt.Errorf("%q: version %q must be letters and digits (32 hex digits in Key Vault)", raw, out.Version)
		}
	}
	if ip := net.ParseIP(out.Host); ip != nil {
		out.VaultName = strings.NewReplacer(".", "-", ":", "-").Replace(out.Host)
	} else {
		out.VaultName, _, _ = strings.Cut(out.Host, ".")
	}
	return out, nil
}

// secretsManagement reads secretsManagementSettings.
func (w *walker) secretsManagement(n *node, path string, s *Settings) {
	if n == nil || n.kind == kindNull {
		w.fail(n, path, "missing: give secretsManagementSettings with observedCertificates")
		return
	}
	f := w.object(n, path, "pollingIntervalInS", "linkOnRenewal", "requireInitialSync", "aclEnabled",
		"certificateStoreName", "certificateStoreLocation", "observedCertificates")
	if f == nil {
		return
	}
	s.PollingInterval = DefaultPollingInterval
	if v, ok := w.integer(f["pollingIntervalInS"], join(path, "pollingIntervalInS")); ok {
		p, pn := join(path, "pollingIntervalInS"), f["pollingIntervalInS"]
		switch {
		case v < 0 || v > 365*24*3600:
			w.fail(pn, p, "%d is out of range: give seconds, at least 60 (default 3600)", v)
		case s.Schema == SchemaV4 && (v < 300 || v > 3600):
			s.PollingInterval = time.Duration(min(max(v, 300), 3600)) * time.Second
			w.warn(pn, p, "%d s is outside the v4 form's 300-3600 s; polling every %d s", v, int(s.PollingInterval/time.Second))
		case time.Duration(v)*time.Second < MinPollingInterval:
			s.PollingInterval = MinPollingInterval
			w.warn(pn, p, "%d s is below the minimum; polling every 60 s", v)
		default:
			s.PollingInterval = time.Duration(v) * time.Second
		}
	}
	if n := f["linkOnRenewal"]; n != nil {
		s.LinkOnRenewal, s.linkOnRenewalSet = w.boolean(n, join(path, "linkOnRenewal"), false), true
		if s.Schema == SchemaV4 {
			w.warn(n, join(path, "linkOnRenewal"), "the v4 form always links on renewal; the value is ignored")
		}
	}
	s.RequireInitialSync = w.boolean(f["requireInitialSync"], join(path, "requireInitialSync"), false)
	if s.Schema == SchemaV4 {
		if f["requireInitialSync"] != nil {
			w.warn(f["requireInitialSync"], join(path, "requireInitialSync"), "the v4 form always waits for the initial sync; the value is ignored")
		}
		s.RequireInitialSync = true
	}
	s.ACLEnabled = w.boolean(f["aclEnabled"], join(path, "aclEnabled"), false)
	globalName := w.str(f["certificateStoreName"], join(path, "certificateStoreName"))
	globalLoc := w.str(f["certificateStoreLocation"], join(path, "certificateStoreLocation"))
	if s.Schema >= SchemaV3 {
		for _, k := range []string{"certificateStoreName", "certificateStoreLocation"} {
			if f[k] != nil {
				w.warn(f[k], join(path, k), "a global store setting belongs to the v1/v2 forms; used as the default of each certificate")
			}
		}
	}

	cp := join(path, "observedCertificates")
	certs := f["observedCertificates"]
	switch {
	case certs == nil || certs.kind == kindNull:
		w.fail(n, cp, "missing: list the secrets to install, e.g. [\"https://<vault>.vault.azure.net/secrets/<name>\"]")
		return
	case certs.kind != kindArray:
		w.fail(certs, cp, "must be an array of URLs or of objects with a url, not %s%s", certs.kind, stringHint(certs))
		return
	case len(certs.elems) == 0:
		w.warn(certs, cp, "empty: no certificate will be installed")
	}
	for i, e := range certs.elems {
		ep := index(cp, i)
		oc := ObservedCertificate{Path: ep, StoreName: globalName, StoreLocation: globalLoc, node: e,
			storeNamePath: join(path, "certificateStoreName"), storeLocationPath: join(path, "certificateStoreLocation")}
		var urlNode *node
		switch e.kind {
		case kindString:
			urlNode = e
			oc.URL = e.str
		case kindObject:
			of := w.object(e, ep, "url", "certificateStoreName", "certificateStoreLocation", "accounts",
				"keyExportable", "acls", "customSymbolicLinkName")
			urlNode = of["url"]
			if urlNode == nil {
				w.fail(e, join(ep, "url"), "missing: give the secret's URL, https://<vault>.vault.azure.net/secrets/<name>")
				continue
			}
			oc.URL = w.str(urlNode, join(ep, "url"))
			if v := w.str(of["certificateStoreName"], join(ep, "certificateStoreName")); v != "" {
				oc.StoreName, oc.storeNamePath = v, join(ep, "certificateStoreName")
			}
			if v := w.str(of["certificateStoreLocation"], join(ep, "certificateStoreLocation")); v != "" {
				oc.StoreLocation, oc.storeLocationPath = v, join(ep, "certificateStoreLocation")
			}
			oc.Accounts = w.strings(of["accounts"], join(ep, "accounts"))
			oc.KeyExportable = w.boolean(of["keyExportable"], join(ep, "keyExportable"), false)
			if of["keyExportable"] != nil && s.Schema == SchemaV4 {
				w.warn(of["keyExportable"], join(ep, "keyExportable"), "the v4 form never makes keys exportable; ignored")
			}
			oc.ACLs = w.acls(of["acls"], join(ep, "acls"))
			if len(oc.ACLs) > 0 && !s.ACLEnabled {
				w.warn(of["acls"], join(ep, "acls"), "ignored unless secretsManagementSettings.aclEnabled is true")
			}
			if ln := of["customSymbolicLinkName"]; ln != nil {
				oc.LinkName = w.str(ln, join(ep, "customSymbolicLinkName"))
				if err := checkFileName(oc.LinkName); err != nil {
					w.fail(ln, join(ep, "customSymbolicLinkName"), "%v", err)
				}
			}
		default:
			w.fail(e, ep, "must be a URL string or an object with a url, not %s", e.kind)
			continue
		}
		up := ep
		if e.kind == kindObject {
			up = join(ep, "url")
		}
		su, err := ParseSecretURL(oc.URL)
		if err != nil {
			var sentinel error
			if errors.Is(err, ErrCertificatesURL) {
				sentinel = ErrCertificatesURL
			}
			w.errAt(urlNode, -1, up, sentinel, "%v", err)
			continue
		}
		if su.Version != "" && s.Schema == SchemaV4 {
			w.fail(urlNode, up, "the v4 form cannot pin a version: remove /%s to track the latest", su.Version)
		}
		oc.Secret = su
		s.Certificates = append(s.Certificates, oc)
	}
}

// acls reads an acls array.
func (w *walker) acls(n *node, path string) []ACL {
	if n == nil || n.kind == kindNull {
		return nil
	}
	if n.kind != kindArray {
		w.fail(n, path, "must be an array of {\"user\": ..., \"group\": ...}, not %s", n.kind)
		return nil
	}
	var out []ACL
	for i, e := range n.elems {
		p := index(path, i)
		f := w.object(e, p, "user", "group")
		if f == nil {
			continue
		}
		a := ACL{User: w.str(f["user"], join(p, "user")), Group: w.str(f["group"], join(p, "group"))}
		if a.User == "" && a.Group == "" {
			w.fail(e, p, "give a user, a group or both")
			continue
		}
		out = append(out, a)
	}
	return out
}

// checkFileName accepts a plain file name for a symbolic link.
func checkFileName(s string) error {
	switch {
	case s == "" || s == "." || s == "..":
		return fmt.Errorf("%q is not a file name: give a name such as app1Cert1", s)
	case len(s) > 255:
		return fmt.Errorf("longer than 255 bytes")
	case strings.ContainsAny(s, "/\\\x00"):
		return fmt.Errorf("%q must be a file name, without / or \\: the link is made in certificateStoreLocation", s)
	case strings.HasPrefix(s, "."):
		return fmt.Errorf("%q must not start with a dot (the agent's temporary files do)", s)
	}
	return nil
}

// authentication reads authenticationSettings (C.2, C.3).
func (w *walker) authentication(n *node, path string, s *Settings) {
	f := w.object(n, path, "msiEndpoint", "msiClientId")
	s.MSIEndpoint = w.str(f["msiEndpoint"], join(path, "msiEndpoint"))
	s.MSIClientID = strings.TrimSpace(w.str(f["msiClientId"], join(path, "msiClientId")))
	if s.MSIClientID != "" && !looksLikeGUID(s.MSIClientID) {
		w.warn(f["msiClientId"], join(path, "msiClientId"), "%q is not a GUID; Azure's client ids are", s.MSIClientID)
	}
	if s.MSIClientID != "" && f["msiEndpoint"] == nil {
		w.fail(f["msiClientId"], join(path, "msiEndpoint"), "required when msiClientId is set: give %s (Azure) or your metadata service's address", DefaultMSIEndpoint)
	}
	ep := s.MSIEndpoint
	if ep == "" {
		ep = DefaultMSIEndpoint
	}
	tu, err := TokenURL(ep)
	if err != nil {
		w.fail(f["msiEndpoint"], join(path, "msiEndpoint"), "%v", err)
		return
	}
	s.TokenURL = tu
}

// TokenURL returns the managed-identity token endpoint for an msiEndpoint
// in any of the forms C.2 accepts: the base .../metadata/identity (Linux
// examples, Azure Arc), the full .../metadata/identity/oauth2/token
// (Windows examples), or a bare http://host:port (the standard path is
// added). The URL must have a scheme and a host name.
func TokenURL(msiEndpoint string) (string, error) {
	raw := strings.TrimSpace(msiEndpoint)
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("%q must contain a scheme and a host name (Azure: \"URI must contain a hostname\"): use %s, or http://localhost:40342/metadata/identity on Azure Arc", msiEndpoint, DefaultMSIEndpoint)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%q: the scheme must be http or https", msiEndpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q: give the endpoint without query, fragment or user", msiEndpoint)
	}
	p := strings.TrimRight(u.Path, "/")
	switch {
	case p == "":
		p = "/metadata/identity/oauth2/token"
	case strings.HasSuffix(p, "/oauth2/token"):
	default:
		p += "/oauth2/token"
	}
	u.Path, u.RawPath = p, ""
	return u.String(), nil
}

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func looksLikeGUID(s string) bool { return guidPattern.MatchString(s) }
