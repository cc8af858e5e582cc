package renew

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/testenv"
)

// dashboardClient is a browser without a cookie jar: the test carries the
// session cookie itself, to see its attributes.
type dashboardClient struct {
	t      *testing.T
	srv    *httptest.Server
	cookie string
}

func (c *dashboardClient) do(method, path string, form url.Values, header ...string) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.cookie != "" {
		req.Header.Set("Cookie", sessionCookie+"="+c.cookie)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := c.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// login signs in with form and keeps the session cookie.
func (c *dashboardClient) login(form url.Values) *http.Cookie {
	c.t.Helper()
	resp, body := c.do("POST", "/dashboard/login", form)
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			c.cookie = ck.Value
			return ck
		}
	}
	c.t.Fatal("sign-in set no session cookie")
	return nil
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *dashboardClient) csrf(path string) string {
	c.t.Helper()
	_, body := c.do("GET", path, nil)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no CSRF token on %s: %s", path, body)
	}
	return m[1]
}

// TestDashboardAccess: pages need a session; a one-time code signs in once; a
// token signs in for no longer than it lives; cookies are HttpOnly, Secure and
// SameSite=Strict; every answer carries the CSP and frame headers; a POST needs
// the session's CSRF token and this origin, and a bounded body; a reader sees
// the list but may not add; an administrator adds a certificate through the
// form and it is issued.
func TestDashboardAccess(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	tv := startTestVault(t)
	s := newTestService(t, peb, tv, time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := NewDashboard(s, DashboardOptions{APIOptions: testAccess(t, tv), Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(d)
	defer srv.Close()
	anon := &dashboardClient{t: t, srv: srv}

	resp, _ := anon.do("GET", "/dashboard/", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard/login" {
		t.Errorf("the list without a session: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'") || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("security headers: CSP %q, X-Frame-Options %q", csp, resp.Header.Get("X-Frame-Options"))
	}
	if resp, body := anon.do("POST", "/dashboard/login", url.Values{"token": {"not.a.token"}}); resp.StatusCode != 401 || !strings.Contains(body, "not valid") {
		t.Errorf("sign-in with a bad token: %d", resp.StatusCode)
	}

	admin := &dashboardClient{t: t, srv: srv}
	link := d.LoginLink("00000000-0000-0000-0000-0000000000aa")
	code, _ := url.ParseQuery(strings.TrimPrefix(link, "/dashboard/login?"))
	if resp, body := admin.do("GET", link, nil); resp.StatusCode != 200 || !strings.Contains(body, code.Get("code")) {
		t.Fatalf("the login link's page: %d %s", resp.StatusCode, body)
	}
	ck := admin.login(url.Values{"code": code["code"]})
	if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || len(ck.Value) < 40 {
		t.Errorf("session cookie %+v: want HttpOnly, Secure, SameSite=Strict, Path=/ and a long random id", ck)
	}
	if resp, _ := anon.do("POST", "/dashboard/login", url.Values{"code": code["code"]}); resp.StatusCode != 401 {
		t.Errorf("the login code worked twice: %d", resp.StatusCode)
	}
	if resp, body := admin.do("GET", "/dashboard/", nil); resp.StatusCode != 200 || !strings.Contains(body, `id="add-link"`) || !strings.Contains(body, "No certificate") {
		t.Errorf("the administrator's list: %d %s", resp.StatusCode, body)
	}

	reader := &dashboardClient{t: t, srv: srv}
	tokExp := time.Now().Add(time.Hour)
	rck := reader.login(url.Values{"token": {"Bearer " + mintFor(t, tv.cred.(minter), readerOID)}})
	if rck.Expires.After(tokExp.Add(time.Minute)) {
		t.Errorf("the session outlives its token: cookie expires %v, token %v", rck.Expires, tokExp)
	}
	if resp, body := reader.do("GET", "/dashboard/", nil); resp.StatusCode != 200 || strings.Contains(body, `id="add-link"`) {
		t.Errorf("a reader's list: %d, add link shown: %v", resp.StatusCode, strings.Contains(body, `id="add-link"`))
	}
	if resp, body := reader.do("GET", "/dashboard/new", nil); resp.StatusCode != 403 || !strings.Contains(body, "certificates/create") {
		t.Errorf("a reader's add form: %d", resp.StatusCode)
	}

	form := url.Values{"dnsNames": {"dash.example.test\nwww.dash.example.test"}, "key": {"EC P-256"}, "challenge": {"dns:test-dns"}}
	if resp, _ := admin.do("POST", "/dashboard/certificates", form); resp.StatusCode != 403 {
		t.Errorf("add without the CSRF token: %d, want 403", resp.StatusCode)
	}
	form.Set("csrf", admin.csrf("/dashboard/new"))
	if resp, _ := admin.do("POST", "/dashboard/certificates", form, "Origin", "https://evil.example"); resp.StatusCode != 403 {
		t.Errorf("add from another origin: %d, want 403", resp.StatusCode)
	}
	huge := url.Values{"csrf": form["csrf"], "dnsNames": {strings.Repeat("a", maxFormBytes)}}
	if resp, _ := admin.do("POST", "/dashboard/certificates", huge); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("an oversized form: %d, want 413", resp.StatusCode)
	}
	bad := url.Values{"csrf": form["csrf"], "dnsNames": {"a b/c"}, "key": {"EC P-256"}, "challenge": {"dns:test-dns"}}
	if resp, body := admin.do("POST", "/dashboard/certificates", bad); resp.StatusCode != 400 || !strings.Contains(body, "is not a DNS name") {
		t.Errorf("an invalid name: %d", resp.StatusCode)
	}
	resp, _ = admin.do("POST", "/dashboard/certificates", form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard/certificates/dash-example-test?done=added" {
		t.Fatalf("add: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	deadline := time.Now().Add(60 * time.Second)
	var body string
	for {
		_, body = admin.do("GET", "/dashboard/certificates/dash-example-test", nil)
		if strings.Contains(body, `id="state">valid<`) || strings.Contains(body, "failed") || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if !strings.Contains(body, `id="state">valid<`) || !strings.Contains(body, "www.dash.example.test") || !strings.Contains(body, `id="revoke-link"`) {
		t.Fatalf("the added certificate was not issued: %s", body)
	}
	if resp, _ := admin.do("POST", "/dashboard/logout", url.Values{"csrf": {admin.csrf("/dashboard/")}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("logout: %d", resp.StatusCode)
	}
	if resp, _ := admin.do("GET", "/dashboard/", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the session works after logout: %d", resp.StatusCode)
	}
}

// TestSessionStoreBounds: the store keeps at most its maximum, dropping the
// session closest to expiry; sessions and codes end at their expiry.
func TestSessionStoreBounds(t *testing.T) {
	now := time.Now()
	st := newSessionStore(2, func() time.Time { return now })
	first, _ := st.create("a", now.Add(time.Minute))
	second, _ := st.create("b", now.Add(time.Hour))
	third, _ := st.create("c", now.Add(24*time.Hour))
	if st.len() != 2 || st.get(first) != nil || st.get(second) == nil || st.get(third) == nil {
		t.Errorf("past the bound: %d sessions; the one closest to expiry must go", st.len())
	}
	if s := st.get(third); s.expires.After(now.Add(maxSessionTTL)) {
		t.Errorf("a session lasts %v, more than %v", s.expires.Sub(now), maxSessionTTL)
	}
	code := st.mintCode("a")
	now = now.Add(loginCodeTTL + time.Second)
	if _, ok := st.redeem(code); ok {
		t.Error("an expired login code worked")
	}
	now = now.Add(time.Hour)
	if st.get(second) != nil {
		t.Error("an expired session worked")
	}
}
