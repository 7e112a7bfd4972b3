package cni

import (
	"errors"
	"fmt"

	"github.com/containernetworking/cni/pkg/types"
)

// Errors are returned to the runtime as CNI error JSON
// ({"code": N, "msg": ..., "details": ...}). The codes:
//
//   - 11 (try again later): the node agent has not started (no nodename
//     file) or the datastore cannot be reached; both clear up by themselves.
//   - 50 (plugin not available): STATUS, for the same two conditions.
//   - 7 (invalid network configuration): a field of the conflist is wrong.
//   - the IPAM plugin's own code when it failed (pools exhausted, ...).
//   - 999 (internal) for the rest, e.g. an interface name that is taken.

// cniError gives err a CNI code unless it already carries one.
func cniError(code uint, err error) error {
	if err == nil {
		return nil
	}
	var te *types.Error
	if errors.As(err, &te) {
		return err
	}
	return types.NewError(code, err.Error(), "")
}

// ipamError keeps the IPAM plugin's code and message, saying which plugin
// it was and what it was asked to do.
func ipamError(plugin, verb string, err error) error {
	var te *types.Error
	if errors.As(err, &te) {
		msg := fmt.Sprintf("IPAM plugin %s %s: %s", plugin, verb, te.Msg)
		return types.NewError(te.Code, msg, te.Details)
	}
	return types.NewError(types.ErrInternal, fmt.Sprintf("IPAM plugin %s %s: %v", plugin, verb, err), "")
}

// unreachable is the datastore error: transient, naming the endpoints.
func unreachable(code uint, err error) error {
	return types.NewError(code, fmt.Sprintf("datastore unreachable: %v", err), "")
}

// notReady is the node agent error.
func notReady(code uint, err error) error {
	return types.NewError(code, err.Error(), "")
}
