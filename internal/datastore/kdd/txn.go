package kdd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tortienet/tortie/internal/datastore"
)

// Txn implements datastore.Store without a multi-object transaction,
// which Kubernetes does not have:
//
//  1. the ops are applied one by one, in the order given, each a
//     compare-and-swap on its resourceVersion (an update that another op
//     follows is read first, to be able to undo it);
//  2. if one fails (its condition does not hold), the ops already applied
//     are undone in reverse order, each again a compare-and-swap on the
//     revision it wrote, and the error names the failed op's key.
//
// So a Txn is all-or-nothing when it returns, but not isolated: others may
// see part of it while it runs, a crash in between leaves part of it, and
// the keys get distinct revisions (the highest is returned). Callers order
// their ops so that every prefix of them is safe to be seen or left behind
// (IPAM writes a handle before the block that references it, and releases
// in the opposite order; see package ipam).
func (s *Store) Txn(ctx context.Context, ops ...datastore.Op) (int64, error) {
	cur, err := s.precheck(ctx, ops)
	if err != nil {
		return 0, err
	}
	var done []undo
	var last int64
	for i, op := range ops {
		u, rev, err := s.apply(ctx, op, cur[i])
		if err != nil {
			if uerr := s.rollback(ctx, done); uerr != nil {
				return 0, fmt.Errorf("%w (and undoing the ops before it failed: %v)", err, uerr)
			}
			return 0, err
		}
		done = append(done, u)
		last = max(last, rev)
	}
	return last, nil
}

// precheck refuses repeated keys and reads what an undo will need: the
// value of each update that another op follows. It returns, per op, the
// revision to apply it at and that value.
func (s *Store) precheck(ctx context.Context, ops []datastore.Op) ([]datastore.KV, error) {
	seen := map[string]bool{}
	cur := make([]datastore.KV, len(ops))
	for i, op := range ops {
		if seen[op.Key] {
			return nil, fmt.Errorf("txn: key %s appears twice", op.Key)
		}
		seen[op.Key] = true
		cur[i] = datastore.KV{Key: op.Key, Revision: op.Rev}
		if op.Type != datastore.OpUpdate || i == len(ops)-1 {
			continue
		}
		kv, err := s.Get(ctx, op.Key)
		if err != nil {
			return nil, err
		}
		if op.Rev != 0 && kv.Revision != op.Rev {
			return nil, datastore.NewKeyError(op.Key, datastore.ErrConflict)
		}
		cur[i] = kv
	}
	return cur, nil
}

// undo reverses one applied op.
type undo struct {
	op   datastore.OpType
	key  string
	prev []byte // the value before an update or a delete
	rev  int64  // the revision the op wrote (0 after a delete)
}

func (s *Store) apply(ctx context.Context, op datastore.Op, cur datastore.KV) (undo, int64, error) {
	switch op.Type {
	case datastore.OpCreate:
		n, err := s.Create(ctx, op.Key, op.Value)
		return undo{op: op.Type, key: op.Key, rev: n}, n, err
	case datastore.OpUpdate:
		n, err := s.Update(ctx, op.Key, op.Value, cur.Revision)
		return undo{op: op.Type, key: op.Key, prev: cur.Value, rev: n}, n, err
	case datastore.OpDelete:
		kv, err := s.Delete(ctx, op.Key, cur.Revision)
		return undo{op: op.Type, key: op.Key, prev: kv.Value}, 0, err
	}
	return undo{}, 0, fmt.Errorf("txn: op %d on %s: unknown type", op.Type, op.Key)
}

func (s *Store) rollback(ctx context.Context, done []undo) error {
	var errs []error
	for i := len(done) - 1; i >= 0; i-- {
		u := done[i]
		var err error
		switch {
		case u.op == datastore.OpCreate:
			_, err = s.Delete(ctx, u.key, u.rev)
		case u.op == datastore.OpDelete:
			_, err = s.Create(ctx, u.key, u.prev)
		default:
			_, err = s.Update(ctx, u.key, u.prev, u.rev)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func decodeKV(m *mapping, raw []byte) (datastore.KV, bool, error) {
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		return datastore.KV{}, false, err
	}
	return m.kvOf(&o, raw)
}
