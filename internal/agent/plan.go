package agent

import (
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"strings"
	"time"
)

// A Plan is what the agent will do on one platform: every setting resolved,
// every file's place known. NewPlan makes it; `tegata agent check` prints
// it; New runs it.
type Plan struct {
	Platform     string `json:"platform"`
	Schema       Schema `json:"schema"`
	SchemaSource string `json:"schemaSource"`
	// PollingInterval is the interval between polls, before jitter.
	PollingInterval    time.Duration `json:"-"`
	PollingIntervalS   int64         `json:"pollingIntervalS"`
	RequireInitialSync bool          `json:"requireInitialSync"`
	TokenURL           string        `json:"tokenUrl"`
	ClientID           string        `json:"msiClientId,omitempty"`
	APIVersion         string        `json:"apiVersion"`
	Resource           string        `json:"resource,omitempty"`
	CAFile             string        `json:"caFile,omitempty"`
	RequireTrustedRoot bool          `json:"requireTrustedRoot,omitempty"`
	StatusFile         string        `json:"statusFile"`
	Listen             string        `json:"listen,omitempty"`
	// ServiceName is loggingSettings.servicename, a log attribute.
	ServiceName string    `json:"serviceName,omitempty"`
	Targets     []Target  `json:"certificates"`
	Warnings    []Warning `json:"warnings,omitempty"`
}

// A Target is one observed certificate and where it goes.
type Target struct {
	URL    string    `json:"url"`
	Secret SecretURL `json:"secret"`
	// Pinned is true when the URL names a version.
	Pinned bool `json:"pinned,omitempty"`

	// Linux: the extension's layout (C.6).
	Dir      string `json:"directory,omitempty"`
	LinkName string `json:"linkName,omitempty"`
	// LinkPath is Dir/LinkName, the path consumers use.
	LinkPath string `json:"link,omitempty"`
	// VersionFiles is the pattern of the versioned files.
	VersionFiles string `json:"versionFiles,omitempty"`
	// WithChain is false in the Linux v1 form: leaf and key only.
	WithChain bool   `json:"withChain"`
	Content   string `json:"content,omitempty"`
	// Formats are the extra files, in FormatsDir/<version>/ and reached
	// through FormatsDir/current.
	Formats    []string    `json:"formats,omitempty"`
	FormatsDir string      `json:"formatsDir,omitempty"`
	Owner      string      `json:"owner,omitempty"`
	Group      string      `json:"group,omitempty"`
	Mode       fs.FileMode `json:"-"`
	ModeText   string      `json:"mode,omitempty"`
	ACLs       []ACL       `json:"acls,omitempty"`
	Retain     int         `json:"retain"`
	Hooks      []Hook      `json:"hooks,omitempty"`

	// Windows (C.7).
	Store         string   `json:"store,omitempty"`
	Accounts      []string `json:"accounts,omitempty"`
	KeyExportable bool     `json:"keyExportable,omitempty"`
	LinkOnRenewal bool     `json:"linkOnRenewal,omitempty"`

	uid, gid int
}

// Label names t in logs, metrics and the status: its link path on Linux,
// its store on Windows, with the secret.
func (t *Target) Label() string {
	if t.LinkPath != "" {
		return t.LinkPath
	}
	return t.Store + " " + t.Secret.String()
}

