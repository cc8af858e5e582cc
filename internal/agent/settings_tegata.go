package agent

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// TegataSettings are tegata's own options, under a top-level "tegata" key of
// the settings (Azure's extension ignores it).
type TegataSettings struct {
	// CAFile is a PEM file of CA certificates trusted for the vault's TLS,
	// besides the system roots: tegata's <data-dir>/tls-ca.pem.
	CAFile string `json:"caFile,omitempty"`
	// StatusFile is where the status is written (default DefaultStatusFile).
	StatusFile string `json:"statusFile,omitempty"`
	// Listen is the address of /healthz, /readyz and /metrics; "" for none.
	Listen string `json:"listen,omitempty"`
	// APIVersion is the vault api-version sent (default DefaultAPIVersion).
	APIVersion string `json:"apiVersion,omitempty"`
	// Resource, when set, is the token resource used for every vault,
	// instead of the resource the vault's 401 challenge names.
	Resource string `json:"resource,omitempty"`
	// RequireTrustedRoot makes the pre-install check verify each chain to
	// the system roots (plus CAFile), not only the certificates present.
	RequireTrustedRoot bool `json:"requireTrustedRoot,omitempty"`
	// Defaults are the options of every certificate.
	Defaults CertOptions `json:"defaults"`
}

// CertOptions are tegata's options for one certificate.
type CertOptions struct {
	// Hooks run after a new version is installed (C.6).
	Hooks []Hook `json:"hooks,omitempty"`
	// Formats are extra files written besides the extension's layout:
	// any of cert.pem, key.pem, fullchain.pem, chain.pem and cert.pfx.
	Formats []string `json:"formats,omitempty"`
	// FormatsDir holds the extra files, under <FormatsDir>/<version>/ with
	// a <FormatsDir>/current link; "" means <store>/<link name>.d.
	FormatsDir string `json:"formatsDir,omitempty"`
	// Owner and Group own every file of the certificate ("" keeps the
	// agent's user and group); names or numeric ids.
	Owner string `json:"owner,omitempty"`
	Group string `json:"group,omitempty"`
	// Mode is the mode of every file of the certificate (default 0600).
	Mode fs.FileMode `json:"mode"`
	// Retain is how many previous versions stay on disk (default 2, Q18).
	Retain int `json:"retain"`
}

// A Hook is one reload action: a command (Exec, an argv array) or a signal
// sent to the process whose id is in PIDFile.
type Hook struct {
	Exec    []string      `json:"exec,omitempty"`
	Signal  string        `json:"signal,omitempty"`
	PIDFile string        `json:"pidFile,omitempty"`
	Timeout time.Duration `json:"-"`
}

// MarshalJSON writes h as the settings spell it, with timeoutS.
func (h Hook) MarshalJSON() ([]byte, error) {
	type plain struct {
		Exec     []string `json:"exec,omitempty"`
		Signal   string   `json:"signal,omitempty"`
		PIDFile  string   `json:"pidFile,omitempty"`
		TimeoutS int64    `json:"timeoutS"`
	}
	return json.Marshal(plain{h.Exec, h.Signal, h.PIDFile, int64(h.Timeout / time.Second)})
}

// key identifies a hook, so that a hook shared by several certificates runs
// once per pass.
func (h Hook) key() string {
	if len(h.Exec) > 0 {
		return "exec\x00" + strings.Join(h.Exec, "\x00")
	}
	return "signal\x00" + h.Signal + "\x00" + h.PIDFile
}

// String describes h for logs and status.
func (h Hook) String() string {
	if len(h.Exec) > 0 {
		return strings.Join(h.Exec, " ")
	}
	return fmt.Sprintf("signal %s to the pid in %s", h.Signal, h.PIDFile)
}

// Formats written by the extra-formats option.
var knownFormats = []string{"cert.pem", "key.pem", "fullchain.pem", "chain.pem", "cert.pfx"}

// optionsPatch is CertOptions as read, with what was given.
type optionsPatch struct {
	o                                          CertOptions
	hooks, formats, dir, owner, group, mode, r bool
}

func (p optionsPatch) apply(o CertOptions) CertOptions {
	if p.hooks {
		o.Hooks = p.o.Hooks
	}
	if p.formats {
		o.Formats = p.o.Formats
	}
	if p.dir {
		o.FormatsDir = p.o.FormatsDir
	}
	if p.owner {
		o.Owner = p.o.Owner
	}
	if p.group {
		o.Group = p.o.Group
	}
	if p.mode {
		o.Mode = p.o.Mode
	}
	if p.r {
		o.Retain = p.o.Retain
	}
	return o
}

var apiVersionPattern = regexp.MustCompile(`^(?:\d{1,3}\.\d{1,3}|\d{4}-\d{2}-\d{2})(?:-preview(?:\.\d{1,3})?)?$`)

