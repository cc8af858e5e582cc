package agent

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// Schema is one of the four forms of the Key Vault VM extension's settings
// (C.1).
type Schema int

// The schema forms. SchemaAuto asks ParseSettings to detect the form.
const (
	SchemaAuto Schema = iota
	// SchemaV1: Windows 1.0 and Linux 1.0; observedCertificates are URLs;
	// on Linux only the leaf and the key are written.
	SchemaV1
	// SchemaV2: Linux 2.0; like v1, and the chain is written too.
	SchemaV2
	// SchemaV3: Windows and Linux 3.0; observedCertificates are objects.
	SchemaV3
	// SchemaV4: Windows 4.0; objects; the interval is clamped to
	// 300–3600 s, versions cannot be pinned, the initial sync always gates.
	SchemaV4
)

func (s Schema) String() string {
	if s <= SchemaAuto || s > SchemaV4 {
		return "auto"
	}
	return fmt.Sprintf("v%d", int(s))
}

// MarshalText writes s as "v1" to "v4".
func (s Schema) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ParseSchema reads "v1" to "v4" (or "1" to "4", "1.0" to "4.0"); "" and
// "auto" give SchemaAuto.
func ParseSchema(s string) (Schema, error) {
	t := strings.TrimSuffix(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "v"), ".0")
	switch t {
	case "", "auto":
		return SchemaAuto, nil
	case "1", "2", "3", "4":
		return Schema(t[0] - '0'), nil
	}
	return SchemaAuto, fmt.Errorf("schema %q: use v1, v2, v3 or v4 (or auto)", s)
}

// Defaults of the extension (C.2) and of tegata.
const (
	// DefaultPollingInterval is pollingIntervalInS when absent.
	DefaultPollingInterval = 3600 * time.Second
	// MinPollingInterval is the smallest interval the agent polls at.
	MinPollingInterval = 60 * time.Second
	// DefaultLinuxStore is certificateStoreLocation on Linux when absent.
	DefaultLinuxStore = "/var/lib/waagent/Microsoft.Azure.KeyVault.Store"
	// DefaultMSIEndpoint is the metadata service when msiEndpoint is absent.
	DefaultMSIEndpoint = "http://169.254.169.254/metadata/identity"
	// DefaultAPIVersion is the vault api-version the agent sends (Q21).
	DefaultAPIVersion = "7.4"
	// DefaultRetain is how many previous versions stay on disk (Q18).
	DefaultRetain = 2
	// DefaultStatusFile is the status file on Linux (C.5).
	DefaultStatusFile = "/var/lib/tegata/agent/status.json"
	// DefaultHookTimeout bounds a hook without timeoutS.
	DefaultHookTimeout = 30 * time.Second
)

// Settings is a parsed settings file: the extension's fields with their
// defaults applied, and tegata's options. NewPlan turns it into Targets for
// one platform.
type Settings struct {
	// File names the settings in messages.
	File string
	// Schema is the form the settings were read as, and SchemaSource why.
	Schema       Schema
	SchemaSource string
	// ExtensionType is KeyVaultForLinux or KeyVaultForWindows when an ARM
	// resource named it, else "".
	ExtensionType string

	// PollingInterval is pollingIntervalInS, after the minimum and the v4
	// clamp.
	PollingInterval    time.Duration
	LinkOnRenewal      bool
	linkOnRenewalSet   bool
	RequireInitialSync bool
	ACLEnabled         bool

	Certificates []ObservedCertificate

	// MSIEndpoint is authenticationSettings.msiEndpoint as given ("" when
	// absent); TokenURL the token endpoint derived from it.
	MSIEndpoint string
	TokenURL    string
	MSIClientID string

	// Logging is loggingSettings, accepted and mostly ignored: tegata logs
	// to stderr (journald); servicename becomes a log attribute.
	Logging *LoggingSettings

	Tegata TegataSettings

	// Warnings lists what was accepted but ignored or changed.
	Warnings []Warning

	data     []byte
	paths    map[string]*node
	smsPath  string // JSON path of secretsManagementSettings
	authPath string // JSON path of authenticationSettings
}

