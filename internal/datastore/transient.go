package datastore

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// Transient tells whether err is a datastore failure that clears up by
// itself: the server cannot be reached, is restarting or electing a
// leader, or did not answer in time. A caller that gets one may retry
// the whole operation later (a CNI plugin answers "try again later");
// anything else (a conflict, a rejected write, bad data) is not.
//
// Errors are recognised by their type where they have one (context,
// network and system errors, and backend errors that say so through a
// Transient() bool method), and otherwise by the messages etcd and gRPC
// give them, since errors that crossed a socket (the node agent's) keep
// only their text. This package stays free of gRPC so that the CNI
// plugin, which links it, starts fast.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrAlreadyExists) || errors.Is(err, ErrConflict) || errors.Is(err, ErrCompacted) {
		return false
	}
	var t interface{ Transient() bool }
	if errors.As(err, &t) {
		return t.Transient()
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, net.ErrClosed), errors.As(err, &ne):
		return true
	}
	msg := err.Error()
	for _, s := range transientMessages {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// transientMessages are texts of transient failures of etcd, gRPC and the
// network, as they read once only the text is left.
var transientMessages = []string{
	"connection refused",
	"connection reset",
	"broken pipe",
	"context deadline exceeded",
	"i/o timeout",
	"no route to host",
	"code = Unavailable",
	"code = DeadlineExceeded",
	"transport is closing",
	"error reading from server",
	"etcdserver: request timed out",
	"etcdserver: leader changed",
	"etcdserver: no leader",
	"etcdserver: server stopped",
	"etcdserver: too many requests",
	"cannot reach etcd",
}
