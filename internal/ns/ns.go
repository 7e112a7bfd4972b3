// Package ns does tortie's network-namespace work in one place (the lab,
// the privileged tests, the VM's init): making and removing named
// namespaces compatible with `ip netns`, running a function inside one on
// a locked OS thread, and netlink handles bound to one.
//
// The thread discipline: a goroutine that enters a namespace runs on its
// own locked OS thread, and the thread is handed back to the Go scheduler
// only once it is back in its original namespace. If it cannot get back,
// the thread is left locked so that it dies with the goroutine, and no
// other goroutine ever runs in the wrong namespace.
package ns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/nlsafe"
)

// RunDir is where `ip netns` keeps its namespaces (bind mounts of nsfs).
const RunDir = "/var/run/netns"

// Path is the file that names namespace name.
func Path(name string) string { return filepath.Join(RunDir, name) }

// Exists reports whether the named namespace is mounted.
func Exists(name string) bool {
	_, err := Inode(name)
	return err == nil
}

// Inode identifies the namespace behind name (the nsfs inode), as
// /proc/<pid>/ns/net does for a process. It fails if name is not mounted.
func Inode(name string) (uint64, error) {
	var st, parent unix.Stat_t
	if err := unix.Stat(Path(name), &st); err != nil {
		return 0, fmt.Errorf("namespace %s: %w", name, err)
	}
	// An unmounted leftover file is on the same device as its directory.
	if err := unix.Stat(RunDir, &parent); err == nil && st.Dev == parent.Dev {
		return 0, fmt.Errorf("namespace %s: %s is not a namespace mount", name, Path(name))
	}
	return st.Ino, nil
}

// List returns the names in RunDir that start with prefix, sorted.
func List(prefix string) ([]string, error) {
	entries, err := os.ReadDir(RunDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Create makes a new network namespace and names it (bind-mounts it at
// Path(name)), as `ip netns add` does; its loopback is brought up. It fails
// if the name exists. On failure nothing is left behind.
func Create(name string) error {
	if err := os.MkdirAll(RunDir, 0o755); err != nil {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	f, err := os.OpenFile(Path(name), os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	f.Close()
	err = onLockedThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, Path(name), "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind mount: %w", err)
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			return fmt.Errorf("loopback up: %w", err)
		}
		return nil
	})
	if err != nil {
		_ = unix.Unmount(Path(name), unix.MNT_DETACH)
		_ = os.Remove(Path(name))
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// Delete unmounts and removes the named namespace, as `ip netns delete`
// does. The kernel frees it (and its interfaces, and the peers of its
// veths) once no process or mount holds it any more. Deleting a name that
// does not exist is not an error.
func Delete(name string) error {
	p := Path(name)
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete namespace %s: unmount: %w", name, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return nil
}

// Do runs fn inside the named namespace and returns its error. fn runs on a
// goroutine of its own, locked to its OS thread; goroutines that fn starts
// run in the original namespace.
func Do(name string, fn func() error) error {
	target, err := netns.GetFromPath(Path(name))
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", name, err)
	}
	defer target.Close()
	return onLockedThread(func() error {
		if err := netns.Set(target); err != nil {
			return fmt.Errorf("enter namespace %s: %w", name, err)
		}
		return fn()
	})
}

// onLockedThread runs fn on a new goroutine locked to its thread and
// restores the thread's network namespace afterwards. A thread that cannot
// be restored is not unlocked, so it exits with its goroutine.
func onLockedThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("current namespace: %w", err)
			return
		}
		defer orig.Close()
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("restore namespace: %w", err))
			return // the thread stays locked and dies with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Handle returns a netlink handle whose sockets live in the named
// namespace; it can be used from any goroutine. Only NETLINK_ROUTE is
// opened (xfrm may be missing). Close it when done.
func Handle(name string) (*netlink.Handle, error) {
	target, err := netns.GetFromPath(Path(name))
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", name, err)
	}
	defer target.Close()
	h, err := netlink.NewHandleAt(target, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink in namespace %s: %w", name, err)
	}
	return h, nil
}

// Open returns a file descriptor of the named namespace (for netlink's
// NsFd attributes). The caller closes it.
func Open(name string) (netns.NsHandle, error) {
	h, err := netns.GetFromPath(Path(name))
	if err != nil {
		return netns.None(), fmt.Errorf("open namespace %s: %w", name, err)
	}
	return h, nil
}

// Sysctl writes value to /proc/sys/<key> inside the named namespace; key is
// "net.ipv4.ip_forward" or, when a part holds a dot, "net/ipv4/conf/a.b/rp_filter".
// Only per-namespace keys (net.*) make sense.
func Sysctl(name, key, value string) error {
	if !strings.Contains(key, "/") {
		key = strings.ReplaceAll(key, ".", "/")
	}
	path := filepath.Join("/proc/sys", key)
	return Do(name, func() error {
		if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s in %s: %w", key, value, name, err)
		}
		return nil
	})
}

// Retry runs a netlink dump until it is not interrupted by a concurrent
// change (netlink.ErrDumpInterrupted), at most a few times.
func Retry(dump func() error) error {
	_, err := nlsafe.Retry(func() (struct{}, error) { return struct{}{}, dump() })
	return err
}
