// Sorts Go module versions with golang.org/x/mod/semver (what the go command
// follows): reads candidates, prints `<TAB>version` or `=TAB>version` per
// line, in order.
package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"

	"golang.org/x/mod/semver"
)

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		panic(err)
	}
	var vs []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v := s.Text(); semver.IsValid(v) {
			vs = append(vs, v)
		}
	}
	sort.SliceStable(vs, func(i, j int) bool { return semver.Compare(vs[i], vs[j]) < 0 })
	for i, v := range vs {
		mark := "<"
		if i > 0 && semver.Compare(vs[i-1], v) == 0 {
			mark = "="
		}
		fmt.Printf("%s\t%s\n", mark, v)
	}
}
