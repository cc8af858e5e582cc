package mapaudit

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/tegata-project/tegata/mapping"
)

// uacAccountDisable is ACCOUNTDISABLE in userAccountControl (MS-ADTS 2.2.16).
const uacAccountDisable = 0x2

// ReadLDIFFile reads an LDIF export file into a Directory; see
// ReadLDIFDirectory.
func ReadLDIFFile(path string) (*Directory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadLDIFDirectory(f, path)
}

// ReadLDIFDirectory reads an LDIF export (ldifde -f, ldapsearch -LLL) of
// users, computers and the NTAuth store into a Directory:
//
//   - an entry is an account when its objectClass includes user or computer
//     (and not group), or, without objectClass, when it has
//     userAccountControl or sAMAccountName; an account needs objectSid,
//     binary ("::") or in string form;
//   - an account whose userAccountControl has SERVER_TRUST_ACCOUNT (0x2000)
//     is also a domain controller, with operatingSystem and
//     operatingSystemVersion;
//   - the entry CN=NTAuthCertificates,... gives Directory.NTAuth from its
//     cACertificate values.
//
// A bad value (a wrong-length binary SID, an unparseable whenCreated) is a
// Problem naming the file, line and entry; the rest is still read. The
// error is an I/O error or an input over the bounds.
func ReadLDIFDirectory(r io.Reader, origin string) (*Directory, error) {
	d := &Directory{}
	probs, err := ReadLDIF(r, origin, func(rec *LDIFRecord) { d.addLDIFRecord(rec, origin) })
	d.Problems = append(probs, d.Problems...)
	return d, err
}

// Merge appends o's accounts, DCs, NTAuth certificates and problems to d.
// An empty d takes o's accounts without copying them: o must not be used
// afterwards.
func (d *Directory) Merge(o *Directory) {
	if d.Accounts == nil {
		d.Accounts = o.Accounts
	} else {
		d.Accounts = append(d.Accounts, o.Accounts...)
	}
	d.DomainControllers = append(d.DomainControllers, o.DomainControllers...)
	if o.NTAuth != nil {
		if d.NTAuth == nil {
			d.NTAuth = [][]byte{}
		}
		d.NTAuth = append(d.NTAuth, o.NTAuth...)
	}
	d.Problems = append(d.Problems, o.Problems...)
}

