package veth

import (
	"errors"
	"fmt"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// RemoveContainer deletes the veth called ifName in the pod namespace at
// netnsPath, which takes its host side, the host route and the neighbour
// entries with it, and returns once the interface is gone (see handOff). A
// namespace or interface that is already gone is success; an interface of
// another kind (not a veth, so not ours) is left alone and reported as not
// removed.
func (Linux) RemoveContainer(netnsPath, ifName string) (removed bool, err error) {
	if netnsPath == "" {
		return false, nil
	}
	err = ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		l, err := linkByName(ifName)
		if err != nil || l == nil || l.Type() != "veth" {
			return err
		}
		if handOff(ifName) {
			removed = true
			return nil
		}
		if err := netlink.LinkDel(l); err != nil {
			var nf netlink.LinkNotFoundError
			if errors.As(err, &nf) {
				return nil
			}
			return fmt.Errorf("delete %s: %w", ifName, err)
		}
		removed = true
		return nil
	})
	if isNSGone(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("pod network namespace %s: %w", netnsPath, err)
	}
	return removed, nil
}

// RemoveHost deletes the veth called name in the node's namespace (and so
// its pod side), returning once it is gone (see handOff). A missing
// interface is success; refusing to delete
// anything that is not a veth keeps the plugin from destroying an
// interface it did not create.
func (Linux) RemoveHost(name string) error {
	l, err := linkByName(name)
	if err != nil || l == nil {
		return err
	}
	if l.Type() != "veth" {
		return fmt.Errorf("not removing %s: it is a %s interface, not a veth the plugin made", name, l.Type())
	}
	if handOff(name) {
		return nil
	}
	if err := netlink.LinkDel(l); err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// isNSGone reports errors meaning the namespace no longer exists: the
// runtime may delete it before it calls DEL.
func isNSGone(err error) bool {
	var notExist ns.NSPathNotExistErr
	var notNS ns.NSPathNotNSErr
	return errors.As(err, &notExist) || errors.As(err, &notNS)
}
