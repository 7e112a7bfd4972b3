package checksystem

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// LinuxHost reads this machine's facts. configFile is a kernel config to
// use instead of /proc/config.gz or /boot/config-<release>; probe is a
// function that makes a link of a kind in a throwaway namespace (nil when
// it cannot be done, e.g. not root).
func LinuxHost(configFile string, probe func(kind string) error) (Host, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return Host{}, fmt.Errorf("uname: %w", err)
	}
	release := unix.ByteSliceToString(u.Release[:])
	h := Host{
		Release:   release,
		Loaded:    func(m string) bool { return exists(filepath.Join("/sys/module", m)) },
		Installed: installed(release),
		Probe:     probe,
		MD5:       tryMD5,
		Sysctl: func(p string) (string, error) {
			b, err := os.ReadFile(filepath.Join("/proc/sys", p))
			return string(b), err
		},
		Nft: func() error {
			_, err := exec.LookPath("nft")
			if err != nil {
				return fmt.Errorf("the nft program is not installed (apt-get install nftables): %w", err)
			}
			return nil
		},
	}
	sources := []string{"/proc/config.gz", "/boot/config-" + release}
	if configFile != "" {
		sources = []string{configFile}
	}
	for _, src := range sources {
		cfg, err := readConfig(src)
		switch {
		case err == nil:
			h.Config, h.ConfigSource = cfg, src
			return h, nil
		case configFile != "":
			return Host{}, fmt.Errorf("kernel config %s: %w", src, err)
		}
	}
	return h, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// installed tells whether a module is in modules.dep or modules.builtin
// of the running kernel.
func installed(release string) func(string) bool {
	names := map[string]bool{}
	for _, f := range []string{"modules.dep", "modules.builtin"} {
		b, err := os.ReadFile(filepath.Join("/lib/modules", release, f))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			path, _, _ := strings.Cut(line, ":")
			base := filepath.Base(path)
			for _, ext := range []string{".ko.xz", ".ko.zst", ".ko.gz", ".ko"} {
				base = strings.TrimSuffix(base, ext)
			}
			names[strings.ReplaceAll(base, "-", "_")] = true
		}
	}
	return func(m string) bool { return names[m] }
}

// readConfig reads a kernel config (gzip when its name ends in .gz).
func readConfig(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer gz.Close()
		r = gz
	}
	return ParseConfig(r)
}

// ParseConfig reads CONFIG_X=value lines; "# CONFIG_X is not set" and
// other comments are skipped.
func ParseConfig(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "CONFIG_") {
			out[k] = strings.Trim(v, `"`)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no CONFIG_ lines: not a kernel config")
	}
	return out, nil
}

// tryMD5 sets a TCP MD5 signature key on a fresh socket (nothing is
// connected or sent).
func tryMD5() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	sig := unix.TCPMD5Sig{Keylen: 4}
	sig.Addr.Family = unix.AF_INET
	copy(sig.Addr.Data[2:], []byte{127, 0, 0, 1})
	copy(sig.Key[:], "test")
	return unix.SetsockoptTCPMD5Sig(fd, unix.IPPROTO_TCP, unix.TCP_MD5SIG, &sig)
}