func (d *Directory) addLDIFRecord(rec *LDIFRecord, origin string) {
	if rec.ChangeType != "" && rec.ChangeType != "add" {
		return
	}
	where := func(line int) string { return origin + ":" + strconv.Itoa(line) }
	if isNTAuthDN(rec.DN) {
		if d.NTAuth == nil {
			d.NTAuth = [][]byte{}
		}
		for _, v := range rec.Values("cACertificate") {
			d.NTAuth = append(d.NTAuth, bytes.Clone(v))
		}
		return
	}
	if !isAccountRecord(rec) {
		return
	}
	a := DirectoryAccount{DN: rec.DN, Origin: where(rec.Line)}
	sidOK := false
	for i := range rec.Attrs {
		at := &rec.Attrs[i]
		v := at.Value
		bad := func(err error) {
			d.Problems = append(d.Problems, Problem{Origin: where(at.Line), Err: fmt.Errorf("entry %q: %s: %w", rec.DN, at.Name, err)})
		}
		lower := at.lower
		if lower == "" {
			lower = strings.ToLower(at.Name)
		}
		switch lower {
		case "objectsid":
			sid, err := parseSIDValue(v)
			if err != nil {
				bad(err)
				continue
			}
			a.ObjectSID, sidOK = sid, true
		case "objectguid":
			if len(v) == 16 {
				a.GUID = formatGUID(v)
			} else {
				a.GUID = string(v)
			}
		case "altsecurityidentities":
			a.AltSecurityIdentities = append(a.AltSecurityIdentities, string(v))
		case "userprincipalname":
			a.UserPrincipalName = string(v)
		case "samaccountname":
			a.SAMAccountName = string(v)
		case "dnshostname":
			a.DNSHostName = string(v)
		case "whencreated":
			t, err := mapping.ParseGeneralizedTime(string(bytes.TrimSpace(v)))
			if err != nil {
				bad(fmt.Errorf("%w (the account's creation time stays unknown)", err))
				continue
			}
			a.WhenCreated = t
		case "useraccountcontrol":
			uac, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
			if err != nil || uac < -1<<31 || uac > 1<<32-1 {
				bad(fmt.Errorf("%q is not a 32-bit integer (the account is treated as a user)", truncate(string(v), 40)))
				continue
			}
			a.Class = mapping.ClassFromUserAccountControl(uint32(uac))
			a.Disabled = uint32(uac)&uacAccountDisable != 0
		case "msds-keycredentiallink":
			a.KeyCredentialLink = true
		case "usercertificate":
			a.Certificates = append(a.Certificates, bytes.Clone(v))
		}
	}
	if !sidOK {
		d.Problems = append(d.Problems, Problem{Origin: where(rec.Line), Err: fmt.Errorf("entry %q has no usable objectSid: the account is skipped; export objectSid (ldifde -l objectSid,...)", rec.DN)})
		return
	}
	d.Accounts = append(d.Accounts, a)
	if a.Class == mapping.ClassDomainController {
		dc := DomainController{Name: a.DNSHostName}
		if dc.Name == "" {
			dc.Name = strings.TrimSuffix(a.SAMAccountName, "$")
		}
		if v, ok := rec.First("operatingSystem"); ok {
			dc.OperatingSystem = string(v)
		}
		if v, ok := rec.First("operatingSystemVersion"); ok {
			dc.OperatingSystemVersion = string(v)
		}
		d.DomainControllers = append(d.DomainControllers, dc)
	}
}

// isNTAuthDN reports whether dn names the NTAuth store object.
func isNTAuthDN(dn string) bool {
	return len(dn) > len("CN=NTAuthCertificates,") && strings.EqualFold(dn[:len("CN=NTAuthCertificates,")], "CN=NTAuthCertificates,")
}

func isAccountRecord(rec *LDIFRecord) bool {
	account, classes, named := false, false, false
	for i := range rec.Attrs {
		at := &rec.Attrs[i]
		lower := at.lower
		if lower == "" {
			lower = strings.ToLower(at.Name)
		}
		switch lower {
		case "objectclass":
			classes = true
			c := bytes.TrimSpace(at.Value)
			switch {
			case bytes.EqualFold(c, []byte("group")), bytes.EqualFold(c, []byte("foreignSecurityPrincipal")):
				return false
			case bytes.EqualFold(c, []byte("user")), bytes.EqualFold(c, []byte("computer")):
				account = true
			}
		case "useraccountcontrol", "samaccountname":
			named = true
		}
	}
	if !classes {
		return named
	}
	return account
}

// parseSIDValue reads objectSid in binary form or, as some tools export it,
// in string form.
func parseSIDValue(v []byte) (mapping.SID, error) {
	if len(v) >= 2 && (v[0] == 'S' || v[0] == 's') && v[1] == '-' {
		return mapping.ParseSID(strings.TrimSpace(string(v)))
	}
	return mapping.ParseBinarySID(v)
}

// formatGUID renders a binary objectGUID in its string form: the first
// three groups are little-endian (MS-DTYP 2.3.4.2).
func formatGUID(b []byte) string {
	var buf bytes.Buffer
	hex := func(bs ...byte) {
		for _, c := range bs {
			fmt.Fprintf(&buf, "%02x", c)
		}
	}
	hex(b[3], b[2], b[1], b[0])
	buf.WriteByte('-')
	hex(b[5], b[4])
	buf.WriteByte('-')
	hex(b[7], b[6])
	buf.WriteByte('-')
	hex(b[8], b[9])
	buf.WriteByte('-')
	hex(b[10:16]...)
	return buf.String()
}
