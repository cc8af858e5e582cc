package vault

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/tegata-project/tegata/internal/store"
)

// listBatch is how many rows are read from the store at a time while
// filling a page (filters such as "not managed" may skip some).
const listBatch = 50

// collect walks a vault's objects of one kind in name order from after,
// turning each into a list item with item (which may skip it by returning
// false), until n items and one more are found or the objects run out. It
// returns the page and the sort key to continue after, "" when there is no
// next page.
func collect(ctx context.Context, tx store.Tx, vault string, kind store.Kind, deleted bool, after string, n int,
	item func(store.Object) (any, bool, error)) ([]any, string, error) {
	out := make([]any, 0, n)
	lastKey := ""
	for {
		objs, err := tx.Objects(ctx, vault, kind, deleted, store.ListOptions{After: after, Limit: listBatch})
		if err != nil {
			return nil, "", err
		}
		for _, o := range objs {
			it, ok, err := item(o)
			if err != nil {
				return nil, "", err
			}
			if !ok {
				continue
			}
			if len(out) == n {
				return out, lastKey, nil // one more exists: there is a next page
			}
			out = append(out, it)
			lastKey = strings.ToLower(o.Name)
		}
		if len(objs) < listBatch {
			return out, "", nil
		}
		after = strings.ToLower(objs[len(objs)-1].Name)
	}
}

// listPage answers one page of a listing whose items collect produces.
func (v *Vault) listPage(rq *request, listing string, fill func(ctx context.Context, tx store.Tx, after string, n int) ([]any, string, error)) {
	n, e := pageSize(rq)
	if e != nil {
		rq.fail(e)
		return
	}
	after, e := v.after(rq, listing)
	if e != nil {
		rq.fail(e)
		return
	}
	var items []any
	var next string
	err := v.opts.Store.View(rq.r.Context(), func(tx store.Tx) error {
		var err error
		items, next, err = fill(rq.r.Context(), tx, after, n)
		return err
	})
	if v.failed(rq, err) {
		return
	}
	p := page{Value: items}
	if next != "" {
		p.NextLink = v.nextLink(rq, listing, next)
	}
	rq.reply(http.StatusOK, mustJSON(p))
}

// secretItem is a secret list item: no value, and an id without version.
type secretItem struct {
	ID                 string            `json:"id"`
	Attributes         attributesOut     `json:"attributes"`
	Tags               map[string]string `json:"tags,omitempty"`
	ContentType        string            `json:"contentType,omitempty"`
	Managed            bool              `json:"managed,omitempty"`
	RecoveryID         string            `json:"recoveryId,omitempty"`
	DeletedDate        *int64            `json:"deletedDate,omitempty"`
	ScheduledPurgeDate *int64            `json:"scheduledPurgeDate,omitempty"`
}

func (v *Vault) secretListItem(rq *request, o store.Object, m *versionMeta, id string) secretItem {
	it := secretItem{ID: id, Attributes: v.attributes(m), Tags: m.Tags, ContentType: m.ContentType, Managed: m.Managed}
	if !o.Deleted.IsZero() {
		it.RecoveryID = rq.base + "/deletedsecrets/" + o.Name
		d, p := o.Deleted.Unix(), o.PurgeAt.Unix()
		it.DeletedDate, it.ScheduledPurgeDate = &d, &p
	}
	return it
}

// listSecrets serves GET /secrets and, deleted true, GET /deletedsecrets. A
// deleted certificate's managed secret is listed only under
// /deletedcertificates (Q7).
func (v *Vault) listSecrets(rq *request, deleted bool) {
	listing := "secrets"
	if deleted {
		listing = "deletedsecrets"
	}
	v.listPage(rq, listing, func(ctx context.Context, tx store.Tx, after string, n int) ([]any, string, error) {
		return collect(ctx, tx, rq.vault, store.KindSecret, deleted, after, n, func(o store.Object) (any, bool, error) {
			ver, err := tx.LatestVersion(ctx, o.ObjectKey)
			if errors.Is(err, store.ErrNotFound) {
				return nil, false, nil
			}
			if err != nil {
				return nil, false, err
			}
			m, err := decodeVersionMeta(ver)
			if err != nil || deleted && m.Managed {
				return nil, false, err
			}
			return v.secretListItem(rq, o, &m, rq.base+"/secrets/"+o.Name), true, nil
		})
	})
}

func (v *Vault) listSecretVersions(rq *request, name string) {
	v.listPage(rq, "secrets/"+strings.ToLower(name)+"/versions", func(ctx context.Context, tx store.Tx, after string, n int) ([]any, string, error) {
		key := secretKey(rq.vault, name)
		o, err := tx.Object(ctx, key)
		if errors.Is(err, store.ErrNotFound) || err == nil && !o.Deleted.IsZero() {
			return nil, "", secretNotFound(name)
		}
		if err != nil {
			return nil, "", err
		}
		vers, err := tx.Versions(ctx, key, store.ListOptions{After: after, Limit: n + 1})
		if err != nil {
			return nil, "", err
		}
		next := ""
		if len(vers) > n {
			vers = vers[:n]
			next = vers[n-1].ID
		}
		items := make([]any, 0, len(vers))
		for _, ver := range vers {
			m, err := decodeVersionMeta(ver)
			if err != nil {
				return nil, "", err
			}
			items = append(items, v.secretListItem(rq, o, &m, rq.base+"/secrets/"+o.Name+"/"+ver.ID))
		}
		return items, next, nil
	})
}