// tegata reads the tegata object and merges its certificate options into
// s.Certificates.
func (w *walker) tegata(n *node, path string, s *Settings) {
	t := &s.Tegata
	t.Defaults = CertOptions{Mode: 0o600, Retain: DefaultRetain}
	var certsNode *node
	if n != nil && n.kind != kindNull {
		f := w.object(n, path, "caFile", "statusFile", "listen", "apiVersion", "resource", "requireTrustedRoot",
			"hooks", "formats", "formatsDir", "owner", "group", "mode", "retain", "certificates")
		t.CAFile = w.str(f["caFile"], join(path, "caFile"))
		t.StatusFile = w.str(f["statusFile"], join(path, "statusFile"))
		t.Listen = w.str(f["listen"], join(path, "listen"))
		if t.Listen != "" {
			host, _, err := net.SplitHostPort(t.Listen)
			switch {
			case err != nil:
				w.fail(f["listen"], join(path, "listen"), "%q is not host:port: give e.g. 127.0.0.1:9466", t.Listen)
			case !isLoopback(host):
				w.warn(f["listen"], join(path, "listen"), "%q is not a loopback address: /metrics names the certificates to anyone who can connect", t.Listen)
			}
		}
		t.APIVersion = w.str(f["apiVersion"], join(path, "apiVersion"))
		if t.APIVersion != "" && !apiVersionPattern.MatchString(t.APIVersion) {
			w.fail(f["apiVersion"], join(path, "apiVersion"), "%q is not a Key Vault api-version: give e.g. 7.4 or 2025-07-01", t.APIVersion)
		}
		t.Resource = w.str(f["resource"], join(path, "resource"))
		if t.Resource != "" {
			if u, err := url.Parse(t.Resource); err != nil || u.Scheme == "" || u.Host == "" {
				w.fail(f["resource"], join(path, "resource"), "%q must be an absolute URI such as https://vault.azure.net", t.Resource)
			}
		}
		t.RequireTrustedRoot = w.boolean(f["requireTrustedRoot"], join(path, "requireTrustedRoot"), false)
		if f["formatsDir"] != nil {
			w.fail(f["formatsDir"], join(path, "formatsDir"), "is per certificate: give it under tegata.certificates[\"<url or link name>\"]")
		}
		t.Defaults = w.certOptions(f, path).apply(t.Defaults)
		certsNode = f["certificates"]
	}
	if t.APIVersion == "" {
		t.APIVersion = DefaultAPIVersion
	}
	if t.StatusFile == "" {
		t.StatusFile = DefaultStatusFile
	}
	for i := range s.Certificates {
		s.Certificates[i].Options = t.Defaults
	}
	if certsNode == nil || certsNode.kind == kindNull {
		return
	}
	cp := join(path, "certificates")
	if certsNode.kind != kindObject {
		w.fail(certsNode, cp, "must be an object keyed by a certificate's url or link name, not %s", certsNode.kind)
		return
	}
	for _, fl := range certsNode.fields {
		kp := fmt.Sprintf("%s[%q]", cp, fl.key)
		f := w.object(fl.val, kp, "hooks", "formats", "formatsDir", "owner", "group", "mode", "retain")
		if f == nil {
			continue
		}
		patch := w.certOptions(f, kp)
		matched := 0
		for i := range s.Certificates {
			c := &s.Certificates[i]
			if c.matches(fl.key) {
				c.Options = patch.apply(c.Options)
				matched++
			}
		}
		if matched == 0 {
			w.errAt(nil, fl.off, kp, nil, "matches no observed certificate: use its url as written, or its link name (%s)", linkNames(s.Certificates))
		}
	}
}

// matches reports whether key names c: its url as written, its URL without
// a trailing slash, or its link name.
func (c *ObservedCertificate) matches(key string) bool {
	k := strings.TrimSpace(key)
	return k == strings.TrimSpace(c.URL) || strings.TrimSuffix(k, "/") == c.Secret.String() || k == c.EffectiveLinkName()
}

// EffectiveLinkName is LinkName, or <vault>.<name> (C.6).
func (c *ObservedCertificate) EffectiveLinkName() string {
	if c.LinkName != "" {
		return c.LinkName
	}
	return c.Secret.VaultName + "." + c.Secret.Name
}

func linkNames(cs []ObservedCertificate) string {
	var names []string
	for i := range cs {
		names = append(names, cs[i].EffectiveLinkName())
	}
	if len(names) == 0 {
		return "none observed"
	}
	return strings.Join(names, ", ")
}

