package veth

import (
	"os/exec"
	"syscall"
	"time"
)

// handOffTimeout bounds the wait for a handed-off deletion.
const handOffTimeout = 2 * time.Second

// handOff deletes the link called name in the calling thread's namespace
// through a detached "ip link del" and returns true as soon as the link is
// gone, or false (the caller then deletes it itself) when ip is missing,
// fails, or is too slow.
//
// Why: the kernel unlists a deleted veth, and flushes its routes and
// neighbours, within a millisecond, but the deleting thread's netlink call
// then waits in rcu_barrier() and for the device's last references: 10-30
// ms here (Calico's plugin spent 31 ms of its DEL there). A process cannot
// exit while a thread of it waits in the kernel, so doing it in-process
// makes the runtime wait too. The detached ip process (started from this
// thread, so in the pod's namespace, with no stdio, in its own session)
// sits out the wait instead; the interface is already gone when DEL
// returns.
func handOff(name string) bool {
	ip, err := exec.LookPath("ip")
	if err != nil {
		return false
	}
	cmd := exec.Command(ip, "link", "del", "dev", name)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return false
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(handOffTimeout)
	for time.Now().Before(deadline) {
		if l, err := linkByName(name); err == nil && l == nil {
			return true
		}
		select {
		case err := <-exited:
			if err != nil {
				return false
			}
			l, lerr := linkByName(name)
			return lerr == nil && l == nil
		case <-time.After(200 * time.Microsecond):
		}
	}
	return false
}
