// Signs an image in a registry the way the notation CLI does, with
// notation-go (the Notary Project's library): a JWS (or COSE) envelope as an
// OCI referrer of the image, made with a certificate chain this program
// generates. Used by tests/e2e/signatures.py; the notation CLI itself is not
// served by the Go module proxy.
//
// Usage:
//
//	notation-sign ca DIR NAME            writes DIR/NAME-ca.pem, DIR/NAME-leaf.pem, DIR/NAME-leaf.key
//	notation-sign sign DIR NAME REF USER PASSWORD [jws|cose]
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/signer"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func writePEM(path, kind string, der []byte) {
	check(os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600))
}

func makeCA(dir, name string) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name + " CA", Organization: []string{"cairn test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	check(err)
	caCert, err := x509.ParseCertificate(caDER)
	check(err)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	leaf := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: name + " signer", Organization: []string{"cairn test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	check(err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	check(err)
	writePEM(filepath.Join(dir, name+"-ca.pem"), "CERTIFICATE", caDER)
	writePEM(filepath.Join(dir, name+"-leaf.pem"), "CERTIFICATE", leafDER)
	writePEM(filepath.Join(dir, name+"-leaf.key"), "PRIVATE KEY", keyDER)
}

func readPEM(path string) []byte {
	data, err := os.ReadFile(path)
	check(err)
	block, _ := pem.Decode(data)
	if block == nil {
		check(fmt.Errorf("%s holds no PEM block", path))
	}
	return block.Bytes
}

func sign(dir, name, ref, user, password, format string) {
	leaf, err := x509.ParseCertificate(readPEM(filepath.Join(dir, name+"-leaf.pem")))
	check(err)
	ca, err := x509.ParseCertificate(readPEM(filepath.Join(dir, name+"-ca.pem")))
	check(err)
	key, err := x509.ParsePKCS8PrivateKey(readPEM(filepath.Join(dir, name+"-leaf.key")))
	check(err)
	s, err := signer.NewGenericSigner(key, []*x509.Certificate{leaf, ca})
	check(err)
	repoRef := ref
	if i := strings.Index(ref, "@"); i >= 0 {
		repoRef = ref[:i]
	} else if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		repoRef = ref[:i]
	}
	repo, err := remote.NewRepository(repoRef)
	check(err)
	repo.PlainHTTP = true
	host := strings.SplitN(repoRef, "/", 2)[0]
	repo.Client = &auth.Client{Credential: auth.StaticCredential(host, auth.Credential{Username: user, Password: password})}
	mediaType := "application/jose+json"
	if format == "cose" {
		mediaType = "application/cose"
	}
	desc, err := notation.Sign(context.Background(), s, registry.NewRepository(repo), notation.SignOptions{
		SignerSignOptions: notation.SignerSignOptions{SignatureMediaType: mediaType},
		ArtifactReference: ref,
	})
	check(err)
	fmt.Println(desc.Digest)
}

func main() {
	if len(os.Args) >= 4 && os.Args[1] == "ca" {
		makeCA(os.Args[2], os.Args[3])
		return
	}
	if len(os.Args) >= 7 && os.Args[1] == "sign" {
		format := "jws"
		if len(os.Args) > 7 {
			format = os.Args[7]
		}
		sign(os.Args[2], os.Args[3], os.Args[4], os.Args[5], os.Args[6], format)
		return
	}
	fmt.Fprintln(os.Stderr, "usage: notation-sign ca DIR NAME | sign DIR NAME REF USER PASSWORD [jws|cose]")
	os.Exit(2)
}
