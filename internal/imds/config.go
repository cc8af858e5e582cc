package imds

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is the imds section of tegata.yaml. Every behaviour that Azure never
// documented is a setting here, with the reference's recommended default.
type Config struct {
	// Listen is the metadata listener. Loopback by default; see docs/imds.md for
	// serving on 169.254.169.254:80.
	Listen string `yaml:"listen" json:"listen"`
	// AdminListen serves the control API, /metrics, /healthz and /readyz. It is never
	// the metadata listener, so a VM cannot inject events or faults into itself.
	AdminListen string `yaml:"admin_listen" json:"admin_listen"`
	// Inventory is a YAML file of instances. Empty: one generated instance answers
	// every caller (single-VM and dev mode).
	Inventory string `yaml:"inventory" json:"inventory"`
	// WatchInterval is how often the inventory file is checked for changes; 0 turns
	// the watch off (SIGHUP and the admin API still reload it).
	WatchInterval time.Duration `yaml:"watch_interval" json:"watch_interval"`

	RateLimit RateLimitConfig `yaml:"rate_limit" json:"rate_limit"`
	Compat    CompatConfig    `yaml:"compat" json:"compat"`
	Events    EventsConfig    `yaml:"events" json:"events"`
	Attested  AttestedConfig  `yaml:"attested" json:"attested"`
	// RequestLog is how many of the latest requests GET /admin/requests keeps; 0 turns
	// the log off.
	RequestLog int `yaml:"request_log" json:"request_log"`
	// Pprof serves Go's profiler at /debug/pprof/ on the admin listener, for finding
	// where a busy server spends its time. Off by default.
	Pprof bool `yaml:"pprof" json:"pprof"`
	// Errors overrides rows of the error table (E1-E15, I1-I8) whose status or body
	// Azure never documented, or whose wording has changed.
	Errors map[ErrorID]ErrorReply `yaml:"errors,omitempty" json:"errors,omitempty"`
}

// RateLimitConfig sets Azure's per-VM limits (docs/imds.md §5.1).
type RateLimitConfig struct {
	Enabled            bool    `yaml:"enabled" json:"enabled"`
	PerSecond          float64 `yaml:"per_second" json:"per_second"`
	IdentityPerSecond  float64 `yaml:"identity_per_second" json:"identity_per_second"`
	IdentityConcurrent int     `yaml:"identity_concurrent" json:"identity_concurrent"`
}

// CompatConfig holds the switches for behaviours the reference marks unconfirmed.
type CompatConfig struct {
	APIVersions                  []string `yaml:"api_versions" json:"api_versions"`
	ServerHeader                 string   `yaml:"server_header" json:"server_header"`
	InvalidVersionMode           string   `yaml:"invalid_version_mode" json:"invalid_version_mode"` // modern | legacy404
	StrictIdentityMetadataHeader bool     `yaml:"strict_identity_metadata_header" json:"strict_identity_metadata_header"`
	AllowHEAD                    bool     `yaml:"allow_head" json:"allow_head"`
	VersionsEndpoint             bool     `yaml:"versions_endpoint" json:"versions_endpoint"`
	VersionsRequireHeader        bool     `yaml:"versions_require_header" json:"versions_require_header"`
	RejectExtended               bool     `yaml:"reject_extended" json:"reject_extended"`
	CaseInsensitiveKeys          bool     `yaml:"case_insensitive_keys" json:"case_insensitive_keys"`
	EchoClientRequestID          bool     `yaml:"echo_client_request_id" json:"echo_client_request_id"`
	TrustForwardedFor            bool     `yaml:"trust_forwarded_for" json:"trust_forwarded_for"`
	TextContentType              string   `yaml:"text_content_type" json:"text_content_type"`
	// LoadBalancerMessages uses the 2021 wording ("is not") instead of the current one ("isn't").
	LoadBalancer2021Wording bool `yaml:"loadbalancer_2021_wording" json:"loadbalancer_2021_wording"`
}

// AttestedConfig sets how attested documents are made (docs/imds.md §4.3).
type AttestedConfig struct {
	// TTL is expiresOn - createdOn; Azure's documents live 6 hours.
	TTL time.Duration `yaml:"ttl" json:"ttl"`
	// Cache is "honour" (a fresh document for every distinct nonce) or "azure" (the
	// VM's cached document until it expires, whatever the nonce, as real IMDS may).
	Cache string `yaml:"cache" json:"cache"`
	// Profile is "azure" (Azure's envelope to the byte: digest-OID quirk, leaf only) or
	// "private" (standard OID, Sub CA embedded, for private clouds).
	Profile string `yaml:"profile" json:"profile"`
}

