package ctl

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// writeBoxTable prints the bordered tables of calicoctl's ipam commands:
// centred headers, numbers right-aligned, everything else left-aligned.
func writeBoxTable(w io.Writer, header []string, rows [][]string) error {
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = len(h)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	var b strings.Builder
	rule := func() {
		for _, wd := range widths {
			b.WriteString("+" + strings.Repeat("-", wd+2))
		}
		b.WriteString("+\n")
	}
	line := func(cells []string, align func(i int, c string) string) {
		for i, c := range cells {
			b.WriteString("| " + align(i, c) + " ")
		}
		b.WriteString("|\n")
	}
	rule()
	line(header, func(i int, c string) string {
		pad := widths[i] - len(c)
		return strings.Repeat(" ", pad/2) + c + strings.Repeat(" ", pad-pad/2)
	})
	rule()
	for _, r := range rows {
		line(r, func(i int, c string) string {
			if isNumber(c) {
				return fmt.Sprintf("%*s", widths[i], c)
			}
			return fmt.Sprintf("%-*s", widths[i], c)
		})
	}
	rule()
	_, err := io.WriteString(w, b.String())
	return err
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}
