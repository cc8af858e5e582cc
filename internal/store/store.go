// Package store keeps tegata's durable state as rows: the vault's objects and
// their versions, role assignments, the audit log, and named blobs. It knows
// rows, not HTTP: meaning (attributes, policies, encryption) belongs to the
// callers, which hand the store opaque Meta and Sealed bytes.
//
// Two implementations exist, sqlite (the embedded default) and postgres (for
// several replicas); both pass the shared storetest suite.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned (wrapped) when a row does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned (wrapped) when a write would break a uniqueness rule,
// such as inserting an assignment with an ID that exists.
var ErrConflict = errors.New("store: conflict")

// Kind is the collection an object belongs to.
type Kind string

// The kinds of vault objects.
const (
	KindSecret      Kind = "secret"
	KindCertificate Kind = "certificate"
)

// ObjectKey names one object. Name compares case-insensitively (ASCII): "Web"
// and "web" are the same object.
type ObjectKey struct {
	Vault string
	Kind  Kind
	Name  string
}

// An Object is the name-level record of a secret or certificate: whether it is
// soft-deleted, and state kept per name rather than per version (a
// certificate's policy and pending operation).
type Object struct {
	ObjectKey // Name keeps the case it was first written with

	// Deleted is when the object was soft-deleted; zero while it is live.
	Deleted time.Time
	// PurgeAt is when a soft-deleted object is to be purged; zero while live.
	PurgeAt time.Time

	Meta    []byte // opaque to the store
	Sealed  []byte // opaque, already encrypted by the caller; may be nil
	Updated time.Time
}

// A Version is one immutable value of an object (its attributes and tags may
// change; the value does not).
type Version struct {
	ObjectKey
	ID string // 32 lowercase hex digits, chosen by the caller
	// Seq is assigned by the store when the version is inserted and increases
	// per object: the newest version has the largest Seq.
	Seq     int64
	Created time.Time

	Meta   []byte // opaque to the store
	Sealed []byte // opaque, already encrypted by the caller; may be nil
}

// ListOptions select one page of a sorted listing.
type ListOptions struct {
	// After is exclusive: the sort key of the last item of the previous page,
	// or "" for the first page. Objects sort by lower-case name (After is
	// compared case-insensitively), versions by ID.
	After string
	// Limit is the page size, 1 to 1000.
	Limit int
}

// Tx reads and writes objects and versions inside one transaction.
type Tx interface {
	// Object returns the object, live or deleted, or ErrNotFound.
	Object(ctx context.Context, key ObjectKey) (Object, error)
	// PutObject inserts the object or replaces every field of the existing one
	// with the same key. A replace keeps the stored Name's case.
	PutObject(ctx context.Context, o Object) error
	// PurgeObject removes the object and all its versions, or returns ErrNotFound.
	PurgeObject(ctx context.Context, key ObjectKey) error
	// Objects lists a vault's objects of one kind, the live ones (deleted false)
	// or the soft-deleted ones (deleted true), sorted by lower-case name.
	Objects(ctx context.Context, vault string, kind Kind, deleted bool, opt ListOptions) ([]Object, error)

	// Version returns one version of an object, or ErrNotFound.
	Version(ctx context.Context, key ObjectKey, id string) (Version, error)
	// LatestVersion returns the version with the largest Seq, or ErrNotFound.
	LatestVersion(ctx context.Context, key ObjectKey) (Version, error)
	// PutVersion inserts a new version, assigning Seq, and returns it as
	// stored; if the object already has a version with v.ID, it replaces that
	// version's Meta and Sealed and keeps its Seq and Created. The object row
	// must exist (ErrNotFound otherwise).
	PutVersion(ctx context.Context, v Version) (Version, error)
	// Versions lists an object's versions sorted by ID.
	Versions(ctx context.Context, key ObjectKey, opt ListOptions) ([]Version, error)
}

// An Assignment grants a role to a principal at a scope of one vault.
type Assignment struct {
	ID        string // unique, chosen by the caller
	Vault     string
	Principal string // the token's oid
	RoleID    string // Azure role-definition GUID
	// Scope is "/" for the whole vault, or "/secrets/{name}" or
	// "/certificates/{name}" for one object (names compare case-insensitively).
	Scope   string
	Created time.Time
}

// An AuditEntry records one access: who, what, when and the result.
type AuditEntry struct {
	Time      time.Time
	Vault     string
	Principal string // oid, or "" when unauthenticated
	App       string // appid/azp, for the record
	Action    string // data action, e.g. Microsoft.KeyVault/vaults/secrets/getSecret/action
	Target    string // path of the object, e.g. /secrets/db-password/<version>
	Status    int    // HTTP status returned
	RequestID string
	Client    string // remote address
}

// AuditQuery selects audit entries, oldest first.
type AuditQuery struct {
	Vault string    // "" for every vault
	Since time.Time // inclusive; zero for the beginning
	Limit int       // 1 to 10000
}

// Store is tegata's durable state. Every method is safe for concurrent use.
//
// Times are kept to the microsecond and returned in UTC; the store never sets
// them itself (Created, Updated, Deleted, PurgeAt come from the caller). Empty
// Meta and Sealed read back as nil. A Version read back carries its object's
// stored Name.
type Store interface {
	// Update runs fn in a read-write transaction and commits when fn returns
	// nil; any error rolls back. Writes are serialised so that fn sees a
	// consistent state (read-then-write is safe). When Update returns nil, the
	// writes are durable.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction; writes in fn fail.
	View(ctx context.Context, fn func(Tx) error) error
	// Get reads an object with one of its versions (the latest when id is
	// "") in a single statement, the fast path of a read. It returns
	// ErrNotFound when the object does not exist; when the object exists
	// without such a version, the Version is zero (ID "").
	Get(ctx context.Context, key ObjectKey, id string) (Object, Version, error)

	// PutAssignment inserts an assignment; ErrConflict if its ID exists.
	PutAssignment(ctx context.Context, a Assignment) error
	// DeleteAssignment removes an assignment by ID, or returns ErrNotFound.
	DeleteAssignment(ctx context.Context, id string) error
	// Assignments returns a vault's assignments ("" for every vault), oldest first.
	Assignments(ctx context.Context, vault string) ([]Assignment, error)

	// AppendAudit stores entries in one transaction.
	AppendAudit(ctx context.Context, entries []AuditEntry) error
	// Audit returns entries matching q, oldest first (page with Since).
	Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)

	// PutBlob stores data under key (a slash-separated path), replacing any.
	PutBlob(ctx context.Context, key string, data []byte) error
	// Blob returns the data under key, or ErrNotFound.
	Blob(ctx context.Context, key string) ([]byte, error)
	// DeleteBlob removes key, or returns ErrNotFound.
	DeleteBlob(ctx context.Context, key string) error
	// Blobs lists the keys starting with prefix, sorted.
	Blobs(ctx context.Context, prefix string) ([]string, error)

	// Close releases the store's connections.
	Close() error
}
