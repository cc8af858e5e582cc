package vault

import (
	"context"
	"fmt"
	"time"

	"github.com/tegata-project/tegata/internal/store"
)

// MaintainEvery is how often Maintain re-reads role assignments (written by
// `tegata vault role assign` or another replica) and purges objects whose
// retention has ended.
const MaintainEvery = 2 * time.Second

// Maintain runs until ctx ends: it keeps the role assignments current and
// purges soft-deleted objects after their scheduledPurgeDate.
func (v *Vault) Maintain(ctx context.Context) {
	t := time.NewTicker(MaintainEvery)
	defer t.Stop()
	lastPurge := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := v.ReloadAssignments(ctx); err != nil && ctx.Err() == nil {
			v.log.Warn("vault: re-reading role assignments failed; the previous ones stay in force", "err", err)
		}
		if time.Since(lastPurge) >= time.Minute {
			lastPurge = time.Now()
			if n, err := v.PurgeExpired(ctx); err != nil && ctx.Err() == nil {
				v.log.Warn("vault: purging expired deleted objects failed", "err", err)
			} else if n > 0 {
				v.log.Info("vault: purged deleted objects past their scheduled purge date", "objects", n)
			}
		}
	}
}

// PurgeExpired removes the soft-deleted objects of every served vault whose
// scheduled purge date has passed, and returns how many it removed.
func (v *Vault) PurgeExpired(ctx context.Context) (int, error) {
	now := v.now()
	n := 0
	for _, name := range v.vaults {
		for _, kind := range []store.Kind{store.KindCertificate, store.KindSecret} {
			var due []store.ObjectKey
			err := v.opts.Store.View(ctx, func(tx store.Tx) error {
				after := ""
				for {
					objs, err := tx.Objects(ctx, name, kind, true, store.ListOptions{After: after, Limit: 500})
					if err != nil {
						return err
					}
					for _, o := range objs {
						if !o.PurgeAt.After(now) {
							due = append(due, o.ObjectKey)
						}
					}
					if len(objs) < 500 {
						return nil
					}
					after = lowerName(objs[len(objs)-1].Name)
				}
			})
			if err != nil {
				return n, fmt.Errorf("vault %s: listing deleted %ss: %w", name, kind, err)
			}
			for _, key := range due {
				err := v.update(ctx, func(tx store.Tx) error {
					o, err := tx.Object(ctx, key)
					if err != nil || o.Deleted.IsZero() || o.PurgeAt.After(now) {
						return nil // recovered or purged meanwhile
					}
					return tx.PurgeObject(ctx, key)
				})
				if err != nil {
					return n, fmt.Errorf("vault %s: purging %s %s: %w", name, kind, key.Name, err)
				}
				n++
			}
		}
	}
	return n, nil
}

// Rewrap moves every sealed value of the named vaults (secret values,
// certificate secrets, pending keys) to the sealer's current master key,
// re-wrapping only the data keys. It returns how many values it re-wrapped;
// values already under the current key are left alone, so it can be re-run
// after an interruption.
func Rewrap(ctx context.Context, st store.Store, s *Sealer, vaults []string) (int, error) {
	n := 0
	for _, name := range vaults {
		for _, kind := range []store.Kind{store.KindSecret, store.KindCertificate} {
			for _, deleted := range []bool{false, true} {
				after := ""
				for {
					var objs []store.Object
					err := st.View(ctx, func(tx store.Tx) error {
						var err error
						objs, err = tx.Objects(ctx, name, kind, deleted, store.ListOptions{After: after, Limit: 200})
						return err
					})
					if err != nil {
						return n, err
					}
					for _, o := range objs {
						c, err := rewrapObject(ctx, st, s, o.ObjectKey)
						n += c
						if err != nil {
							return n, fmt.Errorf("vault %s: %s %s: %w", name, kind, o.Name, err)
						}
					}
					if len(objs) < 200 {
						break
					}
					after = lowerName(objs[len(objs)-1].Name)
				}
			}
		}
	}
	return n, nil
}

// rewrapObject re-wraps one object's pending key and its versions' values in
// one transaction.
func rewrapObject(ctx context.Context, st store.Store, s *Sealer, key store.ObjectKey) (int, error) {
	n := 0
	err := st.Update(ctx, func(tx store.Tx) error {
		n = 0
		o, err := tx.Object(ctx, key)
		if err != nil {
			return err
		}
		if len(o.Sealed) > 0 {
			om, err := decodeObjectMeta(o)
			if err != nil {
				return err
			}
			if om.Pending != nil {
				sealed, changed, err := s.Rewrap(o.Sealed, pendingContext(key.Vault, o.Name, om.Pending.RequestID))
				if err != nil {
					return err
				}
				if changed {
					o.Sealed = sealed
					if err := tx.PutObject(ctx, o); err != nil {
						return err
					}
					n++
				}
			}
		}
		after := ""
		for {
			vers, err := tx.Versions(ctx, key, store.ListOptions{After: after, Limit: 200})
			if err != nil {
				return err
			}
			for _, v := range vers {
				if len(v.Sealed) == 0 {
					continue
				}
				sealed, changed, err := s.Rewrap(v.Sealed, sealContext(key.Kind, key.Vault, o.Name, v.ID))
				if err != nil {
					return err
				}
				if changed {
					v.Sealed = sealed
					if _, err := tx.PutVersion(ctx, v); err != nil {
						return err
					}
					n++
				}
			}
			if len(vers) < 200 {
				return nil
			}
			after = vers[len(vers)-1].ID
		}
	})
	return n, err
}
