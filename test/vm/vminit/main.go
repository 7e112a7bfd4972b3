//go:build linux

// Command vminit is the IP-in-IP test VM's init: the initramfs's /init
// script mounts /proc, /sys and /dev and execs it as PID 1. It loads the
// kernel modules, builds the underlay, then runs each scenario of the plan
// (an embedded datastore, tortie-node agents in node namespaces, one pod
// per node made by the tortie CNI plugin, pings with packet captures on
// the underlay) and prints what it saw as vmproto records on the console
// for the test on the host to judge. It then powers the VM off.
//
// It refuses to run as anything but PID 1: it reconfigures the machine's
// network and powers it off.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/test/vm/vmproto"
)

var start = time.Now()

func main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "vminit runs only as the init of the IP-in-IP test VM (PID 1)")
		os.Exit(2)
	}
	os.Setenv("PATH", "/bin:/sbin:/usr/bin:/usr/sbin")
	// nft is Debian's, with its libraries copied in; there is no ld.so.cache.
	os.Setenv("LD_LIBRARY_PATH", "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu")
	if err := run(); err != nil {
		fmt.Println(vmproto.ResultPrefix + "fail " + strings.ReplaceAll(err.Error(), "\n", " | "))
	} else {
		fmt.Println(vmproto.ResultPrefix + "ok")
	}
	unix.Sync()
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}

func run() error {
	b, err := os.ReadFile(vmproto.PlanPath)
	if err != nil {
		return err
	}
	var plan vmproto.Plan
	if err := json.Unmarshal(b, &plan); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	if err := loadModules(); err != nil {
		return err
	}
	logf("modules loaded")
	if err := underlay(plan.Bridges); err != nil {
		return fmt.Errorf("underlay: %w", err)
	}
	var errs []error
	for _, sc := range plan.Scenarios {
		if err := runScenario(sc); err != nil {
			errs = append(errs, fmt.Errorf("scenario %s: %w", sc.Name, err))
		}
	}
	return errors.Join(errs...)
}

// logf prints a progress line with the time since start.
func logf(format string, args ...any) {
	fmt.Printf("%s[%6.2fs] %s\n", vmproto.LogPrefix, time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

func emit(kind string, v any) { fmt.Println(vmproto.Format(kind, v)) }

// loadModules loads the modules listed by the test, dependencies first.
func loadModules() error {
	b, err := os.ReadFile(vmproto.ModulesPath)
	if err != nil {
		return err
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return err
	}
	dir := "/lib/modules/" + unix.ByteSliceToString(uts.Release[:]) + "/"
	for _, rel := range strings.Fields(string(b)) {
		f, err := os.Open(dir + rel)
		if err != nil {
			return fmt.Errorf("module %s: %w", rel, err)
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("load module %s: %w", rel, err)
		}
	}
	return nil
}
