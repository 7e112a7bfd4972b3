package sysctl

import (
	"fmt"
	"io/fs"
)

// Fake is an in-memory FS: a missing name reads as fs.ErrNotExist, and
// every write is logged.
type Fake struct {
	Values map[string]string
	Reads  int
	Writes []string
}

// NewFake returns a Fake holding values.
func NewFake(values map[string]string) *Fake { return &Fake{Values: values} }

// Read implements FS.
func (f *Fake) Read(name string) (string, error) {
	f.Reads++
	v, ok := f.Values[name]
	if !ok {
		return "", fmt.Errorf("read %s: %w", name, fs.ErrNotExist)
	}
	return v, nil
}

// Write implements FS; like /proc/sys, it cannot create a setting.
func (f *Fake) Write(name, value string) error {
	f.Writes = append(f.Writes, name+"="+value)
	if _, ok := f.Values[name]; !ok {
		return fmt.Errorf("write %s: %w", name, fs.ErrNotExist)
	}
	f.Values[name] = value
	return nil
}

// AddInterface gives the Fake an interface's settings, as the kernel
// creates them (nothing set the way tortie wants).
func (f *Fake) AddInterface(name string) {
	for _, s := range perInterface(name, true) {
		f.Values[s.name] = "x"
	}
}

// AddWiredInterface gives the Fake an interface's settings as the CNI
// plugin leaves them: all as tortie wants.
func (f *Fake) AddWiredInterface(name string) {
	for _, s := range perInterface(name, true) {
		f.Values[s.name] = s.value
	}
}
