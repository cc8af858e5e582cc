package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t testing.TB, data []byte, opts ParseOptions) *Settings {
	t.Helper()
	s, err := ParseSettings(data, opts)
	if err != nil {
		t.Fatalf("ParseSettings: %v", err)
	}
	return s
}

// TestSettingsForms reads every schema form of C.1, the article's file, an
// ARM resource and `az vm extension show` output, and plans each for the
// platforms it is meant for.
func TestSettingsForms(t *testing.T) {
	tests := []struct {
		file   string
		schema Schema // given with --schema, or SchemaAuto
		check  func(t *testing.T, s *Settings)
	}{
		{file: "article-settings.json", check: func(t *testing.T, s *Settings) {
			wantSchema(t, s, SchemaV3)
			if s.PollingInterval != time.Hour || !s.LinkOnRenewal || s.RequireInitialSync {
				t.Errorf("interval %v linkOnRenewal %v requireInitialSync %v", s.PollingInterval, s.LinkOnRenewal, s.RequireInitialSync)
			}
			c := oneCert(t, s)
			if c.Secret.Base != "https://kv-tegata-example.vault.azure.net" || c.Secret.Name != "www-example-com" || c.Secret.VaultName != "kv-tegata-example" || c.Secret.Version != "" {
				t.Errorf("secret %+v", c.Secret)
			}
			if c.StoreName != "MY" || c.StoreLocation != "LocalMachine" || strings.Join(c.Accounts, ",") != "Network Service,Local Service" {
				t.Errorf("store %q %q accounts %q", c.StoreName, c.StoreLocation, c.Accounts)
			}
			if s.TokenURL != "http://169.254.169.254/metadata/identity/oauth2/token" {
				t.Errorf("default token URL %q", s.TokenURL)
			}
			p := mustPlan(t, s, "windows")
			if tg := p.Targets[0]; tg.Store != `LocalMachine\MY` || !tg.LinkOnRenewal || len(tg.Accounts) != 2 {
				t.Errorf("windows target %+v", tg)
			}
			_, err := NewPlan(s, "linux")
			se := wantSettingsError(t, err, "secretsManagementSettings.observedCertificates[0].certificateStoreLocation", "Windows certificate store location")
			if !errors.Is(err, ErrWrongPlatform) || se.Line != 9 {
				t.Errorf("want ErrWrongPlatform at line 9, got %v (line %d)", err, se.Line)
			}
		}},
		{file: "v1.json", schema: SchemaV1, check: func(t *testing.T, s *Settings) {
			wantSchema(t, s, SchemaV1)
			if len(s.Certificates) != 2 || !s.RequireInitialSync || s.MSIClientID != "00000000-1111-2222-3333-444444444444" {
				t.Errorf("certs %d requireInitialSync %v client %q", len(s.Certificates), s.RequireInitialSync, s.MSIClientID)
			}
			p := mustPlan(t, s, "windows")
			for _, tg := range p.Targets {
				if tg.Store != `LocalMachine\MY` {
					t.Errorf("store %q", tg.Store)
				}
			}
			if _, err := NewPlan(s, "linux"); !errors.Is(err, ErrWrongPlatform) {
				t.Errorf("linux plan of a LocalMachine store: %v", err)
			}
		}},
		{file: "v2-linux.json", check: func(t *testing.T, s *Settings) {
			wantSchema(t, s, SchemaV2)
			if !s.RequireInitialSync {
				t.Error(`requireInitialSync "true" not read`)
			}
			p := mustPlan(t, s, "linux")
			a, b := p.Targets[0], p.Targets[1]
			if a.LinkPath != DefaultLinuxStore+"/myvault.site1" || a.VersionFiles != DefaultLinuxStore+"/myvault.site1.<version>" || !a.WithChain || a.Pinned {
				t.Errorf("target 0 %+v", a)
			}
			if !b.Pinned || b.Secret.Version != "0eb921f953b24f26b319480208476d5a" || a.Mode != 0o600 || a.Retain != DefaultRetain {
				t.Errorf("target 1 %+v", b)
			}
		}},
		{file: "v3-linux.json", check: func(t *testing.T, s *Settings) {
			wantSchema(t, s, SchemaV3)
			if s.Logging == nil || s.Logging.ServiceName != "akvvm_service" || !s.ACLEnabled {
				t.Errorf("logging %+v aclEnabled %v", s.Logging, s.ACLEnabled)
			}
			wantWarning(t, s.Warnings, "loggingSettings", "does not forward")
			p := mustPlan(t, s, "linux")
			tg := p.Targets[0]
			if tg.LinkPath != "/var/lib/waagent/Microsoft.Azure.KeyVault/app1/app1Cert1" || len(tg.ACLs) != 2 || tg.ACLs[0] != (ACL{User: "app1", Group: "appGroup1"}) {
				t.Errorf("target %+v", tg)
			}
			if p.ServiceName != "akvvm_service" {
				t.Errorf("service name %q", p.ServiceName)
			}
		}},
		{file: "v3-windows.json", check: func(t *testing.T, s *Settings) {
			wantSchema(t, s, SchemaV3)
			if s.TokenURL != "http://169.254.169.254/metadata/identity/oauth2/token" {
				t.Errorf("full msiEndpoint form: %q", s.TokenURL)
			}
			p := mustPlan(t, s, "windows")
			if !p.Targets[0].LinkOnRenewal || p.Targets[0].KeyExportable {
				t.Errorf("target %+v", p.Targets[0])
			}
		}},
		{file: "v4-windows.json", schema: SchemaV4, check: func(t *testing.T, s *Settings) {
			wantSchema(t, s, SchemaV4)
			if s.PollingInterval != 300*time.Second || !s.RequireInitialSync {
				t.Errorf("v4 clamp: interval %v, requireInitialSync %v", s.PollingInterval, s.RequireInitialSync)
			}
			wantWarning(t, s.Warnings, "pollingIntervalInS", "300-3600")
			p := mustPlan(t, s, "windows")
			if p.Targets[0].Store != `LocalMachine\WebHosting` || !p.Targets[0].LinkOnRenewal {
				t.Errorf("target %+v", p.Targets[0])
			}
		}},
		{file: "arm-resource.json", check: func(t *testing.T, s *Settings) {
			wantSchema(t, s, SchemaV1)
			if s.ExtensionType != "KeyVaultForLinux" || s.PollingInterval != 600*time.Second {
				t.Errorf("type %q interval %v", s.ExtensionType, s.PollingInterval)
			}
			p := mustPlan(t, s, "linux")
			tg := p.Targets[0]
			if tg.WithChain || tg.Retain != 1 || tg.Mode != 0o640 || tg.Group != "0" || tg.FormatsDir != "/etc/ssl/kv/myvault.site1.d" ||
				strings.Join(tg.Formats, ",") != "fullchain.pem,key.pem" || len(tg.Hooks) != 1 || tg.Hooks[0].Timeout != 20*time.Second {
				t.Errorf("target %+v", tg)
			}
		}},
		{file: "az-show.json", check: func(t *testing.T, s *Settings) {
			wantSchema(t, s, SchemaV3)
			if s.TokenURL != "http://localhost:40342/metadata/identity/oauth2/token" {
				t.Errorf("Arc endpoint: %q", s.TokenURL)
			}
			mustPlan(t, s, "linux")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			s := mustParse(t, readTestdata(t, tc.file), ParseOptions{File: tc.file, Schema: tc.schema})
			tc.check(t, s)
		})
	}
}

