package mapaudit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tegata-project/tegata/mapping"
)

// DCDeclaration is one domain controller as the operator declares it
// (reference 4.5): the facts AD does not hold, chiefly the patch level and
// the KDC registry values.
type DCDeclaration struct {
	// Name is the DC's DNS name as declared.
	Name string
	// State is the declared state; AsOf is left zero and set by the audit.
	State mapping.DCState
	// OSSet reports that os was declared, so it wins over the directory.
	OSSet bool
	// Origin is the file and line of the declaration.
	Origin string
}

var (
	dcFileFields = []string{"domainControllers"}
	dcFields     = []string{"name", "os", "lastUpdate", "esu", "kdc", "strongNameMatches", "sanUrlSupport"}
	kdcFields    = []string{"StrongCertificateBindingEnforcement", "CertificateBackdatingCompensation", "AllowNtAuthPolicyBypass"}
)

// ParseDCDeclarations reads the YAML of reference 4.5:
//
//	domainControllers:
//	  - name: dc1.contoso.com
//	    os: windows-server-2019        # 2008, 2008r2, 2012, 2012r2, 2016, 2019, 2022, 2025
//	    lastUpdate: 2025-06-10         # newest cumulative update installed
//	    esu: false
//	    kdc:                           # omit a value that is not set on the DC
//	      StrongCertificateBindingEnforcement: 1
//	      CertificateBackdatingCompensation: 600
//	      AllowNtAuthPolicyBypass: 1
//	    strongNameMatches: |
//	      <thumbprint>; <oid>, ...; UpnSuffix=contoso.com
//	    sanUrlSupport: auto            # auto | yes | no
//
// Unknown fields, bad values and duplicate names are errors naming
// origin:line; they are all returned, joined. A strong-name rule list that
// fails validation is not an error but a Problem: the KDC ignores such a
// list, and so does the audit.
func ParseDCDeclarations(data []byte, origin string) ([]DCDeclaration, []Problem, error) {
	data = toUTF8(data)
	if len(data) > MaxFileSize {
		return nil, nil, fmt.Errorf("%w: %s is over the %d-byte limit", ErrTooLarge, origin, MaxFileSize)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrDCDeclaration, origin, err)
	}
	p := &dcParser{origin: origin}
	var out []DCDeclaration
	if len(root.Content) == 0 {
		return nil, nil, fmt.Errorf("%w: %s is empty: declare domainControllers: (see docs/mapping.md)", ErrDCDeclaration, origin)
	}
	doc := root.Content[0]
	if !p.mapping(doc, "the file", dcFileFields) {
		return nil, nil, errors.Join(p.errs...)
	}
	list := p.field(doc, "domainControllers")
	if list == nil || list.Kind != yaml.SequenceNode {
		p.errorf(doc, "domainControllers: must be a list of domain controllers")
		return nil, nil, errors.Join(p.errs...)
	}
	seen := map[string]int{}
	for _, n := range list.Content {
		d, ok := p.declaration(n)
		if !ok {
			continue
		}
		key := strings.ToLower(d.Name)
		if line, dup := seen[key]; dup {
			p.errorf(n, "domain controller %q is declared twice (first on line %d)", d.Name, line)
			continue
		}
		seen[key] = n.Line
		out = append(out, d)
	}
	return out, p.problems, errors.Join(p.errs...)
}

type dcParser struct {
	origin   string
	errs     []error
	problems []Problem
}

func (p *dcParser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%w: %s:%d: %s", ErrDCDeclaration, p.origin, n.Line, fmt.Sprintf(format, args...)))
}

// mapping checks that n is a mapping whose keys are all in known.
func (p *dcParser) mapping(n *yaml.Node, what string, known []string) bool {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping of %s", what, strings.Join(known, ", "))
		return false
	}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		found := false
		for _, f := range known {
			if k.Value == f {
				found = true
			}
		}
		if !found {
			p.errorf(k, "unknown field %q in %s (known: %s)", k.Value, what, strings.Join(known, ", "))
			ok = false
		}
	}
	return ok
}

func (p *dcParser) field(n *yaml.Node, name string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == name {
			return n.Content[i+1]
		}
	}
	return nil
}