// EventsConfig sets scheduled-events timing.
type EventsConfig struct {
	// Timing is "realistic" (Azure's minimum notices and durations) or "fast" (÷60).
	Timing string `yaml:"timing" json:"timing"`
	// FirstCallDelay holds each VM's first GET of /metadata/scheduledevents this long:
	// Azure warns that the first call, which enables the feature, may take up to two
	// minutes. Default 0.
	FirstCallDelay time.Duration `yaml:"first_call_delay" json:"first_call_delay"`
}

// DefaultConfig returns the defaults: loopback listeners, limits off (tests and load
// tests send bursts; `rate_limit.enabled: true` gives Azure's limits), and every
// compatibility switch at the reference's recommended default.
func DefaultConfig() Config {
	return Config{
		Listen:        "127.0.0.1:8254",
		AdminListen:   "127.0.0.1:8255",
		WatchInterval: 2 * time.Second,
		RequestLog:    1000,
		RateLimit:     RateLimitConfig{Enabled: false, PerSecond: 5, IdentityPerSecond: 20, IdentityConcurrent: 5},
		Compat: CompatConfig{
			APIVersions:           append([]string(nil), DefaultAPIVersions...),
			ServerHeader:          "IMDS/150.870.65.1854",
			InvalidVersionMode:    "modern",
			VersionsEndpoint:      true,
			VersionsRequireHeader: true,
			TextContentType:       "text/plain; charset=utf-8",
		},
		Events:   EventsConfig{Timing: "realistic"},
		Attested: AttestedConfig{TTL: 6 * time.Hour, Cache: "honour", Profile: "azure"},
	}
}

var versionPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// Validate reports the first setting that cannot work, naming it and what to do.
func (c *Config) Validate() error {
	for _, a := range []struct{ name, v string }{{"imds.listen", c.Listen}, {"imds.admin_listen", c.AdminListen}} {
		if _, err := netip.ParseAddrPort(a.v); err != nil {
			if _, err2 := parseHostPort(a.v); err2 != nil {
				return fmt.Errorf("%s: %q is not host:port (for example 127.0.0.1:8254)", a.name, a.v)
			}
		}
	}
	if c.Listen == c.AdminListen && !strings.HasSuffix(c.Listen, ":0") {
		return fmt.Errorf("imds.admin_listen: must differ from imds.listen (%s): the control API must not be reachable on the metadata address", c.Listen)
	}
	if len(c.Compat.APIVersions) == 0 {
		return fmt.Errorf("imds.compat.api_versions: empty: list at least one version (YYYY-MM-DD)")
	}
	for i, v := range c.Compat.APIVersions {
		if !versionPattern.MatchString(v) {
			return fmt.Errorf("imds.compat.api_versions[%d]: %q is not YYYY-MM-DD", i, v)
		}
	}
	switch c.Compat.InvalidVersionMode {
	case "modern", "legacy404":
	default:
		return fmt.Errorf("imds.compat.invalid_version_mode: %q: use modern or legacy404", c.Compat.InvalidVersionMode)
	}
	switch c.Events.Timing {
	case "realistic", "fast":
	default:
		return fmt.Errorf("imds.events.timing: %q: use realistic or fast", c.Events.Timing)
	}
	if c.RateLimit.Enabled && (c.RateLimit.PerSecond <= 0 || c.RateLimit.IdentityPerSecond <= 0 || c.RateLimit.IdentityConcurrent <= 0) {
		return fmt.Errorf("imds.rate_limit: per_second, identity_per_second and identity_concurrent must be positive when enabled")
	}
	if c.Events.FirstCallDelay < 0 || c.Events.FirstCallDelay > 5*time.Minute {
		return fmt.Errorf("imds.events.first_call_delay: %s: use 0 to 5m (Azure's first call takes up to 2m)", c.Events.FirstCallDelay)
	}
	if c.Attested.TTL <= 0 || c.Attested.TTL > 7*24*time.Hour {
		return fmt.Errorf("imds.attested.ttl: %s: use a duration up to 168h (Azure: 6h)", c.Attested.TTL)
	}
	if c.Attested.Cache != "honour" && c.Attested.Cache != "azure" {
		return fmt.Errorf("imds.attested.cache: %q: use honour or azure", c.Attested.Cache)
	}
	if c.Attested.Profile != "azure" && c.Attested.Profile != "private" {
		return fmt.Errorf("imds.attested.profile: %q: use azure or private", c.Attested.Profile)
	}
	if c.RequestLog < 0 || c.RequestLog > 1_000_000 {
		return fmt.Errorf("imds.request_log: %d: use 0 (off) to 1000000", c.RequestLog)
	}
	if c.WatchInterval < 0 {
		return fmt.Errorf("imds.watch_interval: %s is negative: use 0 to turn the watch off", c.WatchInterval)
	}
	_, err := newErrorTable(c.Errors, nil)
	return err
}

func parseHostPort(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", err
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", fmt.Errorf("bad port %q", port)
	}
	return host, nil
}