// NewPlan resolves s for an operating system ("linux", "windows"; ""
// means this one). On Linux, certificateStoreLocation must be an absolute
// directory: LocalMachine and CurrentUser give a *SettingsError wrapping
// ErrWrongPlatform. On Windows it must be LocalMachine or CurrentUser,
// case-sensitively (Q20). Settings of the other platform that do no harm
// (accounts on Linux, acls on Windows, linkOnRenewal on Linux) give
// warnings. Owners, groups and hook programs are looked up only when goos
// is this system's. The error, if any, is a SettingsErrors.
func NewPlan(s *Settings, goos string) (*Plan, error) {
	if goos == "" {
		goos = runtime.GOOS
	}
	w := &walker{file: s.File, data: s.data, paths: nil}
	p := &Plan{
		Platform: goos, Schema: s.Schema, SchemaSource: s.SchemaSource, PollingInterval: s.PollingInterval,
		PollingIntervalS:   int64(s.PollingInterval / time.Second),
		RequireInitialSync: s.RequireInitialSync, TokenURL: s.TokenURL, ClientID: s.MSIClientID,
		APIVersion: s.Tegata.APIVersion, Resource: s.Tegata.Resource, CAFile: s.Tegata.CAFile,
		RequireTrustedRoot: s.Tegata.RequireTrustedRoot, StatusFile: s.Tegata.StatusFile, Listen: s.Tegata.Listen,
	}
	if s.Logging != nil {
		p.ServiceName = s.Logging.ServiceName
	}
	if goos == "windows" && s.Tegata.StatusFile == DefaultStatusFile {
		p.StatusFile = `C:\ProgramData\tegata\agent\status.json`
	}
	want := map[string]string{"linux": "KeyVaultForLinux", "windows": "KeyVaultForWindows"}[goos]
	if s.ExtensionType != "" && want != "" && s.ExtensionType != want {
		w.warn(nil, "type", "the resource is %s, read here for %s", s.ExtensionType, goos)
	}
	if goos == "windows" {
		p.planWindows(s, w)
	} else {
		p.planLinux(s, w)
	}
	p.Warnings = append(append([]Warning(nil), s.Warnings...), w.warnings...)
	if len(w.errs) > 0 {
		return nil, w.errs
	}
	return p, nil
}

// at returns the node at a JSON path of s, for positions.
func at(s *Settings, path string) *node {
	if s.paths == nil {
		return nil
	}
	return s.paths[path]
}

func (p *Plan) planLinux(s *Settings, w *walker) {
	if s.linkOnRenewalSet {
		w.warn(at(s, join(s.smsPath, "linkOnRenewal")), join(s.smsPath, "linkOnRenewal"),
			"Windows only; ignored on Linux: give tegata.hooks to reload the programs that use the certificates")
	}
	if s.Schema == SchemaV4 {
		w.warn(nil, "", "the v4 form is Windows-only; read as v3 for Linux")
	}
	seenLinks, seenFiles, seenFormats := map[string]string{}, map[string]string{}, map[string]string{}
	warnedName := map[string]bool{}
	local := goosIsThis("linux")
	for i := range s.Certificates {
		c := &s.Certificates[i]
		t := Target{URL: c.URL, Secret: c.Secret, Pinned: c.Secret.Version != "", WithChain: s.Schema != SchemaV1,
			Formats: c.Options.Formats, Owner: c.Options.Owner, Group: c.Options.Group, Mode: c.Options.Mode,
			Retain: c.Options.Retain, Hooks: c.Options.Hooks, uid: -1, gid: -1}
		loc := c.StoreLocation
		locNode := at(s, c.storeLocationPath)
		switch {
		case loc == "":
			loc = DefaultLinuxStore
		case strings.EqualFold(loc, "LocalMachine") || strings.EqualFold(loc, "CurrentUser"):
			w.errAt(locNode, -1, c.storeLocationPath, ErrWrongPlatform,
				"%q is a Windows certificate store location; on Linux give an absolute directory, or leave it out for %s", loc, DefaultLinuxStore)
			continue
		case !strings.HasPrefix(loc, "/"):
			w.fail(locNode, c.storeLocationPath, "%q must be an absolute directory, e.g. %s", loc, DefaultLinuxStore)
			continue
		}
		if c.StoreName != "" && !warnedName[c.storeNamePath] {
			warnedName[c.storeNamePath] = true
			w.warn(at(s, c.storeNamePath), c.storeNamePath, "Windows only (the store name); ignored on Linux")
		}
		if len(c.Accounts) > 0 {
			w.warn(at(s, join(c.Path, "accounts")), join(c.Path, "accounts"),
				"Windows only; on Linux grant read access with acls and aclEnabled, or tegata owner, group and mode")
		}
		if c.KeyExportable {
			w.warn(at(s, join(c.Path, "keyExportable")), join(c.Path, "keyExportable"), "Windows only; ignored on Linux")
		}
		t.Dir = path.Clean(loc)
		t.LinkName = c.EffectiveLinkName()
		t.LinkPath = path.Join(t.Dir, t.LinkName)
		t.VersionFiles = path.Join(t.Dir, c.Secret.VaultName+"."+c.Secret.Name+".<version>")
		t.Content = "leaf, intermediates, root if present, then the private key (PEM)"
		if !t.WithChain {
			t.Content = "leaf, then the private key (PEM; v1 form)"
		}
		if s.ACLEnabled {
			t.ACLs = c.ACLs
		}
		t.ModeText = fmt.Sprintf("%04o", t.Mode)
		if len(t.Formats) > 0 {
			t.FormatsDir = c.Options.FormatsDir
			switch {
			case t.FormatsDir == "":
				t.FormatsDir = t.LinkPath + ".d"
			case !strings.HasPrefix(t.FormatsDir, "/"):
				w.fail(nil, c.Path, "tegata formatsDir %q must be an absolute directory", t.FormatsDir)
			default:
				t.FormatsDir = path.Clean(t.FormatsDir)
			}
			if prev, dup := seenFormats[t.FormatsDir]; dup {
				w.fail(c.node, c.Path, "writes its formats into %s, as %s does: give each certificate its own formatsDir", t.FormatsDir, prev)
			}
			seenFormats[t.FormatsDir] = c.Path
		} else if c.Options.FormatsDir != "" {
			w.warn(c.node, c.Path, "tegata formatsDir is ignored without formats")
		}
		if prev, dup := seenLinks[t.LinkPath]; dup {
			w.fail(c.node, c.Path, "its link %s is also %s's: give one of them a customSymbolicLinkName or another certificateStoreLocation", t.LinkPath, prev)
		}
		seenLinks[t.LinkPath] = c.Path
		if prev, dup := seenFiles[t.VersionFiles]; dup {
			w.fail(c.node, c.Path, "installs the same secret into the same directory as %s: observe it once", prev)
		}
		seenFiles[t.VersionFiles] = c.Path
		if local && len(t.ACLs) > 0 {
			if _, err := resolveACLs(t.ACLs); err != nil {
				w.warn(at(s, join(c.Path, "acls")), join(c.Path, "acls"), "%v; until it exists this certificate cannot be installed", err)
			}
		}
		if local {
			uid, gid, err := resolveOwner(t.Owner, t.Group)
			if err != nil {
				w.fail(c.node, c.Path, "tegata owner/group: %v", err)
			}
			t.uid, t.gid = uid, gid
		}
		p.Targets = append(p.Targets, t)
	}
}

