package renew

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"sync"
	"time"
)

// Browser sessions of the dashboard. A browser cannot send a bearer token with
// every request, so a token (or a one-time login code minted by `tegata up`) is
// exchanged once for a random session id in a cookie. Sessions live in memory
// only: a restart signs everybody out, which is the safe way round. Only the
// principal is kept; what it may do is asked of the vault's policy at every
// request, so a revoked role assignment takes effect at once.

const (
	// maxSessionTTL bounds a session whatever its token's expiry.
	maxSessionTTL = 8 * time.Hour
	// loginCodeTTL is how long a one-time login code stays valid.
	loginCodeTTL = 10 * time.Minute
	// defaultMaxSessions bounds the sessions kept; past it the one closest
	// to expiry is dropped, so a flood of logins costs memory only up to here.
	defaultMaxSessions = 1000
	// maxLoginCodes bounds the unredeemed login codes.
	maxLoginCodes = 100
)

// Sessions are the dashboard's signed-in browsers and unredeemed login codes.
// They exist apart from the Dashboard so that `tegata up` can mint its login
// link before the renewal service (and so its dashboard) has started.
type Sessions struct{ st *sessionStore }

// NewSessions returns an empty store of at most max sessions (0: 1000).
func NewSessions(max int) *Sessions { return &Sessions{newSessionStore(max, time.Now)} }

// LoginLink mints a one-time code that signs principal in within 10 minutes,
// and returns the path that redeems it (/dashboard/login?code=...).
func (s *Sessions) LoginLink(principal string) string {
	return "/dashboard/login?code=" + url.QueryEscape(s.st.mintCode(principal))
}

type session struct {
	principal string
	expires   time.Time
	csrf      string // the token every POST form of this session carries
}

type loginCode struct {
	principal string
	expires   time.Time
}

type sessionStore struct {
	clock func() time.Time
	max   int

	mu       sync.Mutex
	sessions map[[32]byte]*session // by the SHA-256 of the id: the map never holds a usable cookie
	codes    map[[32]byte]loginCode
}

func newSessionStore(max int, clock func() time.Time) *sessionStore {
	if max <= 0 {
		max = defaultMaxSessions
	}
	return &sessionStore{clock: clock, max: max, sessions: map[[32]byte]*session{}, codes: map[[32]byte]loginCode{}}
}

// randomID returns 256 random bits, base64url-encoded.
func randomID() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session for principal that ends at expires (at most
// maxSessionTTL from now) and returns its id.
func (st *sessionStore) create(principal string, expires time.Time) (string, *session) {
	now := st.clock()
	if limit := now.Add(maxSessionTTL); expires.After(limit) {
		expires = limit
	}
	id := randomID()
	s := &session{principal: principal, expires: expires, csrf: randomID()}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.sessions) >= st.max {
		st.evictLocked(now)
	}
	st.sessions[sha256.Sum256([]byte(id))] = s
	return id, s
}

// evictLocked drops expired sessions, and the one closest to expiry if none was.
func (st *sessionStore) evictLocked(now time.Time) {
	var soonest [32]byte
	var soonestAt time.Time
	dropped := false
	for k, s := range st.sessions {
		if !now.Before(s.expires) {
			delete(st.sessions, k)
			dropped = true
			continue
		}
		if soonestAt.IsZero() || s.expires.Before(soonestAt) {
			soonest, soonestAt = k, s.expires
		}
	}
	if !dropped && !soonestAt.IsZero() {
		delete(st.sessions, soonest)
	}
}

// get returns the live session of id, or nil.
func (st *sessionStore) get(id string) *session {
	if id == "" || len(id) > 64 {
		return nil
	}
	k := sha256.Sum256([]byte(id))
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.sessions[k]
	if s == nil {
		return nil
	}
	if !st.clock().Before(s.expires) {
		delete(st.sessions, k)
		return nil
	}
	return s
}

func (st *sessionStore) drop(id string) {
	st.mu.Lock()
	delete(st.sessions, sha256.Sum256([]byte(id)))
	st.mu.Unlock()
}

func (st *sessionStore) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.sessions)
}

// mintCode returns a code that signs principal in once, within loginCodeTTL.
func (st *sessionStore) mintCode(principal string) string {
	now := st.clock()
	code := randomID()
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.codes) >= maxLoginCodes {
		for k, c := range st.codes {
			if !now.Before(c.expires) || len(st.codes) >= maxLoginCodes {
				delete(st.codes, k)
			}
		}
	}
	st.codes[sha256.Sum256([]byte(code))] = loginCode{principal: principal, expires: now.Add(loginCodeTTL)}
	return code
}

// redeem consumes code and returns its principal; a code works once.
func (st *sessionStore) redeem(code string) (string, bool) {
	if code == "" || len(code) > 64 {
		return "", false
	}
	k := sha256.Sum256([]byte(code))
	st.mu.Lock()
	defer st.mu.Unlock()
	c, ok := st.codes[k]
	delete(st.codes, k)
	if !ok || !st.clock().Before(c.expires) {
		return "", false
	}
	return c.principal, true
}

// validCSRF compares a form's token with the session's in constant time.
func (s *session) validCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf)) == 1
}