func wantSchema(t *testing.T, s *Settings, want Schema) {
	t.Helper()
	if s.Schema != want {
		t.Errorf("schema %v (%s), want %v", s.Schema, s.SchemaSource, want)
	}
}

func oneCert(t *testing.T, s *Settings) *ObservedCertificate {
	t.Helper()
	if len(s.Certificates) != 1 {
		t.Fatalf("%d certificates, want 1", len(s.Certificates))
	}
	return &s.Certificates[0]
}

func mustPlan(t testing.TB, s *Settings, goos string) *Plan {
	t.Helper()
	p, err := NewPlan(s, goos)
	if err != nil {
		t.Fatalf("NewPlan(%s): %v", goos, err)
	}
	return p
}

// wantSettingsError checks that err holds a *SettingsError at path whose
// text contains substr, and returns it.
func wantSettingsError(t *testing.T, err error, path, substr string) *SettingsError {
	t.Helper()
	var es SettingsErrors
	if !errors.As(err, &es) {
		t.Fatalf("error %v (%T), want SettingsErrors", err, err)
	}
	for _, e := range es {
		if e.Path == path && strings.Contains(e.Error(), substr) {
			return e
		}
	}
	t.Fatalf("no error at %q containing %q in:\n%v", path, substr, err)
	return nil
}