// position returns the line and column of the value at a JSON path, or 0, 0.
func (s *Settings) position(path string) (int, int) {
	if n := s.paths[path]; n != nil {
		return lineCol(s.data, n.off)
	}
	return 0, 0
}

// An ObservedCertificate is one entry of observedCertificates, with the
// global store settings of the v1/v2 forms applied and tegata's options for
// it merged in.
type ObservedCertificate struct {
	// Path is the entry's JSON path, for messages.
	Path string
	// URL is the url as written; Secret its parts.
	URL    string
	Secret SecretURL

	StoreName     string
	StoreLocation string
	// storeNamePath and storeLocationPath are the JSON paths the store
	// settings came from (the entry's, or the global ones).
	storeNamePath, storeLocationPath string
	Accounts                         []string
	KeyExportable                    bool
	ACLs                             []ACL
	// LinkName is customSymbolicLinkName, or "" for <vault>.<name>.
	LinkName string

	// Options are tegata's options for this certificate: tegata's defaults
	// overridden by tegata.certificates[url or link name].
	Options CertOptions

	node *node
}

// An ACL entry grants read access to a user or a group (Linux v3, C.6).
type ACL struct {
	User  string `json:"user,omitempty"`
	Group string `json:"group,omitempty"`
}

// LoggingSettings are the extension's loggingSettings (Linux v3).
type LoggingSettings struct {
	Logger      string `json:"logger,omitempty"`
	Endpoint    string `json:"endpoint,omitempty"`
	Format      string `json:"format,omitempty"`
	ServiceName string `json:"servicename,omitempty"`
}

// ParseOptions tune ParseSettings.
type ParseOptions struct {
	// File names the settings in messages.
	File string
	// Schema overrides the detected form (--schema).
	Schema Schema
}

// ParseSettings reads a settings file: the extension's settings object, or a
// whole ARM extension resource (its properties.settings and
// properties.typeHandlerVersion are used), or the output of `az vm extension
// show` (settings and typeHandlerVersion at the top).
//
// The JSON is read strictly: duplicate keys, trailing data, more than
// MaxSettingsSize bytes or 32 levels are errors. Keys match exactly, or
// case-insensitively with a warning; unknown keys give a warning. Booleans
// may be "true"/"false" strings; pollingIntervalInS may be a string or a
// number.
//
// The error, if any, is a SettingsErrors listing every problem found (up to
// 20), each with its position and JSON path. Platform-specific checks (a
// Windows store location on Linux) are NewPlan's.
func ParseSettings(data []byte, opts ParseOptions) (*Settings, error) {
	w := &walker{file: opts.File, data: data, paths: map[string]*node{}}
	if err := precheck(data, w); err != nil {
		return nil, err
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	w.data = data
	root, err := parseTree(data)
	if err != nil {
		ea := err.(*errAt)
		var sentinel error
		reason := ea.reason
		if escapedQuotes(data) {
			sentinel = ErrEscapedQuotes
			reason += "; " + ErrEscapedQuotes.Error()
		}
		w.errAt(nil, ea.off, "", sentinel, "%s", reason)
		return nil, w.errs
	}
	s := &Settings{File: opts.File, data: data, paths: w.paths}
	w.settings(root, s, opts)
	s.Warnings = w.warnings
	if len(w.errs) > 0 {
		return nil, w.errs
	}
	return s, nil
}

// precheck refuses what is not UTF-8 JSON text before parsing.
func precheck(data []byte, w *walker) error {
	fail := func(reason string) error {
		w.errAt(nil, -1, "", nil, "%s", reason)
		return w.errs
	}
	switch {
	case len(data) > MaxSettingsSize:
		return fail(fmt.Sprintf("the file is %d bytes; settings files are at most %d", len(data), MaxSettingsSize))
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}), bytes.HasPrefix(data, []byte{0xfe, 0xff}):
		return fail("the file is UTF-16 (PowerShell's Out-File writes that by default): save it as UTF-8, e.g. Set-Content -Encoding utf8")
	case len(bytes.TrimSpace(data)) == 0:
		return fail("the file is empty: give the extension's settings object, {\"secretsManagementSettings\": {...}}")
	}
	return nil
}