func (p *dcParser) declaration(n *yaml.Node) (DCDeclaration, bool) {
	d := DCDeclaration{Origin: fmt.Sprintf("%s:%d", p.origin, n.Line)}
	if !p.mapping(n, "a domain controller", dcFields) {
		return d, false
	}
	nerr := len(p.errs)
	name := p.field(n, "name")
	if name == nil || strings.TrimSpace(name.Value) == "" {
		p.errorf(n, "a domain controller needs name: (its DNS name, as in dNSHostName)")
		return d, false
	}
	d.Name = strings.TrimSpace(name.Value)
	if v := p.field(n, "os"); v != nil {
		os, ok := ParseOS(v.Value)
		if !ok {
			p.errorf(v, "os %q: use one of 2008, 2008r2, 2012, 2012r2, 2016, 2019, 2022, 2025 (optionally windows-server-2019)", v.Value)
		}
		d.State.OS, d.OSSet = os, ok
	}
	if v := p.field(n, "lastUpdate"); v != nil {
		t, err := time.Parse(time.DateOnly, strings.TrimSpace(v.Value))
		if err != nil {
			p.errorf(v, "lastUpdate %q: give the release date of the newest cumulative update installed, as YYYY-MM-DD", v.Value)
		}
		d.State.LastUpdate = t
	}
	if v := p.field(n, "esu"); v != nil {
		b, ok := parseYAMLBool(v.Value)
		if !ok {
			p.errorf(v, "esu %q: use true or false", v.Value)
		}
		d.State.ESU = b
	}
	if v := p.field(n, "sanUrlSupport"); v != nil {
		switch strings.ToLower(strings.TrimSpace(v.Value)) {
		case "auto", "":
		case "yes", "true":
			d.State.SANURLSupport = mapping.Yes
		case "no", "false":
			d.State.SANURLSupport = mapping.No
		default:
			p.errorf(v, "sanUrlSupport %q: use auto, yes or no", v.Value)
		}
	}
	if k := p.field(n, "kdc"); k != nil && p.mapping(k, "kdc", kdcFields) {
		for _, f := range []struct {
			name string
			dst  *mapping.RegDWORD
		}{
			{"StrongCertificateBindingEnforcement", &d.State.StrongCertificateBindingEnforcement},
			{"CertificateBackdatingCompensation", &d.State.CertificateBackdatingCompensation},
			{"AllowNtAuthPolicyBypass", &d.State.AllowNtAuthPolicyBypass},
		} {
			v := p.field(k, f.name)
			if v == nil {
				continue
			}
			u, err := strconv.ParseUint(strings.TrimSpace(v.Value), 0, 32)
			if err != nil {
				p.errorf(v, "kdc.%s %q: give the REG_DWORD value as a number (omit it when it is not set)", f.name, v.Value)
				continue
			}
			*f.dst = mapping.DWORD(uint32(u))
		}
	}
	if v := p.field(n, "strongNameMatches"); v != nil && strings.TrimSpace(v.Value) != "" {
		rules, err := mapping.ParseStrongNameRules(v.Value)
		if err != nil {
			p.problems = append(p.problems, Problem{Origin: fmt.Sprintf("%s:%d", p.origin, v.Line),
				Err: fmt.Errorf("%s: strongNameMatches: %w: the KDC ignores the whole list, and so does the audit", d.Name, err)})
		}
		d.State.StrongNameRules = rules
	}
	return d, len(p.errs) == nerr
}

// ParseOS reads an OS name as declared: "2019", "2008r2",
// "windows-server-2022", "Windows Server 2012 R2 Datacenter". Only the
// Windows Server releases are known.
func ParseOS(s string) (mapping.OS, bool) {
	k := strings.ToLower(s)
	for _, sep := range []string{"-", "_", " ", "®"} {
		k = strings.ReplaceAll(k, sep, "")
	}
	k = strings.TrimPrefix(k, "windows")
	k = strings.TrimPrefix(k, "server")
	if len(k) < 4 {
		return mapping.OSUnknown, false
	}
	release, rest := k[:4], k[4:]
	r2 := strings.HasPrefix(rest, "r2")
	if r2 {
		rest = rest[2:]
	}
	if rest != "" && (rest[0] >= '0' && rest[0] <= '9') {
		return mapping.OSUnknown, false
	}
	switch {
	case release == "2008" && r2:
		return mapping.OS2008R2, true
	case release == "2012" && r2:
		return mapping.OS2012R2, true
	case r2:
		return mapping.OSUnknown, false
	}
	switch release {
	case "2008":
		return mapping.OS2008, true
	case "2012":
		return mapping.OS2012, true
	case "2016":
		return mapping.OS2016, true
	case "2019":
		return mapping.OS2019, true
	case "2022":
		return mapping.OS2022, true
	case "2025":
		return mapping.OS2025, true
	}
	return mapping.OSUnknown, false
}

// osBuilds maps operatingSystemVersion builds to releases.
var osBuilds = map[string]mapping.OS{
	"6001": mapping.OS2008, "6002": mapping.OS2008, "6003": mapping.OS2008,
	"7600": mapping.OS2008R2, "7601": mapping.OS2008R2,
	"9200": mapping.OS2012, "9600": mapping.OS2012R2,
	"14393": mapping.OS2016, "17763": mapping.OS2019, "20348": mapping.OS2022, "26100": mapping.OS2025,
}

// OSFromDirectory derives the release from a DC's computer object: the
// build in operatingSystemVersion ("10.0 (20348)"), else the name in
// operatingSystem ("Windows Server 2022 Datacenter").
func OSFromDirectory(operatingSystem, version string) (mapping.OS, bool) {
	if i, j := strings.IndexByte(version, '('), strings.IndexByte(version, ')'); i >= 0 && j > i {
		if os, ok := osBuilds[strings.TrimSpace(version[i+1:j])]; ok {
			return os, true
		}
	}
	if i := strings.Index(strings.ToLower(operatingSystem), "server"); i >= 0 {
		return ParseOS(operatingSystem[i:])
	}
	return mapping.OSUnknown, false
}

func parseYAMLBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off", "":
		return false, true
	}
	return false, false
}