func (p *Plan) planWindows(s *Settings, w *walker) {
	if s.ACLEnabled {
		w.warn(at(s, join(s.smsPath, "aclEnabled")), join(s.smsPath, "aclEnabled"), "Linux only; on Windows list accounts per certificate")
	}
	for i := range s.Certificates {
		c := &s.Certificates[i]
		t := Target{URL: c.URL, Secret: c.Secret, Pinned: c.Secret.Version != "", WithChain: true, Accounts: c.Accounts,
			KeyExportable: c.KeyExportable && s.Schema == SchemaV3, LinkOnRenewal: s.LinkOnRenewal || s.Schema == SchemaV4,
			Hooks: c.Options.Hooks, Retain: 1, uid: -1, gid: -1}
		loc, name := c.StoreLocation, c.StoreName
		locNode := at(s, c.storeLocationPath)
		switch {
		case loc == "":
			loc = "LocalMachine"
		case loc == "LocalMachine" || loc == "CurrentUser":
		case strings.EqualFold(loc, "LocalMachine") || strings.EqualFold(loc, "CurrentUser"):
			w.fail(locNode, c.storeLocationPath, "%q: the store location is case-sensitive: write LocalMachine or CurrentUser", loc)
			continue
		case strings.HasPrefix(loc, "/"):
			w.errAt(locNode, -1, c.storeLocationPath, ErrWrongPlatform, "%q is a Linux directory; on Windows give LocalMachine or CurrentUser", loc)
			continue
		default:
			w.fail(locNode, c.storeLocationPath, "%q: give LocalMachine or CurrentUser", loc)
			continue
		}
		if name == "" {
			name = "MY"
		}
		t.Store = loc + `\` + name
		if len(c.ACLs) > 0 {
			w.warn(at(s, join(c.Path, "acls")), join(c.Path, "acls"), "Linux only; on Windows list accounts")
		}
		if c.LinkName != "" {
			w.warn(at(s, join(c.Path, "customSymbolicLinkName")), join(c.Path, "customSymbolicLinkName"), "Linux only; ignored on Windows")
		}
		if len(c.Options.Formats) > 0 || c.Options.Owner != "" || c.Options.Group != "" {
			w.warn(c.node, c.Path, "tegata formats, owner and group are Linux options; ignored on Windows")
		}
		p.Targets = append(p.Targets, t)
	}
}

func goosIsThis(goos string) bool { return runtime.GOOS == goos }
