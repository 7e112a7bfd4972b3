package cni

import "log/slog"

// undoStack runs compensating steps in reverse order.
type undoStack []struct {
	what string
	fn   func() error
}

func (u *undoStack) push(what string, fn func() error) {
	*u = append(*u, struct {
		what string
		fn   func() error
	}{what, fn})
}

// run undoes everything, logging (not returning) what could not be undone:
// the caller reports the error that caused the rollback.
func (u undoStack) run(log *slog.Logger) {
	for i := len(u) - 1; i >= 0; i-- {
		if err := u[i].fn(); err != nil {
			log.Error("rollback: could not "+u[i].what, "err", err)
		} else {
			log.Debug("rollback: " + u[i].what)
		}
	}
}
