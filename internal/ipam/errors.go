package ipam

import (
	"errors"

	"github.com/tortienet/tortie/internal/datastore"
)

// Errors callers may test for with errors.Is.
var (
	// ErrBlockLimit: the host owns as many blocks as it may.
	ErrBlockLimit = errors.New("cannot allocate new block due to per host block limit")
	// ErrStrictAffinity: the host's blocks are full, and strict affinity forbids borrowing.
	ErrStrictAffinity = errors.New("no more free affine blocks and strict affinity enabled")
	// ErrExhausted: no pool the request may use has a free address.
	ErrExhausted = errors.New("the IP pools are exhausted")
	// ErrNoPools: no pool may be used by this request.
	ErrNoPools = errors.New("no configured IP pools")

	errNoFreeBlocks = errors.New("no free blocks")
)

func isNotFound(err error) bool { return errors.Is(err, datastore.ErrNotFound) }

// keyOf returns the key named by a datastore error, if any.
func keyOf(err error) string {
	var ke *datastore.KeyError
	if errors.As(err, &ke) {
		return ke.Key
	}
	return ""
}