func wantWarning(t *testing.T, ws []Warning, pathSuffix, substr string) {
	t.Helper()
	for _, w := range ws {
		if strings.HasSuffix(w.Path, pathSuffix) && strings.Contains(w.Message, substr) {
			return
		}
	}
	t.Errorf("no warning at *%s containing %q in %v", pathSuffix, substr, ws)
}

const sms = "secretsManagementSettings"

// TestSettingsErrors checks that each mistake gives an error naming the
// field, and its position where the field exists.
func TestSettingsErrors(t *testing.T) {
	tests := []struct {
		name     string
		json     string
		opts     ParseOptions
		path     string
		substr   string
		sentinel error
		line     int
	}{
		{name: "certificates URL in an object", json: `{"secretsManagementSettings":{"observedCertificates":[
			{"url":"https://v.vault.azure.net/secrets/a"},
			{"url":"https://v.vault.azure.net/certificates/b"}]}}`,
			path: sms + ".observedCertificates[1].url", substr: "/secrets/b", sentinel: ErrCertificatesURL, line: 3},
		{name: "certificates URL as a string", json: `{"secretsManagementSettings":{"observedCertificates":["https://v.vault.azure.net/secrets/a","https://v.vault.azure.net/certificates/b/0123"]}}`,
			path: sms + ".observedCertificates[1]", substr: "which holds the private key", sentinel: ErrCertificatesURL},
		{name: "keys URL", json: `{"secretsManagementSettings":{"observedCertificates":["https://v.vault.azure.net/keys/a"]}}`,
			path: sms + ".observedCertificates[0]", sentinel: ErrCertificatesURL},
		{name: "http URL", json: `{"secretsManagementSettings":{"observedCertificates":["http://v.vault.azure.net/secrets/a"]}}`,
			path: sms + ".observedCertificates[0]", substr: "https"},
		{name: "bad version", json: `{"secretsManagementSettings":{"observedCertificates":["https://v.vault.azure.net/secrets/a/v-1"]}}`,
			path: sms + ".observedCertificates[0]", substr: "letters and digits"},
		{name: "ARM expression", json: `{"secretsManagementSettings":{"observedCertificates":["[parameters('cert')]"]}}`,
			path: sms + ".observedCertificates[0]", substr: "ARM template expression"},
		{name: "duplicate key", json: "{\"secretsManagementSettings\":{\n\"pollingIntervalInS\":\"60\",\n\"pollingIntervalInS\":\"120\"}}",
			substr: "duplicate key \"pollingIntervalInS\" (first at line 2", line: 3},
		{name: "settings in a string", json: `{"secretsManagementSettings":"{\"observedCertificates\":[]}"}`,
			path: sms, substr: "JSON text inside a string", line: 1},
		{name: "whole file a string", json: `"{\"secretsManagementSettings\":{}}"`, substr: "must be a JSON object", sentinel: ErrEscapedQuotes},
		{name: "trailing data", json: `{"secretsManagementSettings":{"observedCertificates":[]}} {}`, substr: "unexpected data after"},
		{name: "missing brace", json: "{\"secretsManagementSettings\":{\"observedCertificates\":[]}", substr: "ends early"},
		{name: "UTF-16", json: "\xff\xfe{\x00", substr: "UTF-16"},
		{name: "empty", json: "  \n", substr: "empty"},
		{name: "too deep", json: strings.Repeat("[", 40) + strings.Repeat("]", 40), substr: "nested too deeply"},
		{name: "missing observedCertificates", json: `{"secretsManagementSettings":{}}`, path: sms + ".observedCertificates", substr: "missing"},
		{name: "missing secretsManagementSettings", json: `{"authenticationSettings":{}}`, path: sms, substr: "missing"},
		{name: "observedCertificates not an array", json: `{"secretsManagementSettings":{"observedCertificates":"https://v.vault.azure.net/secrets/a"}}`,
			path: sms + ".observedCertificates", substr: "must be an array"},
		{name: "mixed forms", json: `{"secretsManagementSettings":{"observedCertificates":["https://v.vault.azure.net/secrets/a",{"url":"https://v.vault.azure.net/secrets/b"}]}}`,
			path: sms + ".observedCertificates", substr: "mixes URLs and objects"},
		{name: "objects in v1", json: `{"secretsManagementSettings":{"observedCertificates":[{"url":"https://v.vault.azure.net/secrets/b"}]}}`,
			opts: ParseOptions{Schema: SchemaV1}, path: sms + ".observedCertificates", substr: "v1 form"},
		{name: "object without url", json: `{"secretsManagementSettings":{"observedCertificates":[{"certificateStoreName":"MY"}]}}`,
			path: sms + ".observedCertificates[0].url", substr: "missing"},
		{name: "v4 pinned version", json: `{"secretsManagementSettings":{"observedCertificates":[{"url":"https://v.vault.azure.net/secrets/b/0123abcd"}]}}`,
			opts: ParseOptions{Schema: SchemaV4}, path: sms + ".observedCertificates[0].url", substr: "cannot pin"},
		{name: "interval not a number", json: `{"secretsManagementSettings":{"pollingIntervalInS":"hourly","observedCertificates":[]}}`,
			path: sms + ".pollingIntervalInS", substr: "whole number"},
		{name: "interval negative", json: `{"secretsManagementSettings":{"pollingIntervalInS":-5,"observedCertificates":[]}}`,
			path: sms + ".pollingIntervalInS", substr: "out of range"},
		{name: "interval fraction", json: `{"secretsManagementSettings":{"pollingIntervalInS":60.5,"observedCertificates":[]}}`,
			path: sms + ".pollingIntervalInS", substr: "whole number"},
		{name: "boolean word", json: `{"secretsManagementSettings":{"requireInitialSync":"yes","observedCertificates":[]}}`,
			path: sms + ".requireInitialSync", substr: "true or false"},
		{name: "link name with slash", json: `{"secretsManagementSettings":{"observedCertificates":[{"url":"https://v.vault.azure.net/secrets/b","customSymbolicLinkName":"../x"}]}}`,
			path: sms + ".observedCertificates[0].customSymbolicLinkName", substr: "file name"},
		{name: "empty acl", json: `{"secretsManagementSettings":{"aclEnabled":true,"observedCertificates":[{"url":"https://v.vault.azure.net/secrets/b","acls":[{}]}]}}`,
			path: sms + ".observedCertificates[0].acls[0]", substr: "user, a group"},
		{name: "msiEndpoint without host", json: `{"secretsManagementSettings":{"observedCertificates":[]},"authenticationSettings":{"msiEndpoint":"http:///metadata/identity"}}`,
			path: "authenticationSettings.msiEndpoint", substr: "URI must contain a hostname"},
		{name: "msiEndpoint without scheme", json: `{"secretsManagementSettings":{"observedCertificates":[]},"authenticationSettings":{"msiEndpoint":"169.254.169.254/metadata/identity"}}`,
			path: "authenticationSettings.msiEndpoint", substr: "scheme and a host"},
		{name: "msiClientId without msiEndpoint", json: `{"secretsManagementSettings":{"observedCertificates":[]},"authenticationSettings":{"msiClientId":"00000000-1111-2222-3333-444444444444"}}`,
			path: "authenticationSettings.msiEndpoint", substr: "required when msiClientId is set"},
		{name: "unknown tegata certificate", json: `{"secretsManagementSettings":{"observedCertificates":["https://v.vault.azure.net/secrets/a"]},"tegata":{"certificates":{"v.b":{"retain":1}}}}`,
			path: `tegata.certificates["v.b"]`, substr: "link name (v.a)"},
		{name: "bad mode", json: `{"secretsManagementSettings":{"observedCertificates":[]},"tegata":{"mode":"rw-r-----"}}`,
			path: "tegata.mode", substr: "octal"},
		{name: "mode without owner read", json: `{"secretsManagementSettings":{"observedCertificates":[]},"tegata":{"mode":"0200"}}`,
			path: "tegata.mode", substr: "owner read"},
		{name: "retain out of range", json: `{"secretsManagementSettings":{"observedCertificates":[]},"tegata":{"retain":1000}}`,
			path: "tegata.retain", substr: "0 to 100"},
		{name: "unknown format", json: `{"secretsManagementSettings":{"observedCertificates":[]},"tegata":{"formats":["cert.der"]}}`,
			path: "tegata.formats[0]", substr: "cert.pem, key.pem"},
		{name: "hook without action", json: `{"secretsManagementSettings":{"observedCertificates":[]},"tegata":{"hooks":[{"timeoutS":5}]}}`,
			path: "tegata.hooks[0]", substr: "give exec"},
		{name: "signal without pidFile", json: `{"secretsManagementSettings":{"observedCertificates":[]},"tegata":{"hooks":[{"signal":"HUP"}]}}`,
			path: "tegata.hooks[0].pidFile", substr: "required"},
		{name: "unknown signal", json: `{"secretsManagementSettings":{"observedCertificates":[]},"tegata":{"hooks":[{"signal":"KILLALL","pidFile":"/run/x.pid"}]}}`,
			path: "tegata.hooks[0].signal", substr: "not a signal"},
		{name: "hook timeout zero", json: `{"secretsManagementSettings":{"observedCertificates":[]},"tegata":{"hooks":[{"exec":["true"],"timeoutS":0}]}}`,
			path: "tegata.hooks[0].timeoutS", substr: "1 to 3600"},
		{name: "bad listen", json: `{"secretsManagementSettings":{"observedCertificates":[]},"tegata":{"listen":"9466"}}`,
			path: "tegata.listen", substr: "host:port"},
		{name: "bad api-version", json: `{"secretsManagementSettings":{"observedCertificates":[]},"tegata":{"apiVersion":"latest"}}`,
			path: "tegata.apiVersion", substr: "api-version"},
		{name: "typeHandlerVersion", json: `{"properties":{"typeHandlerVersion":"9.1","settings":{"secretsManagementSettings":{"observedCertificates":[]}}}}`,
			path: "typeHandlerVersion", substr: "not a Key Vault extension version"},
		{name: "tegata in two places", json: `{"tegata":{},"properties":{"settings":{"tegata":{},"secretsManagementSettings":{"observedCertificates":[]}}}}`,
			path: "tegata", substr: "keep one"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSettings([]byte(tc.json), tc.opts)
			if err == nil {
				t.Fatalf("no error; settings %+v", s)
			}
			se := wantSettingsError(t, err, tc.path, tc.substr)
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("error %v does not wrap %v", err, tc.sentinel)
			}
			if tc.line != 0 && se.Line != tc.line {
				t.Errorf("line %d, want %d (%v)", se.Line, tc.line, se)
			}
		})
	}
}