// settings reads the document root into s.
func (w *walker) settings(root *node, s *Settings, opts ParseOptions) {
	if root.kind != kindObject {
		var sentinel error
		reason := fmt.Sprintf("the settings must be a JSON object, not %s", root.kind)
		if root.kind == kindString && escapedQuotes(w.data) || stringHint(root) != "" {
			sentinel = ErrEscapedQuotes
			reason += "; " + ErrEscapedQuotes.Error()
		}
		w.errAt(root, -1, "", sentinel, "%s", reason)
		return
	}
	settingsNode, path := root, ""
	var handlerVersion *node
	var tegataOuter *node
	switch {
	case root.lookup("properties") != nil && root.lookup("secretsManagementSettings") == nil:
		// A whole ARM extension resource.
		props := root.lookup("properties").val
		if props.kind != kindObject {
			w.fail(props, "properties", "must be an object (the ARM extension resource's properties), not %s", props.kind)
			return
		}
		w.armEnvelope(props, "properties", s)
		handlerVersion = fieldVal(props, "typeHandlerVersion")
		settingsNode, path = fieldVal(props, "settings"), "properties.settings"
		if tegataOuter = fieldVal(root, "tegata"); tegataOuter == nil {
			tegataOuter = fieldVal(props, "tegata")
		}
	case root.lookup("settings") != nil && root.lookup("secretsManagementSettings") == nil:
		// `az vm extension show` output: the resource flattened.
		w.armEnvelope(root, "", s)
		handlerVersion = fieldVal(root, "typeHandlerVersion")
		settingsNode, path = fieldVal(root, "settings"), "settings"
		tegataOuter = fieldVal(root, "tegata")
	}
	if settingsNode == nil {
		w.fail(root, path, "missing: give the extension's settings object with secretsManagementSettings")
		return
	}
	top := w.object(settingsNode, path, "secretsManagementSettings", "authenticationSettings", "loggingSettings", "tegata")
	if top == nil {
		return
	}
	s.smsPath, s.authPath = join(path, "secretsManagementSettings"), join(path, "authenticationSettings")
	w.schema(s, opts, handlerVersion, top["secretsManagementSettings"], join(path, "secretsManagementSettings"))
	w.secretsManagement(top["secretsManagementSettings"], join(path, "secretsManagementSettings"), s)
	w.authentication(top["authenticationSettings"], join(path, "authenticationSettings"), s)
	if n := top["loggingSettings"]; n != nil && n.kind != kindNull {
		lp := join(path, "loggingSettings")
		f := w.object(n, lp, "logger", "endpoint", "format", "servicename")
		s.Logging = &LoggingSettings{
			Logger: w.str(f["logger"], join(lp, "logger")), Endpoint: w.str(f["endpoint"], join(lp, "endpoint")),
			Format: w.str(f["format"], join(lp, "format")), ServiceName: w.str(f["servicename"], join(lp, "servicename")),
		}
		w.warn(n, lp, "accepted; tegata logs to stderr (journald under systemd) and does not forward to %q: servicename only becomes a log attribute", s.Logging.Endpoint)
	}
	tegataNode, tegataPath := top["tegata"], join(path, "tegata")
	if tegataOuter != nil {
		if tegataNode != nil {
			w.fail(tegataOuter, "tegata", "given both here and in %s: keep one", tegataPath)
		}
		tegataNode, tegataPath = tegataOuter, "tegata"
	}
	w.tegata(tegataNode, tegataPath, s)
}

