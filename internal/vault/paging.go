package vault

import (
	"crypto/hmac"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
)

// A page is one response of a list operation: {"value":[...],"nextLink":...}.
type page struct {
	Value    []any   `json:"value"`
	NextLink *string `json:"nextLink"`
}

// pageSize reads maxresults (1 to 25, A.8); absent means 25.
func pageSize(rq *request) (int, *kvError) {
	s := rq.r.URL.Query().Get("maxresults")
	if s == "" {
		return maxPageSize, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxPageSize {
		return 0, badParameter("maxresults %.20q is out of range: use 1 to %d", s, maxPageSize)
	}
	return n, nil
}

// skipToken signs the sort key of the last item served, bound to the listing
// it came from, so a token cannot be replayed on another listing or forged.
func (v *Vault) skipToken(listing, after string) string {
	mac := v.opts.Sealer.mac([]byte(listing + "\x00" + after))
	return base64.RawURLEncoding.EncodeToString([]byte(after)) + "." + base64.RawURLEncoding.EncodeToString(mac)
}

// after reads $skiptoken: the sort key to continue after, "" on the first page.
func (v *Vault) after(rq *request, listing string) (string, *kvError) {
	tok := rq.r.URL.Query().Get("$skiptoken")
	if tok == "" {
		return "", nil
	}
	bad := badParameter("The $skiptoken is not one this vault issued for this listing; start the listing again without it")
	keyPart, macPart, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 512 {
		return "", bad
	}
	key, err1 := base64.RawURLEncoding.DecodeString(keyPart)
	mac, err2 := base64.RawURLEncoding.DecodeString(macPart)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, v.opts.Sealer.mac([]byte(listing+"\x00"+string(key)))) {
		return "", bad
	}
	return string(key), nil
}

// nextLink is the absolute URL of the page after the one ending at after,
// carrying the caller's api-version and maxresults.
func (v *Vault) nextLink(rq *request, listing, after string) *string {
	q := url.Values{}
	q.Set("api-version", rq.version)
	q.Set("$skiptoken", v.skipToken(listing, after))
	if m := rq.r.URL.Query().Get("maxresults"); m != "" {
		q.Set("maxresults", m)
	}
	if rq.r.URL.Query().Get("includePending") == "true" {
		q.Set("includePending", "true")
	}
	s := rq.base + rq.r.URL.Path + "?" + q.Encode()
	return &s
}