// certOptions reads the option keys of a tegata object or of one
// tegata.certificates entry.
func (w *walker) certOptions(f map[string]*node, path string) optionsPatch {
	var p optionsPatch
	if n := f["hooks"]; n != nil {
		p.hooks, p.o.Hooks = true, w.hooks(n, join(path, "hooks"))
	}
	if n := f["formats"]; n != nil {
		p.formats = true
		p.o.Formats = []string{}
		for i, v := range w.strings(n, join(path, "formats")) {
			if !contains(knownFormats, v) {
				w.fail(n.elems[i], index(join(path, "formats"), i), "%q is not a format: use %s", v, strings.Join(knownFormats, ", "))
				continue
			}
			if !contains(p.o.Formats, v) {
				p.o.Formats = append(p.o.Formats, v)
			}
		}
	}
	if n := f["formatsDir"]; n != nil {
		p.dir, p.o.FormatsDir = true, w.str(n, join(path, "formatsDir"))
	}
	if n := f["owner"]; n != nil {
		p.owner, p.o.Owner = true, w.str(n, join(path, "owner"))
	}
	if n := f["group"]; n != nil {
		p.group, p.o.Group = true, w.str(n, join(path, "group"))
	}
	if n := f["mode"]; n != nil {
		s := w.str(n, join(path, "mode"))
		m, err := strconv.ParseUint(s, 8, 32)
		switch {
		case err != nil || m > 0o777:
			w.fail(n, join(path, "mode"), "%s is not a file mode: give octal digits as a string, e.g. \"0640\"", describe(n))
		case m&0o400 == 0:
			w.fail(n, join(path, "mode"), "%s does not let the owner read the files: give e.g. \"0600\" or \"0640\"", describe(n))
		default:
			p.mode, p.o.Mode = true, fs.FileMode(m)
			if m&0o007 != 0 {
				w.warn(n, join(path, "mode"), "%s lets every user of the machine read the private key", describe(n))
			}
		}
	}
	if n := f["retain"]; n != nil {
		if v, ok := w.integer(n, join(path, "retain")); ok {
			if v < 0 || v > 100 {
				w.fail(n, join(path, "retain"), "%d is out of range: keep 0 to 100 previous versions (default 2)", v)
			} else {
				p.r, p.o.Retain = true, int(v)
			}
		}
	}
	return p
}

// hooks reads an array of hooks.
func (w *walker) hooks(n *node, path string) []Hook {
	if n.kind != kindArray {
		w.fail(n, path, "must be an array of hooks such as {\"exec\": [\"systemctl\", \"reload\", \"nginx\"], \"timeoutS\": 30}, not %s", n.kind)
		return []Hook{}
	}
	out := []Hook{}
	for i, e := range n.elems {
		p := index(path, i)
		f := w.object(e, p, "exec", "timeoutS", "signal", "pidFile")
		if f == nil {
			continue
		}
		h := Hook{Exec: w.strings(f["exec"], join(p, "exec")), Signal: w.str(f["signal"], join(p, "signal")),
			PIDFile: w.str(f["pidFile"], join(p, "pidFile")), Timeout: DefaultHookTimeout}
		if v, ok := w.integer(f["timeoutS"], join(p, "timeoutS")); ok {
			if v < 1 || v > 3600 {
				w.fail(f["timeoutS"], join(p, "timeoutS"), "%d is out of range: give 1 to 3600 seconds (default 30)", v)
			} else {
				h.Timeout = time.Duration(v) * time.Second
			}
		}
		switch {
		case len(h.Exec) > 0 && h.Signal != "":
			w.fail(e, p, "give exec or signal, not both")
		case len(h.Exec) > 0:
			if h.Exec[0] == "" {
				w.fail(f["exec"], join(p, "exec"), "the program (exec[0]) is empty")
			}
			if h.PIDFile != "" {
				w.warn(f["pidFile"], join(p, "pidFile"), "used only with signal; ignored")
			}
		case h.Signal != "":
			if _, ok := signalName(h.Signal); !ok {
				w.fail(f["signal"], join(p, "signal"), "%q is not a signal: use HUP, USR1, USR2, TERM, INT or QUIT", h.Signal)
			}
			if h.PIDFile == "" {
				w.fail(e, join(p, "pidFile"), "required with signal: the file holding the process id, e.g. /run/nginx.pid")
			}
		default:
			w.fail(e, p, "give exec (an argv array, e.g. [\"systemctl\", \"reload\", \"nginx\"]) or signal with pidFile")
		}
		out = append(out, h)
	}
	return out
}

// signalName reads a signal name a hook may send (HUP, INT, QUIT, USR1,
// USR2, TERM), with or without SIG, in any case, and returns it as HUP.
func signalName(name string) (string, bool) {
	n := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(name)), "SIG")
	switch n {
	case "HUP", "INT", "QUIT", "USR1", "USR2", "TERM":
		return n, true
	}
	return "", false
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