func fieldVal(n *node, key string) *node {
	if n == nil || n.kind != kindObject {
		return nil
	}
	for _, f := range n.fields {
		if strings.EqualFold(f.key, key) {
			return f.val
		}
	}
	return nil
}

// armEnvelope reads the resource fields around the settings: publisher,
// type, protectedSettings. Other resource keys are not warned about.
func (w *walker) armEnvelope(n *node, path string, s *Settings) {
	if p := fieldVal(n, "publisher"); p != nil && p.kind == kindString && !strings.EqualFold(p.str, "Microsoft.Azure.KeyVault") {
		w.warn(p, join(path, "publisher"), "%s is not Microsoft.Azure.KeyVault; the settings are read as the Key Vault extension's anyway", describe(p))
	}
	for _, key := range []string{"type", "typePropertiesType"} {
		if t := fieldVal(n, key); t != nil && t.kind == kindString {
			switch {
			case strings.EqualFold(t.str, "KeyVaultForLinux"):
				s.ExtensionType = "KeyVaultForLinux"
			case strings.EqualFold(t.str, "KeyVaultForWindows"):
				s.ExtensionType = "KeyVaultForWindows"
			}
		}
	}
	if p := fieldVal(n, "protectedSettings"); p != nil && p.kind == kindObject && len(p.fields) > 0 {
		w.warn(p, join(path, "protectedSettings"), "ignored: the Key Vault extension has no protected settings; every setting is public")
	}
}

// schema decides the form: --schema, then typeHandlerVersion, then the
// element type of observedCertificates.
func (w *walker) schema(s *Settings, opts ParseOptions, handlerVersion, sms *node, smsPath string) {
	var certs *node
	if sms != nil {
		certs = fieldVal(sms, "observedCertificates")
	}
	objects, stringsForm := false, false
	if certs != nil && certs.kind == kindArray {
		for _, e := range certs.elems {
			objects = objects || e.kind == kindObject
			stringsForm = stringsForm || e.kind == kindString
		}
	}
	switch {
	case opts.Schema != SchemaAuto:
		s.Schema, s.SchemaSource = opts.Schema, "given (--schema)"
	case handlerVersion != nil:
		v := w.str(handlerVersion, "typeHandlerVersion")
		major, _, _ := strings.Cut(strings.TrimSpace(v), ".")
		sc, err := ParseSchema(major)
		if err != nil || sc == SchemaAuto {
			w.fail(handlerVersion, "typeHandlerVersion", "%q is not a Key Vault extension version: use 1.0, 2.0 or 3.0 (Linux), 1.0, 3.0 or 4.0 (Windows)", v)
			return
		}
		s.Schema, s.SchemaSource = sc, "typeHandlerVersion "+v
		if s.ExtensionType == "KeyVaultForLinux" && sc == SchemaV4 || s.ExtensionType == "KeyVaultForWindows" && sc == SchemaV2 {
			w.warn(handlerVersion, "typeHandlerVersion", "%s has no version %s; read as the %s form", s.ExtensionType, v, sc)
		}
	case objects:
		s.Schema, s.SchemaSource = SchemaV3, "observedCertificates are objects (v3/v4 form; read as v3)"
	default:
		s.Schema, s.SchemaSource = SchemaV2, "observedCertificates are URLs (v1/v2 form; read as v2, which writes the chain: give --schema v1 for v1's leaf and key only)"
	}
	if objects && stringsForm {
		w.fail(certs, join(smsPath, "observedCertificates"), "mixes URLs and objects: use one form (objects need typeHandlerVersion 3.0 or later)")
	} else if objects && (s.Schema == SchemaV1 || s.Schema == SchemaV2) {
		w.fail(certs, join(smsPath, "observedCertificates"), "holds objects, which the %s form does not have: use URLs, or typeHandlerVersion 3.0 or later (--schema v3)", s.Schema)
	}
}