func TestPowerShellEscapedFile(t *testing.T) {
	_, err := ParseSettings(readTestdata(t, "powershell-escaped.json"), ParseOptions{File: "settings.json"})
	if !errors.Is(err, ErrEscapedQuotes) {
		t.Fatalf("error %v, want ErrEscapedQuotes", err)
	}
	var se *SettingsError
	if !errors.As(err, &se) || se.Line != 1 || se.Column != 2 || !strings.HasPrefix(err.Error(), "settings.json:1:2: ") {
		t.Errorf("want the position of the first backslash (1:2), got %v", err)
	}
}

func TestSettingsWarnings(t *testing.T) {
	s := mustParse(t, []byte(`{"secretsManagementSettings":{"PollingIntervalInS":"30","linkOnRenewal":"false","colour":"blue",
		"observedCertificates":[{"url":"https://v.vault.azure.net/secrets/a/","acls":[{"user":"root"}]}]},
		"protectedSettings":{}, "tegata":{"mode":"0644"}}`), ParseOptions{})
	if s.PollingInterval != MinPollingInterval {
		t.Errorf("interval %v, want the minimum", s.PollingInterval)
	}
	wantWarning(t, s.Warnings, sms+".PollingIntervalInS", "write the key as pollingIntervalInS")
	wantWarning(t, s.Warnings, sms+".pollingIntervalInS", "below the minimum")
	wantWarning(t, s.Warnings, sms+".colour", "unknown key")
	wantWarning(t, s.Warnings, "protectedSettings", "unknown key")
	wantWarning(t, s.Warnings, "observedCertificates[0].acls", "aclEnabled")
	wantWarning(t, s.Warnings, "tegata.mode", "every user")
	if c := oneCert(t, s); c.Secret.Version != "" || c.Secret.Name != "a" {
		t.Errorf("trailing slash: %+v", c.Secret)
	}
	p := mustPlan(t, s, "linux")
	wantWarning(t, p.Warnings, sms+".linkOnRenewal", "Windows only")
	if len(p.Targets[0].ACLs) != 0 {
		t.Error("acls applied without aclEnabled")
	}
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name, json, goos, path, substr string
		sentinel                       error
	}{
		{"relative directory", `{"secretsManagementSettings":{"observedCertificates":[{"url":"https://v.vault.azure.net/secrets/a","certificateStoreLocation":"certs"}]}}`,
			"linux", sms + ".observedCertificates[0].certificateStoreLocation", "absolute directory", nil},
		{"global Windows store on Linux", `{"secretsManagementSettings":{"certificateStoreLocation":"CurrentUser","observedCertificates":["https://v.vault.azure.net/secrets/a"]}}`,
			"linux", sms + ".certificateStoreLocation", "Windows certificate store", ErrWrongPlatform},
		{"same link twice", `{"secretsManagementSettings":{"observedCertificates":[{"url":"https://v.vault.azure.net/secrets/a","customSymbolicLinkName":"x"},{"url":"https://v.vault.azure.net/secrets/b","customSymbolicLinkName":"x"}]}}`,
			"linux", sms + ".observedCertificates[1]", "customSymbolicLinkName", nil},
		{"same secret twice", `{"secretsManagementSettings":{"observedCertificates":[{"url":"https://v.vault.azure.net/secrets/a","customSymbolicLinkName":"x"},{"url":"https://v.vault.azure.net/secrets/a","customSymbolicLinkName":"y"}]}}`,
			"linux", sms + ".observedCertificates[1]", "observe it once", nil},
		{"unknown owner", `{"secretsManagementSettings":{"observedCertificates":["https://v.vault.azure.net/secrets/a"]},"tegata":{"owner":"no-such-user-tegata"}}`,
			"linux", sms + ".observedCertificates[0]", "no-such-user-tegata", nil},
		{"store location case on Windows", `{"secretsManagementSettings":{"observedCertificates":[{"url":"https://v.vault.azure.net/secrets/a","certificateStoreLocation":"localMachine"}]}}`,
			"windows", sms + ".observedCertificates[0].certificateStoreLocation", "case-sensitive", nil},
		{"Linux directory on Windows", `{"secretsManagementSettings":{"observedCertificates":[{"url":"https://v.vault.azure.net/secrets/a","certificateStoreLocation":"/etc/ssl"}]}}`,
			"windows", sms + ".observedCertificates[0].certificateStoreLocation", "Linux directory", ErrWrongPlatform},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustParse(t, []byte(tc.json), ParseOptions{})
			_, err := NewPlan(s, tc.goos)
			if tc.name == "unknown owner" && !goosIsThis("linux") {
				t.Skip("owners are looked up on Linux only")
			}
			wantSettingsError(t, err, tc.path, tc.substr)
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("error %v does not wrap %v", err, tc.sentinel)
			}
		})
	}
}

