//go:build tegata_alldns

package dnsprov

import (
	"errors"

	"github.com/go-acme/lego/v4/providers/dns"
)

// This file is built only with -tags tegata_alldns. Its import of lego's
// providers/dns pulls in about 145 more modules (some 140 MB to download,
// over two minutes of cold build on two cores) that go.mod deliberately
// does not list, so `make deps` stays light. Before the first such build:
//
//	go get github.com/go-acme/lego/v4/providers/dns@v4.35.2
//
// Note that `go mod tidy` considers every build tag and adds them too.

// legoNames are the provider names lego v4.35.2's
// dns.NewDNSChallengeProviderByName knows (from its zz_gen_dns_providers.go),
// less "manual", which prompts on standard input.
var legoNames = []string{
	"acme-dns", "acmedns", "active24", "alidns", "aliesa", "allinkl", "alwaysdata", "anexia",
	"artfiles", "arvancloud", "auroradns", "autodns", "axelname", "azion", "azure",
	"azuredns", "baiducloud", "beget", "binarylane", "bindman", "bluecat", "bluecatv2",
	"bookmyname", "brandit", "bunny", "checkdomain", "civo", "clouddns", "cloudflare",
	"cloudns", "cloudru", "cloudxns", "com35", "conoha", "conohav3", "constellix",
	"corenetworks", "cpanel", "czechia", "ddnss", "derak", "desec", "designate",
	"digitalocean", "directadmin", "dnsexit", "dnshomede", "dnsimple", "dnsmadeeasy",
	"dnspod", "dode", "domeneshop", "domainnameshop", "dreamhost", "duckdns", "dyn",
	"dyndnsfree", "dynu", "easydns", "edgecenter", "edgedns", "fastdns", "edgeone",
	"efficientip", "epik", "eurodns", "excedo", "exec", "exoscale", "f5xc", "freemyip",
	"gandi", "gandiv5", "gcloud", "gcore", "gigahostno", "glesys", "godaddy", "googledomains",
	"gravity", "hetzner", "hostingde", "hostinger", "hostingnl", "hosttech", "httpnet",
	"httpreq", "huaweicloud", "hurricane", "hyperone", "ibmcloud", "iij", "iijdpf",
	"infoblox", "infomaniak", "internetbs", "inwx", "ionos", "ionoscloud", "ipv64",
	"ispconfig", "ispconfigddns", "iwantmyname", "jdcloud", "joker", "keyhelp", "leaseweb",
	"liara", "lightsail", "limacity", "linode", "linodev4", "liquidweb", "loopia", "luadns",
	"mailinabox", "manageengine", "metaname", "metaregistrar", "mijnhost", "mittwald",
	"myaddr", "mydnsjp", "mythicbeasts", "namecheap", "namedotcom", "namesilo", "namesurfer",
	"nearlyfreespeech", "neodigit", "netcup", "netlify", "netnod", "nicmanager", "nicru",
	"nifcloud", "njalla", "nodion", "ns1", "octenium", "onecloudru", "onlinenet",
	"oraclecloud", "otc", "ovh", "pdns", "plesk", "porkbun", "rackspace", "rainyun",
	"rcodezero", "regfish", "regru", "rfc2136", "dnsupdate", "rimuhosting", "route53",
	"safedns", "sakuracloud", "scaleway", "selectel", "selectelv2", "selfhostde", "servercow",
	"shellrent", "simply", "sonic", "spaceship", "stackpath", "syse", "technitium",
	"tencentcloud", "timewebcloud", "todaynic", "transip", "ucloud", "ultradns",
	"uniteddomains", "variomedia", "vegadns", "vercel", "versio", "vinyldns", "virtualname",
	"vkcloud", "volcengine", "vscale", "vultr", "webnames", "webnamesru", "webnamesca",
	"websupport", "wedos", "westcn", "yandex", "yandex360", "yandexcloud", "zoneedit",
	"zoneee", "zonomi",
}

// init registers every lego provider that has no tegata factory of its
// own. These read their configuration from lego's environment variables
// (CLOUDFLARE_DNS_API_TOKEN, DO_AUTH_TOKEN, ...; see lego's documentation
// of each provider), so they take no tegata keys, and every instance of
// one type shares the process's environment.
func init() {
	for _, name := range legoNames {
		if Registered(name) {
			continue
		}
		Register(name, func(config map[string]string) (Provider, error) {
			if len(config) > 0 {
				return nil, errors.New("this provider is configured through lego's environment variables only; remove its keys from the configuration")
			}
			return dns.NewDNSChallengeProviderByName(name)
		})
	}
}
