package vault_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

func TestSecretsWithSDK(t *testing.T) { testSecretsWithSDK(t, harnessOptions{}) }

// TestSecretsWithSDKNoCache runs the same life cycle with the read cache off, as
// the vault runs on PostgreSQL.
func TestSecretsWithSDKNoCache(t *testing.T) { testSecretsWithSDK(t, harnessOptions{noCache: true}) }

// testSecretsWithSDK drives the real azsecrets client through the whole secret
// life cycle (reference A.14 items 1, 2 and 4).
func testSecretsWithSDK(t *testing.T, ho harnessOptions) {
	h := newHarness(t, ho)
	c := h.secrets(adminOID)
	ctx := context.Background()

	// The first call is answered with the challenge and resent with a token; later
	// calls need one round trip each.
	set, err := c.SetSecret(ctx, "db-password", azsecrets.SetSecretParameters{Value: to.Ptr("p@ss"), ContentType: to.Ptr("text/plain"), Tags: map[string]*string{"env": to.Ptr("prod")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := h.requests.Load(); n != 2 {
		t.Errorf("first SetSecret took %d requests, want 2 (challenge, then the authenticated retry)", n)
	}
	if set.ID.Name() != "db-password" || len(set.ID.Version()) != 32 || *set.Value != "p@ss" || *set.ContentType != "text/plain" || *set.Tags["env"] != "prod" {
		t.Fatalf("SetSecret answered %+v", set.Secret)
	}
	before := h.requests.Load()
	got, err := c.GetSecret(ctx, "db-password", "", nil) // GET /secrets/db-password/ (trailing slash)
	if err != nil {
		t.Fatal(err)
	}
	if h.requests.Load()-before != 1 {
		t.Errorf("GetSecret took %d requests, want 1", h.requests.Load()-before)
	}
	if *got.Value != "p@ss" || got.ID.Version() != set.ID.Version() || !*got.Attributes.Enabled || got.Attributes.Created == nil {
		t.Errorf("GetSecret latest = %+v", got.Secret)
	}
	if *got.Attributes.RecoveryLevel != "Recoverable+Purgeable" || *got.Attributes.RecoverableDays != 90 {
		t.Errorf("recovery level %q days %d", *got.Attributes.RecoveryLevel, *got.Attributes.RecoverableDays)
	}
	set2, err := c.SetSecret(ctx, "DB-Password", azsecrets.SetSecretParameters{Value: to.Ptr("p@ss2")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if set2.ID.Name() != "db-password" {
		t.Errorf("a second version under another case is named %q, want the first spelling", set2.ID.Name())
	}
	old, err := c.GetSecret(ctx, "db-password", set.ID.Version(), nil)
	if err != nil || *old.Value != "p@ss" {
		t.Fatalf("GetSecret(old version) = %v, %v", old.Value, err)
	}
	latest, _ := c.GetSecret(ctx, "db-password", "", nil)
	if *latest.Value != "p@ss2" {
		t.Errorf("latest after a second set = %q", *latest.Value)
	}

	// Update properties of the latest version (PATCH /secrets/name/ with an empty version).
	upd, err := c.UpdateSecretProperties(ctx, "db-password", "", azsecrets.UpdateSecretPropertiesParameters{ContentType: to.Ptr("text/x-updated"), Tags: map[string]*string{"k": to.Ptr("v")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if upd.Value != nil || *upd.ContentType != "text/x-updated" || *upd.Tags["k"] != "v" || upd.ID.Version() != set2.ID.Version() {
		t.Errorf("UpdateSecretProperties = %+v", upd.Secret)
	}
	// Disable the first version: reading its value is refused with SecretDisabled.
	if _, err := c.UpdateSecretProperties(ctx, "db-password", set.ID.Version(), azsecrets.UpdateSecretPropertiesParameters{SecretAttributes: &azsecrets.SecretAttributes{Enabled: to.Ptr(false)}}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetSecret(ctx, "db-password", set.ID.Version(), nil)
	wantResponseError(t, err, http.StatusForbidden, "Forbidden")
	resp, body := h.do("GET", "/secrets/db-password/"+set.ID.Version()+"?api-version=7.4", h.token(claims{}), "")
	if resp.StatusCode != 403 || !strings.Contains(string(body), `"innererror":{"code":"SecretDisabled"}`) || !strings.Contains(string(body), "Operation get is not allowed on a disabled secret.") {
		t.Errorf("disabled version: %d %s", resp.StatusCode, body)
	}

	// Paging: 59 secrets and one added mid-listing, 25 a page; no page repeats or skips a name.
	for i := range 58 {
		if _, err := c.SetSecret(ctx, fmt.Sprintf("s%02d", i), azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	pages := 0
	pager := c.NewListSecretPropertiesPager(nil)
	for pager.More() {
		p, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(p.Value) > 25 || len(p.Value) == 0 {
			t.Errorf("page %d has %d items", pages, len(p.Value))
		}
		for _, s := range p.Value {
			names = append(names, s.ID.Name())
			if s.ID.Version() != "" {
				t.Errorf("list item id %s carries a version", *s.ID)
			}
		}
		if pages == 1 {
			// A secret added between pages sorts after the first page and is listed once.
			c.SetSecret(ctx, "zz-late", azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil)
		}
	}
	if pages != 3 || len(names) != 60 || !sort.StringsAreSorted(names) || hasDuplicates(names) {
		t.Errorf("listing gave %d pages and %d names (sorted %v): %v", pages, len(names), sort.StringsAreSorted(names), names)
	}
	resp, body = h.do("GET", "/secrets?api-version=7.4&maxresults=2", h.token(claims{}), "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `maxresults=2`) || !strings.Contains(string(body), `"nextLink":"https://kv1.vault.test.example/secrets?`) {
		t.Errorf("maxresults=2: %d %s", resp.StatusCode, body)
	}
	resp, _ = h.do("GET", "/secrets?api-version=7.4&maxresults=26", h.token(claims{}), "")
	if resp.StatusCode != 400 {
		t.Errorf("maxresults=26 answered %d, want 400", resp.StatusCode)
	}
	resp, _ = h.do("GET", "/secrets?api-version=7.4&$skiptoken=Zm9v.AAAA", h.token(claims{}), "")
	if resp.StatusCode != 400 {
		t.Errorf("a forged $skiptoken answered %d, want 400", resp.StatusCode)
	}
	var versions []string
	vp := c.NewListSecretPropertiesVersionsPager("db-password", nil)
	for vp.More() {
		p, err := vp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Value {
			versions = append(versions, s.ID.Version())
		}
	}
	if len(versions) != 2 {
		t.Errorf("versions of db-password: %v", versions)
	}

	// Delete, then the name is taken until recovered or purged.
	del, err := c.DeleteSecret(ctx, "db-password", nil)
	if err != nil {
		t.Fatal(err)
	}
	if del.RecoveryID == nil || del.DeletedDate == nil || del.ScheduledPurgeDate == nil || del.ScheduledPurgeDate.Sub(*del.DeletedDate).Hours() != 90*24 {
		t.Errorf("DeleteSecret = %+v", del.DeletedSecret)
	}
	_, err = c.GetSecret(ctx, "db-password", "", nil)
	wantResponseError(t, err, http.StatusNotFound, "SecretNotFound")
	_, err = c.SetSecret(ctx, "db-password", azsecrets.SetSecretParameters{Value: to.Ptr("again")}, nil)
	wantResponseError(t, err, http.StatusConflict, "Conflict")
	resp, body = h.do("PUT", "/secrets/db-password?api-version=7.4", h.token(claims{}), `{"value":"x"}`)
	if !strings.Contains(string(body), "ObjectIsDeletedButRecoverable") {
		t.Errorf("reuse of a deleted name: %d %s", resp.StatusCode, body)
	}
	gd, err := c.GetDeletedSecret(ctx, "db-password", nil)
	if err != nil || gd.ID.Name() != "db-password" {
		t.Fatalf("GetDeletedSecret = %+v, %v", gd, err)
	}
	deleted := 0
	dp := c.NewListDeletedSecretPropertiesPager(nil)
	for dp.More() {
		p, err := dp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		deleted += len(p.Value)
	}
	if deleted != 1 {
		t.Errorf("%d deleted secrets listed, want 1", deleted)
	}
	if _, err := c.RecoverDeletedSecret(ctx, "db-password", nil); err != nil {
		t.Fatal(err)
	}
	back, err := c.GetSecret(ctx, "db-password", "", nil)
	if err != nil || *back.Value != "p@ss2" || *back.ContentType != "text/x-updated" {
		t.Fatalf("after recover: %+v, %v", back, err)
	}
	if _, err := c.DeleteSecret(ctx, "db-password", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PurgeDeletedSecret(ctx, "db-password", nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetDeletedSecret(ctx, "db-password", nil)
	wantResponseError(t, err, http.StatusNotFound, "SecretNotFound")
	if _, err := c.SetSecret(ctx, "db-password", azsecrets.SetSecretParameters{Value: to.Ptr("new life")}, nil); err != nil {
		t.Errorf("set after purge: %v", err)
	}
}

func wantResponseError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want a %d %s response error", err, status, code)
	}
	if re.StatusCode != status || re.ErrorCode != code {
		t.Errorf("got %d %s, want %d %s", re.StatusCode, re.ErrorCode, status, code)
	}
}

func hasDuplicates(s []string) bool {
	seen := map[string]bool{}
	for _, x := range s {
		if seen[x] {
			return true
		}
		seen[x] = true
	}
	return false
}

// TestChallengeResourceVerification (A.14 item 2): the SDK's resource check passes
// unchanged for a vault under the challenge's domain, and for a vault addressed by IP
// only with DisableChallengeResourceVerification.
func TestChallengeResourceVerification(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ctx := context.Background()
	byIP := func(disable bool) error {
		c, err := azsecrets.NewClient("https://127.0.0.1", credential{h, adminOID}, &azsecrets.ClientOptions{ClientOptions: h.clientOptions(), DisableChallengeResourceVerification: disable})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.SetSecret(ctx, "by-ip", azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil)
		return err
	}
	if err := byIP(false); err == nil || !strings.Contains(err.Error(), "challenge resource") {
		t.Errorf("a vault at 127.0.0.1 without the option: %v, want the SDK's resource mismatch", err)
	}
	if err := byIP(true); err != nil {
		t.Errorf("a vault at 127.0.0.1 with DisableChallengeResourceVerification: %v", err)
	}
	if _, err := h.secrets(adminOID).GetSecret(ctx, "by-ip", "", nil); err != nil {
		t.Errorf("the vault under its domain, no option: %v", err)
	}
}