// TestTokenURL covers the msiEndpoint forms of C.2.
func TestTokenURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://169.254.169.254/metadata/identity":              "http://169.254.169.254/metadata/identity/oauth2/token",
		"http://169.254.169.254/metadata/identity/":             "http://169.254.169.254/metadata/identity/oauth2/token",
		"http://169.254.169.254/metadata/identity/oauth2/token": "http://169.254.169.254/metadata/identity/oauth2/token",
		"http://localhost:40342/metadata/identity":              "http://localhost:40342/metadata/identity/oauth2/token",
		"http://127.0.0.1:8254":                                 "http://127.0.0.1:8254/metadata/identity/oauth2/token",
		" https://meta.example/metadata/identity ":              "https://meta.example/metadata/identity/oauth2/token",
	} {
		if got, err := TokenURL(in); err != nil || got != want {
			t.Errorf("TokenURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "metadata/identity", "http://", "ftp://h/metadata/identity", "http://h/metadata/identity?x=1"} {
		if got, err := TokenURL(bad); err == nil {
			t.Errorf("TokenURL(%q) = %q, want an error", bad, got)
		}
	}
}

func TestParseSecretURL(t *testing.T) {
	u, err := ParseSecretURL("https://127.0.0.1:8256/secrets/www/")
	if err != nil || u.VaultName != "127-0-0-1" || u.Base != "https://127.0.0.1:8256" || u.Name != "www" || u.Version != "" {
		t.Errorf("IP vault: %+v %v", u, err)
	}
	u, err = ParseSecretURL("https://KV1.vault.tegata.example/secrets/www/7e38eb9c8b554567aaf9966a7bbc0764")
	if err != nil || u.VaultName != "kv1" || u.String() != "https://kv1.vault.tegata.example/secrets/www/7e38eb9c8b554567aaf9966a7bbc0764" {
		t.Errorf("versioned: %+v %v", u, err)
	}
	for _, bad := range []string{"https://v.vault.azure.net/", "https://v.vault.azure.net/secrets", "https://v.vault.azure.net/secrets/a/b/c",
		"https://v.vault.azure.net/secrets/a?api-version=7.4", "https://v.vault.azure.net/secrets/a_b", "https://u:p@v.vault.azure.net/secrets/a"} {
		if _, err := ParseSecretURL(bad); err == nil {
			t.Errorf("ParseSecretURL(%q) accepted", bad)
		}
	}
}

func TestParseSchema(t *testing.T) {
	for in, want := range map[string]Schema{"": SchemaAuto, "auto": SchemaAuto, "v1": SchemaV1, "2": SchemaV2, "3.0": SchemaV3, "V4": SchemaV4} {
		if got, err := ParseSchema(in); err != nil || got != want {
			t.Errorf("ParseSchema(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseSchema("v5"); err == nil {
		t.Error("v5 accepted")
	}
}
