package kdd

import (
	"context"
	"fmt"
	"net/url"

	"github.com/tortienet/tortie/internal/datastore"
)

// Dial is the datastore.Dialer of the Kubernetes datastore: it opens
// cfg.Kubeconfig (in-cluster when empty) and checks, within the dial
// timeout, that the apiserver answers, accepts the credentials and serves
// Calico's CRDs.
func Dial(ctx context.Context, cfg datastore.Config) (datastore.Store, error) {
	s, err := Open(Config{Kubeconfig: cfg.Kubeconfig})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Etcd.Timeout())
	defer cancel()
	if err := s.Check(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// DialUnchecked is Dial without the check: for the CNI plugin, which
// runs once per pod and whose first request reports the same errors.
func DialUnchecked(_ context.Context, cfg datastore.Config) (datastore.Store, error) {
	return Open(Config{Kubeconfig: cfg.Kubeconfig})
}

// Check reads one IPPool: it fails, saying what is wrong, when the
// apiserver is unreachable, refuses the credentials or the RBAC verb, or
// does not serve the CRDs.
func (s *Store) Check(ctx context.Context) error {
	m, _, _, err := s.find(datastore.ResourceKey("ippools", "", "x"))
	if err != nil {
		return err
	}
	q := url.Values{"limit": {"1"}}
	err = s.c.call(ctx, "GET", m.res.path("", ""), q, nil, nil)
	if err != nil {
		return fmt.Errorf("kubernetes datastore (%s): %w", s.c.conn.Source, s.wrap("ippools", m, err))
	}
	return nil
}
