// A checksum database for the proxy tests: golang.org/x/mod's own sumdb
// server (signed tree, lookups, tiles), with a key generated at start, whose
// records are the go.sum lines of modules fetched from a GOPROXY.
//
// Usage: sumdb NAME ADDR GOPROXY_URL. Prints the verifier key, then serves
// at http://ADDR/ (the database's root: /supported, /latest, /lookup/…).
package main

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/sumdb/note"
)

func fetch(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

func main() {
	name, addr, proxy := os.Args[1], os.Args[2], strings.TrimSuffix(os.Args[3], "/")
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		log.Fatal(err)
	}
	gosum := func(path, vers string) ([]byte, error) {
		escaped, err := module.EscapePath(path)
		if err != nil {
			return nil, err
		}
		base := fmt.Sprintf("%s/%s/@v/%s", proxy, escaped, vers)
		zipped, err := fetch(base + ".zip")
		if err != nil {
			return nil, err
		}
		mod, err := fetch(base + ".mod")
		if err != nil {
			return nil, err
		}
		r, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
		if err != nil {
			return nil, err
		}
		var files []string
		open := map[string]*zip.File{}
		for _, f := range r.File {
			files = append(files, f.Name)
			open[f.Name] = f
		}
		h1, err := dirhash.Hash1(files, func(n string) (io.ReadCloser, error) { return open[n].Open() })
		if err != nil {
			return nil, err
		}
		modh1, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(mod)), nil
		})
		if err != nil {
			return nil, err
		}
		return []byte(fmt.Sprintf("%s %s %s\n%s %s/go.mod %s\n", path, vers, h1, path, vers, modh1)), nil
	}
	fmt.Println(vkey)
	os.Stdout.Sync()
	log.Fatal(http.ListenAndServe(addr, sumdb.NewServer(sumdb.NewTestServer(skey, gosum))))
}
