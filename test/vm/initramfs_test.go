//go:build linux

package vm

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// cpioWriter writes an uncompressed "newc" cpio archive, the format the
// kernel unpacks as an initramfs. Uncompressed because decompressing under
// software emulation costs more than loading the bytes.
type cpioWriter struct {
	w    io.Writer
	ino  int
	dirs map[string]bool
	err  error
}

func newCPIO(w io.Writer) *cpioWriter {
	return &cpioWriter{w: w, ino: 1, dirs: map[string]bool{"": true}}
}

const (
	modeDir  = 0o040000
	modeFile = 0o100000
	modeLink = 0o120000
	modeChar = 0o020000
)

func (c *cpioWriter) entry(name string, mode uint32, data []byte, rdevMajor, rdevMinor int) {
	if c.err != nil {
		return
	}
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if mode&0o170000 != modeDir {
		c.mkdirAll(path.Dir(name))
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	c.ino++
	var b bytes.Buffer
	b.WriteString(hdr)
	b.WriteString(name)
	b.WriteByte(0)
	pad(&b, b.Len())
	b.Write(data)
	pad(&b, len(data))
	_, c.err = c.w.Write(b.Bytes())
}

func pad(b *bytes.Buffer, n int) {
	for ; n%4 != 0; n++ {
		b.WriteByte(0)
	}
}

func (c *cpioWriter) mkdirAll(dir string) {
	dir = strings.TrimPrefix(path.Clean("/"+dir), "/")
	if c.dirs[dir] {
		return
	}
	c.mkdirAll(path.Dir(dir))
	c.dirs[dir] = true
	c.entry(dir, modeDir|0o755, nil, 0, 0)
}

func (c *cpioWriter) file(name string, perm uint32, data []byte) {
	c.entry(name, modeFile|perm, data, 0, 0)
}

// copyFile adds the host file src (symlinks followed) as name.
func (c *cpioWriter) copyFile(name, src string) {
	if c.err != nil {
		return
	}
	st, err := os.Stat(src)
	if err != nil {
		c.err = err
		return
	}
	data, err := os.ReadFile(src)
	if err != nil {
		c.err = err
		return
	}
	c.file(name, uint32(st.Mode().Perm()), data)
}

func (c *cpioWriter) symlink(name, target string) {
	c.entry(name, modeLink|0o777, []byte(target), 0, 0)
}

func (c *cpioWriter) charDev(name string, major, minor int) {
	c.entry(name, modeChar|0o600, nil, major, minor)
}

func (c *cpioWriter) close() error {
	c.entry("TRAILER!!!", 0, nil, 0, 0)
	return c.err
}

// moduleOrder returns the paths (relative to modDir) of the named modules
// and everything they depend on, each after its dependencies, from the
// kernel's modules.dep.
func moduleOrder(modDir string, names []string) ([]string, error) {
	f, err := os.Open(filepath.Join(modDir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	deps := map[string][]string{}
	byName := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[mod] = strings.Fields(rest)
		base := path.Base(mod)
		byName[base[:strings.Index(base, ".ko")]] = mod
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var order []string
	seen := map[string]bool{}
	var visit func(string)
	visit = func(m string) {
		if seen[m] {
			return
		}
		seen[m] = true
		for _, d := range deps[m] {
			visit(d)
		}
		order = append(order, m)
	}
	for _, n := range names {
		m, ok := byName[strings.ReplaceAll(n, "-", "_")]
		if !ok {
			return nil, fmt.Errorf("module %s is not in %s/modules.dep (built into the kernel, or missing)", n, modDir)
		}
		visit(m)
	}
	for _, m := range order {
		if !strings.HasSuffix(m, ".ko") {
			return nil, fmt.Errorf("module %s is compressed; the VM test loads plain .ko files", m)
		}
	}
	return order, nil
}

// libDirs are where the dynamic linker of a Debian amd64 system looks.
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// sharedObjects returns the dynamic linker and the shared libraries a
// binary needs, transitively: the path the linker wants for each (the
// interpreter's own path, or <libDirs[0]>/<soname>) mapped to the host file.
func sharedObjects(bin string) (map[string]string, error) {
	out := map[string]string{}
	var walk func(file string) error
	walk = func(file string) error {
		f, err := elf.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				b, err := io.ReadAll(p.Open())
				if err != nil {
					return err
				}
				interp := strings.TrimRight(string(b), "\x00")
				out[interp] = interp
			}
		}
		needed, err := f.ImportedLibraries()
		if err != nil {
			return err
		}
		sort.Strings(needed)
		for _, lib := range needed {
			dst := path.Join(libDirs[0], lib)
			if _, ok := out[dst]; ok {
				continue
			}
			src := ""
			for _, d := range libDirs {
				if _, err := os.Stat(filepath.Join(d, lib)); err == nil {
					src = filepath.Join(d, lib)
					break
				}
			}
			if src == "" {
				return fmt.Errorf("%s needs %s, not found in %v", file, lib, libDirs)
			}
			out[dst] = src
			if err := walk(src); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(bin)
}

// isStatic reports whether an ELF binary has no dynamic linker.
func isStatic(bin string) (bool, error) {
	f, err := elf.Open(bin)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}
