package acme

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-acme/lego/v4/acme/api"
	"github.com/go-acme/lego/v4/certificate"
)

// ErrNoARI is returned by RenewalInfo when the CA's directory advertises
// no renewalInfo endpoint; renew on the certificate's lifetime instead.
var ErrNoARI = errors.New("acme: the CA does not offer renewal information (ARI)")

// RenewalInfo is the CA's advice on when to renew a certificate (ARI,
// RFC 9773).
type RenewalInfo struct {
	// Start and End bound the suggested renewal window, [Start, End).
	Start, End time.Time
	// RetryAfter is when to ask again (the Retry-After header), zero when
	// the CA gave none.
	RetryAfter time.Duration
	// ExplanationURL points to the CA's explanation of the window, if any.
	ExplanationURL string
}

// CertID returns the ARI CertID of leaf (RFC 9773 §4.1): its Authority Key
// Identifier and serial number, base64url-encoded, joined by a dot. It is
// what Order.ReplacesCertID takes.
func CertID(leaf *x509.Certificate) (string, error) {
	if leaf == nil {
		return "", errors.New("acme: CertID of a nil certificate")
	}
	if len(leaf.AuthorityKeyId) == 0 {
		return "", errors.New("acme: the certificate has no Authority Key Identifier, so it has no ARI CertID")
	}
	return certificate.MakeARICertID(leaf)
}

// RenewalInfo asks the CA for the renewal window of leaf. issuer may be
// nil; when leaf lacks an Authority Key Identifier, the issuer's Subject
// Key Identifier stands in for it. It returns ErrNoARI when the CA has no
// ARI endpoint; other errors are classified like Obtain's.
func (c *Client) RenewalInfo(ctx context.Context, leaf, issuer *x509.Certificate) (RenewalInfo, error) {
	if c.dir.RenewalInfoURL == "" {
		return RenewalInfo{}, ErrNoARI
	}
	if leaf == nil {
		return RenewalInfo{}, errors.New("acme: RenewalInfo of a nil certificate")
	}
	if len(leaf.AuthorityKeyId) == 0 && issuer != nil && len(issuer.SubjectKeyId) > 0 {
		withAKI := *leaf
		withAKI.AuthorityKeyId = issuer.SubjectKeyId
		leaf = &withAKI
	}
	id, err := CertID(leaf)
	if err != nil {
		return RenewalInfo{}, err
	}
	op := fmt.Sprintf("fetching renewal information for serial %x", leaf.SerialNumber)
	u := strings.TrimSuffix(c.dir.RenewalInfoURL, "/") + "/" + id
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return RenewalInfo{}, err
	}
	if c.cfg.UserAgent != "" {
		req.Header.Set("User-Agent", c.cfg.UserAgent)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return RenewalInfo{}, fmt.Errorf("acme: %s: %w", op, ctx.Err())
		}
		return RenewalInfo{}, classify(op, err, nil)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return RenewalInfo{}, classify(op, err, nil)
	}
	if resp.StatusCode != http.StatusOK {
		return RenewalInfo{}, statusError(op, resp, body)
	}
	var ri struct {
		SuggestedWindow struct {
			Start time.Time `json:"start"`
			End   time.Time `json:"end"`
		} `json:"suggestedWindow"`
		ExplanationURL string `json:"explanationURL"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&ri); err != nil {
		return RenewalInfo{}, fmt.Errorf("acme: %s: the CA's answer is not renewal information: %w", op, err)
	}
	w := ri.SuggestedWindow
	if w.Start.IsZero() || w.End.IsZero() || !w.Start.Before(w.End) {
		// RFC 9773 §4.2: a window whose end is not after its start is invalid.
		return RenewalInfo{}, fmt.Errorf("acme: %s: the CA's window [%s, %s) is invalid; ask again later",
			op, w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339))
	}
	out := RenewalInfo{Start: w.Start, End: w.End, ExplanationURL: ri.ExplanationURL}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if d, err := api.ParseRetryAfter(ra); err == nil && d > 0 {
			out.RetryAfter = d
		}
	}
	return out, nil
}
